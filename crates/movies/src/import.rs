//! Movies moved from the old system (the import route, admins only): each
//! checked as the API checks a new movie, written once with its Cloudinary
//! media and the rating aggregate the import recomputed from the old ratings
//! (version 1 when rated, so the next rating event applies on top).

use serde::Deserialize;
use streamia_api::import::{timestamp, uuid, ImportBatch, Imported};
use streamia_api::ApiError;
use streamia_clock::Now;
use streamia_db::{transaction, Db, Value};

use crate::domain::{year_of, MovieFields, MovieInput};
use crate::store::{self, to_json, StoredSubtitle};
use crate::Movies;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImportedMovie {
    id: String,
    title: String,
    description: String,
    #[serde(default)]
    genres: Vec<String>,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    release_year: i64,
    #[serde(default, deserialize_with = "streamia_api::optional_whole_number")]
    duration_minutes: Option<i64>,
    director: Option<String>,
    #[serde(default)]
    cast: Vec<String>,
    poster_url: Option<String>,
    poster_public_id: Option<String>,
    video_url: Option<String>,
    video_public_id: Option<String>,
    #[serde(default)]
    subtitles: Vec<StoredSubtitle>,
    average_rating: f64,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    total_ratings: i64,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    created_at_ms: i64,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    updated_at_ms: i64,
}

impl Movies<'_> {
    /// Writes one batch; cached list pages go stale when it wrote any.
    pub fn import(&self, batch: &ImportBatch) -> Result<Imported, ApiError> {
        let imported = import(self.db, batch, self.now)?;
        if imported.written > 0 {
            self.cached().invalidate(None);
        }
        Ok(imported)
    }
}

fn import(db: &dyn Db, batch: &ImportBatch, now: Now) -> Result<Imported, ApiError> {
    if batch.kind != "movies" {
        return Err(batch.unknown_kind(&["movies"]));
    }
    let movies: Vec<ImportedMovie> = batch.rows()?;
    let mut rows = Vec::with_capacity(movies.len());
    for (i, m) in movies.iter().enumerate() {
        let id = uuid(&format!("rows[{i}].id"), &m.id)?;
        let fields = MovieFields {
            title: Some(m.title.clone()),
            description: Some(m.description.clone()),
            genres: Some(m.genres.clone()),
            release_year: Some(m.release_year),
            duration_minutes: m.duration_minutes,
            director: m.director.clone(),
            cast: Some(m.cast.clone()),
        };
        let input = MovieInput::parse(&fields, year_of(now.unix())).map_err(|e| match e {
            ApiError::Validation(mut fields) => {
                for f in &mut fields {
                    f.field = format!("rows[{i}].{}", f.field);
                }
                ApiError::Validation(fields)
            }
            other => other,
        })?;
        if !(0.0..=5.0).contains(&m.average_rating) {
            return Err(ApiError::validation(
                &format!("rows[{i}].averageRating"),
                "must be from 0 to 5",
            ));
        }
        if !(0..=i64::from(u32::MAX)).contains(&m.total_ratings) {
            return Err(ApiError::validation(
                &format!("rows[{i}].totalRatings"),
                "must be from 0 to 4294967295",
            ));
        }
        let created_ms = timestamp(&format!("rows[{i}].createdAtMs"), m.created_at_ms)?;
        let updated_ms = timestamp(&format!("rows[{i}].updatedAtMs"), m.updated_at_ms)?.max(created_ms);
        let created = Now::at(0).plus_millis(created_ms).rfc3339();
        let updated = Now::at(0).plus_millis(updated_ms).rfc3339();
        rows.push(vec![
            id.into(),
            input.title.into(),
            input.description.into(),
            to_json(&input.genres).into(),
            i64::from(input.release_year).into(),
            input.duration_minutes.map(i64::from).into(),
            input.director.into(),
            to_json(&input.cast).into(),
            m.poster_url.clone().into(),
            m.poster_public_id.clone().into(),
            m.video_url.clone().into(),
            m.video_public_id.clone().into(),
            to_json(&m.subtitles).into(),
            Value::Real(m.average_rating),
            m.total_ratings.into(),
            i64::from(m.total_ratings > 0).into(),
            created.into(),
            updated.into(),
        ]);
    }
    let written = transaction(db, || store::import_movies(db, &rows))?;
    Ok(Imported::of(rows.len(), written))
}
