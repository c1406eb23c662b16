use streamia_clock::Now;
use streamia_db::MemoryDb;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::{Envelope, Event, RatingCreated, RatingUpdated};

use crate::cache::{Lookup, MemoryCache};
use crate::cache::{LIST_TTL_SECS, MAX_CACHED_LISTS, MOVIE_TTL_SECS};
use crate::domain::{Movie, MovieFields, MovieInput, Subtitle};
use crate::query::ListQuery;
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
        f.at(0).migrate().unwrap();
        f
    }

    fn at(&self, now: i64) -> Movies<'_> {
        Movies {
            db: &self.db,
            outbox: &self.outbox,
            cache: &self.cache,
            now: Now::at(1_800_000_000 + now),
            current_year: 2026,
        }
    }

    fn add(&self, title: &str, year: i64, genres: &[&str]) -> Movie {
        let fields: MovieFields = serde_json::from_value(serde_json::json!({
            "title": title, "description": "d", "releaseYear": year, "genres": genres
        }))
        .unwrap();
        self.at(0).create(&MovieInput::parse(&fields, 2026).unwrap()).unwrap()
    }

    /// A movie with a description of its own.
    fn described(&self, title: &str, description: &str) -> Movie {
        let fields: MovieFields = serde_json::from_value(serde_json::json!({
            "title": title, "description": description, "releaseYear": 2000
        }))
        .unwrap();
        self.at(0).create(&MovieInput::parse(&fields, 2026).unwrap()).unwrap()
    }

    /// PUT the movie as "Aliens" (1986) at `now`.
    fn rename_to_aliens(&self, id: &str, now: i64) {
        let fields: MovieFields =
            serde_json::from_value(serde_json::json!({"title": "Aliens", "description": "d", "releaseYear": 1986}))
                .unwrap();
        self.at(now)
            .update(id, &MovieInput::parse(&fields, 2026).unwrap())
            .unwrap();
    }

    fn query(&self, pairs: &[(&str, &str)]) -> Vec<String> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let q = ListQuery::parse(|k| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()), 2026).unwrap();
        self.at(0)
            .list(&q)
            .unwrap()
            .0
            .data
            .into_iter()
            .map(|m| m.title)
            .collect()
    }
}

#[test]
fn filters_search_and_sorting() {
    let f = Fixture::new();
    f.add("The Matrix", 1999, &["Sci-Fi", "Action"]);
    f.add("Alien", 1979, &["Sci-Fi", "Horror"]);
    f.add("Heat", 1995, &["Crime"]);
    f.add("100%_Real", 2001, &["Drama"]);
    assert_eq!(
        f.query(&[("genre", "sci-fi"), ("sort", "title")]),
        ["Alien", "The Matrix"]
    );
    assert_eq!(f.query(&[("year", "1995")]), ["Heat"]);
    assert_eq!(f.query(&[("search", "MATRIX")]), ["The Matrix"]);
    assert_eq!(f.query(&[("search", "100%")]), ["100%_Real"]);
    assert!(f.query(&[("search", "%_")]).is_empty(), "no word, no match");
    assert_eq!(
        f.query(&[("sort", "releaseYear:desc")]),
        ["100%_Real", "The Matrix", "Heat", "Alien"]
    );
    assert_eq!(
        f.query(&[("sort", "title"), ("page", "2"), ("limit", "3")]),
        ["The Matrix"]
    );
}

#[test]
fn search_finds_words_in_titles_and_descriptions_best_matches_first() {
    let f = Fixture::new();
    f.described("Ship of Dreams", "A liner crosses the ocean and meets an iceberg.");
    f.described("Iceberg", "A documentary about ice.");
    f.described("Desert Heat", "Sand, sun and a long drive.");
    f.described("Amélie", "A shy waitress in Montmartre.");
    assert_eq!(
        f.query(&[("search", "iceberg")]),
        ["Iceberg", "Ship of Dreams"],
        "a word in the title weighs more than one in the description"
    );
    assert_eq!(
        f.query(&[("search", "ocean liner")]),
        ["Ship of Dreams"],
        "every word, in any order"
    );
    assert!(f.query(&[("search", "ocean desert")]).is_empty());
    assert_eq!(
        f.query(&[("search", "montm")]),
        ["Amélie"],
        "the last word as typed so far"
    );
    assert_eq!(f.query(&[("search", "amelie")]), ["Amélie"], "accents aside");
    assert_eq!(
        f.query(&[("search", "and"), ("sort", "title:desc")]),
        ["Ship of Dreams", "Desert Heat"],
        "an order asked for wins over relevance"
    );

    let heat = f.query(&[("search", "desert")]);
    assert_eq!(heat, ["Desert Heat"]);
    let id = f.at(0).list(&search_query("desert")).unwrap().0.data[0].id.clone();
    let fields: MovieFields = serde_json::from_value(serde_json::json!({
        "title": "Dune", "description": "Spice and sandworms.", "releaseYear": 2021
    }))
    .unwrap();
    f.at(1).update(&id, &MovieInput::parse(&fields, 2026).unwrap()).unwrap();
    assert!(
        f.query(&[("search", "desert")]).is_empty(),
        "an edit leaves the index in step"
    );
    assert_eq!(f.query(&[("search", "sandworms")]), ["Dune"]);
    f.at(2).delete(&id).unwrap();
    assert!(f.query(&[("search", "sandworms")]).is_empty(), "a deletion too");
    let page = f.at(3).list(&search_query("a")).unwrap().0;
    assert_eq!(page.pagination.total, 3, "the total counts the matches");
}

#[test]
fn a_movie_updated_names_the_fields_that_changed() {
    let f = Fixture::new();
    let m = f.add("Alien", 1979, &[]);
    f.rename_to_aliens(&m.id, 1);
    f.rename_to_aliens(&m.id, 2);
    f.at(3)
        .set_poster(&m.id, "https://res.cloudinary.com/p.jpg", "streamia/movies/x/poster")
        .unwrap();
    let changes: Vec<serde_json::Value> = f
        .outbox
        .due(&f.db, i64::MAX, 10)
        .unwrap()
        .into_iter()
        .filter(|p| p.envelope.event_type == "movie.updated")
        .map(|p| p.envelope.data["changes"].clone())
        .collect();
    assert_eq!(
        changes,
        [
            serde_json::json!(["title", "releaseYear"]),
            serde_json::json!([]),
            serde_json::json!(["posterUrl"])
        ]
    );
}

#[test]
fn a_search_lists_at_most_its_window_of_the_newest_matches_that_pass_the_filters() {
    let f = Fixture::new();
    let add = |title: &str, year: i64| {
        let fields: MovieFields = serde_json::from_value(serde_json::json!({
            "title": title, "description": "A common story.", "releaseYear": year
        }))
        .unwrap();
        f.at(0).create(&MovieInput::parse(&fields, 2026).unwrap()).unwrap()
    };
    for i in 0..3 {
        add(&format!("Old {i}"), 1950);
    }
    let window = store::SEARCH_WINDOW as usize;
    for i in 0..window {
        add(&format!("New {i}"), 2000);
    }
    let list = |pairs: &[(&str, &str)]| {
        let q = ListQuery::parse(
            |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()),
            2026,
        )
        .unwrap();
        f.at(1).list(&q).unwrap().0
    };
    let all = list(&[("search", "common"), ("limit", "100"), ("page", "10")]);
    assert_eq!(all.pagination.total, window as u64, "at most the window");
    assert!(
        all.data.iter().all(|m| m.title.starts_with("New")),
        "the newest matches"
    );
    let old = list(&[("search", "common"), ("year", "1950")]);
    assert_eq!(
        (old.pagination.total, old.data.len()),
        (3, 3),
        "the filters come before the window"
    );
}

fn search_query(text: &str) -> ListQuery {
    ListQuery::parse(|k| (k == "search").then(|| text.to_owned()), 2026).unwrap()
}

#[test]
fn reads_are_cached_and_writes_invalidate() {
    let f = Fixture::new();
    let m = f.add("Alien", 1979, &[]);
    let (first, lookup) = f.at(1).get(&m.id).unwrap();
    assert_eq!((first.title.as_str(), lookup), ("Alien", Lookup::Miss));
    let (again, lookup) = f.at(2).get(&m.id).unwrap();
    assert_eq!((again.title.as_str(), lookup), ("Alien", Lookup::Hit));
    let all = ListQuery::parse(|_| None, 2026).unwrap();
    assert_eq!(f.at(2).list(&all).unwrap().1, Lookup::Miss);
    assert_eq!(f.at(2).list(&all).unwrap().1, Lookup::Hit);

    assert_eq!(f.query(&[]), ["Alien"]);
    f.rename_to_aliens(&m.id, 3);
    assert_eq!(
        f.at(4).get(&m.id).unwrap().0.title,
        "Aliens",
        "the update is seen at once"
    );
    assert_eq!(f.query(&[]), ["Aliens"], "list pages too");

    f.at(5).delete(&m.id).unwrap();
    assert_eq!(f.at(6).get(&m.id).unwrap_err().status(), 404);
    assert!(f.query(&[]).is_empty());
}

#[test]
fn a_hit_writes_nothing_and_a_rating_costs_two_cache_writes_however_many_pages() {
    let f = Fixture::new();
    let m = f.add("Alien", 1979, &[]);
    for page in 1..=20 {
        f.query(&[("page", &page.to_string())]);
    }
    f.at(0).get(&m.id).unwrap();
    let before = f.cache.writes();
    for page in 1..=20 {
        f.query(&[("page", &page.to_string())]);
    }
    assert_eq!(f.at(0).get(&m.id).unwrap().1, Lookup::Hit);
    assert_eq!(f.cache.writes(), before, "hits write nothing");

    f.at(1).apply_rating_event(&rating(&m.id, 1, 5.0, 1, false)).unwrap();
    assert_eq!(f.cache.writes(), before + 2, "the movie's entry and its drop mark only");
    let (movie, lookup) = f.at(2).get(&m.id).unwrap();
    assert_eq!(
        (movie.total_ratings, lookup),
        (1, Lookup::Miss),
        "the movie is read afresh"
    );
    let all = ListQuery::parse(|_| None, 2026).unwrap();
    let (_, lookup) = f.at(2).list(&all).unwrap();
    assert_eq!(lookup, Lookup::Hit, "list pages keep theirs until their TTL");
    const { assert!(LIST_TTL_SECS <= 30, "a list shows a new average within its TTL") };
    let (page, lookup) = f.at(2 + LIST_TTL_SECS).list(&all).unwrap();
    assert_eq!((page.data[0].total_ratings, lookup), (1, Lookup::Miss));

    f.at(40)
        .update(
            &m.id,
            &MovieInput::parse(
                &serde_json::from_value(serde_json::json!({
        "title": "Aliens", "description": "d", "releaseYear": 1986}))
                .unwrap(),
                2026,
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(f.query(&[]), ["Aliens"], "an edit makes every page stale at once");
}

#[test]
fn cached_list_pages_stay_bounded() {
    let f = Fixture::new();
    f.add("Alien", 1979, &[]);
    for n in 0..MAX_CACHED_LISTS + 50 {
        f.query(&[("search", &format!("term{n}"))]);
    }
    assert!(f.cache.len() <= MAX_CACHED_LISTS + 1, "{} entries", f.cache.len());
}

#[test]
fn cache_entries_expire() {
    let f = Fixture::new();
    let m = f.add("Alien", 1979, &[]);
    f.at(0).get(&m.id).unwrap();
    assert_eq!(f.at(MOVIE_TTL_SECS - 1).get(&m.id).unwrap().1, Lookup::Hit);
    assert_eq!(f.at(MOVIE_TTL_SECS + 1).get(&m.id).unwrap().1, Lookup::Miss);
}

#[test]
fn writes_emit_events_and_media_is_tracked_for_deletion() {
    let f = Fixture::new();
    let m = f.add("Alien", 1979, &["Horror"]);
    f.at(0).get(&m.id).unwrap();
    let video = "https://res.cloudinary.com/demo/video/upload/v1/x.mp4";
    assert_eq!(
        f.at(1)
            .set_video(&m.id, video, "streamia/movies/x/video")
            .unwrap()
            .video_url
            .as_deref(),
        Some(video)
    );
    assert_eq!(
        f.at(2).get(&m.id).unwrap().0.video_url.as_deref(),
        Some(video),
        "the cached movie was dropped"
    );
    f.at(3)
        .set_poster(&m.id, "https://res.cloudinary.com/p.jpg", "streamia/movies/x/poster")
        .unwrap();
    let es = |url: &str| {
        f.at(3)
            .put_subtitle(&m.id, "es", url, &format!("streamia/movies/x/subtitles/{url}"))
            .unwrap()
    };
    es("es1.vtt");
    let movie = es("es2.vtt");
    assert_eq!(
        movie.subtitles,
        vec![Subtitle {
            language: "es".into(),
            url: "es2.vtt".into()
        }],
        "same language replaced"
    );
    assert_eq!(
        f.at(3).get(&m.id).unwrap().0.poster_url.as_deref(),
        Some("https://res.cloudinary.com/p.jpg")
    );
    f.at(3).delete(&m.id).unwrap();
    let written = f.outbox.due(&f.db, i64::MAX, 10).unwrap();
    let types: Vec<&str> = written.iter().map(|p| p.envelope.event_type.as_str()).collect();
    // The poster is a movie.updated (favourites show it); subtitles are not.
    // The deletion asks for each asset to be destroyed.
    assert_eq!(
        types,
        [
            "movie.created",
            "movie.video_uploaded",
            "movie.updated",
            "movie.deleted",
            "media.delete_requested",
            "media.delete_requested",
            "media.delete_requested"
        ]
    );
    let assets: Vec<(String, String)> = written[4..]
        .iter()
        .map(|p| {
            let d = &p.envelope.data;
            (
                d["resourceType"].as_str().unwrap().into(),
                d["publicId"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        assets,
        [
            ("image".into(), "streamia/movies/x/poster".into()),
            ("video".into(), "streamia/movies/x/video".into()),
            ("raw".into(), "streamia/movies/x/subtitles/es2.vtt".into())
        ]
    );
}

fn rating(movie: &str, version: u64, average: f64, total: u32, updated: bool) -> Envelope {
    let event = if updated {
        Event::RatingUpdated(RatingUpdated {
            movie_id: movie.into(),
            user_id: "u".into(),
            score: 3,
            previous_score: Some(5),
            average_rating: average,
            total_ratings: total,
            aggregate_version: version,
        })
    } else {
        Event::RatingCreated(RatingCreated {
            movie_id: movie.into(),
            user_id: "u".into(),
            score: 5,
            average_rating: average,
            total_ratings: total,
            aggregate_version: version,
        })
    };
    Envelope::new(&event, "ratings", NOW)
}

#[test]
fn rating_aggregates_apply_in_version_order_once() {
    let f = Fixture::new();
    let m = f.add("Alien", 1979, &[]);
    f.at(0).get(&m.id).unwrap();
    let v2 = rating(&m.id, 2, 4.0, 2, true);
    let v1 = rating(&m.id, 1, 5.0, 1, false);
    assert_eq!(f.at(1).apply_rating_event(&v2).unwrap(), Consumed::Applied);
    assert_eq!(
        f.at(1).apply_rating_event(&v1).unwrap(),
        Consumed::Applied,
        "recorded, but stale"
    );
    assert_eq!(f.at(1).apply_rating_event(&v2).unwrap(), Consumed::Duplicate);
    let (movie, _) = f.at(2).get(&m.id).unwrap();
    assert_eq!(
        (movie.average_rating, movie.total_ratings),
        (4.0, 2),
        "the older aggregate never overwrites"
    );
}

#[test]
fn a_cached_read_is_the_services_own_answer_and_nothing_after_a_write() {
    let f = Fixture::new();
    let m = f.add("Alien", 1979, &[]);
    let read = |rest: &[&str], now| crate::cache::cached_read(&f.cache, rest, |_| None, Now::at(1_800_000_000 + now));
    assert_eq!(read(&[m.id.as_str()], 1), None, "not cached yet");
    assert_eq!(read(&[], 1), None);

    let (movie, _) = f.at(1).get(&m.id).unwrap();
    let all = ListQuery::parse(|_| None, 2026).unwrap();
    let (page, _) = f.at(1).list(&all).unwrap();
    assert_eq!(read(&[m.id.as_str()], 2), Some(serde_json::to_vec(&movie).unwrap()));
    assert_eq!(read(&[], 2), Some(serde_json::to_vec(&page).unwrap()));
    assert_eq!(read(&["not/an id"], 2), None);
    assert_eq!(read(&[m.id.as_str(), "poster"], 2), None, "only the two reads");
    assert_eq!(read(&[m.id.as_str()], MOVIE_TTL_SECS + 2), None, "expired");

    f.rename_to_aliens(&m.id, 3);
    assert_eq!(read(&[m.id.as_str()], 4), None, "the write dropped the movie");
    assert_eq!(read(&[], 4), None, "and made the pages stale");
}

#[test]
fn a_read_that_began_before_an_aggregate_arrived_does_not_cache_what_it_read() {
    let f = Fixture::new();
    let m = f.add("Alien", 1979, &[]);
    // The aggregate arrives (dropping the movie's entry) while a read that
    // began at the same moment is under way: that read may have seen the
    // row before; it answers, but does not fill the cache.
    f.at(10).apply_rating_event(&rating(&m.id, 1, 5.0, 1, false)).unwrap();
    assert_eq!(f.at(10).get(&m.id).unwrap().1, Lookup::Miss);
    assert_eq!(f.at(10).get(&m.id).unwrap().1, Lookup::Miss, "not filled by that read");
    // A read that began after fills it.
    assert_eq!(f.at(11).get(&m.id).unwrap().1, Lookup::Miss);
    let (movie, lookup) = f.at(12).get(&m.id).unwrap();
    assert_eq!((movie.total_ratings, lookup), (1, Lookup::Hit));
}

/// Cloudinary answering destroys from a script, counting them.
struct ScriptedDestroys(std::cell::RefCell<Vec<u16>>, std::cell::Cell<usize>);

impl crate::media_store::CloudinaryApi for ScriptedDestroys {
    async fn post(&self, _url: &str, _content_type: &str, _body: Vec<u8>) -> crate::media_store::Answer {
        self.1.set(self.1.get() + 1);
        match self.0.borrow_mut().remove(0) {
            200 => Ok((200, br#"{"result":"ok"}"#.to_vec())),
            status => Ok((status, br#"{"error":{"message":"General Error"}}"#.to_vec())),
        }
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    match std::pin::pin!(future)
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker))
    {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the fakes never wait"),
    }
}

#[test]
fn removed_media_is_destroyed_once_cloudinary_confirms_and_an_asset_in_use_again_is_left_alone() {
    let f = Fixture::new();
    let m = f.add("Alien", 1979, &[]);
    let poster = format!("streamia/movies/{}/poster", m.id);
    f.at(1)
        .set_poster(&m.id, "https://res.cloudinary.com/p.jpg", &poster)
        .unwrap();
    f.at(1)
        .set_video(&m.id, "https://res.cloudinary.com/v.mp4", "streamia/v")
        .unwrap();
    f.at(1)
        .put_subtitle(&m.id, "en", "https://res.cloudinary.com/en.vtt", "streamia/en.vtt")
        .unwrap();
    let status = |r: Result<Movie, streamia_api::ApiError>| r.map(drop).map_err(|e| (e.status(), e.code()));

    assert!(f.at(2).remove_subtitle(&m.id, "en").unwrap().subtitles.is_empty());
    assert_eq!(
        status(f.at(2).remove_subtitle(&m.id, "en")),
        Ok(()),
        "again: nothing to do"
    );
    assert_eq!(
        status(f.at(2).remove_subtitle(&m.id, "english!")),
        Err((400, "validation_failed"))
    );
    assert_eq!(f.at(2).remove_video(&m.id).unwrap().video_url, None);
    assert_eq!(f.at(2).remove_poster(&m.id).unwrap().poster_url, None);
    assert_eq!(status(f.at(2).remove_poster(&m.id)), Ok(()), "again: nothing to do");
    assert_eq!(status(f.at(2).remove_poster("no-such-movie")), Err((404, "not_found")));

    let asked: Vec<Envelope> = f
        .outbox
        .due(&f.db, i64::MAX, 20)
        .unwrap()
        .into_iter()
        .map(|p| p.envelope)
        .filter(|e| e.event_type == "media.delete_requested")
        .collect();
    let ids: Vec<&str> = asked.iter().map(|e| e.data["publicId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["streamia/en.vtt", "streamia/v", poster.as_str()]);

    let cloud = crate::cloudinary::Cloudinary::configure("demo", "1234", "abcd", "https://api.cloudinary.com").unwrap();
    let breaker = crate::breaker::CloudinaryBreaker {
        db: &f.db,
        config: crate::breaker::config(5_000),
        now_ms: 1_000,
    };
    let api = ScriptedDestroys(vec![500, 200, 200].into(), 0.into());
    let store = crate::media_store::MediaStore {
        cloud: &cloud,
        api: &api,
        breaker: &breaker,
        request_id: "r",
        now: 1_800_000_000,
    };
    let destroy = |e: &Envelope| block_on(f.at(3).destroy_unused(e, Some(&store)));
    let failed = destroy(&asked[0]).unwrap_err();
    assert_eq!(
        (failed.status(), failed.code()),
        (503, "media_unavailable"),
        "tried again later"
    );
    assert_eq!(
        destroy(&asked[0]).unwrap(),
        Consumed::Applied,
        "once Cloudinary confirms"
    );
    assert_eq!(destroy(&asked[0]).unwrap(), Consumed::Duplicate);
    assert_eq!(api.1.get(), 2, "a duplicate calls nobody");

    // A new poster at the same public id before the old one's deletion runs.
    f.at(4)
        .set_poster(&m.id, "https://res.cloudinary.com/p2.jpg", &poster)
        .unwrap();
    assert_eq!(
        destroy(&asked[2]).unwrap(),
        Consumed::Ignored,
        "in use again: left alone"
    );
    assert_eq!(api.1.get(), 2);

    let unconfigured = block_on(f.at(5).destroy_unused::<ScriptedDestroys>(&asked[1], None)).unwrap_err();
    assert_eq!(
        (unconfigured.status(), unconfigured.code()),
        (503, "media_not_configured")
    );
    assert_eq!(destroy(&asked[1]).unwrap(), Consumed::Applied);
}
