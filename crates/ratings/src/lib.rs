//! The ratings service's logic, in plain Rust so native tests run it: one
//! score (1–5) per user and movie, statistics per movie, and after every
//! change an event carrying the movie's new aggregate with a version that
//! increases per movie, so the movies service applies aggregates in order.
//! `components/ratings` wires it to Spin.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use streamia_api::{ApiError, Page, Paginated};
use streamia_db::{transaction, Db, DbError, Row};
use streamia_events::consumer::{consume, Consumed};
use streamia_events::outbox::Outbox;
use streamia_events::tombstone::{self, Kind};
use streamia_events::{Envelope, Event, RatingCreated, RatingDeleted, RatingUpdated};

pub const SERVICE: &str = "ratings";

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
];

/// A score: a whole number from 1 to 5. `4.0`, `"4"` and `true` are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score(u8);

impl Score {
    pub fn parse(value: &serde_json::Value) -> Result<Self, ApiError> {
        match value.as_u64() {
            Some(n @ 1..=5) if value.is_u64() => Ok(Score(n as u8)),
            _ => Err(ApiError::validation("score", "must be a whole number from 1 to 5")),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// `POST /api/ratings/{movieId}`'s body; the score is parsed by [`Score::parse`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBody {
    pub score: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Rating {
    pub movie_id: String,
    pub user_id: String,
    pub score: u8,
    pub created_at: String,
    pub updated_at: String,
}

fn rating_from(row: &Row<'_>) -> Result<Rating, DbError> {
    Ok(Rating {
        movie_id: row.text("movie_id")?,
        user_id: row.text("user_id")?,
        score: row.int("score")? as u8,
        created_at: row.text("created_at")?,
        updated_at: row.text("updated_at")?,
    })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub movie_id: String,
    /// Rounded to two decimals; 0 when there are no ratings.
    pub average: f64,
    pub count: u32,
    /// Every score 1–5, with how many gave it.
    pub distribution: BTreeMap<String, u32>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Rated {
    pub rating: Rating,
    pub stats: Stats,
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    Created(Rated),
    Updated(Rated),
}

pub struct Ratings<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
}

const COLUMNS: &str = "user_id, movie_id, score, created_at, updated_at";

fn no_rating() -> ApiError {
    ApiError::NotFound("you have not rated this movie".into())
}

impl Ratings<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, MIGRATIONS)?)
    }

    /// A token issued before its account was deleted is refused.
    pub fn check_user(&self, user_id: &str) -> Result<(), ApiError> {
        if tombstone::is_buried(self.db, SERVICE, Kind::User, user_id)? {
            return Err(ApiError::account_gone());
        }
        Ok(())
    }

    fn find(&self, user_id: &str, movie_id: &str) -> Result<Option<Rating>, ApiError> {
        let rows = self.db.execute(
            &format!("SELECT {COLUMNS} FROM ratings_scores WHERE user_id = ? AND movie_id = ?"),
            &[user_id.into(), movie_id.into()],
        )?;
        Ok(rows.first().map(|r| rating_from(&r)).transpose()?)
    }

    pub fn stats(&self, movie_id: &str) -> Result<Stats, ApiError> {
        let rows = self.db.execute(
            "SELECT score, COUNT(*) AS n FROM ratings_scores WHERE movie_id = ? GROUP BY score",
            &[movie_id.into()],
        )?;
        let mut distribution: BTreeMap<String, u32> = (1..=5).map(|s| (s.to_string(), 0)).collect();
        let (mut count, mut sum) = (0u32, 0u64);
        for row in rows.iter() {
            let (score, n) = (row.int("score")?, row.int("n")? as u32);
            distribution.insert(score.to_string(), n);
            count += n;
            sum += score as u64 * u64::from(n);
        }
        let average = if count == 0 {
            0.0
        } else {
            (sum as f64 / f64::from(count) * 100.0).round() / 100.0
        };
        Ok(Stats {
            movie_id: movie_id.to_owned(),
            average,
            count,
            distribution,
        })
    }

    /// The movie's aggregate changed: its next version.
    fn next_version(&self, movie_id: &str) -> Result<u64, ApiError> {
        let rows = self.db.execute(
            "INSERT INTO ratings_versions (movie_id, version) VALUES (?, 1)
                ON CONFLICT (movie_id) DO UPDATE SET version = version + 1 RETURNING version",
            &[movie_id.into()],
        )?;
        let version = rows.first().map(|r| r.int("version")).transpose()?.unwrap_or(1);
        Ok(version.max(1) as u64)
    }

    /// Create or change the caller's score for a movie the catalogue has.
    pub fn rate(&self, user_id: &str, movie_id: &str, score: Score) -> Result<Outcome, ApiError> {
        self.check_user(user_id)?;
        transaction(self.db, || {
            if tombstone::is_buried(self.db, SERVICE, Kind::Movie, movie_id)? {
                return Err(ApiError::NotFound("movie not found".into()));
            }
            let before = self.find(user_id, movie_id)?;
            if let Some(same) = before.as_ref().filter(|r| r.score == score.get()) {
                // Nothing changes, so no new aggregate and no event.
                return Ok(Outcome::Updated(Rated {
                    rating: same.clone(),
                    stats: self.stats(movie_id)?,
                }));
            }
            let now = streamia_events::now_rfc3339();
            self.db.execute(
                "INSERT INTO ratings_scores (user_id, movie_id, score, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at",
                &[
                    user_id.into(),
                    movie_id.into(),
                    i64::from(score.get()).into(),
                    (&now).into(),
                    (&now).into(),
                ],
            )?;
            let stats = self.stats(movie_id)?;
            let version = self.next_version(movie_id)?;
            let (movie_id, user_id) = (movie_id.to_owned(), user_id.to_owned());
            let event = if before.is_none() {
                Event::RatingCreated(RatingCreated {
                    movie_id: movie_id.clone(),
                    user_id: user_id.clone(),
                    score: u32::from(score.get()),
                    average_rating: stats.average,
                    total_ratings: stats.count,
                    aggregate_version: version,
                })
            } else {
                Event::RatingUpdated(RatingUpdated {
                    movie_id: movie_id.clone(),
                    user_id: user_id.clone(),
                    score: u32::from(score.get()),
                    average_rating: stats.average,
                    total_ratings: stats.count,
                    aggregate_version: version,
                })
            };
            self.outbox.add(self.db, &event)?;
            let rating = self
                .find(&user_id, &movie_id)?
                .ok_or_else(|| ApiError::internal("rating vanished"))?;
            let rated = Rated { rating, stats };
            Ok(if before.is_none() {
                Outcome::Created(rated)
            } else {
                Outcome::Updated(rated)
            })
        })
    }

    /// The caller's rating of a movie.
    pub fn get(&self, user_id: &str, movie_id: &str) -> Result<Rating, ApiError> {
        self.check_user(user_id)?;
        self.find(user_id, movie_id)?.ok_or_else(no_rating)
    }

    pub fn delete(&self, user_id: &str, movie_id: &str) -> Result<Stats, ApiError> {
        self.check_user(user_id)?;
        transaction(self.db, || {
            if !self.remove(user_id, movie_id)? {
                return Err(no_rating());
            }
            self.stats(movie_id)
        })
    }

    /// Delete one rating and announce the movie's new aggregate; `false` if
    /// there was none. Call inside a transaction.
    fn remove(&self, user_id: &str, movie_id: &str) -> Result<bool, ApiError> {
        let gone = self.db.execute(
            "DELETE FROM ratings_scores WHERE user_id = ? AND movie_id = ? RETURNING score",
            &[user_id.into(), movie_id.into()],
        )?;
        if gone.is_empty() {
            return Ok(false);
        }
        let stats = self.stats(movie_id)?;
        let version = self.next_version(movie_id)?;
        self.outbox.add(
            self.db,
            &Event::RatingDeleted(RatingDeleted {
                movie_id: movie_id.to_owned(),
                user_id: user_id.to_owned(),
                average_rating: stats.average,
                total_ratings: stats.count,
                aggregate_version: version,
            }),
        )?;
        Ok(true)
    }

    /// The caller's ratings, most recently changed first.
    pub fn history(&self, user_id: &str, page: Page) -> Result<Paginated<Rating>, ApiError> {
        self.check_user(user_id)?;
        let total = self.db.count(
            "SELECT COUNT(*) AS n FROM ratings_scores WHERE user_id = ?",
            &[user_id.into()],
        )?;
        let rows = self.db.execute(
            &format!(
                "SELECT {COLUMNS} FROM ratings_scores WHERE user_id = ?
                    ORDER BY updated_at DESC, movie_id DESC LIMIT ? OFFSET ?"
            ),
            &[user_id.into(), i64::from(page.limit()).into(), page.offset().into()],
        )?;
        let data = rows.iter().map(|r| rating_from(&r)).collect::<Result<_, _>>()?;
        Ok(Paginated::new(data, page, total))
    }

    /// The sagas: user.deleted removes the user's ratings, each announcing
    /// its movie's new aggregate; movie.deleted removes the movie's ratings.
    pub fn apply_event(&self, envelope: &Envelope) -> Result<Consumed, ApiError> {
        Ok(consume(
            self.db,
            SERVICE,
            envelope,
            |event| -> Result<bool, ApiError> {
                match event {
                    Event::UserDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::User, &e.user_id)?;
                        let movies = self.db.execute(
                            "SELECT movie_id FROM ratings_scores WHERE user_id = ?",
                            &[(&e.user_id).into()],
                        )?;
                        for row in movies.iter() {
                            self.remove(&e.user_id, &row.text("movie_id")?)?;
                        }
                    }
                    Event::MovieDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::Movie, &e.movie_id)?;
                        // The movie is gone, and its aggregate with it: no events.
                        self.db
                            .execute("DELETE FROM ratings_scores WHERE movie_id = ?", &[(&e.movie_id).into()])?;
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use streamia_db::MemoryDb;
    use streamia_events::{MovieDeleted, UserDeleted};

    struct Fixture {
        db: MemoryDb,
        outbox: Outbox,
    }

    impl Fixture {
        fn new() -> Self {
            let f = Fixture {
                db: MemoryDb::new(),
                outbox: Outbox::new(SERVICE),
            };
            f.ratings().migrate().unwrap();
            f
        }

        fn ratings(&self) -> Ratings<'_> {
            Ratings {
                db: &self.db,
                outbox: &self.outbox,
            }
        }

        fn rate(&self, user: &str, movie: &str, score: u64) -> Outcome {
            self.ratings()
                .rate(user, movie, Score::parse(&json!(score)).unwrap())
                .unwrap()
        }

        /// (event type, movie, average, total, version) of every event, in order.
        fn events(&self) -> Vec<(String, f64, u32, u64)> {
            self.outbox
                .due(&self.db, i64::MAX, 100)
                .unwrap()
                .into_iter()
                .map(|p| match p.envelope.event().unwrap().unwrap() {
                    Event::RatingCreated(e) => {
                        ("created".into(), e.average_rating, e.total_ratings, e.aggregate_version)
                    }
                    Event::RatingUpdated(e) => {
                        ("updated".into(), e.average_rating, e.total_ratings, e.aggregate_version)
                    }
                    Event::RatingDeleted(e) => {
                        ("deleted".into(), e.average_rating, e.total_ratings, e.aggregate_version)
                    }
                    other => panic!("unexpected {other:?}"),
                })
                .collect()
        }
    }

    #[test]
    fn scores_are_whole_numbers_from_one_to_five() {
        for ok in [1, 3, 5] {
            assert_eq!(Score::parse(&json!(ok)).unwrap().get(), ok as u8);
        }
        for bad in [
            json!(0),
            json!(6),
            json!(-1),
            json!(4.5),
            json!(4.0),
            json!("4"),
            json!(null),
            json!(true),
        ] {
            let err = Score::parse(&bad).unwrap_err();
            assert_eq!(err.status(), 400, "{bad}");
        }
    }

    #[test]
    fn stats_and_events_follow_every_change_with_growing_versions() {
        let f = Fixture::new();
        assert!(matches!(f.rate("ana", "m", 5), Outcome::Created(_)));
        assert!(matches!(f.rate("bob", "m", 2), Outcome::Created(_)));
        let Outcome::Updated(rated) = f.rate("bob", "m", 3) else {
            panic!("a second score updates")
        };
        assert_eq!(rated.stats.average, 4.0);
        assert_eq!(rated.stats.count, 2);
        assert_eq!(rated.stats.distribution["5"], 1);
        assert_eq!(rated.stats.distribution["3"], 1);
        assert_eq!(rated.stats.distribution["2"], 0);
        f.rate("bob", "m", 3); // unchanged: no event
        f.ratings().delete("ana", "m").unwrap();
        assert_eq!(f.ratings().delete("ana", "m").unwrap_err().status(), 404);
        assert_eq!(
            f.events(),
            [
                ("created".to_owned(), 5.0, 1, 1),
                ("created".to_owned(), 3.5, 2, 2),
                ("updated".to_owned(), 4.0, 2, 3),
                ("deleted".to_owned(), 3.0, 1, 4),
            ]
        );
        let s = f.ratings().stats("m").unwrap();
        assert_eq!((s.average, s.count), (3.0, 1));
        assert_eq!(f.ratings().stats("none").unwrap().average, 0.0);
    }

    #[test]
    fn averages_round_to_two_decimals() {
        let f = Fixture::new();
        f.rate("a", "m", 5);
        f.rate("b", "m", 5);
        f.rate("c", "m", 4);
        assert_eq!(f.ratings().stats("m").unwrap().average, 4.67);
    }

    #[test]
    fn user_deletion_removes_their_ratings_and_republishes_aggregates_once() {
        let f = Fixture::new();
        f.rate("ana", "m1", 1);
        f.rate("ana", "m2", 4);
        f.rate("bob", "m1", 5);
        let gone = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "ana".into() }), "users");
        assert_eq!(f.ratings().apply_event(&gone).unwrap(), Consumed::Applied);
        assert_eq!(f.ratings().apply_event(&gone).unwrap(), Consumed::Duplicate);
        assert_eq!(f.ratings().stats("m1").unwrap().count, 1);
        assert_eq!(f.ratings().stats("m2").unwrap().count, 0);
        let deleted: Vec<_> = f.events().into_iter().filter(|e| e.0 == "deleted").collect();
        assert_eq!(deleted.len(), 2, "one new aggregate per movie she rated");
        assert_eq!(
            f.ratings()
                .history("ana", Page::parse(None, None).unwrap())
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn movie_deletion_removes_its_ratings_and_refuses_new_ones() {
        let f = Fixture::new();
        f.rate("ana", "m1", 3);
        f.rate("ana", "m2", 3);
        let gone = Envelope::new(&Event::MovieDeleted(MovieDeleted { movie_id: "m1".into() }), "movies");
        f.ratings().apply_event(&gone).unwrap();
        assert_eq!(f.ratings().stats("m1").unwrap().count, 0);
        let history = f.ratings().history("ana", Page::parse(None, None).unwrap()).unwrap();
        assert_eq!(history.pagination.total, 1);
        assert_eq!(
            f.ratings()
                .rate("ana", "m1", Score::parse(&json!(2)).unwrap())
                .unwrap_err()
                .status(),
            404
        );
    }
}
