//! What every collection's rules begin with: the row counted, its unknown
//! fields noted, its `_id` read, and its user and movie references resolved
//! to the ids they have now.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::dump::Document;
use crate::extjson;
use crate::ids::ObjectId;
use crate::report::Collection;

/// Counts `doc` as read and notes the fields outside `known`.
pub(crate) fn begin(doc: &Document, known: &[&str], report: &mut Collection) {
    report.read += 1;
    let fields = &doc.fields;
    report.unknown(fields.keys().filter(|k| !known.contains(&k.as_str())).cloned());
}

/// The row's `_id`, or `None` (and the row skipped) when it has no readable one.
pub(crate) fn object_id(doc: &Document, report: &mut Collection) -> Option<ObjectId> {
    match doc.fields.get("_id").map(extjson::object_id) {
        Some(Ok(oid)) => Some(oid),
        Some(Err(e)) => {
            report.skip(doc.line, None, format!("_id: {e}"));
            None
        }
        None => {
            report.skip(doc.line, None, "no _id");
            None
        }
    }
}

/// The row's `_id` as written, for the report, when it has a readable one.
pub(crate) fn row_id(fields: &Map<String, Value>) -> Option<String> {
    fields
        .get("_id")
        .and_then(|v| extjson::object_id(v).ok())
        .map(|o| o.to_string())
}

/// A reference field under either of the names Mongoose schemas gave it.
fn reference(fields: &Map<String, Value>, names: &[&str]) -> Result<ObjectId, String> {
    let (name, value) = names
        .iter()
        .find_map(|n| fields.get(*n).map(|v| (*n, v)))
        .ok_or_else(|| format!("no {}", names[0]))?;
    extjson::object_id(value).map_err(|e| format!("{name}: {e}"))
}

/// The new ids of the row's user (the account kept, for a merged one:
/// `owner_of`, the users' [`crate::users::Users::owner_of`]) and movie;
/// `None` (and the row skipped) when either is missing, gone or skipped.
pub(crate) fn owner_and_movie(
    doc: &Document,
    owner_of: &HashMap<ObjectId, ObjectId>,
    movies: &HashMap<ObjectId, String>,
    report: &mut Collection,
) -> Option<(String, String)> {
    let fields = &doc.fields;
    let resolved = reference(fields, &["user", "userId"])
        .and_then(|old| {
            owner_of
                .get(&old)
                .map(ObjectId::to_uuid)
                .ok_or_else(|| format!("user {old} was not imported (gone or skipped)"))
        })
        .and_then(|user| {
            let old = reference(fields, &["movie", "movieId"])?;
            let movie = movies
                .get(&old)
                .cloned()
                .ok_or_else(|| format!("movie {old} was not imported (gone or skipped)"))?;
            Ok((user, movie))
        });
    match resolved {
        Ok(pair) => Some(pair),
        Err(reason) => {
            report.skip(doc.line, row_id(fields), reason);
            None
        }
    }
}

/// When the row was created and last changed (its ObjectId's time when it says nothing).
pub(crate) fn times(fields: &Map<String, Value>) -> (i64, i64) {
    let created = fields
        .get("createdAt")
        .and_then(|v| extjson::date_ms(v).ok())
        .or_else(|| {
            let oid = fields.get("_id").and_then(|v| extjson::object_id(v).ok())?;
            Some(i64::from(oid.created_s()) * 1000)
        })
        .unwrap_or(0);
    let updated = fields
        .get("updatedAt")
        .and_then(|v| extjson::date_ms(v).ok())
        .unwrap_or(created)
        .max(created);
    (created, updated)
}

/// Documents from JSON values, a line each: what the rules' tests read.
#[cfg(test)]
pub(crate) fn documents(rows: &[Value]) -> Vec<Document> {
    rows.iter()
        .enumerate()
        .map(|(i, v)| Document {
            line: i + 1,
            fields: v.as_object().unwrap().clone(),
        })
        .collect()
}
