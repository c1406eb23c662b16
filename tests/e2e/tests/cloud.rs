//! The Fermyon Cloud variant (spin.cloud.toml), run here as Cloud would run
//! it: one app, no service chaining (the components call each other by path,
//! Spin's self requests, on the services' public /internal/ routes), no
//! Redis (events over http), and all six database labels on one SQLite
//! database, as linking them to an account's one Cloud database does; the
//! key-value labels each on a store of their own.
//!
//! Spin only: devhost does not make self requests (scripts/test.sh runs this
//! in the Spin pass).

mod common;

use std::time::Duration;

use common::{assert_error, json_of, Api, ADMIN_EMAIL, PRODUCERS, SECRET};
use streamia_testkit::{build_components, call, App};

const INTERNAL_TOKEN: &str = "cloud-layout-internal-token-0123456789abcdef";
const RELAY_TOKEN: &str = "cloud-layout-relay-token-0123456789abcdef";

/// What `spin cloud deploy` gives the app once every label is linked: one
/// database for all, a store per key-value label.
const RUNTIME_CONFIG: &str = r#"
[sqlite_database.users]
type = "spin"
path = ".spin/streamia.db"
[sqlite_database.movies]
type = "spin"
path = ".spin/streamia.db"
[sqlite_database.favorites]
type = "spin"
path = ".spin/streamia.db"
[sqlite_database.ratings]
type = "spin"
path = ".spin/streamia.db"
[sqlite_database.comments]
type = "spin"
path = ".spin/streamia.db"
[sqlite_database.notifications]
type = "spin"
path = ".spin/streamia.db"

[key_value_store.movies]
type = "spin"
path = ".spin/movies-kv.db"
[key_value_store.gateway]
type = "spin"
path = ".spin/gateway-kv.db"
[key_value_store.notifications]
type = "spin"
path = ".spin/notifications-kv.db"
[key_value_store.ratings]
type = "spin"
path = ".spin/ratings-kv.db"
[key_value_store.comments]
type = "spin"
path = ".spin/comments-kv.db"
"#;

fn start() -> Api {
    // The Redis consumers are not in this app; built with the rest, the
    // components are the same files every other test runs.
    build_components(&common::COMPONENTS);
    let mut app = App::from_repo("spin.cloud.toml", None)
        .runtime_config(RUNTIME_CONFIG)
        .env("SPIN_VARIABLE_JWT_SECRET", SECRET)
        .env("SPIN_VARIABLE_INTERNAL_TOKEN", INTERNAL_TOKEN)
        .env("SPIN_VARIABLE_ADMIN_EMAILS", ADMIN_EMAIL)
        .env("SPIN_VARIABLE_RELAY_TOKEN", RELAY_TOKEN)
        .env("SPIN_VARIABLE_EVENT_RETRY_BASE_MS", "200");
    for limit in ["ANONYMOUS", "USER", "AUTH", "LOGIN_FAILURES"] {
        app = app.env(&format!("SPIN_VARIABLE_RATE_LIMIT_{limit}"), "1000000/1m");
    }
    Api { host: app.start() }
}

const SETTLED: Duration = Duration::from_secs(30);

#[test]
fn the_cloud_layout_serves_the_flows_on_one_shared_database() {
    let api = start();

    // The gateway reaches every service by path.
    let health = json_of(&api, "/health", None);
    assert_eq!(health["status"], "ok", "{health}");
    for service in PRODUCERS {
        assert_eq!(health["services"][service], "ok", "{health}");
    }

    // The services' routes are public here, and refuse all but the app's own components.
    let direct = |path: &str, token: Option<&str>| {
        let headers: Vec<(&str, &str)> = token.map(|t| ("x-streamia-internal-token", t)).into_iter().collect();
        call("GET", &api.url(path), &headers, "")
    };
    for path in ["/internal/users/health/ready", "/internal/movies/api/movies"] {
        assert_error(&direct(path, None), 403, "forbidden");
        assert_error(
            &direct(path, Some("a-guess-of-the-same-length-0123456789abcd")),
            403,
            "forbidden",
        );
    }
    let forbidden = direct("/internal/users/health/ready", None);
    assert!(!forbidden.body.contains(INTERNAL_TOKEN), "{}", forbidden.body);
    let ready = direct("/internal/users/health/ready", Some(INTERNAL_TOKEN));
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["service"], "users", "{}", ready.body);

    // Register (and the welcome e-mail, from user.registered over http by path).
    let admin = api.admin();
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    api.host.wait_for_log("ana@example.com");

    // The catalogue, favourites, ratings reaching the aggregates and the
    // deletion saga: every call between components by path, events over http.
    common::the_flows_across_services(&api, &admin, &ana, &bob, SETTLED);

    // The relay ticker's call reaches every service's relay pass, by path.
    let relay = call(
        "POST",
        &api.url("/api/admin/events/relay"),
        &[("authorization", &format!("Bearer {RELAY_TOKEN}"))],
        "",
    );
    assert_eq!(relay.status, 200, "{}", relay.body);

    // One database holds every service's tables and each one's schema version.
    let db = rusqlite::Connection::open(api.host.dir.path().join(".spin/streamia.db")).unwrap();
    let mut versions: Vec<(String, i64)> = db
        .prepare("SELECT name, version FROM streamia_schema ORDER BY name")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    versions.sort();
    let names: Vec<&str> = versions.iter().map(|(n, _)| n.as_str()).collect();
    let mut want = PRODUCERS.to_vec();
    want.sort();
    assert_eq!(names, want, "{versions:?}");
    assert!(versions.iter().all(|(_, v)| *v > 0), "{versions:?}");
    for service in PRODUCERS {
        assert!(
            !api.host.dir.path().join(format!(".spin/{service}.db")).exists(),
            "{service} has a database of its own"
        );
    }
}
