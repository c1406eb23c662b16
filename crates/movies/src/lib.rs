//! The movies service's logic, in plain Rust so native tests run it:
//! [`domain`] holds the model and validated inputs (movie fields, list
//! queries), [`service`] the catalogue over a database, a [`cache`] and the
//! outbox. `components/movies` wires it to Spin.

pub mod cache;
pub mod cloudinary;
pub mod domain;
pub mod media;
pub mod service;

pub use cache::{Cache, KvCache};
pub use service::{Movies, MIGRATIONS, SERVICE};
