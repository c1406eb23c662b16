//! The monolith's `ratings` collection, and the aggregates recomputed from it.
//!
//! | what the old data holds | rule |
//! |---|---|
//! | a user or movie that is gone or was skipped | skip (a merged account's ratings move to the account kept) |
//! | a score outside 1–5, or not a whole number | skip |
//! | several ratings of one movie by one person (also through merged accounts) | merge: the latest is kept |
//! | each movie's `averageRating`/`totalRatings` | recomputed from the ratings kept, by the ratings service's own `Stats` |

use std::collections::{BTreeMap, HashMap};

use streamia_ratings::domain::Stats;

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
    "score",
    "rating",
    "createdAt",
    "updatedAt",
    "__v",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingRow {
    pub user_id: String,
    pub movie_id: String,
    pub score: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Applies the rules above. `movies` are the movies imported (old id → new id).
pub fn read(
    documents: &[Document],
    users: &Users,
    movies: &HashMap<ObjectId, String>,
    report: &mut Collection,
) -> Vec<RatingRow> {
    let mut latest: BTreeMap<(String, String), (i64, usize, RatingRow)> = BTreeMap::new();
    for doc in documents {
        rows::begin(doc, KNOWN, report);
        let Some((user, movie)) = rows::owner_and_movie(doc, &users.owner_of, movies, report) else {
            continue;
        };
        let fields = &doc.fields;
        let id = rows::row_id(fields);
        let raw = fields.get("score").or_else(|| fields.get("rating"));
        let score = match raw.map(extjson::integer) {
            Some(Ok(s)) if (1..=5).contains(&s) => s,
            Some(Ok(s)) => {
                report.skip(doc.line, id, format!("score {s} is outside 1-5"));
                continue;
            }
            Some(Err(e)) => {
                report.skip(doc.line, id, format!("score: {e}"));
                continue;
            }
            None => {
                report.skip(doc.line, id, "no score");
                continue;
            }
        };
        let (created_ms, updated_ms) = rows::times(fields);
        let row = RatingRow {
            user_id: user.clone(),
            movie_id: movie.clone(),
            score,
            created_ms,
            updated_ms,
        };
        match latest.get(&(user.clone(), movie.clone())) {
            Some((when, _, _)) if *when > updated_ms => {
                report.merged += 1;
                report.skip(doc.line, id, "a later rating of the movie by the same person is kept");
            }
            Some((_, line, _)) => {
                let replaced = *line;
                report.merged += 1;
                report.skip(replaced, None, "a later rating of the movie by the same person is kept");
                latest.insert((user, movie), (updated_ms, doc.line, row));
            }
            None => {
                latest.insert((user, movie), (updated_ms, doc.line, row));
            }
        }
    }
    let rows: Vec<RatingRow> = latest.into_values().map(|(_, _, row)| row).collect();
    report.imported = rows.len();
    rows
}

/// Each rated movie's statistics, as the ratings service computes them.
pub fn aggregates(rows: &[RatingRow]) -> BTreeMap<String, Stats> {
    let mut counts: BTreeMap<&str, BTreeMap<i64, u32>> = BTreeMap::new();
    for r in rows {
        *counts.entry(&r.movie_id).or_default().entry(r.score).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(movie, by_score)| {
            let pairs: Vec<(i64, u32)> = by_score.into_iter().collect();
            (movie.to_owned(), Stats::from_counts(movie, &pairs))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::rows::documents as docs;

    use super::*;
    use crate::users;

    const HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
    const ANA: &str = "500000000000000000000001";
    const ANA_AGAIN: &str = "600000000000000000000001";
    const ALIEN: &str = "5f1d7f3b8c9d440012345678";

    #[test]
    fn the_latest_rating_per_person_counts_and_bad_ones_are_skipped() {
        let mut report = Collection::default();
        let people = users::read(
            &docs(&[
                json!({"_id": {"$oid": ANA}, "email": "ana@example.com", "username": "ana", "password": HASH}),
                json!({"_id": {"$oid": ANA_AGAIN}, "email": "ANA@example.com", "username": "ana2", "password": HASH}),
            ]),
            &mut report,
        );
        let alien = ObjectId::parse(ALIEN).unwrap();
        let movies = HashMap::from([(alien, alien.to_uuid())]);
        let mut report = Collection::default();
        let rows = read(
            &docs(&[
                json!({"user": {"$oid": ANA}, "movie": {"$oid": ALIEN}, "score": 2, "updatedAt": {"$date": "2020-01-01T00:00:00Z"}}),
                // The merged account's later rating wins: one person, one rating.
                json!({"user": {"$oid": ANA_AGAIN}, "movie": {"$oid": ALIEN}, "score": {"$numberInt": "5"}, "updatedAt": {"$date": "2021-01-01T00:00:00Z"}}),
                json!({"user": {"$oid": ANA}, "movie": {"$oid": ALIEN}, "score": 3, "updatedAt": {"$date": "2019-01-01T00:00:00Z"}}),
                json!({"user": {"$oid": ANA}, "movie": {"$oid": ALIEN}, "score": 7}),
                json!({"user": {"$oid": ANA}, "movie": {"$oid": "5f1d7f3b8c9d4400123456ff"}, "score": 4}),
                json!({"user": {"$oid": "5f1d7f3b8c9d4400123456ee"}, "movie": {"$oid": ALIEN}, "score": 4}),
            ]),
            &people,
            &movies,
            &mut report,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].score, rows[0].user_id.as_str()),
            (5, ObjectId::parse(ANA).unwrap().to_uuid().as_str())
        );
        assert_eq!(report.merged, 2);
        let reasons: Vec<(usize, &str)> = report.skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
        assert!(reasons.contains(&(1, "a later rating of the movie by the same person is kept")));
        assert!(reasons.contains(&(3, "a later rating of the movie by the same person is kept")));
        assert!(reasons.contains(&(4, "score 7 is outside 1-5")));
        assert!(reasons
            .iter()
            .any(|(l, r)| *l == 5 && r.starts_with("movie 5f1d7f3b8c9d4400123456ff was not imported")));
        assert!(reasons
            .iter()
            .any(|(l, r)| *l == 6 && r.starts_with("user 5f1d7f3b8c9d4400123456ee was not imported")));
        let stats = aggregates(&rows);
        assert_eq!(
            (stats[&alien.to_uuid()].count, stats[&alien.to_uuid()].average),
            (1, 5.0)
        );
    }
}
