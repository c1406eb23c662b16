//! The ratings service's schema and SQL: every statement it runs.

use streamia_api::Page;
use streamia_db::{Db, DbError, Row};

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
];

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
    let rows = db.execute(
        "SELECT score, COUNT(*) AS n FROM ratings_scores WHERE movie_id = ? GROUP BY score",
        &[movie_id.into()],
    )?;
    let counts = rows
        .iter()
        .map(|row| Ok((row.int("score")?, row.int("n")? as u32)))
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Stats::from_counts(movie_id, &counts))
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
pub fn delete(db: &dyn Db, user_id: &str, movie_id: &str) -> Result<bool, DbError> {
    let sql = "DELETE FROM ratings_scores WHERE user_id = ? AND movie_id = ? RETURNING score";
    Ok(!db.execute(sql, &[user_id.into(), movie_id.into()])?.is_empty())
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
