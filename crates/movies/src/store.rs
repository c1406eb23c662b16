//! The movies service's schema, the shape of a stored movie and all the
//! SQL of the catalogue (and of the Cloudinary breaker's counters).

use serde::{Deserialize, Serialize};
use streamia_api::ApiError;
use streamia_db::{Db, DbError, Row, Value};

use crate::domain::{ListQuery, Movie, MovieInput, Subtitle};

pub const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE movies_catalogue (id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL,
            genres TEXT NOT NULL DEFAULT '[]', release_year INTEGER NOT NULL, duration_minutes INTEGER, director TEXT,
            cast_members TEXT NOT NULL DEFAULT '[]', poster_url TEXT, poster_public_id TEXT, video_url TEXT,
            video_public_id TEXT, subtitles TEXT NOT NULL DEFAULT '[]', average_rating REAL NOT NULL DEFAULT 0,
            total_ratings INTEGER NOT NULL DEFAULT 0, rating_version INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX movies_catalogue_year ON movies_catalogue (release_year)",
        "CREATE INDEX movies_catalogue_created ON movies_catalogue (created_at)",
    ],
    &streamia_events::outbox_schema!("movies"),
    &streamia_events::consumer_schema!("movies"),
    // Failed tries and dead letters of the events this service consumes.
    &streamia_events::dead_letter_schema!("movies"),
    // The breaker around Cloudinary (crate::breaker).
    &["CREATE TABLE movies_counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"],
    // A rating event applied in one statement: its id recorded with the
    // movie's new aggregate, which this trigger stores if it is newer
    // (crate::events, consumer::consume_in_one).
    &[
        streamia_events::consumer_effect_schema!("movies"),
        "CREATE TRIGGER movies_processed_effect AFTER INSERT ON movies_processed_events WHEN NEW.effect IS NOT NULL BEGIN
            UPDATE movies_catalogue SET average_rating = json_extract(NEW.effect, '$.averageRating'),
                total_ratings = json_extract(NEW.effect, '$.totalRatings'),
                rating_version = json_extract(NEW.effect, '$.version')
            WHERE id = json_extract(NEW.effect, '$.movieId') AND rating_version < json_extract(NEW.effect, '$.version');
        END",
    ],
];

pub(crate) const COLUMNS: &str =
    "id, title, description, genres, release_year, duration_minutes, director, cast_members,
    poster_url, video_url, subtitles, average_rating, total_ratings, created_at, updated_at";

pub(crate) fn json_list<T: for<'de> Deserialize<'de>>(row: &Row<'_>, column: &str) -> Result<Vec<T>, ApiError> {
    serde_json::from_str(&row.text(column)?).map_err(|e| ApiError::internal(format!("{column}: {e}")))
}

/// A subtitle as stored: what clients see, plus its Cloudinary public id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct StoredSubtitle {
    pub language: String,
    pub url: String,
    pub public_id: String,
}

pub(crate) fn movie_from(row: &Row<'_>) -> Result<Movie, ApiError> {
    Ok(Movie {
        id: row.text("id")?,
        title: row.text("title")?,
        description: row.text("description")?,
        genres: json_list(row, "genres")?,
        release_year: row.int("release_year")? as u32,
        duration_minutes: row.opt_int("duration_minutes")?.map(|d| d as u32),
        director: row.opt_text("director")?,
        cast: json_list(row, "cast_members")?,
        poster_url: row.opt_text("poster_url")?,
        video_url: row.opt_text("video_url")?,
        subtitles: json_list::<StoredSubtitle>(row, "subtitles")?
            .into_iter()
            .map(|s| Subtitle {
                language: s.language,
                url: s.url,
            })
            .collect(),
        average_rating: row.real("average_rating")?,
        total_ratings: row.int("total_ratings")? as u32,
        created_at: row.text("created_at")?,
        updated_at: row.text("updated_at")?,
    })
}

pub(crate) fn movie_not_found() -> ApiError {
    ApiError::NotFound("movie not found".into())
}

/// An `UPDATE`/`DELETE … RETURNING id` that touched no row: no such movie.
pub(crate) fn touched(rows: &streamia_db::Rows) -> Result<(), ApiError> {
    if rows.is_empty() {
        Err(movie_not_found())
    } else {
        Ok(())
    }
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    // Vectors of strings and plain records always serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// `%`, `_` and `\` match themselves in a LIKE pattern.
pub(crate) fn like_pattern(search: &str) -> String {
    let escaped = search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

pub fn find(db: &dyn Db, id: &str) -> Result<Option<Movie>, ApiError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM movies_catalogue WHERE id = ?"),
        &[id.into()],
    )?;
    rows.first().map(|r| movie_from(&r)).transpose()
}

/// A page of the catalogue for `q` (filters, sort, page), and how many
/// movies match in all.
pub(crate) fn search(db: &dyn Db, q: &ListQuery) -> Result<(Vec<Movie>, u64), ApiError> {
    let mut filter = String::new();
    let mut params: Vec<Value> = Vec::new();
    if let Some(genre) = &q.genre {
        filter.push_str(
            " AND EXISTS (SELECT 1 FROM json_each(movies_catalogue.genres) g WHERE lower(g.value) = lower(?))",
        );
        params.push(genre.into());
    }
    if let Some(year) = q.year {
        filter.push_str(" AND release_year = ?");
        params.push(i64::from(year).into());
    }
    if let Some(search) = &q.search {
        filter.push_str(" AND title LIKE ? ESCAPE '\\'");
        params.push(like_pattern(search).into());
    }
    let total = db.count(
        &format!("SELECT COUNT(*) AS n FROM movies_catalogue WHERE 1 = 1{filter}"),
        &params,
    )?;
    let dir = if q.descending { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {COLUMNS} FROM movies_catalogue WHERE 1 = 1{filter} ORDER BY {} {dir}, id {dir} LIMIT ? OFFSET ?",
        q.sort.column()
    );
    params.push(i64::from(q.page.limit()).into());
    params.push(q.page.offset().into());
    let rows = db.execute(&sql, &params)?;
    let movies = rows.iter().map(|r| movie_from(&r)).collect::<Result<Vec<_>, _>>()?;
    Ok((movies, total))
}

/// The editable fields' values, in the order of [`insert`]'s and [`update`]'s columns.
fn editable(input: &MovieInput) -> [Value; 7] {
    [
        (&input.title).into(),
        (&input.description).into(),
        to_json(&input.genres).into(),
        i64::from(input.release_year).into(),
        input.duration_minutes.map(i64::from).into(),
        input.director.clone().into(),
        to_json(&input.cast).into(),
    ]
}

pub(crate) fn insert(db: &dyn Db, id: &str, input: &MovieInput, at: &str) -> Result<(), ApiError> {
    let mut params = vec![id.into()];
    params.extend(editable(input));
    params.extend([at.into(), at.into()]);
    db.execute(
        "INSERT INTO movies_catalogue (id, title, description, genres, release_year, duration_minutes, director,
            cast_members, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &params,
    )?;
    Ok(())
}

/// Replaces the editable fields; the movie's poster URL (404 when there is no such movie).
pub(crate) fn update(db: &dyn Db, id: &str, input: &MovieInput, at: &str) -> Result<Option<String>, ApiError> {
    let mut params = editable(input).to_vec();
    params.extend([at.into(), id.into()]);
    let updated = db.execute(
        "UPDATE movies_catalogue SET title = ?, description = ?, genres = ?, release_year = ?, duration_minutes = ?,
            director = ?, cast_members = ?, updated_at = ? WHERE id = ? RETURNING id, poster_url",
        &params,
    )?;
    touched(&updated)?;
    Ok(updated.first().map(|r| r.opt_text("poster_url")).transpose()?.flatten())
}

/// Deletes a movie; its Cloudinary assets `(resource type, public id)`
/// (404 when there is no such movie).
pub(crate) fn delete(db: &dyn Db, id: &str) -> Result<Vec<(&'static str, String)>, ApiError> {
    let gone = db.execute(
        "DELETE FROM movies_catalogue WHERE id = ? RETURNING poster_public_id, video_public_id, subtitles",
        &[id.into()],
    )?;
    let row = gone.first().ok_or_else(movie_not_found)?;
    let mut assets: Vec<(&'static str, String)> = [
        ("image", row.opt_text("poster_public_id")?),
        ("video", row.opt_text("video_public_id")?),
    ]
    .into_iter()
    .filter_map(|(kind, id)| id.map(|id| (kind, id)))
    .collect();
    assets.extend(
        json_list::<StoredSubtitle>(&row, "subtitles")?
            .into_iter()
            .map(|s| ("raw", s.public_id)),
    );
    Ok(assets)
}

/// What a movie.updated says of a movie besides its poster.
pub(crate) struct Headline {
    pub title: String,
    pub genres: Vec<String>,
    pub release_year: u32,
}

/// Sets the poster; the movie's headline (404 when there is no such movie).
pub(crate) fn set_poster(db: &dyn Db, id: &str, url: &str, public_id: &str, at: &str) -> Result<Headline, ApiError> {
    let updated = db.execute(
        "UPDATE movies_catalogue SET poster_url = ?, poster_public_id = ?, updated_at = ? WHERE id = ?
            RETURNING title, genres, release_year",
        &[url.into(), public_id.into(), at.into(), id.into()],
    )?;
    let row = updated.first().ok_or_else(movie_not_found)?;
    Ok(Headline {
        title: row.text("title")?,
        genres: json_list(&row, "genres")?,
        release_year: row.int("release_year")? as u32,
    })
}

/// A movie's subtitle tracks (404 when there is no such movie).
pub(crate) fn subtitles(db: &dyn Db, id: &str) -> Result<Vec<StoredSubtitle>, ApiError> {
    let rows = db.execute("SELECT subtitles FROM movies_catalogue WHERE id = ?", &[id.into()])?;
    let row = rows.first().ok_or_else(movie_not_found)?;
    json_list(&row, "subtitles")
}

pub(crate) fn set_subtitles(db: &dyn Db, id: &str, subtitles: &[StoredSubtitle], at: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE movies_catalogue SET subtitles = ?, updated_at = ? WHERE id = ?",
        &[to_json(&subtitles).into(), at.into(), id.into()],
    )?;
    Ok(())
}

/// Sets the video (404 when there is no such movie).
pub(crate) fn set_video(db: &dyn Db, id: &str, url: &str, public_id: &str, at: &str) -> Result<(), ApiError> {
    let updated = db.execute(
        "UPDATE movies_catalogue SET video_url = ?, video_public_id = ?, updated_at = ? WHERE id = ? RETURNING id",
        &[url.into(), public_id.into(), at.into(), id.into()],
    )?;
    touched(&updated)
}

/// Adds `delta` to a counter of the Cloudinary breaker (a missing one is 0)
/// in one statement, so concurrent requests never lose a count.
pub(crate) fn add_to_counter(db: &dyn Db, key: &str, delta: i64) -> Result<i64, DbError> {
    let rows = db.execute(
        "INSERT INTO movies_counters (key, value) VALUES (?, ?)
            ON CONFLICT (key) DO UPDATE SET value = value + excluded.value RETURNING value",
        &[key.into(), delta.into()],
    )?;
    rows.first()
        .map(|r| r.int("value"))
        .transpose()
        .map(|v| v.unwrap_or(delta))
}

pub(crate) fn counter(db: &dyn Db, key: &str) -> Result<i64, DbError> {
    let rows = db.execute("SELECT value FROM movies_counters WHERE key = ?", &[key.into()])?;
    rows.first().map(|r| r.int("value")).transpose().map(|v| v.unwrap_or(0))
}

pub(crate) fn counter_keys(db: &dyn Db) -> Result<Vec<String>, DbError> {
    let rows = db.execute("SELECT key FROM movies_counters ORDER BY key", &[])?;
    rows.iter().map(|r| r.text("key")).collect()
}

pub(crate) fn remove_counter(db: &dyn Db, key: &str) -> Result<(), DbError> {
    db.execute("DELETE FROM movies_counters WHERE key = ?", &[key.into()])
        .map(drop)
}

/// Writes the imported movies not there yet; how many were written.
pub(crate) fn import_movies(db: &dyn Db, rows: &[Vec<Value>]) -> Result<usize, ApiError> {
    Ok(streamia_db::insert_many(
        db,
        "INSERT INTO movies_catalogue (id, title, description, genres, release_year, duration_minutes, director,
            cast_members, poster_url, poster_public_id, video_url, video_public_id, subtitles, average_rating,
            total_ratings, rating_version, created_at, updated_at)",
        "ON CONFLICT DO NOTHING",
        rows,
    )?)
}
