//! The monolith's `comments` collection, replies included.
//!
//! | what the old data holds | rule |
//! |---|---|
//! | no readable `_id`, or a user or movie that is gone or was skipped | skip (a merged account's comments move to the account kept) |
//! | text today's API refuses (empty, over 1,000 characters) | skip, unless the comment was deleted: kept deleted |
//! | a moderation status `approved`, `pending` or `rejected` (or `approved: true/false`) | kept; none: approved |
//! | a reply whose parent was deleted, rejected or never approved | kept under it, as the new system keeps them |
//! | a reply whose parent is gone (not in the dump, skipped, or of another movie) | kept, as a top-level comment |

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use streamia_comments::domain::Content;

use crate::dump::Document;
use crate::extjson;
use crate::ids::ObjectId;
use crate::report::Collection;
use crate::rows;
use crate::users::Users;

const KNOWN: &[&str] = &[
    "_id",
    "user",
    "userId",
    "movie",
    "movieId",
    "content",
    "text",
    "parent",
    "parentId",
    "status",
    "approved",
    "isDeleted",
    "isEdited",
    "createdAt",
    "updatedAt",
    "__v",
];

/// What a deleted comment's text becomes when its own was not kept.
pub const DELETED_TEXT: &str = "[deleted]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRow {
    pub object_id: ObjectId,
    pub id: String,
    pub movie_id: String,
    pub user_id: String,
    pub parent_id: Option<String>,
    pub content: String,
    pub status: &'static str,
    pub deleted: bool,
    pub edited: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Applies the rules above; parents are imported before their replies.
pub fn read(
    documents: &[Document],
    users: &Users,
    movies: &HashMap<ObjectId, String>,
    report: &mut Collection,
) -> Vec<CommentRow> {
    let mut rows: Vec<(Option<ObjectId>, CommentRow)> = Vec::new();
    for doc in documents {
        rows::begin(doc, KNOWN, report);
        let Some(oid) = rows::object_id(doc, report) else {
            continue;
        };
        let Some((user, movie)) = rows::owner_and_movie(doc, &users.owner_of, movies, report) else {
            continue;
        };
        let fields = &doc.fields;
        let id = Some(oid.to_string());
        let deleted = fields.get("isDeleted").and_then(Value::as_bool).unwrap_or(false);
        let text = fields
            .get("content")
            .or_else(|| fields.get("text"))
            .and_then(Value::as_str);
        let content = match (text.map(Content::parse), deleted) {
            (Some(Ok(content)), _) => content.as_ref().to_owned(),
            (_, true) => DELETED_TEXT.to_owned(),
            (Some(Err(e)), false) => {
                report.skip(doc.line, id, e.to_string());
                continue;
            }
            (None, false) => {
                report.skip(doc.line, id, "no content");
                continue;
            }
        };
        let status = match (fields.get("status").and_then(Value::as_str), fields.get("approved")) {
            (Some("approved"), _) | (None, Some(Value::Bool(true))) | (None, None) => "approved",
            (Some("pending"), _) | (None, Some(Value::Bool(false))) => "pending",
            (Some("rejected"), _) => "rejected",
            (Some(_), _) | (None, Some(_)) => {
                report.changed("unknown moderation status: pending");
                "pending"
            }
        };
        let parent = match fields.get("parent").or_else(|| fields.get("parentId")) {
            None | Some(Value::Null) => None,
            Some(value) => match extjson::object_id(value) {
                Ok(p) => Some(p),
                Err(_) => {
                    report.changed("a reply whose parent is gone: now a top-level comment");
                    None
                }
            },
        };
        let (created_ms, updated_ms) = rows::times(fields);
        rows.push((
            parent,
            CommentRow {
                object_id: oid,
                id: oid.to_uuid(),
                movie_id: movie,
                user_id: user,
                parent_id: None,
                content,
                status,
                deleted,
                edited: fields.get("isEdited").and_then(Value::as_bool).unwrap_or(false),
                created_ms,
                updated_ms,
            },
        ));
    }
    // Parents first: a reply is never older than what it answers.
    rows.sort_by_key(|(_, row)| (row.created_ms, row.object_id));
    let movie_of: HashMap<ObjectId, String> = rows.iter().map(|(_, r)| (r.object_id, r.movie_id.clone())).collect();
    let mut placed: HashSet<ObjectId> = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for (parent, mut row) in rows {
        if let Some(parent) = parent {
            let same_movie = movie_of.get(&parent) == Some(&row.movie_id);
            if same_movie && placed.contains(&parent) {
                row.parent_id = Some(parent.to_uuid());
            } else {
                report.changed("a reply whose parent is gone: now a top-level comment");
            }
        }
        placed.insert(row.object_id);
        out.push(row);
    }
    report.imported = out.len();
    out
}
