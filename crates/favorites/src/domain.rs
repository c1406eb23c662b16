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

/// A note: at most [`MAX_NOTE_CHARS`] characters as sent; kept trimmed,
/// and blank means none.
#[derive(Debug, Clone, PartialEq)]
pub struct Note(Option<String>);

impl Note {
    pub fn parse(note: Option<&str>) -> Result<Self, ApiError> {
        if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
            return Err(ApiError::Validation(vec![FieldError::new(
                "note",
                format!("must be at most {MAX_NOTE_CHARS} characters"),
            )]));
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        Ok(Note(note.map(str::to_owned)))
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
