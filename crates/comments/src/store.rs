//! The comments service's schema and SQL: every statement it runs.

use streamia_api::Page;
use streamia_db::{Db, DbError, Row, Value};

use crate::domain::{Comment, Content, Status, Viewer};

pub const MIGRATIONS: &[&[&str]] = &[
    &[
        // user_id is NULL once the author deleted the account.
        "CREATE TABLE comments_items (id TEXT PRIMARY KEY, movie_id TEXT NOT NULL, user_id TEXT,
            parent_id TEXT REFERENCES comments_items (id), content TEXT NOT NULL, is_edited INTEGER NOT NULL DEFAULT 0,
            is_deleted INTEGER NOT NULL DEFAULT 0, moderation_status TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX comments_items_movie_top ON comments_items (movie_id, parent_id, created_at)",
        "CREATE INDEX comments_items_parent ON comments_items (parent_id, created_at)",
        "CREATE INDEX comments_items_user ON comments_items (user_id)",
        "CREATE INDEX comments_items_status ON comments_items (moderation_status, created_at)",
    ],
    &streamia_events::outbox_schema!("comments"),
    &streamia_events::consumer_schema!("comments"),
    &streamia_events::tombstone_schema!("comments"),
    // Counting a comment's visible replies (parent and status, both equal):
    // without it SQLite counted them through the status index, reading
    // every approved comment for each comment listed.
    &["CREATE INDEX comments_items_parent_status ON comments_items (parent_id, moderation_status)"],
    // Failed tries and dead letters of the events this service consumes.
    &streamia_events::dead_letter_schema!("comments"),
    // Authors' names, as user.registered and user.updated tell them (the
    // users service keeps the accounts); named_at is the event's time, so a
    // late older event never undoes a rename.
    &["CREATE TABLE comments_authors (user_id TEXT PRIMARY KEY, username TEXT NOT NULL, named_at TEXT NOT NULL)"],
    // The movies this service has seen, so its writes need not ask (streamia_events::known).
    &[streamia_events::known_movies_schema!("comments")],
    // A comment posted in one statement: its outbox row, whose trigger
    // inserts it (Outbox::write).
    &[
        streamia_events::outbox_effect_schema!("comments"),
        "CREATE TRIGGER comments_outbox_effect AFTER INSERT ON comments_outbox WHEN NEW.effect IS NOT NULL BEGIN
            INSERT INTO comments_items (id, movie_id, user_id, parent_id, content, moderation_status, created_at, updated_at)
                SELECT json_extract(NEW.effect, '$.id'), json_extract(NEW.effect, '$.movieId'),
                    json_extract(NEW.effect, '$.userId'), json_extract(NEW.effect, '$.parentId'),
                    json_extract(NEW.effect, '$.content'), json_extract(NEW.effect, '$.status'),
                    json_extract(NEW.effect, '$.at'), json_extract(NEW.effect, '$.at')
                WHERE json_extract(NEW.effect, '$.op') = 'create';
        END",
    ],
];

/// The condition of posting a comment (Outbox::write): neither the movie
/// nor the author deleted, and a parent, if any, a comment of the same
/// movie that is not deleted. Parameters: movie, user, parent, parent, movie.
pub const POSTABLE: &str =
    "NOT EXISTS (SELECT 1 FROM comments_tombstones WHERE (kind = 'movie' AND id = ?) OR (kind = 'user' AND id = ?))
    AND (? IS NULL OR EXISTS (SELECT 1 FROM comments_items WHERE id = ? AND movie_id = ? AND is_deleted = 0))";

fn comment_from(row: &Row<'_>) -> Result<Comment, DbError> {
    let is_deleted = row.bool("is_deleted")?;
    Ok(Comment {
        id: row.text("id")?,
        movie_id: row.text("movie_id")?,
        user_id: row.opt_text("user_id")?,
        author_name: row.opt_text("author_name")?,
        parent_id: row.opt_text("parent_id")?,
        content: if is_deleted { None } else { Some(row.text("content")?) },
        is_edited: row.bool("is_edited")?,
        is_deleted,
        moderation_status: row.text("moderation_status")?,
        reply_count: row.int("reply_count")?.max(0) as u32,
        created_at: row.text("created_at")?,
        updated_at: row.text("updated_at")?,
    })
}

/// SQL condition on a comment table alias: what `viewer` may see. Admins
/// see everything; authors always see their own; everyone sees approved
/// comments.
fn visible(viewer: Viewer<'_>, alias: &str) -> (String, Vec<Value>) {
    match viewer {
        Viewer::Admin(_) => ("1 = 1".into(), vec![]),
        Viewer::User(id) => (
            format!("({alias}.moderation_status = 'approved' OR {alias}.user_id = ?)"),
            vec![id.into()],
        ),
        Viewer::Anonymous => (format!("{alias}.moderation_status = 'approved'"), vec![]),
    }
}

/// Which comments to select: a condition on alias `c`, its parameters, the order.
pub struct Filter<'a> {
    pub condition: &'a str,
    pub params: Vec<Value>,
    pub order: &'a str,
}

/// Comments matching `filter` that `viewer` may see (one page, or all),
/// each with its visible reply count, and how many match in all.
pub fn select(
    db: &dyn Db,
    viewer: Viewer<'_>,
    filter: Filter<'_>,
    page: Option<Page>,
) -> Result<(Vec<Comment>, u64), DbError> {
    let Filter {
        condition,
        params,
        order,
    } = filter;
    let (visible_c, vis_c_params) = visible(viewer, "c");
    let (visible_r, vis_r_params) = visible(viewer, "r");
    let mut count_params = params.clone();
    count_params.extend(vis_c_params.clone());
    let total = db.count(
        &format!("SELECT COUNT(*) AS n FROM comments_items c WHERE {condition} AND {visible_c}"),
        &count_params,
    )?;
    let mut query_params = vis_r_params;
    query_params.extend(params);
    query_params.extend(vis_c_params);
    let mut sql = format!(
        "SELECT c.*, a.username AS author_name,
            (SELECT COUNT(*) FROM comments_items r WHERE r.parent_id = c.id AND {visible_r}) AS reply_count
            FROM comments_items c LEFT JOIN comments_authors a ON a.user_id = c.user_id
            WHERE {condition} AND {visible_c} ORDER BY {order}"
    );
    if let Some(page) = page {
        sql.push_str(" LIMIT ? OFFSET ?");
        query_params.push(i64::from(page.limit()).into());
        query_params.push(page.offset().into());
    }
    let rows = db.execute(&sql, &query_params)?;
    let data = rows.iter().map(|r| comment_from(&r)).collect::<Result<_, _>>()?;
    Ok((data, total))
}

pub fn set_content(db: &dyn Db, id: &str, content: &Content, status: &str, at: &str) -> Result<(), DbError> {
    db.execute(
        "UPDATE comments_items SET content = ?, is_edited = 1, moderation_status = ?, updated_at = ? WHERE id = ?",
        &[content.as_ref().into(), status.into(), at.into(), id.into()],
    )?;
    Ok(())
}

/// The text goes, the row (and so the thread) stays.
pub fn soft_delete(db: &dyn Db, id: &str, at: &str) -> Result<(), DbError> {
    db.execute(
        "UPDATE comments_items SET content = '', is_deleted = 1, updated_at = ? WHERE id = ?",
        &[at.into(), id.into()],
    )?;
    Ok(())
}

pub fn set_status(db: &dyn Db, id: &str, status: Status, at: &str) -> Result<(), DbError> {
    db.execute(
        "UPDATE comments_items SET moderation_status = ?, updated_at = ? WHERE id = ?",
        &[status.as_str().into(), at.into(), id.into()],
    )?;
    Ok(())
}

pub fn anonymise_user(db: &dyn Db, user_id: &str) -> Result<(), DbError> {
    db.execute(
        "UPDATE comments_items SET user_id = NULL WHERE user_id = ?",
        &[user_id.into()],
    )?;
    db.execute("DELETE FROM comments_authors WHERE user_id = ?", &[user_id.into()])?;
    Ok(())
}

/// The author's name as of `at`, unless a newer one is already known.
pub fn name_author(db: &dyn Db, user_id: &str, username: &str, at: &str) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO comments_authors (user_id, username, named_at) VALUES (?, ?, ?)
            ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, named_at = excluded.named_at
            WHERE excluded.named_at >= comments_authors.named_at",
        &[user_id.into(), username.into(), at.into()],
    )?;
    Ok(())
}

/// Replies are on the same movie as their parents, so one statement takes
/// whole threads.
pub fn delete_for_movie(db: &dyn Db, movie_id: &str) -> Result<(), DbError> {
    db.execute("DELETE FROM comments_items WHERE movie_id = ?", &[movie_id.into()])?;
    Ok(())
}

/// Writes the imported authors' names where this service has none yet.
pub(crate) fn import_authors(db: &dyn Db, rows: &[Vec<Value>]) -> Result<usize, DbError> {
    streamia_db::insert_many(
        db,
        "INSERT INTO comments_authors (user_id, username, named_at)",
        "ON CONFLICT DO NOTHING",
        rows,
    )
}

/// Writes the imported comments not there yet; how many were written.
pub(crate) fn import_comments(db: &dyn Db, rows: &[Vec<Value>]) -> Result<usize, DbError> {
    streamia_db::insert_many(
        db,
        "INSERT INTO comments_items (id, movie_id, user_id, parent_id, content, is_edited, is_deleted,
            moderation_status, created_at, updated_at)",
        "ON CONFLICT DO NOTHING",
        rows,
    )
}

/// Which of `ids` are stored comments.
pub(crate) fn existing_comments(db: &dyn Db, ids: &[String]) -> Result<std::collections::BTreeSet<String>, DbError> {
    let mut found = std::collections::BTreeSet::new();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let params: Vec<Value> = chunk.iter().map(|id| id.as_str().into()).collect();
        let rows = db.execute(&format!("SELECT id FROM comments_items WHERE id IN ({marks})"), &params)?;
        for row in rows.iter() {
            found.insert(row.text("id")?);
        }
    }
    Ok(found)
}
