//! The import from the old Node/Express + MongoDB system, as plain Rust.
//!
//! Layout: [`extjson`] reads the values of a `mongoexport` dump in both of
//! its Extended JSON forms (relaxed, its default, and canonical); [`ids`]
//! maps each ObjectId to the UUIDv7 it becomes, the same on every run;
//! [`dump`] reads a collection's file line by line, naming file and line in
//! every error; each collection's module ([`users`], …) applies the rules
//! the old data meets and counts what it did in a [`report`].

pub mod comments;
pub mod dump;
pub mod extjson;
pub mod favorites;
pub mod generate;
pub mod ids;
pub mod movies;
pub mod plan;
pub mod ratings;
pub mod report;
mod rows;
pub mod users;
