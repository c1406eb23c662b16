//! The users service's logic, in plain Rust so native tests run it:
//! accounts (Argon2id passwords, admin bootstrap), sessions (short access
//! tokens, rotating refresh tokens with family revocation) and single-use
//! password resets.
//!
//! Layout, the same rooms as every service crate: [`domain`] the values
//! that parse (e-mail, password, username), the request bodies and what is
//! answered; [`store`] its schema and the SQL that reads accounts;
//! [`service`] the operations ([`Users`]); [`admin`] what admins do to
//! others' accounts; [`events`] what it announces; [`import`] accounts
//! moved from the old system.
//! `components/users` wires it to Spin.

pub mod admin;
pub mod domain;
pub mod events;
pub mod import;
pub mod service;
pub mod store;

pub use service::{Users, REFRESH_TTL_SECS, RESET_TTL_SECS};
pub use store::MIGRATIONS;

pub const SERVICE: &str = "users";
/// Its SQLite database (`sqlite_databases` in spin.toml).
pub const DATABASE: &str = "users";

#[cfg(test)]
mod tests;
