//! The favorites service's logic, in plain Rust so native tests run it:
//! a user's favourite movies (unique per user and movie, strictly private),
//! each with the movie's title and poster as last announced by the movies
//! service, and the favourites' part in the deletion sagas.
//!
//! Layout, the same rooms as every service crate: [`domain`] the values
//! that parse (a note, the request body) and what is answered; [`store`]
//! its schema and SQL; [`service`] the operations ([`Favorites`]);
//! [`events`] the saga consumer. `components/favorites` wires it to Spin.

pub mod domain;
pub mod events;
pub mod import;
pub mod service;
pub mod store;

pub use domain::{AddFavorite, Favorite, MovieId, MovieRef, Note, MAX_NOTE_CHARS};
pub use service::{Added, Favorites};
pub use store::MIGRATIONS;

pub const SERVICE: &str = "favorites";
/// Its SQLite database (`sqlite_databases` in spin.toml).
pub const DATABASE: &str = "favorites";

#[cfg(test)]
mod tests;
