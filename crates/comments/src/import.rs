//! Comments moved from the old system (the import route, admins only):
//! `comment-authors` (the names comments show, as `user.registered` would have
//! told this service) and `comments`, parents before their replies, each
//! written once with its moderation status as it was.

use std::collections::BTreeSet;

use serde::Deserialize;
use streamia_api::import::{timestamp, uuid, ImportBatch, Imported};
use streamia_api::ApiError;
use streamia_clock::Now;
use streamia_db::{transaction, Db};

use crate::domain::{Content, Status};
use crate::store;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImportedAuthor {
    user_id: String,
    username: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImportedComment {
    id: String,
    movie_id: String,
    user_id: String,
    parent_id: Option<String>,
    content: String,
    status: serde_json::Value,
    deleted: bool,
    edited: bool,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    created_at_ms: i64,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    updated_at_ms: i64,
}

/// What a batch did, and the movies whose comments it wrote (their cached pages are stale).
pub fn import(db: &dyn Db, batch: &ImportBatch, now: Now) -> Result<(Imported, BTreeSet<String>), ApiError> {
    match batch.kind.as_str() {
        "comment-authors" => {
            let authors: Vec<ImportedAuthor> = batch.rows()?;
            let mut rows = Vec::with_capacity(authors.len());
            for (i, a) in authors.iter().enumerate() {
                let user = uuid(&format!("rows[{i}].userId"), &a.user_id)?;
                if a.username.trim().is_empty() {
                    return Err(ApiError::validation(
                        &format!("rows[{i}].username"),
                        "must not be empty",
                    ));
                }
                rows.push(vec![user.into(), a.username.clone().into(), now.rfc3339().into()]);
            }
            let written = transaction(db, || store::import_authors(db, &rows))?;
            Ok((Imported::of(rows.len(), written), BTreeSet::new()))
        }
        "comments" => {
            let comments: Vec<ImportedComment> = batch.rows()?;
            let mut rows = Vec::with_capacity(comments.len());
            let mut movies = BTreeSet::new();
            for (i, c) in comments.iter().enumerate() {
                let field = |name: &str| format!("rows[{i}].{name}");
                let id = uuid(&field("id"), &c.id)?;
                let movie = uuid(&field("movieId"), &c.movie_id)?;
                let user = uuid(&field("userId"), &c.user_id)?;
                let parent = c
                    .parent_id
                    .as_deref()
                    .map(|p| uuid(&field("parentId"), p))
                    .transpose()?;
                let content = Content::parse(&c.content)
                    .map_err(|_| ApiError::validation(&field("content"), "must be 1 to 1,000 characters"))?;
                let status = Status::parse(&c.status)
                    .map_err(|_| ApiError::validation(&field("status"), "must be pending, approved or rejected"))?;
                let created_ms = timestamp(&field("createdAtMs"), c.created_at_ms)?;
                let updated_ms = timestamp(&field("updatedAtMs"), c.updated_at_ms)?.max(created_ms);
                let created = Now::at(0).plus_millis(created_ms).rfc3339();
                let updated = Now::at(0).plus_millis(updated_ms).rfc3339();
                rows.push(vec![
                    id.into(),
                    movie.clone().into(),
                    user.into(),
                    parent.into(),
                    content.as_ref().into(),
                    i64::from(c.edited).into(),
                    i64::from(c.deleted).into(),
                    status.as_str().into(),
                    created.into(),
                    updated.into(),
                ]);
                movies.insert(movie);
            }
            // A reply's parent comes earlier in the batch or is stored already.
            let in_batch: BTreeSet<&str> = comments.iter().map(|c| c.id.as_str()).collect();
            let asked: Vec<String> = comments
                .iter()
                .filter_map(|c| c.parent_id.clone())
                .filter(|p| !in_batch.contains(p.as_str()))
                .collect();
            let stored = store::existing_comments(db, &asked)?;
            let mut seen: BTreeSet<&str> = BTreeSet::new();
            for (i, c) in comments.iter().enumerate() {
                if let Some(parent) = c.parent_id.as_deref() {
                    if !seen.contains(parent) && !stored.contains(parent) {
                        return Err(ApiError::NotFound(format!(
                            "rows[{i}].parentId: no comment {parent} (send parents before their replies)"
                        )));
                    }
                }
                seen.insert(c.id.as_str());
            }
            let written = transaction(db, || store::import_comments(db, &rows))?;
            Ok((Imported::of(rows.len(), written), movies))
        }
        _ => Err(batch.unknown_kind(&["comment-authors", "comments"])),
    }
}
