//! The ratings service's logic, in plain Rust so native tests run it: one
//! score (1–5) per user and movie, statistics per movie, and after every
//! change an event carrying the movie's new aggregate with a version that
//! increases per movie, so the movies service applies aggregates in order.
//!
//! Layout, the same rooms as every service crate: [`domain`] the values
//! that parse (a score, the request body) and what is answered; [`store`]
//! its schema and SQL; [`service`] the operations ([`Ratings`]); [`events`]
//! what a change announces and the saga consumer; [`cache`] the public
//! statistics in its key-value store, which the gateway answers from.
//! `components/ratings` wires it to Spin.

pub mod cache;
pub mod domain;
pub mod events;
pub mod import;
pub mod service;
pub mod store;

pub use domain::{MovieId, Outcome, RateBody, Rated, Rating, Score, Stats};
pub use service::Ratings;
pub use store::MIGRATIONS;

pub const SERVICE: &str = "ratings";
/// Its SQLite database (`sqlite_databases` in spin.toml).
pub const DATABASE: &str = "ratings";

#[cfg(test)]
mod tests;
