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
