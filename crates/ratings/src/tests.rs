use serde_json::json;
use streamia_api::Page;
use streamia_cache::MemoryCache;
use streamia_clock::Now;
use streamia_db::MemoryDb;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::{Envelope, Event, MovieDeleted, UserDeleted};

use crate::*;

/// When the fixtures' events occur and their outboxes write.
const NOW: Now = Now::at(1_800_000_000);

struct Fixture {
    db: MemoryDb,
    outbox: Outbox,
    cache: MemoryCache,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture {
            db: MemoryDb::new(),
            outbox: Outbox::new(SERVICE, NOW),
            cache: MemoryCache::default(),
        };
        f.ratings().migrate().unwrap();
        f
    }

    fn ratings(&self) -> Ratings<'_> {
        Ratings {
            db: &self.db,
            outbox: &self.outbox,
            cache: &self.cache,
            now: Now::at(1_800_000_000),
        }
    }

    fn rate(&self, user: &str, movie: &str, score: u64) -> Outcome {
        self.ratings()
            .rate(
                user,
                &MovieId::parse(movie).unwrap(),
                Score::parse(&json!(score)).unwrap(),
            )
            .unwrap()
    }

    /// (event type, movie, average, total, version) of every event, in order.
    fn events(&self) -> Vec<(String, f64, u32, u64)> {
        self.outbox
            .due(&self.db, i64::MAX, 100)
            .unwrap()
            .into_iter()
            .map(|p| match p.envelope.event().unwrap().unwrap() {
                Event::RatingCreated(e) => ("created".into(), e.average_rating, e.total_ratings, e.aggregate_version),
                Event::RatingUpdated(e) => ("updated".into(), e.average_rating, e.total_ratings, e.aggregate_version),
                Event::RatingDeleted(e) => ("deleted".into(), e.average_rating, e.total_ratings, e.aggregate_version),
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
    assert_eq!(
        Score::parse(&json!(4.0)).unwrap().get(),
        4,
        "4.0 is the integer 4, as JSON Schema reads it"
    );
    for bad in [
        json!(0),
        json!(6),
        json!(-1),
        json!(4.5),
        json!(5.0000001),
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
    let gone = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "ana".into() }), "users", NOW);
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
    let gone = Envelope::new(
        &Event::MovieDeleted(MovieDeleted { movie_id: "m1".into() }),
        "movies",
        NOW,
    );
    f.ratings().apply_event(&gone).unwrap();
    assert_eq!(f.ratings().stats("m1").unwrap().count, 0);
    let history = f.ratings().history("ana", Page::parse(None, None).unwrap()).unwrap();
    assert_eq!(history.pagination.total, 1);
    assert_eq!(
        f.ratings()
            .rate("ana", &MovieId::parse("m1").unwrap(), Score::parse(&json!(2)).unwrap())
            .unwrap_err()
            .status(),
        404
    );
}

/// A database on which another writer rates the same movie just before
/// the first rating write of this request goes in: its read is stale.
struct RacedDb<'a> {
    inner: &'a MemoryDb,
    raced: std::cell::Cell<bool>,
}

impl streamia_db::Db for RacedDb<'_> {
    fn execute(&self, sql: &str, params: &[streamia_db::Value]) -> Result<streamia_db::Rows, streamia_db::DbError> {
        if sql.starts_with("INSERT INTO ratings_outbox") && !self.raced.replace(true) {
            let other = Outbox::new(SERVICE, NOW);
            let cache = MemoryCache::default();
            let bob = Ratings {
                db: self.inner,
                outbox: &other,
                cache: &cache,
                now: Now::at(1_800_000_000),
            };
            bob.rate("bob", &MovieId::parse("m").unwrap(), Score::parse(&json!(1)).unwrap())
                .unwrap();
        }
        self.inner.execute(sql, params)
    }
}

#[test]
fn a_rating_written_on_a_stale_read_is_not_written_and_is_tried_again_on_what_changed() {
    let f = Fixture::new();
    f.rate("ana", "m", 5);
    let raced = RacedDb {
        inner: &f.db,
        raced: Default::default(),
    };
    let cid = Ratings {
        db: &raced,
        outbox: &f.outbox,
        cache: &f.cache,
        now: Now::at(1_800_000_000),
    };
    let Outcome::Created(rated) = cid
        .rate("cid", &MovieId::parse("m").unwrap(), Score::parse(&json!(3)).unwrap())
        .unwrap()
    else {
        panic!("a first score")
    };
    // Bob's 1 went in between cid's read and write: cid's aggregate counts it.
    assert_eq!((rated.stats.count, rated.stats.average), (3, 3.0));
    let s = f.ratings().stats("m").unwrap();
    assert_eq!((s.count, s.average), (3, 3.0));
    let versions: Vec<u64> = f.events().iter().map(|e| e.3).collect();
    assert_eq!(
        versions,
        [1, 2, 3],
        "ana's, bob's, cid's: each version once, no event of the stale try"
    );
}

#[test]
fn public_statistics_are_cached_and_every_change_drops_them() {
    let f = Fixture::new();
    f.rate("ana", "m", 5);
    // The fixture's clock stands still: a change and a read at the same
    // moment are ordered as the read having begun before it.
    let later = |s: i64| Ratings {
        db: &f.db,
        outbox: &f.outbox,
        cache: &f.cache,
        now: Now::at(1_800_000_000 + s),
    };
    let (stats, hit) = later(1).public_stats("m").unwrap();
    assert_eq!((stats.count, hit), (1, false));
    assert!(later(2).public_stats("m").unwrap().1, "filled by the read");
    f.rate("bob", "m", 1);
    let (stats, hit) = later(3).public_stats("m").unwrap();
    assert_eq!(
        (stats.count, stats.average, hit),
        (2, 3.0, false),
        "dropped by the write"
    );
    let (stats, hit) = later(4).public_stats("m").unwrap();
    assert_eq!((stats.count, hit), (2, true));
    // A saga's removal drops it too.
    let gone = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "bob".into() }), "users", NOW);
    f.ratings().apply_event(&gone).unwrap();
    let (stats, hit) = later(5).public_stats("m").unwrap();
    assert_eq!((stats.count, hit), (1, false));
    // What the gateway answers is what the service answers.
    let body = crate::cache::cached_read(&f.cache, &["movie", "m", "stats"], 1_800_000_006).unwrap();
    let answered: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answered, serde_json::to_value(&stats).unwrap());
    assert_eq!(
        crate::cache::cached_read(&f.cache, &["movie", "other", "stats"], 1_800_000_006),
        None
    );
}

#[test]
fn a_read_that_began_before_a_rating_does_not_cache_what_it_read() {
    let f = Fixture::new();
    f.rate("ana", "m", 5);
    // The rating was committed at the fixture's time; a read that began at
    // that same moment may have seen the row before it.
    let (_, hit) = f.ratings().public_stats("m").unwrap();
    assert!(!hit);
    assert!(
        crate::cache::cached_stats(&f.cache, "m", 1_800_000_000).is_none(),
        "not filled"
    );
}
