//! Identifiers taken from request paths.

use crate::ApiError;

/// A movie's id as a path names it (UUIDv7 text for every movie the
/// catalogue made). Text that could not be one names no movie: 404.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovieId(String);

/// Longer than any id the catalogue makes, with room to spare.
const MAX_ID_LEN: usize = 64;

impl MovieId {
    pub fn parse(segment: &str) -> Result<Self, ApiError> {
        let plausible = !segment.is_empty()
            && segment.len() <= MAX_ID_LEN
            && segment.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if plausible {
            Ok(MovieId(segment.to_owned()))
        } else {
            Err(ApiError::NotFound("movie not found".into()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MovieId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_movie_id_is_what_a_path_segment_of_the_catalogue_could_hold() {
        for ok in ["0192f0c1-7d2e-7a41-9c3e-1b2d3e4f5a6b", "m1"] {
            assert_eq!(MovieId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a b", "../etc", "x?y=1", &"a".repeat(65)] {
            assert_eq!(MovieId::parse(bad).unwrap_err().status(), 404, "{bad:?}");
        }
    }
}
