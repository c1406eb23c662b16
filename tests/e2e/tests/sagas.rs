//! The deletion sagas (SPEC §5), end to end on each event transport:
//! deleting an account clears the user's favourites and ratings (the movies'
//! aggregates follow) and anonymises their comments; deleting a movie clears
//! its favourites, ratings and comments. Each event is then delivered a
//! second time, and the end state in every service must not change.

mod common;

use std::time::Duration;

use common::{eventually, json_of, Api};
use serde_json::{json, Value};
use streamia_testkit::Redis;

/// What the scenario needs from a transport: how to deliver an event again.
trait Redeliver {
    /// Deliver `envelope` again to every consumer of its type.
    fn again(&self, api: &Api, envelope: &Value);
}

struct Http;

impl Redeliver for Http {
    fn again(&self, api: &Api, envelope: &Value) {
        for service in consumers(envelope["eventType"].as_str().unwrap()) {
            let r = api.deliver(service, envelope);
            assert_eq!(r.status, 200, "{service}: {}", r.body);
            assert_eq!(r.json()["result"], "duplicate", "{service}: {}", r.body);
        }
    }
}

struct OverRedis(Redis);

impl Redeliver for OverRedis {
    fn again(&self, api: &Api, envelope: &Value) {
        let event_type = envelope["eventType"].as_str().unwrap();
        self.0.append_event(envelope);
        // Each consumer logs what it did with the event; the second time, a duplicate.
        for service in consumers(event_type) {
            api.host
                .wait_for_event(service, envelope["eventId"].as_str().unwrap(), "Duplicate");
        }
    }
}

/// The services that consume `event_type` (spin.toml's subscribers, redis-triggers.toml's channels).
fn consumers(event_type: &str) -> &'static [&'static str] {
    match event_type {
        "user.deleted" | "movie.deleted" => &["favorites", "ratings", "comments"],
        _ => &["movies"],
    }
}

struct World {
    admin: String,
    ana_id: String,
    ana: String,
    bob: String,
    alien: String,
    heat: String,
    ana_comment: String,
    bob_reply: String,
}

fn setup(api: &Api) -> World {
    let admin = api.admin();
    let alien = api.movie(&admin, "Alien");
    let heat = api.movie(&admin, "Heat");
    let (ana_user, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    let ok = |r: &streamia_testkit::Reply| assert!(r.status < 300, "{}", r.body);
    for movie in [&alien, &heat] {
        ok(&api.send("POST", &format!("/api/favorites/{movie}"), Some(&ana), None));
    }
    ok(&api.send("POST", &format!("/api/favorites/{alien}"), Some(&bob), None));
    ok(&api.send(
        "POST",
        &format!("/api/ratings/{alien}"),
        Some(&ana),
        Some(&json!({"score": 1})),
    ));
    ok(&api.send(
        "POST",
        &format!("/api/ratings/{heat}"),
        Some(&ana),
        Some(&json!({"score": 4})),
    ));
    ok(&api.send(
        "POST",
        &format!("/api/ratings/{alien}"),
        Some(&bob),
        Some(&json!({"score": 5})),
    ));
    let c = api.send(
        "POST",
        &format!("/api/comments/movie/{alien}"),
        Some(&ana),
        Some(&json!({"content": "Loved it"})),
    );
    ok(&c);
    let ana_comment = c.json()["id"].as_str().unwrap().to_owned();
    let r = api.send(
        "POST",
        &format!("/api/comments/movie/{alien}"),
        Some(&bob),
        Some(&json!({"content": "Me too", "parentId": ana_comment})),
    );
    ok(&r);
    World {
        admin,
        ana_id: ana_user["id"].as_str().unwrap().to_owned(),
        ana,
        bob,
        alien,
        heat,
        ana_comment,
        bob_reply: r.json()["id"].as_str().unwrap().to_owned(),
    }
}

fn movie_rating(api: &Api, id: &str) -> (f64, u64) {
    let m = json_of(api, &format!("/api/movies/{id}"), None);
    (
        m["averageRating"].as_f64().unwrap(),
        m["totalRatings"].as_u64().unwrap(),
    )
}

fn stats_count(api: &Api, id: &str) -> u64 {
    json_of(api, &format!("/api/ratings/movie/{id}/stats"), None)["count"]
        .as_u64()
        .unwrap()
}

/// Every service's view once ana's account is gone.
fn assert_user_saga_done(api: &Api, w: &World) {
    // Favorites and ratings refuse her old token and hold nothing of hers:
    // bob's favourite and rating are all that is left.
    assert_eq!(api.get("/api/favorites", Some(&w.ana)).status, 401);
    assert_eq!(api.get("/api/ratings/user/history", Some(&w.ana)).status, 401);
    assert_eq!(json_of(api, "/api/favorites", Some(&w.bob))["pagination"]["total"], 1);
    assert_eq!(stats_count(api, &w.alien), 1);
    assert_eq!(stats_count(api, &w.heat), 0);
    // The movies' aggregates followed.
    assert_eq!(movie_rating(api, &w.alien), (5.0, 1));
    assert_eq!(movie_rating(api, &w.heat), (0.0, 0));
    // Her comment stays, anonymised; bob's reply is untouched.
    let top = json_of(api, &format!("/api/comments/movie/{}", w.alien), None);
    let comment = &top["data"][0];
    assert_eq!(comment["id"], w.ana_comment.as_str());
    assert_eq!(comment["userId"], Value::Null);
    assert_eq!(comment["content"], "Loved it");
    assert_eq!(comment["replyCount"], 1);
    let replies = json_of(api, &format!("/api/comments/{}/replies", w.ana_comment), None);
    assert_eq!(replies["data"][0]["id"], w.bob_reply.as_str());
    assert!(replies["data"][0]["userId"].is_string());
}

/// Every service's view once Alien is gone.
fn assert_movie_saga_done(api: &Api, w: &World) {
    assert_eq!(api.get(&format!("/api/movies/{}", w.alien), None).status, 404);
    assert_eq!(json_of(api, "/api/favorites", Some(&w.bob))["pagination"]["total"], 0);
    assert_eq!(stats_count(api, &w.alien), 0);
    assert_eq!(
        json_of(api, "/api/ratings/user/history", Some(&w.bob))["pagination"]["total"],
        0
    );
    let top = json_of(api, &format!("/api/comments/movie/{}", w.alien), Some(&w.admin));
    assert_eq!(top["pagination"]["total"], 0);
    assert_eq!(
        api.get(&format!("/api/comments/{}/replies", w.ana_comment), Some(&w.admin))
            .status,
        404,
        "whole threads go"
    );
    // Heat is untouched.
    assert_eq!(movie_rating(api, &w.heat), (0.0, 0));
}

/// The envelope of the one `event_type` event the test sink recorded.
fn recorded(api: &Api, event_type: &str, settled: &dyn Fn(&dyn Fn() -> bool)) -> Value {
    settled(&|| !api.received_of(event_type).is_empty());
    let events = api.received_of(event_type);
    assert_eq!(events.len(), 1, "{events:?}");
    events[0]["envelope"].clone()
}

fn run_sagas(api: &Api, again: &dyn Redeliver, settled: &dyn Fn(&dyn Fn() -> bool)) {
    let w = setup(api);
    // Wait for the rating events of the set-up to reach movies.
    settled(&|| movie_rating(api, &w.alien).1 == 2 && movie_rating(api, &w.heat).1 == 1);

    // --- user deletion --------------------------------------------------------
    let r = api.send("DELETE", "/api/users/me", Some(&w.ana), None);
    assert_eq!(r.status, 204, "{}", r.body);
    settled(&|| movie_rating(api, &w.heat).1 == 0 && api.get("/api/favorites", Some(&w.ana)).status == 401);
    settled(&|| {
        let top = json_of(api, &format!("/api/comments/movie/{}", w.alien), None);
        top["data"][0]["userId"].is_null()
    });
    assert_user_saga_done(api, &w);
    let envelope = recorded(api, "user.deleted", settled);
    assert_eq!(envelope["data"]["userId"], w.ana_id.as_str());
    again.again(api, &envelope);
    // So is every rating.deleted the saga caused (one per movie ana rated).
    let ratings_gone = || -> Vec<Value> {
        api.received_of("rating.deleted")
            .into_iter()
            .map(|e| e["envelope"].clone())
            .filter(|e| e["data"]["userId"] == w.ana_id.as_str())
            .collect()
    };
    settled(&|| ratings_gone().len() == 2);
    let ratings_gone = ratings_gone();
    assert_eq!(ratings_gone.len(), 2, "{ratings_gone:?}");
    for envelope in &ratings_gone {
        again.again(api, envelope);
    }
    assert_user_saga_done(api, &w);

    // --- movie deletion -------------------------------------------------------
    let r = api.send("DELETE", &format!("/api/movies/{}", w.alien), Some(&w.admin), None);
    assert_eq!(r.status, 204, "{}", r.body);
    settled(&|| {
        stats_count(api, &w.alien) == 0
            && json_of(api, "/api/favorites", Some(&w.bob))["pagination"]["total"] == 0
            && json_of(api, &format!("/api/comments/movie/{}", w.alien), Some(&w.admin))["pagination"]["total"] == 0
    });
    assert_movie_saga_done(api, &w);
    again.again(api, &recorded(api, "movie.deleted", settled));
    assert_movie_saga_done(api, &w);

    // The deleted movie takes no new ratings.
    let late = api.send(
        "POST",
        &format!("/api/ratings/{}", w.alien),
        Some(&w.bob),
        Some(&json!({"score": 3})),
    );
    assert_eq!(late.status, 404, "{}", late.body);
}

#[test]
fn over_http_both_sagas_reach_every_service_once() {
    let api = common::start();
    // Over http the sagas finish once the outboxes are delivered, which
    // happens right after the response to the request that starts them.
    run_sagas(&api, &Http, &|done| {
        api.settled();
        assert!(done(), "the saga finished once every outbox was delivered")
    });
    // The sink saw the favourites being cleared, with counts.
    let cleared = api.received_of("favorites.cleared_for_user");
    assert_eq!(cleared.len(), 1);
    assert_eq!(cleared[0]["envelope"]["data"]["removed"], 2);
    assert_eq!(
        api.received_of("favorites.cleared_for_movie")[0]["envelope"]["data"]["removed"],
        1
    );
}

#[test]
fn over_redis_both_sagas_reach_every_service_once() {
    let redis = Redis::start();
    let mut app = common::app_from("spin.redis.toml")
        .env("SPIN_VARIABLE_EVENT_TRANSPORT", "redis")
        .env("SPIN_VARIABLE_REDIS_URL", &redis.url());
    // The test sink listens on Redis too, to hand the envelopes back for redelivery.
    app.spin_toml.push_str(&common::redis_sink(
        &["user.deleted", "movie.deleted", "rating.deleted"],
        0,
    ));
    let api = Api { host: app.start() };
    redis.wait_for_subscribers(&[
        "streamia.user.deleted",
        "streamia.movie.deleted",
        "streamia.movie.updated",
        "streamia.rating.created",
        "streamia.rating.deleted",
    ]);
    let wait = |done: &dyn Fn() -> bool| eventually("the saga reached every service", Duration::from_secs(20), done);
    // Redis stays up until the end: a host whose trigger loses Redis stops.
    let redis = OverRedis(redis);
    run_sagas(&api, &redis, &wait);
    let received = api.received_of("user.deleted");
    assert_eq!(received[0]["transport"], "redis", "{received:?}");
}
