//! The movies service's logic, in plain Rust so native tests run it: the
//! catalogue with filters, search and sorting, a read-through cache, media
//! on Cloudinary, and rating aggregates kept in order.
//!
//! Layout, the same rooms as every service crate: [`domain`] the model and
//! the values that parse (movie fields, list queries); [`store`] its schema
//! and the SQL that reads a movie; [`service`] the operations ([`Movies`]);
//! [`events`] the rating consumer. Movies' own: [`cache`] (the cache trait,
//! Spin's key-value store behind it, and the read-through bookkeeping),
//! [`cloudinary`] (signatures, upload parameters, notifications) and
//! [`media`] (multipart uploads, posters, subtitles), [`breaker`] (the
//! service's circuit breaker around Cloudinary), [`cleanup`] (assets no
//! movie uses, destroyed until Cloudinary confirms). [`on_spin`] is what
//! both its components share on Spin; `components/movies` wires the routes.

pub mod breaker;
pub mod cache;
pub mod cleanup;
pub mod cloudinary;
pub mod domain;
pub mod events;
pub mod import;
pub mod media;
pub mod media_store;
pub mod on_spin;
pub mod query;
pub mod service;
pub mod store;

pub use cache::{Cache, KvCache};
pub use service::Movies;
pub use store::MIGRATIONS;

pub const SERVICE: &str = "movies";
/// Its SQLite database and key-value store (spin.toml).
pub const DATABASE: &str = "movies";

#[cfg(test)]
mod tests;
