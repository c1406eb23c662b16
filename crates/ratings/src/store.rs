//! The ratings service's schema and SQL: every statement it runs.

use streamia_api::Page;
use streamia_db::{Db, DbError, Row, Value};

use crate::domain::{Rating, Score, Stats};

pub const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE ratings_scores (user_id TEXT NOT NULL, movie_id TEXT NOT NULL,
            score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5), created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, movie_id))",
        "CREATE INDEX ratings_scores_movie ON ratings_scores (movie_id)",
        "CREATE INDEX ratings_scores_user_updated ON ratings_scores (user_id, updated_at)",
        // The aggregate's version per movie; it only ever grows.
        "CREATE TABLE ratings_versions (movie_id TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    ],
    &streamia_events::outbox_schema!("ratings"),
    &streamia_events::consumer_schema!("ratings"),
    &streamia_events::tombstone_schema!("ratings"),
    // Failed tries and dead letters of the events this service consumes.
    &streamia_events::dead_letter_schema!("ratings"),
    // The movies this service has seen, so its writes need not ask (streamia_events::known).
    &[streamia_events::known_movies_schema!("ratings")],
    // A rating written in one statement: its outbox row, whose trigger
    // changes the score and the movie's aggregate version (Outbox::write).
    &[
        streamia_events::outbox_effect_schema!("ratings"),
        "CREATE TRIGGER ratings_outbox_effect AFTER INSERT ON ratings_outbox WHEN NEW.effect IS NOT NULL BEGIN
            INSERT INTO ratings_scores (user_id, movie_id, score, created_at, updated_at)
                SELECT json_extract(NEW.effect, '$.userId'), json_extract(NEW.effect, '$.movieId'),
                    json_extract(NEW.effect, '$.score'), json_extract(NEW.effect, '$.at'), json_extract(NEW.effect, '$.at')
                WHERE json_extract(NEW.effect, '$.op') = 'rate'
                ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at;
            DELETE FROM ratings_scores WHERE json_extract(NEW.effect, '$.op') = 'unrate'
                AND user_id = json_extract(NEW.effect, '$.userId') AND movie_id = json_extract(NEW.effect, '$.movieId');
            INSERT INTO ratings_versions (movie_id, version)
                VALUES (json_extract(NEW.effect, '$.movieId'), json_extract(NEW.effect, '$.version'))
                ON CONFLICT (movie_id) DO UPDATE SET version = excluded.version;
        END",
    ],
];

/// What a rating write reads before it writes, in one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Before {
    /// The movie's aggregate version; `None` before its first rating.
    pub version: Option<i64>,
    /// The caller's rating of it.
    pub mine: Option<Rating>,
    pub movie_gone: bool,
    pub user_gone: bool,
}

pub fn before(db: &dyn Db, user_id: &str, movie_id: &str) -> Result<Before, DbError> {
    let rows = db.execute(
        "SELECT (SELECT version FROM ratings_versions WHERE movie_id = ?1) AS version,
            EXISTS (SELECT 1 FROM ratings_tombstones WHERE kind = 'movie' AND id = ?1) AS movie_gone,
            EXISTS (SELECT 1 FROM ratings_tombstones WHERE kind = 'user' AND id = ?2) AS user_gone,
            r.score, r.created_at, r.updated_at
        FROM (SELECT 1) LEFT JOIN ratings_scores r ON r.movie_id = ?1 AND r.user_id = ?2",
        &[movie_id.into(), user_id.into()],
    )?;
    let row = rows.first().ok_or_else(|| DbError::Sql("no row".into()))?;
    let mine = match row.opt_int("score")? {
        Some(score) => Some(Rating {
            movie_id: movie_id.to_owned(),
            user_id: user_id.to_owned(),
            score: score as u8,
            created_at: row.text("created_at")?,
            updated_at: row.text("updated_at")?,
        }),
        None => None,
    };
    Ok(Before {
        version: row.opt_int("version")?,
        mine,
        movie_gone: row.int("movie_gone")? != 0,
        user_gone: row.int("user_gone")? != 0,
    })
}

/// The condition of a rating write (Outbox::write): nothing changed since
/// [`before`] read it — the movie's aggregate version and the caller's
/// score are as read, and neither the movie nor the account is gone.
pub const UNCHANGED_SINCE: &str = "(SELECT version FROM ratings_versions WHERE movie_id = ?) IS ?
    AND (SELECT score FROM ratings_scores WHERE user_id = ? AND movie_id = ?) IS ?
    AND NOT EXISTS (SELECT 1 FROM ratings_tombstones WHERE (kind = 'movie' AND id = ?) OR (kind = 'user' AND id = ?))";

/// [`UNCHANGED_SINCE`]'s parameters.
pub fn unchanged_since(user_id: &str, movie_id: &str, before: &Before) -> Vec<Value> {
    vec![
        movie_id.into(),
        before.version.map_or(Value::Null, Value::Integer),
        user_id.into(),
        movie_id.into(),
        before
            .mine
            .as_ref()
            .map_or(Value::Null, |r| Value::Integer(i64::from(r.score))),
        movie_id.into(),
        user_id.into(),
    ]
}

/// The movie's count of each score.
pub fn counts(db: &dyn Db, movie_id: &str) -> Result<Vec<(i64, u32)>, DbError> {
    let rows = db.execute(
        "SELECT score, COUNT(*) AS n FROM ratings_scores WHERE movie_id = ? GROUP BY score",
        &[movie_id.into()],
    )?;
    rows.iter()
        .map(|row| Ok((row.int("score")?, row.int("n")? as u32)))
        .collect()
}

const COLUMNS: &str = "user_id, movie_id, score, created_at, updated_at";

fn rating_from(row: &Row<'_>) -> Result<Rating, DbError> {
    Ok(Rating {
        movie_id: row.text("movie_id")?,
        user_id: row.text("user_id")?,
        score: row.int("score")? as u8,
        created_at: row.text("created_at")?,
        updated_at: row.text("updated_at")?,
    })
}

pub fn find(db: &dyn Db, user_id: &str, movie_id: &str) -> Result<Option<Rating>, DbError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM ratings_scores WHERE user_id = ? AND movie_id = ?"),
        &[user_id.into(), movie_id.into()],
    )?;
    rows.first().map(|r| rating_from(&r)).transpose()
}

pub fn stats(db: &dyn Db, movie_id: &str) -> Result<Stats, DbError> {
    Ok(Stats::from_counts(movie_id, &counts(db, movie_id)?))
}

/// The movie's aggregate changed: its next version.
pub fn next_version(db: &dyn Db, movie_id: &str) -> Result<u64, DbError> {
    let rows = db.execute(
        "INSERT INTO ratings_versions (movie_id, version) VALUES (?, 1)
            ON CONFLICT (movie_id) DO UPDATE SET version = version + 1 RETURNING version",
        &[movie_id.into()],
    )?;
    let version = rows.first().map(|r| r.int("version")).transpose()?.unwrap_or(1);
    Ok(version.max(1) as u64)
}

/// Insert the score, or change it (keeping `created_at`).
pub fn upsert(db: &dyn Db, user_id: &str, movie_id: &str, score: Score, at: &str) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO ratings_scores (user_id, movie_id, score, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at",
        &[
            user_id.into(),
            movie_id.into(),
            i64::from(score.get()).into(),
            at.into(),
            at.into(),
        ],
    )?;
    Ok(())
}

/// Whether there was one to delete.
pub fn delete(db: &dyn Db, user_id: &str, movie_id: &str) -> Result<Option<u8>, DbError> {
    let sql = "DELETE FROM ratings_scores WHERE user_id = ? AND movie_id = ? RETURNING score";
    let gone = db.execute(sql, &[user_id.into(), movie_id.into()])?;
    gone.first()
        .map(|r| r.int("score").map(|s| u8::try_from(s).unwrap_or(0)))
        .transpose()
}

/// The movies the user rated.
pub fn movies_of_user(db: &dyn Db, user_id: &str) -> Result<Vec<String>, DbError> {
    let rows = db.execute(
        "SELECT movie_id FROM ratings_scores WHERE user_id = ?",
        &[user_id.into()],
    )?;
    rows.iter().map(|r| r.text("movie_id")).collect()
}

pub fn delete_for_movie(db: &dyn Db, movie_id: &str) -> Result<(), DbError> {
    db.execute("DELETE FROM ratings_scores WHERE movie_id = ?", &[movie_id.into()])?;
    Ok(())
}

/// The user's ratings, most recently changed first, and how many in all.
pub fn page_of_user(db: &dyn Db, user_id: &str, page: Page) -> Result<(Vec<Rating>, u64), DbError> {
    let (rows, total) = db.page(
        "SELECT COUNT(*) AS n FROM ratings_scores WHERE user_id = ?",
        &format!("SELECT {COLUMNS} FROM ratings_scores WHERE user_id = ? ORDER BY updated_at DESC, movie_id DESC LIMIT ? OFFSET ?"),
        &[user_id.into()],
        page.limit(),
        page.offset(),
    )?;
    let data = rows.iter().map(|r| rating_from(&r)).collect::<Result<_, _>>()?;
    Ok((data, total))
}

/// Writes the imported ratings not there yet, and version 1 of each rated
/// movie's aggregate where it has none; how many ratings were written.
pub(crate) fn import_ratings(
    db: &dyn Db,
    rows: &[Vec<Value>],
    movies: &std::collections::BTreeSet<String>,
) -> Result<usize, DbError> {
    let written = streamia_db::insert_many(
        db,
        "INSERT INTO ratings_scores (user_id, movie_id, score, created_at, updated_at)",
        "ON CONFLICT DO NOTHING",
        rows,
    )?;
    let versions: Vec<Vec<Value>> = movies.iter().map(|m| vec![m.as_str().into(), 1.into()]).collect();
    streamia_db::insert_many(
        db,
        "INSERT INTO ratings_versions (movie_id, version)",
        "ON CONFLICT DO NOTHING",
        &versions,
    )?;
    Ok(written)
}
