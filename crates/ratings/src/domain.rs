//! What the ratings service takes and answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use streamia_api::ApiError;
/// Movies are named by the id the catalogue gave them.
pub use streamia_api::MovieId;

/// A score: a whole number from 1 to 5 (`4` or `4.0`, as JSON Schema's
/// `integer`). `4.5`, `"4"` and `true` are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score(u8);

pub const MIN_SCORE: i64 = 1;
pub const MAX_SCORE: i64 = 5;

impl Score {
    pub fn parse(value: &serde_json::Value) -> Result<Self, ApiError> {
        match streamia_api::whole_number(value) {
            Some(n @ MIN_SCORE..=MAX_SCORE) => Ok(Score(n as u8)),
            _ => Err(ApiError::validation("score", "must be a whole number from 1 to 5")),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// `POST /api/ratings/{movieId}`'s body; the score is parsed by [`Score::parse`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBody {
    pub score: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Rating {
    pub movie_id: String,
    pub user_id: String,
    pub score: u8,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub movie_id: String,
    /// Rounded to two decimals; 0 when there are no ratings.
    pub average: f64,
    pub count: u32,
    /// Every score 1–5, with how many gave it.
    pub distribution: BTreeMap<String, u32>,
}

impl Stats {
    /// From how many gave each score (scores absent gave none).
    pub fn from_counts(movie_id: &str, counts: &[(i64, u32)]) -> Self {
        let mut distribution: BTreeMap<String, u32> = (1..=5).map(|s| (s.to_string(), 0)).collect();
        let (mut count, mut sum) = (0u32, 0u64);
        for &(score, n) in counts {
            distribution.insert(score.to_string(), n);
            count += n;
            sum += score as u64 * u64::from(n);
        }
        let average = if count == 0 {
            0.0
        } else {
            (sum as f64 / f64::from(count) * 100.0).round() / 100.0
        };
        Stats {
            movie_id: movie_id.to_owned(),
            average,
            count,
            distribution,
        }
    }
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Rated {
    pub rating: Rating,
    pub stats: Stats,
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    Created(Rated),
    Updated(Rated),
}
