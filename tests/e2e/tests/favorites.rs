//! Favorites through the gateway: per user, unique per movie, checked
//! against the catalogue, with the movie's title and poster in the list.

mod common;

use common::{assert_error, start};
use serde_json::json;

#[test]
fn a_user_keeps_favourites_of_movies_that_exist() {
    let api = start();
    let admin = api.admin();
    let alien = api.movie(&admin, "Alien");
    let heat = api.movie(&admin, "Heat");
    let (_, ana, _) = api.register("ana@example.com", "ana");

    let added = api.send(
        "POST",
        &format!("/api/favorites/{alien}"),
        Some(&ana),
        Some(&json!({"note": " rewatch "})),
    );
    assert_eq!(added.status, 201, "{}", added.body);
    let fav = added.json();
    assert_eq!(fav["movieId"], alien.as_str());
    assert_eq!(fav["note"], "rewatch");
    assert_eq!(fav["title"], "Alien");
    assert!(fav["posterUrl"].is_null());
    assert!(fav["createdAt"].as_str().unwrap().ends_with('Z'));

    // Adding again is not an error and changes nothing.
    let again = api.send("POST", &format!("/api/favorites/{alien}"), Some(&ana), None);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["note"], "rewatch");

    // No body at all is fine too.
    let second = api.send("POST", &format!("/api/favorites/{heat}"), Some(&ana), None);
    assert_eq!(second.status, 201, "{}", second.body);

    let list = api.get("/api/favorites", Some(&ana));
    assert_eq!(list.status, 200, "{}", list.body);
    let list = list.json();
    assert_eq!(list["pagination"]["total"], 2);
    assert_eq!(list["data"][0]["title"], "Heat", "newest first");
    let page = api.get("/api/favorites?page=2&limit=1", Some(&ana)).json();
    assert_eq!(page["data"][0]["title"], "Alien");
    assert_eq!(page["pagination"]["totalPages"], 2);

    let check = api.get(&format!("/api/favorites/{alien}/check"), Some(&ana));
    assert_eq!(check.json(), json!({"isFavorite": true}));
    let gone = api.send("DELETE", &format!("/api/favorites/{alien}"), Some(&ana), None);
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(
        api.get(&format!("/api/favorites/{alien}/check"), Some(&ana)).json(),
        json!({"isFavorite": false})
    );
    assert_error(
        &api.send("DELETE", &format!("/api/favorites/{alien}"), Some(&ana), None),
        404,
        "not_found",
    );

    let added: Vec<_> = api.received_of("favorite.added");
    assert_eq!(added.len(), 2, "one event per new favourite");
    assert_eq!(api.received_of("favorite.removed").len(), 1);
}

#[test]
fn favourites_are_strictly_per_user() {
    let api = start();
    let admin = api.admin();
    let alien = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    api.send("POST", &format!("/api/favorites/{alien}"), Some(&ana), None);
    assert_eq!(api.get("/api/favorites", Some(&bob)).json()["pagination"]["total"], 0);
    assert_eq!(
        api.get(&format!("/api/favorites/{alien}/check"), Some(&bob)).json()["isFavorite"],
        false
    );
    assert_error(
        &api.send("DELETE", &format!("/api/favorites/{alien}"), Some(&bob), None),
        404,
        "not_found",
    );
    assert_eq!(api.get("/api/favorites", Some(&ana)).json()["pagination"]["total"], 1);
}

#[test]
fn bad_requests_change_nothing() {
    let api = start();
    let admin = api.admin();
    let alien = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    assert_error(&api.get("/api/favorites", None), 401, "unauthorized");
    assert_error(&api.get("/api/favorites", Some("not-a-token")), 401, "unauthorized");
    assert_error(
        &api.send(
            "POST",
            "/api/favorites/0190c0de-0000-7000-8000-000000000000",
            Some(&ana),
            None,
        ),
        404,
        "not_found",
    );
    assert_error(
        &api.send("POST", "/api/favorites/..%2F", Some(&ana), None),
        404,
        "not_found",
    );
    let long = "x".repeat(501);
    assert_error(
        &api.send(
            "POST",
            &format!("/api/favorites/{alien}"),
            Some(&ana),
            Some(&json!({"note": long})),
        ),
        400,
        "validation_failed",
    );
    assert_error(
        &api.send(
            "POST",
            &format!("/api/favorites/{alien}"),
            Some(&ana),
            Some(&json!({"rating": 5})),
        ),
        400,
        "invalid_json",
    );
    assert_error(&api.get("/api/favorites?limit=0", Some(&ana)), 400, "validation_failed");
    assert_error(
        &api.send("PUT", &format!("/api/favorites/{alien}"), Some(&ana), None),
        405,
        "method_not_allowed",
    );
    assert_eq!(api.get("/api/favorites", Some(&ana)).json()["pagination"]["total"], 0);
}

#[test]
fn titles_and_posters_follow_the_catalogue() {
    let api = start();
    let admin = api.admin();
    let alien = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    api.send("POST", &format!("/api/favorites/{alien}"), Some(&ana), None);
    let r = api.send(
        "PATCH",
        &format!("/api/movies/{alien}"),
        Some(&admin),
        Some(&json!({"title": "Alien (Director's Cut)"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // movie.updated reaches favorites after the PATCH has answered.
    api.settled();
    let list = api.get("/api/favorites", Some(&ana)).json();
    assert_eq!(list["data"][0]["title"], "Alien (Director's Cut)");
}
