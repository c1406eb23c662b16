//! Ratings through the gateway: integer scores 1–5, public statistics, the
//! caller's history, and every change reaching the movie's aggregate.

mod common;

use common::{assert_error, start};
use serde_json::json;

#[test]
fn rating_creates_updates_and_deletes_with_stats_that_reach_the_movie() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (ana_user, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    let path = format!("/api/ratings/{movie}");

    let created = api.send("POST", &path, Some(&ana), Some(&json!({"score": 5})));
    assert_eq!(created.status, 201, "{}", created.body);
    let v = created.json();
    assert_eq!(v["rating"]["movieId"], movie.as_str());
    assert_eq!(v["rating"]["userId"], ana_user["id"]);
    assert_eq!(v["rating"]["score"], 5);
    assert_eq!(v["stats"]["average"], 5.0);
    assert_eq!(v["stats"]["count"], 1);

    assert_eq!(
        api.send("POST", &path, Some(&bob), Some(&json!({"score": 2}))).status,
        201
    );
    let updated = api.send("POST", &path, Some(&bob), Some(&json!({"score": 4})));
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.json()["stats"]["average"], 4.5);

    let stats = api.get(&format!("/api/ratings/movie/{movie}/stats"), None);
    assert_eq!(stats.status, 200, "public: {}", stats.body);
    assert_eq!(
        stats.json(),
        json!({"movieId": movie, "average": 4.5, "count": 2,
            "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}})
    );
    // The aggregate reaches the movie by event, after the write has answered.
    api.settled();
    let film = api.get(&format!("/api/movies/{movie}"), None).json();
    assert_eq!(
        (film["averageRating"].as_f64(), film["totalRatings"].as_u64()),
        (Some(4.5), Some(2))
    );

    let mine = api.get(&path, Some(&bob));
    assert_eq!(mine.json()["score"], 4);
    assert_eq!(api.send("DELETE", &path, Some(&bob), None).status, 204);
    assert_error(&api.get(&path, Some(&bob)), 404, "not_found");
    assert_error(&api.send("DELETE", &path, Some(&bob), None), 404, "not_found");
    api.settled();
    let film = api.get(&format!("/api/movies/{movie}"), None).json();
    assert_eq!(
        (film["averageRating"].as_f64(), film["totalRatings"].as_u64()),
        (Some(5.0), Some(1))
    );

    let versions: Vec<u64> = ["rating.created", "rating.updated", "rating.deleted"]
        .iter()
        .flat_map(|t| api.received_of(t))
        .map(|e| e["envelope"]["data"]["aggregateVersion"].as_u64().unwrap())
        .collect();
    let mut sorted = versions.clone();
    sorted.sort();
    assert_eq!(sorted, [1, 2, 3, 4], "one growing version per change: {versions:?}");
}

#[test]
fn history_lists_the_callers_ratings_newest_first() {
    let api = start();
    let admin = api.admin();
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    let first = api.movie(&admin, "First");
    let second = api.movie(&admin, "Second");
    api.send(
        "POST",
        &format!("/api/ratings/{first}"),
        Some(&ana),
        Some(&json!({"score": 3})),
    );
    api.send(
        "POST",
        &format!("/api/ratings/{second}"),
        Some(&ana),
        Some(&json!({"score": 1})),
    );
    api.send(
        "POST",
        &format!("/api/ratings/{first}"),
        Some(&bob),
        Some(&json!({"score": 5})),
    );
    let history = api.get("/api/ratings/user/history?limit=1", Some(&ana));
    assert_eq!(history.status, 200, "{}", history.body);
    let v = history.json();
    assert_eq!(v["pagination"]["total"], 2);
    assert_eq!(v["data"][0]["movieId"], second.as_str());
    assert_eq!(
        api.get("/api/ratings/user/history", Some(&bob)).json()["pagination"]["total"],
        1
    );
    assert_error(&api.get("/api/ratings/user/history", None), 401, "unauthorized");
}

#[test]
fn scores_other_than_whole_numbers_from_one_to_five_are_refused() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let path = format!("/api/ratings/{movie}");
    for bad in [
        json!(0),
        json!(6),
        json!(3.5),
        json!(6.0),
        json!("4"),
        json!(null),
        json!(-1),
    ] {
        let r = api.send("POST", &path, Some(&ana), Some(&json!({"score": bad})));
        assert_error(&r, 400, "validation_failed");
    }
    assert_error(
        &api.send("POST", &path, Some(&ana), Some(&json!({}))),
        400,
        "invalid_json",
    );
    assert_error(&api.send("POST", &path, Some(&ana), None), 400, "invalid_json");
    assert_error(
        &api.send(
            "POST",
            "/api/ratings/0190c0de-0000-7000-8000-000000000000",
            Some(&ana),
            Some(&json!({"score": 3})),
        ),
        404,
        "not_found",
    );
    assert_error(
        &api.send("POST", &path, None, Some(&json!({"score": 3}))),
        401,
        "unauthorized",
    );
    let stats = api.get(&format!("/api/ratings/movie/{movie}/stats"), None).json();
    assert_eq!(stats["count"], 0, "nothing was stored");
    assert!(api.received_of("rating.created").is_empty());
}

#[test]
fn concurrent_writers_all_get_through_and_the_aggregate_adds_up() {
    // Many requests writing one service's SQLite file at once: each waits
    // its turn for the lock; none is refused, none is a 5xx.
    let api = start();
    let admin = api.admin();
    let movies: Vec<String> = (0..4).map(|i| api.movie(&admin, &format!("Film {i}"))).collect();
    let users: Vec<String> = (0..12)
        .map(|i| api.register(&format!("fan{i}@example.com"), &format!("fan{i}")).1)
        .collect();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let workers: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let (api, movies) = (&api, &movies);
                s.spawn(move || {
                    movies
                        .iter()
                        .map(|m| {
                            let score = json!({"score": 1 + (i % 5)});
                            api.send("POST", &format!("/api/ratings/{m}"), Some(token), Some(&score))
                                .status
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(statuses.len(), 48);
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    api.settled();
    for m in &movies {
        let stats = api.get(&format!("/api/ratings/movie/{m}/stats"), None).json();
        assert_eq!(stats["count"], 12, "{stats}");
        let film = api.get(&format!("/api/movies/{m}"), None).json();
        assert_eq!(
            (&film["averageRating"], &film["totalRatings"]),
            (&stats["average"], &stats["count"]),
            "the movie shows the last aggregate"
        );
    }
}
