//! The monolith's `movies` collection.
//!
//! | what the old data holds | rule |
//! |---|---|
//! | no readable `_id` | skip |
//! | fields today's API refuses (no title or description, a year outside 1888 to next year, lists over 20, control characters) | skip, with the API's own messages (the movies service's `MovieInput::parse`); its ratings, comments and favourites are skipped with it |
//! | Cloudinary media (`posterUrl`/`posterPublicId`, `videoUrl`/`videoPublicId`, `subtitles`) | keep, public ids as they are |
//! | stored `averageRating`/`totalRatings` | never copied: recomputed from the ratings imported; a movie whose stored figures differ is counted |
//! | fields the new system does not know | dropped, counted |

use std::collections::HashSet;

use serde_json::{Map, Value};
use streamia_movies::domain::{MovieFields, MovieInput};

use crate::dump::Document;
use crate::extjson;
use crate::ids::ObjectId;
use crate::report::Collection;
use crate::rows;

const KNOWN: &[&str] = &[
    "_id",
    "title",
    "description",
    "genres",
    "releaseYear",
    "durationMinutes",
    "director",
    "cast",
    "posterUrl",
    "posterPublicId",
    "videoUrl",
    "videoPublicId",
    "subtitles",
    "averageRating",
    "totalRatings",
    "createdAt",
    "updatedAt",
    "__v",
];

/// A subtitle track as the movies service stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtitle {
    pub language: String,
    pub url: String,
    pub public_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MovieRow {
    pub object_id: ObjectId,
    pub id: String,
    pub input: MovieInput,
    pub poster_url: Option<String>,
    pub poster_public_id: Option<String>,
    pub video_url: Option<String>,
    pub video_public_id: Option<String>,
    pub subtitles: Vec<Subtitle>,
    /// The aggregate the old system stored, only to count how many were stale.
    pub stored_aggregate: Option<(f64, i64)>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

fn opt_text(fields: &Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn strings(fields: &Map<String, Value>, name: &str) -> Option<Vec<String>> {
    fields
        .get(name)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
}

fn subtitles(fields: &Map<String, Value>) -> Vec<Subtitle> {
    let Some(items) = fields.get("subtitles").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|s| {
            Some(Subtitle {
                language: s.get("language")?.as_str()?.to_owned(),
                url: s.get("url")?.as_str()?.to_owned(),
                public_id: s.get("publicId").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

/// Applies the rules above; `current_year` bounds release years as the API does.
pub fn read(documents: &[Document], current_year: u32, report: &mut Collection) -> Vec<MovieRow> {
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for doc in documents {
        rows::begin(doc, KNOWN, report);
        let Some(oid) = rows::object_id(doc, report) else {
            continue;
        };
        let fields = &doc.fields;
        if !seen.insert(oid) {
            report.skip(doc.line, Some(oid.to_string()), "the same _id again");
            continue;
        }
        let whole = |name: &str| fields.get(name).and_then(|v| extjson::integer(v).ok());
        let movie = MovieFields {
            title: opt_text(fields, "title"),
            description: opt_text(fields, "description"),
            genres: strings(fields, "genres"),
            release_year: whole("releaseYear"),
            duration_minutes: whole("durationMinutes"),
            director: opt_text(fields, "director"),
            cast: strings(fields, "cast"),
        };
        let input = match MovieInput::parse(&movie, current_year) {
            Ok(input) => input,
            Err(streamia_api::ApiError::Validation(errors)) => {
                let why: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
                report.skip(doc.line, Some(oid.to_string()), why.join("; "));
                continue;
            }
            Err(other) => {
                report.skip(doc.line, Some(oid.to_string()), other.to_string());
                continue;
            }
        };
        let average = fields.get("averageRating").and_then(|v| extjson::number(v).ok());
        let total = fields.get("totalRatings").and_then(|v| extjson::integer(v).ok());
        let created_ms = fields
            .get("createdAt")
            .and_then(|v| extjson::date_ms(v).ok())
            .unwrap_or(i64::from(oid.created_s()) * 1000);
        let updated_ms = fields
            .get("updatedAt")
            .and_then(|v| extjson::date_ms(v).ok())
            .unwrap_or(created_ms)
            .max(created_ms);
        rows.push(MovieRow {
            object_id: oid,
            id: oid.to_uuid(),
            input,
            poster_url: opt_text(fields, "posterUrl"),
            poster_public_id: opt_text(fields, "posterPublicId"),
            video_url: opt_text(fields, "videoUrl"),
            video_public_id: opt_text(fields, "videoPublicId"),
            subtitles: subtitles(fields),
            stored_aggregate: average.zip(total),
            created_ms,
            updated_ms,
        });
        report.imported += 1;
    }
    rows
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::rows::documents as docs;

    use super::*;

    #[test]
    fn movies_keep_their_media_and_refused_ones_say_why() {
        let mut report = Collection::default();
        let rows = read(
            &docs(&[
                json!({"_id": {"$oid": "5f1d7f3b8c9d440012345678"}, "title": " Alien ", "description": "In space.",
                    "genres": ["Sci-Fi", "sci-fi", "Horror"], "releaseYear": {"$numberInt": "1979"},
                    "posterUrl": "https://res.cloudinary.com/demo/image/upload/v1/streamia/posters/alien.jpg",
                    "posterPublicId": "streamia/posters/alien",
                    "subtitles": [{"language": "es", "url": "https://res.cloudinary.com/x.vtt", "publicId": "streamia/subs/alien-es"}],
                    "averageRating": 4.5, "totalRatings": 2, "trailerUrl": "https://example.com"}),
                json!({"_id": {"$oid": "5f1d7f3b8c9d440012345679"}, "title": "Too early", "description": "x", "releaseYear": 1700}),
                json!({"_id": {"$oid": "5f1d7f3b8c9d44001234567a"}, "description": "no title", "releaseYear": 2001}),
            ]),
            2026,
            &mut report,
        );
        assert_eq!(rows.len(), 1);
        let alien = &rows[0];
        assert_eq!(alien.input.title, "Alien");
        assert_eq!(
            alien.input.genres,
            vec!["Sci-Fi", "Horror"],
            "the API's own de-duplication"
        );
        assert_eq!(alien.input.release_year, 1979);
        assert_eq!(alien.poster_public_id.as_deref(), Some("streamia/posters/alien"));
        assert_eq!(alien.subtitles[0].public_id.as_deref(), Some("streamia/subs/alien-es"));
        assert_eq!(alien.stored_aggregate, Some((4.5, 2)));
        assert_eq!(report.skipped[0].reason, "releaseYear: must be from 1888 to 2027");
        assert_eq!(report.skipped[1].reason, "title: is required");
        assert_eq!(report.unknown_fields.get("trailerUrl"), Some(&1));
    }
}
