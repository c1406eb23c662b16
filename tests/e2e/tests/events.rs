//! user.registered reaches a subscriber over each transport, exactly once
//! even when it is delivered twice.

mod common;

use common::start;
use streamia_testkit::Redis;

#[test]
fn over_http_an_event_reaches_the_subscriber_once_even_when_redelivered() {
    let api = start();
    let (user, _, _) = api.register("ana@example.com", "ana");
    let received = api.received_of("user.registered");
    assert_eq!(received.len(), 1, "{received:?}");
    let envelope = &received[0]["envelope"];
    assert_eq!(envelope["source"], "users");
    assert_eq!(envelope["version"], 1);
    assert_eq!(envelope["data"]["userId"], user["id"]);
    assert_eq!(envelope["data"]["email"], "ana@example.com");

    // The transport delivers at least once: a second delivery changes nothing.
    let again = common::call(
        "POST",
        &api.url("/sink/events"),
        &[("content-type", "application/json")],
        &envelope.to_string(),
    );
    assert_eq!(again.json()["result"], "duplicate", "{}", again.body);
    assert_eq!(api.received_of("user.registered").len(), 1);
}

#[test]
fn over_redis_an_event_reaches_the_subscriber_once_even_when_appended_twice() {
    let redis = Redis::start();
    let mut app = common::app()
        .env("SPIN_VARIABLE_EVENT_TRANSPORT", "redis")
        .env("SPIN_VARIABLE_REDIS_URL", &redis.url());
    app.spin_toml = app.spin_toml.replacen(
        "\n[variables]\n",
        &format!(
            "\n[application.trigger.redis]\naddress = \"{}\"\n\n[variables]\n",
            redis.url()
        ),
        1,
    );
    app.spin_toml.push_str(&common::redis_sink(&["user.registered"], 0));
    let api = common::Api { host: app.start() };
    redis.wait_for_subscribers(&["streamia.user.registered"]);
    let (user, _, _) = api.register("ana@example.com", "ana");

    let received = wait_for(|| api.received_of("user.registered"));
    assert_eq!(
        received[0]["transport"], "redis",
        "delivered by Redis, not http: {received:?}"
    );
    assert_eq!(received[0]["envelope"]["data"]["userId"], user["id"]);

    // In the stream twice (a producer that crashed before recording its
    // delivery appends again): the sink's group skips the second.
    redis.append_event(&received[0]["envelope"]);
    api.host.wait_for_event(
        "sink",
        received[0]["envelope"]["eventId"].as_str().unwrap(),
        "Duplicate",
    );
    assert_eq!(api.received_of("user.registered").len(), 1);
}

/// Poll until the list is non-empty (Redis delivery is asynchronous).
fn wait_for(mut f: impl FnMut() -> Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = f();
        if !v.is_empty() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "nothing arrived");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The event's `data` as the sink received it: the one event of `event_type` whose `field` is `value`.
fn data_of(api: &common::Api, event_type: &str, field: &str, value: &str) -> serde_json::Value {
    let found: Vec<serde_json::Value> = api
        .received_of(event_type)
        .into_iter()
        .map(|r| r["envelope"]["data"].clone())
        .filter(|d| d[field] == value)
        .collect();
    assert_eq!(found.len(), 1, "{event_type}: {found:?}");
    found[0].clone()
}

/// A field the event's JSON Schema (wit/schemas/) declares.
fn declared(event_type: &str, field: &str) -> bool {
    let path = streamia_testkit::workspace_root().join(format!("wit/schemas/{event_type}.schema.json"));
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    schema["properties"].get(field).is_some()
}

#[test]
fn events_say_what_changed_a_movies_fields_and_a_ratings_scores() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let r = api.send(
        "PATCH",
        &format!("/api/movies/{movie}"),
        Some(&admin),
        Some(&serde_json::json!({"title": "Aliens", "releaseYear": 1986, "description": "A film."})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let updated = data_of(&api, "movie.updated", "movieId", &movie);
    assert_eq!(
        updated["changes"],
        serde_json::json!(["title", "releaseYear"]),
        "the description sent was the same"
    );
    assert!(declared("movie.updated", "changes"));

    let (user, token, _) = api.register("ana@example.com", "ana");
    let user_id = user["id"].as_str().unwrap();
    for score in [4, 2] {
        let r = api.send(
            "POST",
            &format!("/api/ratings/{movie}"),
            Some(&token),
            Some(&serde_json::json!({"score": score})),
        );
        assert!(r.status < 300, "{}", r.body);
    }
    let created = data_of(&api, "rating.created", "userId", user_id);
    assert_eq!(
        (created["score"].as_u64(), created.get("previousScore")),
        (Some(4), None)
    );
    let changed = data_of(&api, "rating.updated", "userId", user_id);
    assert_eq!(
        (changed["previousScore"].as_u64(), changed["score"].as_u64()),
        (Some(4), Some(2))
    );
    let r = api.send("DELETE", &format!("/api/ratings/{movie}"), Some(&token), None);
    assert_eq!(r.status, 204, "{}", r.body);
    let removed = data_of(&api, "rating.deleted", "userId", user_id);
    assert_eq!(removed["previousScore"].as_u64(), Some(2));
    assert!(declared("rating.updated", "previousScore") && declared("rating.deleted", "previousScore"));
}
