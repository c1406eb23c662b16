//! What the favorites service takes and answers.

use serde::{Deserialize, Serialize};
/// Movies are named by the id the catalogue gave them.
pub use streamia_api::MovieId;
use streamia_api::{ApiError, FieldError};

pub const MAX_NOTE_CHARS: usize = 500;

/// `POST /api/favorites/{movieId}`'s optional body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddFavorite {
    #[serde(default)]
    pub note: Option<String>,
}

/// A note: trimmed, at most [`MAX_NOTE_CHARS`]; blank means none.
#[derive(Debug, Clone, PartialEq)]
pub struct Note(Option<String>);

impl Note {
    pub fn parse(note: Option<&str>) -> Result<Self, ApiError> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        match note {
            Some(n) if n.chars().count() > MAX_NOTE_CHARS => Err(ApiError::Validation(vec![FieldError::new(
                "note",
                format!("must be at most {MAX_NOTE_CHARS} characters"),
            )])),
            _ => Ok(Note(note.map(str::to_owned))),
        }
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// The movie as the movies service described it.
pub struct MovieRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub poster_url: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Favorite {
    pub movie_id: String,
    pub note: Option<String>,
    pub created_at: String,
    pub title: String,
    pub poster_url: Option<String>,
}
