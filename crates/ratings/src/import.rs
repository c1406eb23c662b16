//! Ratings moved from the old system (the import route, admins only): one
//! per person and movie, written once; each movie rated gets its aggregate
//! version 1, as the movies service's import gives it, so the next rating
//! event goes on from there.

use std::collections::BTreeSet;

use serde::Deserialize;
use streamia_api::import::{timestamp, uuid, ImportBatch, Imported};
use streamia_api::ApiError;
use streamia_clock::Now;
use streamia_db::{transaction, Db};

use crate::domain::Score;
use crate::store;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImportedRating {
    user_id: String,
    movie_id: String,
    score: serde_json::Value,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    created_at_ms: i64,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    updated_at_ms: i64,
}

/// What a batch did, and the movies it rated (their cached statistics are stale).
pub fn import(db: &dyn Db, batch: &ImportBatch) -> Result<(Imported, BTreeSet<String>), ApiError> {
    if batch.kind != "ratings" {
        return Err(batch.unknown_kind(&["ratings"]));
    }
    let ratings: Vec<ImportedRating> = batch.rows()?;
    let mut rows = Vec::with_capacity(ratings.len());
    let mut movies = BTreeSet::new();
    for (i, r) in ratings.iter().enumerate() {
        let user = uuid(&format!("rows[{i}].userId"), &r.user_id)?;
        let movie = uuid(&format!("rows[{i}].movieId"), &r.movie_id)?;
        let score = Score::parse(&r.score).map_err(|e| match e {
            ApiError::Validation(_) => {
                ApiError::validation(&format!("rows[{i}].score"), "must be a whole number from 1 to 5")
            }
            other => other,
        })?;
        let created_ms = timestamp(&format!("rows[{i}].createdAtMs"), r.created_at_ms)?;
        let updated_ms = timestamp(&format!("rows[{i}].updatedAtMs"), r.updated_at_ms)?.max(created_ms);
        let created = Now::at(0).plus_millis(created_ms).rfc3339();
        let updated = Now::at(0).plus_millis(updated_ms).rfc3339();
        rows.push(vec![
            user.into(),
            movie.clone().into(),
            i64::from(score.get()).into(),
            created.into(),
            updated.into(),
        ]);
        movies.insert(movie);
    }
    let written = transaction(db, || store::import_ratings(db, &rows, &movies))?;
    Ok((Imported::of(rows.len(), written), movies))
}
