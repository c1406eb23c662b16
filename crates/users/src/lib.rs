//! The users service's logic, in plain Rust so native tests run it: [`domain`]
//! holds the validated inputs, [`service`] the operations over a database
//! and the outbox. `components/users` wires it to Spin.

pub mod domain;
pub mod service;

pub use service::{Users, MIGRATIONS, SERVICE};
