//! The favorites service's schema and SQL: every statement it runs.

use streamia_api::Page;
use streamia_db::{Db, DbError, Row, Value};

use crate::domain::{Favorite, MovieRef, Note};

pub const MIGRATIONS: &[&[&str]] = &[
    &[
        // title and poster_url: the movie as last announced, so a list needs
        // no call to the movies service.
        "CREATE TABLE favorites_items (user_id TEXT NOT NULL, movie_id TEXT NOT NULL, note TEXT,
            title TEXT NOT NULL, poster_url TEXT, created_at TEXT NOT NULL, PRIMARY KEY (user_id, movie_id))",
        "CREATE INDEX favorites_items_movie ON favorites_items (movie_id)",
        "CREATE INDEX favorites_items_user_created ON favorites_items (user_id, created_at)",
    ],
    &streamia_events::outbox_schema!("favorites"),
    &streamia_events::consumer_schema!("favorites"),
    &streamia_events::tombstone_schema!("favorites"),
    // Failed tries and dead letters of the events this service consumes.
    &streamia_events::dead_letter_schema!("favorites"),
    // The movies this service has seen, so its writes need not ask (streamia_events::known).
    &[streamia_events::known_movies_schema!("favorites")],
    // A favourite added or removed in one statement: its outbox row, whose
    // trigger changes the item (Outbox::write).
    &[
        streamia_events::outbox_effect_schema!("favorites"),
        "CREATE TRIGGER favorites_outbox_effect AFTER INSERT ON favorites_outbox WHEN NEW.effect IS NOT NULL BEGIN
            INSERT INTO favorites_items (user_id, movie_id, note, title, poster_url, created_at)
                SELECT json_extract(NEW.effect, '$.userId'), json_extract(NEW.effect, '$.movieId'),
                    json_extract(NEW.effect, '$.note'), json_extract(NEW.effect, '$.title'),
                    json_extract(NEW.effect, '$.posterUrl'), json_extract(NEW.effect, '$.createdAt')
                WHERE json_extract(NEW.effect, '$.op') = 'add';
            DELETE FROM favorites_items WHERE json_extract(NEW.effect, '$.op') = 'remove'
                AND user_id = json_extract(NEW.effect, '$.userId') AND movie_id = json_extract(NEW.effect, '$.movieId');
        END",
    ],
];

/// The condition of adding a favourite (Outbox::write): not one already,
/// and neither the account nor the movie deleted. Parameters: user, movie,
/// movie, user.
pub const ADDABLE: &str = "NOT EXISTS (SELECT 1 FROM favorites_items WHERE user_id = ? AND movie_id = ?)
    AND NOT EXISTS (SELECT 1 FROM favorites_tombstones WHERE (kind = 'movie' AND id = ?) OR (kind = 'user' AND id = ?))";

/// The condition of removing one: it is there. Parameters: user, movie.
pub const REMOVABLE: &str = "EXISTS (SELECT 1 FROM favorites_items WHERE user_id = ? AND movie_id = ?)";

const COLUMNS: &str = "movie_id, note, created_at, title, poster_url";

fn favorite_from(row: &Row<'_>) -> Result<Favorite, DbError> {
    Ok(Favorite {
        movie_id: row.text("movie_id")?,
        note: row.opt_text("note")?,
        created_at: row.text("created_at")?,
        title: row.text("title")?,
        poster_url: row.opt_text("poster_url")?,
    })
}

pub fn find(db: &dyn Db, user_id: &str, movie_id: &str) -> Result<Option<Favorite>, DbError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM favorites_items WHERE user_id = ? AND movie_id = ?"),
        &[user_id.into(), movie_id.into()],
    )?;
    rows.first().map(|r| favorite_from(&r)).transpose()
}

pub fn insert(db: &dyn Db, user_id: &str, movie: &MovieRef<'_>, note: &Note, created_at: &str) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO favorites_items (user_id, movie_id, note, title, poster_url, created_at)
            VALUES (?, ?, ?, ?, ?, ?)",
        &[
            user_id.into(),
            movie.id.into(),
            note.as_deref().into(),
            movie.title.into(),
            movie.poster_url.into(),
            created_at.into(),
        ],
    )?;
    Ok(())
}

/// Whether there was one to delete.
pub fn delete(db: &dyn Db, user_id: &str, movie_id: &str) -> Result<bool, DbError> {
    let sql = "DELETE FROM favorites_items WHERE user_id = ? AND movie_id = ? RETURNING movie_id";
    Ok(!db.execute(sql, &[user_id.into(), movie_id.into()])?.is_empty())
}

/// The user's favourites, newest first, and how many there are in all.
pub fn page_of_user(db: &dyn Db, user_id: &str, page: Page) -> Result<(Vec<Favorite>, u64), DbError> {
    let (rows, total) = db.page(
        "SELECT COUNT(*) AS n FROM favorites_items WHERE user_id = ?",
        &format!("SELECT {COLUMNS} FROM favorites_items WHERE user_id = ? ORDER BY created_at DESC, movie_id DESC LIMIT ? OFFSET ?"),
        &[user_id.into()],
        page.limit(),
        page.offset(),
    )?;
    let data = rows.iter().map(|r| favorite_from(&r)).collect::<Result<_, _>>()?;
    Ok((data, total))
}

/// How many favourites went.
pub fn delete_for_user(db: &dyn Db, user_id: &str) -> Result<usize, DbError> {
    let gone = db.execute(
        "DELETE FROM favorites_items WHERE user_id = ? RETURNING movie_id",
        &[user_id.into()],
    )?;
    Ok(gone.len())
}

/// How many favourites went.
pub fn delete_for_movie(db: &dyn Db, movie_id: &str) -> Result<usize, DbError> {
    let gone = db.execute(
        "DELETE FROM favorites_items WHERE movie_id = ? RETURNING user_id",
        &[movie_id.into()],
    )?;
    Ok(gone.len())
}

pub fn refresh_movie(db: &dyn Db, movie_id: &str, title: &str, poster_url: Option<&str>) -> Result<(), DbError> {
    db.execute(
        "UPDATE favorites_items SET title = ?, poster_url = ? WHERE movie_id = ?",
        &[title.into(), poster_url.into(), movie_id.into()],
    )?;
    Ok(())
}

/// Writes the imported favourites not there yet; how many were written.
pub(crate) fn import_favorites(db: &dyn Db, rows: &[Vec<Value>]) -> Result<usize, DbError> {
    streamia_db::insert_many(
        db,
        "INSERT INTO favorites_items (user_id, movie_id, note, title, poster_url, created_at)",
        "ON CONFLICT DO NOTHING",
        rows,
    )
}
