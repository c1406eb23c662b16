//! Favourites moved from the old system (the import route, admins only):
//! one per person and movie, written once, with the movie's title and
//! poster as the favourites list shows them.

use serde::Deserialize;
use streamia_api::import::{timestamp, uuid, ImportBatch, Imported};
use streamia_api::ApiError;
use streamia_clock::Now;
use streamia_db::{transaction, Db};

use crate::domain::Note;
use crate::store;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImportedFavorite {
    user_id: String,
    movie_id: String,
    note: Option<String>,
    title: String,
    poster_url: Option<String>,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    created_at_ms: i64,
}

pub fn import(db: &dyn Db, batch: &ImportBatch) -> Result<Imported, ApiError> {
    if batch.kind != "favorites" {
        return Err(batch.unknown_kind(&["favorites"]));
    }
    let favorites: Vec<ImportedFavorite> = batch.rows()?;
    let mut rows = Vec::with_capacity(favorites.len());
    for (i, f) in favorites.iter().enumerate() {
        let user = uuid(&format!("rows[{i}].userId"), &f.user_id)?;
        let movie = uuid(&format!("rows[{i}].movieId"), &f.movie_id)?;
        let note = Note::parse(f.note.as_deref())
            .map_err(|_| ApiError::validation(&format!("rows[{i}].note"), "is longer than a note may be"))?;
        if f.title.trim().is_empty() {
            return Err(ApiError::validation(&format!("rows[{i}].title"), "must not be empty"));
        }
        let at = Now::at(0)
            .plus_millis(timestamp(&format!("rows[{i}].createdAtMs"), f.created_at_ms)?)
            .rfc3339();
        rows.push(vec![
            user.into(),
            movie.into(),
            note.as_deref().map(str::to_owned).into(),
            f.title.clone().into(),
            f.poster_url.clone().into(),
            at.into(),
        ]);
    }
    let written = transaction(db, || store::import_favorites(db, &rows))?;
    Ok(Imported::of(rows.len(), written))
}
