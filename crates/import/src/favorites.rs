//! The monolith's `favorites` collection.
//!
//! | what the old data holds | rule |
//! |---|---|
//! | a user or movie that is gone or was skipped | skip (a merged account's favourites move to the account kept) |
//! | the same movie twice for one person (also through merged accounts) | merge: the earliest is kept, with the first note found |
//! | a note that is not text, or longer than the favourites service takes (500 characters) | dropped, the favourite kept |

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use streamia_favorites::domain::Note;

use crate::dump::Document;
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
    "note",
    "createdAt",
    "updatedAt",
    "__v",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FavoriteRow {
    pub user_id: String,
    pub movie_id: String,
    pub note: Option<String>,
    pub created_ms: i64,
}

pub fn read(
    documents: &[Document],
    users: &Users,
    movies: &HashMap<ObjectId, String>,
    report: &mut Collection,
) -> Vec<FavoriteRow> {
    let mut kept: BTreeMap<(String, String), FavoriteRow> = BTreeMap::new();
    for doc in documents {
        rows::begin(doc, KNOWN, report);
        let Some((user, movie)) = rows::owner_and_movie(doc, &users.owner_of, movies, report) else {
            continue;
        };
        let fields = &doc.fields;
        let id = rows::row_id(fields);
        // The favourites service's own rule (trimmed, blank is none, at most 500 characters).
        let note = match fields.get("note") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => match Note::parse(Some(text)) {
                Ok(note) => note.as_deref().map(str::to_owned),
                Err(_) => {
                    report.changed("a note longer than a note may be: dropped");
                    None
                }
            },
            Some(_) => {
                report.changed("a note that was not text: dropped");
                None
            }
        };
        let (created_ms, _) = rows::times(fields);
        match kept.get_mut(&(user.clone(), movie.clone())) {
            Some(existing) => {
                report.merged += 1;
                report.skip(
                    doc.line,
                    id,
                    "the same movie is already this person's favourite: merged",
                );
                existing.created_ms = existing.created_ms.min(created_ms);
                if existing.note.is_none() {
                    existing.note = note;
                }
            }
            None => {
                kept.insert(
                    (user.clone(), movie.clone()),
                    FavoriteRow {
                        user_id: user,
                        movie_id: movie,
                        note,
                        created_ms,
                    },
                );
            }
        }
    }
    let rows: Vec<FavoriteRow> = kept.into_values().collect();
    report.imported = rows.len();
    rows
}
