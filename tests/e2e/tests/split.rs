//! The split layout (deploy/spinkube/split/), run here before anyone applies
//! it: spin.split.toml served as seven apps, as the split SpinApps are —
//! the gateway (with the web pages), and each service with its Redis consumer — each its
//! own `spin up -c …` process on its own port with its own SQLite files; the
//! gateway reaches the services by URL (the `*_url` variables, as it reaches
//! their cluster Services), the movies cache and the gateway's counters are
//! in Redis, and events go over the Redis stream. The services run with
//! `schema_migrations = "job"`, so nothing serves until the migration call
//! has run, as on the cluster.
//!
//! Spin's selective deployment (`spin up -c`) only: devhost serves whole
//! apps (scripts/test.sh runs this in the Spin pass).

mod common;

use std::time::Duration;

use common::{assert_error, eventually, json_of, Api, ADMIN_EMAIL, SECRET};
use serde_json::json;
use streamia_testkit::{build_components, call, App, Devhost, Redis};

const RELAY_TOKEN: &str = "split-layout-relay-token-0123456789abcdef";

/// The SpinApps of deploy/spinkube/split/: which components each runs.
const SERVICES: [(&str, &[&str]); 6] = [
    ("movies", &["movies", "movies-events"]),
    ("users", &["users"]),
    ("favorites", &["favorites", "favorites-events"]),
    ("ratings", &["ratings", "ratings-events"]),
    ("comments", &["comments", "comments-events"]),
    ("notifications", &["notifications", "notifications-events"]),
];

/// Every channel some consumer listens on (redis-triggers.toml).
const CHANNELS: [&str; 7] = [
    "streamia.user.deleted",
    "streamia.movie.deleted",
    "streamia.movie.updated",
    "streamia.rating.created",
    "streamia.rating.deleted",
    "streamia.user.registered",
    "streamia.password.reset.requested",
];

/// One app of the layout: spin.split.toml with `components` only, its own
/// SQLite file under its own directory, the key-value stores in Redis.
fn split_app(components: &[&str], redis: &Redis, env: &[(String, String)]) -> App {
    let runtime_config = format!(
        r#"
[sqlite_database.{db}]
type = "spin"
path = ".spin/{db}.db"

[key_value_store.movies]
type = "redis"
url = "{redis}"

[key_value_store.notifications]
type = "redis"
url = "{redis}"

[key_value_store.ratings]
type = "redis"
url = "{redis}"

[key_value_store.comments]
type = "redis"
url = "{redis}"

[key_value_store.gateway]
type = "redis"
url = "{redis}/1"
"#,
        db = components[0],
        redis = redis.url(),
    );
    let mut app = App::from_repo("spin.split.toml", None)
        .runtime_config(&runtime_config)
        .components(components)
        .env("SPIN_VARIABLE_JWT_SECRET", SECRET)
        .env("SPIN_VARIABLE_ADMIN_EMAILS", ADMIN_EMAIL)
        .env("SPIN_VARIABLE_REDIS_URL", &redis.url())
        .env("SPIN_VARIABLE_EVENT_RETRY_BASE_MS", "200")
        .env("SPIN_VARIABLE_RELAY_TOKEN", RELAY_TOKEN)
        .env("SPIN_VARIABLE_SCHEMA_MIGRATIONS", "job");
    for limit in ["ANONYMOUS", "USER", "AUTH", "LOGIN_FAILURES"] {
        app = app.env(&format!("SPIN_VARIABLE_RATE_LIMIT_{limit}"), "1000000/1m");
    }
    for (k, v) in env {
        app = app.env(k, v);
    }
    app
}

struct Layout {
    api: Api,
    services: Vec<(&'static str, Devhost)>,
    _redis: Redis,
}

impl Layout {
    fn service(&self, name: &str) -> &Devhost {
        &self.services.iter().find(|(n, _)| *n == name).unwrap().1
    }
}

fn start_layout() -> Layout {
    build_components(&common::COMPONENTS);
    let redis = Redis::start();
    // Movies first: favorites, ratings and comments ask it about movies.
    let mut urls: Vec<(String, String)> = Vec::new();
    let mut services = Vec::new();
    for (service, components) in SERVICES {
        let host = split_app(components, &redis, &urls).start();
        urls.push((
            format!("SPIN_VARIABLE_{}_URL", service.to_uppercase()),
            host.base.clone(),
        ));
        services.push((service, host));
    }
    redis.wait_for_subscribers(&CHANNELS);
    let gateway = split_app(&["gateway", "web"], &redis, &urls).start();
    Layout {
        api: Api { host: gateway },
        services,
        _redis: redis,
    }
}

/// Events cross three apps and the stream.
const SETTLED: Duration = Duration::from_secs(30);

fn operator(api: &Api, path: &str) -> streamia_testkit::Reply {
    call(
        "POST",
        &api.url(path),
        &[("authorization", &format!("Bearer {RELAY_TOKEN}"))],
        "",
    )
}

#[test]
fn the_split_layout_serves_the_flows_end_to_end() {
    let layout = start_layout();
    let api = &layout.api;

    // Replicas are not ready, and serve nothing, until the release's migration.
    let health = api.get("/health", None);
    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.json()["services"]["users"], "unavailable", "{}", health.body);
    let early = api.post(
        "/api/users/register",
        json!({"email": "early@example.com", "password": common::PASSWORD, "username": "early"}),
    );
    assert_error(&early, 503, "schema_outdated");
    let migrated = operator(api, "/api/admin/migrate");
    assert_eq!(migrated.status, 200, "{}", migrated.body);
    let report = migrated.json();
    for (service, _) in SERVICES {
        let versions = &report["services"][service]["schemaVersion"];
        assert_eq!(versions["from"], 0, "{report}");
        assert!(versions["to"].as_u64().unwrap() > 0, "{report}");
    }
    // Once is enough: a second run changes nothing.
    let again = operator(api, "/api/admin/migrate").json();
    assert_eq!(
        again["services"]["users"]["schemaVersion"]["from"],
        report["services"]["users"]["schemaVersion"]["to"]
    );

    // The gateway reaches every service by its URL, and each is ready now.
    let health = json_of(api, "/health", None);
    assert_eq!(health["status"], "ok", "{health}");
    for (service, _) in SERVICES {
        assert_eq!(health["services"][service], "ok", "{health}");
    }

    // Register (and the welcome e-mail, from the user.registered event).
    let admin = api.admin();
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    layout.service("notifications").wait_for_log("ana@example.com");

    // The catalogue (through the gateway's cache in Redis), favourites,
    // ratings reaching the aggregates (ratings → stream → movies' consumer)
    // and the user deletion saga, across four apps.
    common::the_flows_across_services(api, &admin, &ana, &bob, SETTLED);
    for (service, event) in [
        ("favorites", "user.deleted"),
        ("ratings", "user.deleted"),
        ("comments", "user.deleted"),
    ] {
        let host = layout.service(service);
        eventually(&format!("{service} logs {event} applied"), SETTLED, || {
            host.events_logged(service, event, "Applied") == 1
        });
    }

    // Each app has its own database: only its service's file is in its directory.
    for (service, host) in &layout.services {
        for (other, _) in SERVICES {
            let file = host.dir.path().join(format!(".spin/{other}.db"));
            assert_eq!(file.exists(), other == *service, "{}", file.display());
        }
    }

    // The relay ticker's call reaches every service's relay pass.
    let relay = operator(api, "/api/admin/events/relay");
    assert_eq!(relay.status, 200, "{}", relay.body);
    for (service, _) in SERVICES {
        assert!(relay.json()["services"][service].is_object(), "{}", relay.body);
    }
}
