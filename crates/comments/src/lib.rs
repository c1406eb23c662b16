//! The comments service's logic, in plain Rust so native tests run it:
//! comments on movies with replies to any depth, edits by the author, soft
//! deletion that keeps the thread, moderation (`comment_moderation =
//! post|pre`), and the comments' part in the deletion sagas.
//!
//! Layout, the same rooms as every service crate: [`domain`] the values
//! that parse (content, moderation status and mode, request bodies), who is
//! asking ([`Viewer`]) and what is answered; [`store`] its schema and SQL;
//! [`service`] the operations ([`Comments`]); [`events`] the saga
//! consumer. `components/comments` wires it to Spin.

pub mod cache;
pub mod domain;
pub mod events;
pub mod import;
pub mod service;
pub mod store;

pub use domain::{
    Comment, Content, EditComment, ModerateComment, Moderation, MovieId, NewComment, Status, Viewer, MAX_CONTENT_CHARS,
};
pub use service::Comments;
pub use store::MIGRATIONS;

pub const SERVICE: &str = "comments";
/// Its SQLite database (`sqlite_databases` in spin.toml).
pub const DATABASE: &str = "comments";

#[cfg(test)]
mod tests;
