//! A whole dump read and cleaned: the rows each service receives, in the
//! order they must arrive, and the report of what was kept, merged, changed
//! and skipped. The dry run prints this; the real run sends it.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::dump::{self, DumpError};
use crate::ids::ObjectId;
use crate::report::{Collection, Report};
use crate::{comments, favorites, movies, ratings, users};

/// The collections a dump holds, one file each (`<name>.json`).
pub const COLLECTIONS: [&str; 5] = ["users", "movies", "favorites", "ratings", "comments"];

/// The rows of one kind for one import route, in order.
pub struct Batchable {
    /// The route's kind: `/api/admin/import/{kind}`.
    pub kind: &'static str,
    pub rows: Vec<Value>,
}

pub struct Plan {
    /// In the order they must be sent.
    pub kinds: Vec<Batchable>,
    pub report: Report,
    /// Every old id that was imported, and the new one: the mapping table.
    pub ids: Vec<(&'static str, ObjectId, String)>,
    /// Movies whose stored aggregate differed from the one recomputed.
    pub stale_aggregates: usize,
}

fn ms(at: i64) -> Value {
    json!(at.max(0))
}

/// Reads `dir`'s five files and applies every collection's rules.
pub fn read(dir: &Path, current_year: u32) -> Result<Plan, DumpError> {
    let mut files = HashMap::new();
    for name in COLLECTIONS {
        files.insert(name, dump::read(&dir.join(format!("{name}.json")))?);
    }
    let mut report = Report::default();
    let mut sections: [Collection; 5] = Default::default();
    let [s_users, s_movies, s_favorites, s_ratings, s_comments] = &mut sections;
    let people = users::read(&files["users"], s_users);
    let movie_rows = movies::read(&files["movies"], current_year, s_movies);
    let movie_ids: HashMap<ObjectId, String> = movie_rows.iter().map(|m| (m.object_id, m.id.clone())).collect();
    let favorite_rows = favorites::read(&files["favorites"], &people, &movie_ids, s_favorites);
    // A movie's ratings and comments together: each batch touches few
    // movies, and the services drop few cached entries per batch. (Stable:
    // a movie's comments stay in time order, parents before replies.)
    let mut rating_rows = ratings::read(&files["ratings"], &people, &movie_ids, s_ratings);
    rating_rows.sort_by(|a, b| a.movie_id.cmp(&b.movie_id));
    let mut comment_rows = comments::read(&files["comments"], &people, &movie_ids, s_comments);
    comment_rows.sort_by(|a, b| a.movie_id.cmp(&b.movie_id));
    for (name, section) in COLLECTIONS.into_iter().zip(sections) {
        report.collections.insert(name, section);
    }
    let stats = ratings::aggregates(&rating_rows);

    let mut ids = Vec::new();
    let user_rows: Vec<Value> = people
        .rows
        .iter()
        .map(|u| {
            ids.push(("users", u.object_id, u.id.clone()));
            json!({"id": u.id, "email": u.email, "username": u.username, "passwordHash": u.password_hash,
                "admin": u.admin, "createdAtMs": ms(u.created_ms)})
        })
        .collect();
    let mut stale_aggregates = 0;
    let by_id: HashMap<&str, &movies::MovieRow> = movie_rows.iter().map(|m| (m.id.as_str(), m)).collect();
    let movie_json: Vec<Value> = movie_rows
        .iter()
        .map(|m| {
            ids.push(("movies", m.object_id, m.id.clone()));
            let (average, count) = stats.get(&m.id).map_or((0.0, 0), |s| (s.average, i64::from(s.count)));
            if let Some((old_average, old_count)) = m.stored_aggregate {
                if old_count != count || (old_average - average).abs() > 0.005 {
                    stale_aggregates += 1;
                }
            }
            let subtitles: Vec<Value> = m
                .subtitles
                .iter()
                .map(|s| json!({"language": s.language, "url": s.url, "publicId": s.public_id.clone().unwrap_or_default()}))
                .collect();
            json!({"id": m.id, "title": m.input.title, "description": m.input.description, "genres": m.input.genres,
                "releaseYear": m.input.release_year, "durationMinutes": m.input.duration_minutes,
                "director": m.input.director, "cast": m.input.cast, "posterUrl": m.poster_url,
                "posterPublicId": m.poster_public_id, "videoUrl": m.video_url, "videoPublicId": m.video_public_id,
                "subtitles": subtitles, "averageRating": average, "totalRatings": count,
                "createdAtMs": ms(m.created_ms), "updatedAtMs": ms(m.updated_ms)})
        })
        .collect();
    let favorite_json: Vec<Value> = favorite_rows
        .iter()
        .map(|f| {
            let movie = by_id[f.movie_id.as_str()];
            json!({"userId": f.user_id, "movieId": f.movie_id, "note": f.note, "title": movie.input.title,
                "posterUrl": movie.poster_url, "createdAtMs": ms(f.created_ms)})
        })
        .collect();
    let rating_json: Vec<Value> = rating_rows
        .iter()
        .map(|r| {
            json!({"userId": r.user_id, "movieId": r.movie_id, "score": r.score,
                "createdAtMs": ms(r.created_ms), "updatedAtMs": ms(r.updated_ms)})
        })
        .collect();
    let author_json: Vec<Value> = people
        .rows
        .iter()
        .map(|u| json!({"userId": u.id, "username": u.username}))
        .collect();
    let comment_json: Vec<Value> = comment_rows
        .iter()
        .map(|c| {
            ids.push(("comments", c.object_id, c.id.clone()));
            json!({"id": c.id, "movieId": c.movie_id, "userId": c.user_id, "parentId": c.parent_id,
                "content": c.content, "status": c.status, "deleted": c.deleted, "edited": c.edited,
                "createdAtMs": ms(c.created_ms), "updatedAtMs": ms(c.updated_ms)})
        })
        .collect();
    if stale_aggregates > 0 {
        report
            .collections
            .entry("movies")
            .or_default()
            .changed
            .insert("stored rating aggregate was stale: recomputed".into(), stale_aggregates);
    }
    Ok(Plan {
        kinds: vec![
            Batchable {
                kind: "users",
                rows: user_rows,
            },
            Batchable {
                kind: "movies",
                rows: movie_json,
            },
            Batchable {
                kind: "favorites",
                rows: favorite_json,
            },
            Batchable {
                kind: "ratings",
                rows: rating_json,
            },
            Batchable {
                kind: "comment-authors",
                rows: author_json,
            },
            Batchable {
                kind: "comments",
                rows: comment_json,
            },
        ],
        report,
        ids,
        stale_aggregates,
    })
}

/// `rows` cut into batches of at most `max_rows` and about `max_bytes` of JSON each.
pub fn batches(rows: &[Value], max_rows: usize, max_bytes: usize) -> Vec<&[Value]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        let size = row.to_string().len() + 1;
        if i > start && (i - start >= max_rows || bytes + size > max_bytes) {
            out.push(&rows[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_a_bounded_number_of_rows_and_bytes() {
        let rows: Vec<Value> = (0..10).map(|i| json!({"n": i, "pad": "x".repeat(90)})).collect();
        let by_rows = batches(&rows, 4, 1_000_000);
        assert_eq!(by_rows.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
        let by_bytes = batches(&rows, 100, 250);
        assert!(
            by_bytes.iter().all(|b| b.len() == 2),
            "{:?}",
            by_bytes.iter().map(|b| b.len()).collect::<Vec<_>>()
        );
        assert_eq!(by_bytes.iter().map(|b| b.len()).sum::<usize>(), 10);
        assert!(batches(&[], 4, 100).is_empty());
    }
}
