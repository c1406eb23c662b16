//! The movies service's schema, the shape of a stored movie and all the
//! SQL of the catalogue (and of the Cloudinary breaker's counters).

use serde::{Deserialize, Serialize};
use streamia_api::ApiError;
use streamia_db::{Db, DbError, Row, Value};

use crate::domain::{Movie, MovieInput, Subtitle};
use crate::query::{ListQuery, SortField};

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
    // Full-text search on title and description (SQLite FTS5): an index
    // over the catalogue's own rows (external content, keyed by rowid, so
    // the text is stored once), kept in step by triggers, built for the
    // movies already there. Prefix indexes of 2 and 3 characters keep a
    // typed-so-far word cheap. (The catalogue is never VACUUMed: that may
    // renumber its rowids; `INSERT INTO movies_search(movies_search)
    // VALUES ('rebuild')` would follow one.)
    &[
        "CREATE VIRTUAL TABLE movies_search USING fts5(title, description, content = 'movies_catalogue',
            tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')",
        "INSERT INTO movies_search (movies_search) VALUES ('rebuild')",
        "CREATE TRIGGER movies_search_added AFTER INSERT ON movies_catalogue BEGIN
            INSERT INTO movies_search (rowid, title, description) VALUES (NEW.rowid, NEW.title, NEW.description);
        END",
        "CREATE TRIGGER movies_search_removed AFTER DELETE ON movies_catalogue BEGIN
            INSERT INTO movies_search (movies_search, rowid, title, description)
                VALUES ('delete', OLD.rowid, OLD.title, OLD.description);
        END",
        "CREATE TRIGGER movies_search_edited AFTER UPDATE OF title, description ON movies_catalogue BEGIN
            INSERT INTO movies_search (movies_search, rowid, title, description)
                VALUES ('delete', OLD.rowid, OLD.title, OLD.description);
            INSERT INTO movies_search (rowid, title, description) VALUES (NEW.rowid, NEW.title, NEW.description);
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

pub fn find(db: &dyn Db, id: &str) -> Result<Option<Movie>, ApiError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM movies_catalogue WHERE id = ?"),
        &[id.into()],
    )?;
    rows.first().map(|r| movie_from(&r)).transpose()
}

/// How much more a word in the title counts than one in the description.
const TITLE_WEIGHT: f64 = 10.0;

/// Matches a search ranks and lists at most: the most recently added that
/// pass the filters. Ranking scores every match it considers, so a word in
/// half of a large catalogue would otherwise cost in proportion to the
/// catalogue (scripts/bench.sh --search); another word narrows it.
pub const SEARCH_WINDOW: u32 = 1_000;

/// A page of the catalogue for `q` (filters, sort, page), and how many
/// movies match in all (a search: at most [`SEARCH_WINDOW`]). A search
/// keeps the movies whose title or description has every word of it
/// ([`crate::query::Search`]), best matches first unless `q` names an order.
pub(crate) fn search(db: &dyn Db, q: &ListQuery) -> Result<(Vec<Movie>, u64), ApiError> {
    let mut filter = String::new();
    let mut filter_params: Vec<Value> = Vec::new();
    if let Some(genre) = &q.genre {
        filter.push_str(
            " AND EXISTS (SELECT 1 FROM json_each(movies_catalogue.genres) g WHERE lower(g.value) = lower(?))",
        );
        filter_params.push(genre.into());
    }
    if let Some(year) = q.year {
        filter.push_str(" AND release_year = ?");
        filter_params.push(i64::from(year).into());
    }
    let page = [i64::from(q.page.limit()).into(), q.page.offset().into()];
    let dir = if q.descending { "DESC" } else { "ASC" };
    let order = match (q.sort, &q.search) {
        (SortField::Relevance, Some(_)) => "score ASC, id ASC".to_owned(),
        // Nothing to be relevant to (ListQuery::parse makes it createdAt): the newest first.
        (SortField::Relevance, None) => "created_at DESC, id DESC".to_owned(),
        (sort, _) => format!("{} {dir}, id {dir}", sort.column()),
    };
    let Some(search) = &q.search else {
        let total = db.count(
            &format!("SELECT COUNT(*) AS n FROM movies_catalogue WHERE 1 = 1{filter}"),
            &filter_params,
        )?;
        let sql =
            format!("SELECT {COLUMNS} FROM movies_catalogue WHERE 1 = 1{filter} ORDER BY {order} LIMIT ? OFFSET ?");
        let rows = db.execute(&sql, &[filter_params, page.to_vec()].concat())?;
        let movies = rows.iter().map(|r| movie_from(&r)).collect::<Result<Vec<_>, _>>()?;
        return Ok((movies, total));
    };
    if search.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let matching: Value = search.fts_query().into();
    // The window: how many of the newest matches pass the filters (up to
    // SEARCH_WINDOW), and the oldest of them, which bounds the ranked query
    // below to the window (a range the index reads directly).
    let window = db.execute(
        &format!(
            "SELECT MIN(r) AS oldest, COUNT(*) AS n FROM (SELECT movies_catalogue.rowid AS r FROM movies_search
                JOIN movies_catalogue ON movies_catalogue.rowid = movies_search.rowid
                WHERE movies_search MATCH ?{filter} ORDER BY movies_search.rowid DESC LIMIT {SEARCH_WINDOW})"
        ),
        &[vec![matching.clone()], filter_params.clone()].concat(),
    )?;
    let row = window
        .first()
        .ok_or_else(|| ApiError::internal("COUNT answered no row"))?;
    let (total, oldest) = (row.int("n")?, row.opt_int("oldest")?);
    let Some(oldest) = oldest else {
        return Ok((Vec::new(), 0));
    };
    // The index's columns are named like the catalogue's: its hits come
    // out of a subquery, as a rowid and a score.
    let sql = format!(
        "SELECT {COLUMNS} FROM (SELECT rowid AS hit, bm25(movies_search, {TITLE_WEIGHT}, 1.0) AS score
            FROM movies_search WHERE movies_search MATCH ? AND rowid >= ?)
        JOIN movies_catalogue ON movies_catalogue.rowid = hit
        WHERE 1 = 1{filter} ORDER BY {order} LIMIT ? OFFSET ?"
    );
    let rows = db.execute(
        &sql,
        &[vec![matching, oldest.into()], filter_params, page.to_vec()].concat(),
    )?;
    let movies = rows.iter().map(|r| movie_from(&r)).collect::<Result<Vec<_>, _>>()?;
    Ok((movies, u64::try_from(total).unwrap_or(0)))
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
/// Sets the poster `(url, public id)`, or clears it (`None`).
pub(crate) fn set_poster(db: &dyn Db, id: &str, poster: Option<(&str, &str)>, at: &str) -> Result<Headline, ApiError> {
    let (url, public_id) = poster.unzip();
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
/// Sets the video `(url, public id)`, or clears it (`None`).
pub(crate) fn set_video(db: &dyn Db, id: &str, video: Option<(&str, &str)>, at: &str) -> Result<(), ApiError> {
    let (url, public_id) = video.unzip();
    let updated = db.execute(
        "UPDATE movies_catalogue SET video_url = ?, video_public_id = ?, updated_at = ? WHERE id = ? RETURNING id",
        &[url.into(), public_id.into(), at.into(), id.into()],
    )?;
    touched(&updated)
}

/// A movie's poster and video as stored: their Cloudinary public ids (404
/// when there is no such movie).
pub(crate) fn media_ids(db: &dyn Db, id: &str) -> Result<(Option<String>, Option<String>), ApiError> {
    let rows = db.execute(
        "SELECT poster_public_id, video_public_id FROM movies_catalogue WHERE id = ?",
        &[id.into()],
    )?;
    let row = rows.first().ok_or_else(movie_not_found)?;
    Ok((row.opt_text("poster_public_id")?, row.opt_text("video_public_id")?))
}

/// Whether a movie uses the Cloudinary asset `public_id` (as its poster,
/// video or a subtitle track).
pub(crate) fn asset_in_use(db: &dyn Db, public_id: &str) -> Result<bool, ApiError> {
    let rows = db.execute(
        "SELECT 1 AS used FROM movies_catalogue WHERE poster_public_id = ? OR video_public_id = ?
            OR EXISTS (SELECT 1 FROM json_each(subtitles) WHERE json_extract(value, '$.publicId') = ?) LIMIT 1",
        &[public_id.into(), public_id.into(), public_id.into()],
    )?;
    Ok(!rows.is_empty())
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
