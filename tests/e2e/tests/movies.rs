//! The movies service through the gateway: reads public, writes for admins,
//! validation, filters, the cache seen from outside, rating aggregates.

mod common;

use common::{assert_error, start, Api};
use serde_json::{json, Value};

fn alien() -> Value {
    json!({"title": "Alien", "description": "In space no one can hear you scream.", "releaseYear": 1979,
        "durationMinutes": 117, "genres": ["Sci-Fi", "Horror"], "director": "Ridley Scott", "cast": ["Sigourney Weaver"]})
}

fn create(api: &Api, admin: &str, body: Value) -> Value {
    let r = api.send("POST", "/api/movies", Some(admin), Some(&body));
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

#[test]
fn admins_create_and_everyone_reads() {
    let api = start();
    let admin = api.admin();
    let movie = create(&api, &admin, alien());
    assert_eq!(movie["title"], "Alien");
    assert_eq!(movie["averageRating"], 0.0);
    assert_eq!(movie["totalRatings"], 0);
    assert_eq!(movie["subtitles"], json!([]));
    assert!(movie["posterUrl"].is_null() && movie["videoUrl"].is_null());
    let id = movie["id"].as_str().unwrap();
    let got = api.get(&format!("/api/movies/{id}"), None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json(), movie);
    let list = api.get("/api/movies", None).json();
    assert_eq!(list["pagination"]["total"], 1);
    assert_eq!(list["data"][0]["id"], movie["id"]);
}

#[test]
fn writes_need_an_admin_token() {
    let api = start();
    let (_, user, _) = api.register("ana@example.com", "ana");
    assert_error(
        &api.send("POST", "/api/movies", None, Some(&alien())),
        401,
        "unauthorized",
    );
    assert_error(
        &api.send("POST", "/api/movies", Some(&user), Some(&alien())),
        403,
        "forbidden",
    );
    let admin = api.admin();
    let id = create(&api, &admin, alien())["id"].as_str().unwrap().to_owned();
    for method in ["PUT", "PATCH", "DELETE"] {
        assert_error(
            &api.send(method, &format!("/api/movies/{id}"), Some(&user), Some(&alien())),
            403,
            "forbidden",
        );
    }
    assert_eq!(api.get("/api/movies", None).json()["pagination"]["total"], 1);
}

#[test]
fn invalid_movies_are_refused_and_change_nothing() {
    let api = start();
    let admin = api.admin();
    let cases = [
        (json!({"description": "d", "releaseYear": 2000}), "title"),
        (json!({"title": "t", "releaseYear": 2000}), "description"),
        (
            json!({"title": "t", "description": "d", "releaseYear": 1800}),
            "releaseYear",
        ),
        (
            json!({"title": "t", "description": "d", "releaseYear": 3000}),
            "releaseYear",
        ),
        (
            json!({"title": "t", "description": "d", "releaseYear": 2000, "durationMinutes": 0}),
            "durationMinutes",
        ),
        (
            json!({"title": "t", "description": "d", "releaseYear": 2000, "genres": vec!["g"; 50]}),
            "genres",
        ),
        (
            json!({"title": "x".repeat(500), "description": "d", "releaseYear": 2000}),
            "title",
        ),
    ];
    for (body, field) in cases {
        let r = api.send("POST", "/api/movies", Some(&admin), Some(&body));
        assert_error(&r, 400, "validation_failed");
        assert!(
            r.json()["error"]["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["field"] == field),
            "{}",
            r.body
        );
    }
    let r = api.send(
        "POST",
        "/api/movies",
        Some(&admin),
        Some(&json!({"title": "t", "averageRating": 5})),
    );
    assert_error(&r, 400, "invalid_json");
    assert_eq!(api.get("/api/movies", None).json()["pagination"]["total"], 0);
}

#[test]
fn list_filters_sorting_and_bad_parameters() {
    let api = start();
    let admin = api.admin();
    for (title, year, genres) in [
        ("The Matrix", 1999, vec!["Sci-Fi", "Action"]),
        ("Alien", 1979, vec!["Sci-Fi"]),
        ("Heat", 1995, vec!["Crime"]),
    ] {
        create(
            &api,
            &admin,
            json!({"title": title, "description": "d", "releaseYear": year, "genres": genres}),
        );
    }
    let titles = |q: &str| -> Vec<String> {
        let r = api.get(&format!("/api/movies?{q}"), None);
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(titles("genre=sci-fi&sort=title"), ["Alien", "The Matrix"]);
    assert_eq!(titles("year=1995"), ["Heat"]);
    assert_eq!(titles("search=matrix"), ["The Matrix"]);
    assert_eq!(titles("search=the%20MAT"), ["The Matrix"]);
    assert_eq!(titles("sort=releaseYear:desc"), ["The Matrix", "Heat", "Alien"]);
    assert_eq!(titles("sort=title&page=2&limit=2"), ["The Matrix"]);
    for bad in [
        "sort=rating",
        "sort=title:sideways",
        "year=abc",
        "year=1700",
        "page=0",
        "limit=101",
    ] {
        assert_error(&api.get(&format!("/api/movies?{bad}"), None), 400, "validation_failed");
    }
}

#[test]
fn search_reads_titles_and_descriptions_ranks_them_and_follows_edits() {
    let api = start();
    let admin = api.admin();
    let mut ids = Vec::new();
    for (title, description) in [
        ("Ship of Dreams", "A liner crosses the ocean and meets an iceberg."),
        ("Iceberg", "A documentary about ice."),
        ("Amélie", "A shy waitress in Montmartre."),
    ] {
        let movie = create(
            &api,
            &admin,
            json!({"title": title, "description": description, "releaseYear": 2001}),
        );
        ids.push(movie["id"].as_str().unwrap().to_owned());
    }
    let found = |q: &str| -> (Vec<String>, u64) {
        let r = api.get(&format!("/api/movies?{q}"), None);
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        let v = r.json();
        let titles = v["data"].as_array().unwrap().iter();
        (
            titles.map(|m| m["title"].as_str().unwrap().to_owned()).collect(),
            v["pagination"]["total"].as_u64().unwrap(),
        )
    };
    assert_eq!(
        found("search=iceberg").0,
        ["Iceberg", "Ship of Dreams"],
        "title first, then description"
    );
    assert_eq!(found("search=ICEBERG&sort=title").0, ["Iceberg", "Ship of Dreams"]);
    assert_eq!(found("search=ocean%20liner").0, ["Ship of Dreams"]);
    assert_eq!(found("search=montm").0, ["Amélie"], "a word typed so far");
    assert_eq!(found("search=amelie").0, ["Amélie"]);
    let (page, total) = found("search=a&limit=1");
    assert_eq!((page.len(), total), (1, 3), "a page of all the matches");
    assert_eq!(
        found("search=%22%20OR%20*"),
        (vec![], 0),
        "no word to find: no match, no error"
    );
    // Nothing to rank without a search: the default order, newest first.
    assert_eq!(found("sort=relevance").0, ["Amélie", "Iceberg", "Ship of Dreams"]);
    // Words after the tenth are not looked for.
    assert_eq!(
        found("search=ocean%20a%20a%20a%20a%20a%20a%20a%20a%20liner%20zzz").0,
        ["Ship of Dreams"]
    );
    let sideways = api.get("/api/movies?search=a&sort=relevance:desc", None);
    assert_error(&sideways, 400, "validation_failed");

    let edited = api.send(
        "PATCH",
        &format!("/api/movies/{}", ids[1]),
        Some(&admin),
        Some(&json!({"description": "Glaciers, calving."})),
    );
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(found("search=glaciers").0, ["Iceberg"], "an edit is found at once");
    assert_eq!(found("search=documentary").1, 0);
    let gone = api.send("DELETE", &format!("/api/movies/{}", ids[0]), Some(&admin), None);
    assert_eq!(gone.status, 204);
    assert_eq!(found("search=liner").1, 0, "a deleted movie is not found");
}

#[test]
fn a_read_after_a_write_never_sees_the_old_movie() {
    let api = start();
    let admin = api.admin();
    let id = create(&api, &admin, alien())["id"].as_str().unwrap().to_owned();
    let path = format!("/api/movies/{id}");
    // Warm the caches (movie and list), then change the movie. Whether a
    // read came from the cache is its X-Cache header, through the gateway.
    let cache = |path: &str| api.get(path, None).header("x-cache").map(str::to_owned);
    assert_eq!(cache(&path).as_deref(), Some("miss"));
    assert_eq!(cache(&path).as_deref(), Some("hit"));
    assert_eq!(cache("/api/movies").as_deref(), Some("miss"));
    assert_eq!(cache("/api/movies").as_deref(), Some("hit"));
    let patched = api.send(
        "PATCH",
        &path,
        Some(&admin),
        Some(&json!({"title": "Aliens", "releaseYear": 1986})),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        patched.json()["description"],
        alien()["description"],
        "PATCH keeps what it was not given"
    );
    let read = api.get(&path, None);
    assert_eq!(
        (read.json()["title"].clone(), read.header("x-cache")),
        (json!("Aliens"), Some("miss"))
    );
    let list = api.get("/api/movies", None);
    assert_eq!(
        (list.json()["data"][0]["title"].clone(), list.header("x-cache")),
        (json!("Aliens"), Some("miss"))
    );

    let mut replaced = alien();
    replaced["title"] = json!("Alien 3");
    replaced["releaseYear"] = json!(1992);
    assert_eq!(api.send("PUT", &path, Some(&admin), Some(&replaced)).status, 200);
    assert_eq!(api.get(&path, None).json()["title"], "Alien 3");
    assert_error(
        &api.send("PUT", &path, Some(&admin), Some(&json!({"title": "x"}))),
        400,
        "validation_failed",
    );

    assert_eq!(api.send("DELETE", &path, Some(&admin), None).status, 204);
    assert_error(&api.get(&path, None), 404, "not_found");
    assert_eq!(api.get("/api/movies", None).json()["pagination"]["total"], 0);
    assert_error(&api.send("DELETE", &path, Some(&admin), None), 404, "not_found");
}

#[test]
fn unknown_movies_are_404() {
    let api = start();
    let admin = api.admin();
    assert_error(&api.get("/api/movies/does-not-exist", None), 404, "not_found");
    assert_error(
        &api.send(
            "PATCH",
            "/api/movies/does-not-exist",
            Some(&admin),
            Some(&json!({"title": "x"})),
        ),
        404,
        "not_found",
    );
    assert_error(
        &api.send("PUT", "/api/movies/does-not-exist", Some(&admin), Some(&alien())),
        404,
        "not_found",
    );
}

#[test]
fn movie_events_go_through_the_outbox() {
    let api = common::Api {
        host: common::app().start(),
    };
    let admin = api.admin();
    let id = create(&api, &admin, alien())["id"].as_str().unwrap().to_owned();
    api.send("DELETE", &format!("/api/movies/{id}"), Some(&admin), None);
    let created = api.received_of("movie.created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["envelope"]["data"]["movieId"], id.as_str());
    assert_eq!(created[0]["envelope"]["data"]["genres"], json!(["Sci-Fi", "Horror"]));
    assert_eq!(api.received_of("movie.deleted").len(), 1);
}

fn rating_event(kind: &str, movie: &str, version: u64, average: f64, total: u32) -> Value {
    let mut data = json!({"movieId": movie, "userId": "u1", "averageRating": average, "totalRatings": total, "aggregateVersion": version});
    if kind != "rating.deleted" {
        data["score"] = json!(4);
    }
    json!({"eventId": format!("{kind}-{movie}-{version}"), "eventType": kind, "occurredAt": "2026-01-01T00:00:00Z",
        "source": "ratings", "version": 1, "data": data})
}

#[test]
fn rating_aggregates_arrive_out_of_order_and_twice_and_the_newest_wins() {
    let api = start();
    let admin = api.admin();
    let id = create(&api, &admin, alien())["id"].as_str().unwrap().to_owned();
    let path = format!("/api/movies/{id}");
    api.get(&path, None); // cached before the events arrive

    let v3 = rating_event("rating.updated", &id, 3, 3.5, 2);
    let v1 = rating_event("rating.created", &id, 1, 5.0, 1);
    let v2 = rating_event("rating.created", &id, 2, 4.0, 2);
    for (event, expected) in [(&v3, "applied"), (&v1, "applied"), (&v3, "duplicate"), (&v2, "applied")] {
        let r = api.deliver("movies", event);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["result"], expected, "{}", r.body);
    }
    let movie = api.get(&path, None).json();
    assert_eq!(
        (movie["averageRating"].as_f64(), movie["totalRatings"].as_u64()),
        (Some(3.5), Some(2))
    );

    let deleted = rating_event("rating.deleted", &id, 4, 4.0, 1);
    api.deliver("movies", &deleted);
    assert_eq!(api.get(&path, None).json()["totalRatings"], 1);

    let bad = json!({"eventId": "x", "eventType": "rating.created", "occurredAt": "t", "source": "s", "version": 1, "data": {"movieId": 5}});
    assert_eq!(api.deliver("movies", &bad).status, 400);
}
