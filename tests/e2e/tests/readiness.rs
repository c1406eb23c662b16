//! Readiness that tells the truth (README "Operations"): with events over
//! Redis and the comments service in a process of its own (as on SpinKube,
//! where the gateway reaches it by URL), stopping Redis and then the
//! comments service makes the probes answer 503 naming what failed; each
//! comes back ready once what it needs is back.

mod common;

use std::time::Duration;

use common::{assert_error, eventually, Api, SECRET};
use serde_json::Value;
use streamia_testkit::{target_dir, workspace_root, App, Devhost, Redis};

/// spin.toml's comments service alone, on a public route of its own app.
fn comments_alone() -> App {
    let spin_toml = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    let section = |start: &str, end: &str| {
        let from = spin_toml
            .find(start)
            .unwrap_or_else(|| panic!("spin.toml has {start:?}"));
        let to = spin_toml[from..].find(end).map_or(spin_toml.len(), |n| from + n);
        spin_toml[from..to].to_owned()
    };
    let head = &spin_toml[..spin_toml
        .find("[[trigger.http]]")
        .expect("spin.toml has an HTTP trigger")];
    let comments = section("# --- comments", "# --- notifications").replace(
        "route = { private = true }\ncomponent = \"comments\"",
        "route = \"/...\"\ncomponent = \"comments\"",
    );
    assert!(
        comments.contains("route = \"/...\""),
        "the comments trigger was made public"
    );
    let manifest =
        format!("{head}{comments}").replace("source = \"target/", &format!("source = \"{}/", target_dir().display()));
    let runtime_config = std::fs::read_to_string(workspace_root().join("runtime-config.toml")).unwrap();
    App::new(&manifest)
        .runtime_config(&runtime_config)
        .env("SPIN_VARIABLE_JWT_SECRET", SECRET)
}

fn port_of(host: &Devhost) -> u16 {
    host.base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port")
}

fn ready(api: &Api) -> (u16, Value) {
    let r = api.get("/health/ready", None);
    (r.status, r.json())
}

fn detailed(api: &Api) -> Value {
    api.get("/health/detailed", None).json()
}

#[test]
fn the_probes_go_unready_when_redis_or_a_service_stops_and_recover_when_it_is_back() {
    let mut redis = Redis::start();
    let comments = comments_alone().start();
    let comments_port = port_of(&comments);
    let api = Api {
        host: common::app()
            .env("SPIN_VARIABLE_EVENT_TRANSPORT", "redis")
            .env("SPIN_VARIABLE_REDIS_URL", &redis.url())
            .env("SPIN_VARIABLE_COMMENTS_URL", &comments.base)
            .start(),
    };

    let (status, body) = ready(&api);
    assert_eq!(status, 200, "{body}");
    for service in ["users", "movies", "favorites", "ratings", "comments", "notifications"] {
        assert_eq!(body["checks"][service], true, "{service}: {body}");
    }
    assert_eq!(body["checks"]["keyValue"], true, "the gateway's own store: {body}");
    let favorites = api.get("/health/favorites", None).json();
    assert_eq!(
        favorites["checks"],
        serde_json::json!({"sqlite": true, "redis": true}),
        "{favorites}"
    );
    let movies = api.get("/health/movies", None).json();
    assert_eq!(movies["checks"]["keyValue"], true, "movies keeps its cache: {movies}");
    let all = detailed(&api);
    let movies_checks = &all["checks"]["movies"];
    assert_eq!(movies_checks["ok"], true, "{all}");
    assert!(movies_checks["latencyMs"].is_number(), "{all}");
    for check in ["sqlite", "redis", "keyValue"] {
        assert_eq!(movies_checks["details"][check]["ok"], true, "{check}: {all}");
        assert!(
            movies_checks["details"][check]["latencyMs"].is_number(),
            "{check}: {all}"
        );
    }

    // Redis stops: every service whose events go over it says so.
    redis.stop();
    let r = api.get("/health/favorites", None);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["status"], "unavailable");
    assert_eq!(r.json()["checks"]["redis"], false, "{}", r.body);
    assert_eq!(r.json()["checks"]["sqlite"], true, "{}", r.body);
    let (status, body) = ready(&api);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["favorites"], false, "{body}");
    let why = &detailed(&api)["checks"]["favorites"];
    assert_eq!(why["error"], "answered 503", "{why}");
    assert_eq!(why["details"]["redis"]["ok"], false, "{why}");
    assert!(
        why["details"]["redis"]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{why}"
    );

    redis.restart();
    eventually("ready again once Redis is back", Duration::from_secs(30), || {
        ready(&api).0 == 200
    });

    // The comments service stops: the gateway names it, its own probe is a 503.
    let state = comments.stop();
    let (status, body) = ready(&api);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["comments"], false, "{body}");
    assert_eq!(body["checks"]["users"], true, "{body}");
    assert_eq!(detailed(&api)["checks"]["comments"]["error"], "unreachable");
    assert_error(&api.get("/health/comments", None), 503, "service_unavailable");

    let _comments = comments_alone().port(comments_port).start_in(state);
    eventually("ready again once the service is back", Duration::from_secs(30), || {
        ready(&api).0 == 200
    });
    let (_, body) = ready(&api);
    println!("readiness: {body}");
}
