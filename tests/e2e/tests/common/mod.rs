//! The app as a user meets it: the repository's spin.toml and runtime config,
//! the release .wasm files, served by devhost with state in a temp directory.

#![allow(dead_code)]

use serde_json::{json, Value};
use streamia_testkit::{build_components, App};
pub use streamia_testkit::{call, Devhost, Reply};

pub const SECRET: &str = "e2e-test-secret-that-is-long-enough-0123";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const PASSWORD: &str = "s3cret-pass";

/// Every service whose events the test sink also receives.
pub const PRODUCERS: [&str; 6] = ["users", "movies", "favorites", "ratings", "comments", "notifications"];
pub const SINK: &str = "http://event-sink.spin.internal/sink/events";

/// The app's components, as spin.redis.toml lists them.
pub const COMPONENTS: [&str; 13] = [
    "gateway",
    "web",
    "users",
    "movies",
    "favorites",
    "ratings",
    "comments",
    "notifications",
    "favorites-events",
    "ratings-events",
    "comments-events",
    "movies-events",
    "notifications-events",
];

/// The app's manifest plus the test-only event sink, subscribed over http to
/// every event of every service beside the subscribers spin.toml wires.
pub fn app() -> App {
    app_from("spin.toml")
}

/// [`app`] from another manifest of the repository (spin.redis.toml).
pub fn app_from(manifest: &str) -> App {
    build_components(&[&COMPONENTS[..], &["event-sink", "event-sink-redis"]].concat());
    let mut app = App::from_repo(manifest, Some("runtime-config.toml"));
    // Every component may reach the sink, as a real subscriber would be listed.
    app.spin_toml = app.spin_toml.replace(
        "allowed_outbound_hosts = [\n",
        "allowed_outbound_hosts = [\n  \"http://event-sink.spin.internal\",\n",
    );
    app.spin_toml.push_str(&sink_component());
    app.runtime_config
        .as_mut()
        .unwrap()
        .push_str("\n[sqlite_database.sink]\ntype = \"spin\"\npath = \".spin/sink.db\"\n");
    let manifest: toml::Table = app.spin_toml.parse().expect("the manifest parses");
    let mut app = app
        .env("SPIN_VARIABLE_JWT_SECRET", SECRET)
        .env("SPIN_VARIABLE_ADMIN_EMAILS", ADMIN_EMAIL);
    // Tests call from one IP far faster than a person: the limits are
    // counted but not reached, except where a test sets its own (later
    // settings win).
    for limit in ["ANONYMOUS", "USER", "AUTH", "LOGIN_FAILURES"] {
        app = app.env(&format!("SPIN_VARIABLE_RATE_LIMIT_{limit}"), "1000000/1m");
    }
    for service in PRODUCERS {
        let name = format!("{service}_event_subscribers");
        let wired = manifest["variables"][&name]["default"].as_str().unwrap_or_default();
        let with_sink = [wired, &format!("*={SINK}")].join(",");
        app = app.env(
            &format!("SPIN_VARIABLE_{}", name.to_uppercase()),
            with_sink.trim_start_matches(','),
        );
    }
    app
}

fn sink_component() -> String {
    let wasm = streamia_testkit::component_wasm("event-sink");
    format!(
        r#"
[[trigger.http]]
route = "/sink/..."
component = "event-sink"
[component.event-sink]
source = "{}"
sqlite_databases = ["sink"]
allowed_outbound_hosts = ["http://*.spin.internal"]
"#,
        wasm.display()
    )
}

/// The test sink as a Redis consumer: its own consumer group (`sink`) on
/// the event stream, rung by `channels`; the first `fail_first` tries of
/// every event fail.
pub fn redis_sink(channels: &[&str], fail_first: u32) -> String {
    let wasm = streamia_testkit::component_wasm("event-sink-redis");
    let mut text = String::new();
    for channel in channels {
        text.push_str(&format!(
            "\n[[trigger.redis]]\naddress = \"{{{{ redis_url }}}}\"\nchannel = \"streamia.{channel}\"\ncomponent = \"event-sink-redis\"\n"
        ));
    }
    text.push_str(&format!(
        r#"
[component.event-sink-redis]
source = "{}"
sqlite_databases = ["sink"]
allowed_outbound_hosts = ["{{{{ redis_url }}}}"]
[component.event-sink-redis.variables]
event_transport = "{{{{ event_transport }}}}"
event_subscribers = ""
redis_url = "{{{{ redis_url }}}}"
event_max_attempts = "{{{{ event_max_attempts }}}}"
event_retry_base_ms = "{{{{ event_retry_base_ms }}}}"
sink_fail_first = "{fail_first}"
"#,
        wasm.display()
    ));
    text
}

pub struct Api {
    pub host: Devhost,
}

pub fn start() -> Api {
    Api { host: app().start() }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        self.host.url(path)
    }

    pub fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        call(method, &self.url(path), &headers, &body)
    }

    pub fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, None, Some(&body))
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, None)
    }

    /// Register and return `(user, accessToken, refreshToken)`.
    pub fn register(&self, email: &str, username: &str) -> (Value, String, String) {
        let r = self.post(
            "/api/users/register",
            json!({"email": email, "password": PASSWORD, "username": username}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let v = r.json();
        (
            v["user"].clone(),
            v["accessToken"].as_str().unwrap().to_owned(),
            v["refreshToken"].as_str().unwrap().to_owned(),
        )
    }

    /// A movie in the catalogue (created by `admin`); its id.
    pub fn movie(&self, admin: &str, title: &str) -> String {
        let body = json!({"title": title, "description": "A film.", "releaseYear": 1999});
        let r = self.send("POST", "/api/movies", Some(admin), Some(&body));
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// `token`'s comment on `movie` (a reply to `parent`, if given): 201, its JSON.
    pub fn comment(&self, token: &str, movie: &str, content: &str, parent: Option<&str>) -> Value {
        let mut body = json!({"content": content});
        if let Some(p) = parent {
            body["parentId"] = json!(p);
        }
        let r = self.send(
            "POST",
            &format!("/api/comments/movie/{movie}"),
            Some(token),
            Some(&body),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    }

    pub fn admin(&self) -> String {
        self.register(ADMIN_EMAIL, "admin").1
    }

    /// Deliver an envelope to a service's private `/events`, as the http
    /// transport does (through the sink's relay).
    pub fn deliver(&self, service: &str, envelope: &Value) -> Reply {
        call(
            "POST",
            &self.url(&format!("/sink/relay/{service}")),
            &[("content-type", "application/json")],
            &envelope.to_string(),
        )
    }

    /// GET a service's private route (through the test sink, inside the app).
    pub fn peek(&self, service: &str, path_and_query: &str) -> Reply {
        self.get(
            &format!("/sink/peek/{service}/{}", path_and_query.trim_start_matches('/')),
            None,
        )
    }

    /// Wait until no service has an event waiting in its outbox (in two
    /// passes running: a delivery may make its consumer write an event of
    /// its own). A write answers before its events are delivered.
    pub fn settled(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut quiet_passes = 0;
        while quiet_passes < 2 {
            let waiting: Vec<String> = PRODUCERS
                .iter()
                .filter_map(|service| {
                    let reply = self.get(&format!("/health/{service}"), None);
                    // A service not deployed or not ready delivers nothing.
                    if reply.status != 200 {
                        return None;
                    }
                    match reply.json()["outbox"].as_u64() {
                        Some(0) => None,
                        other => Some(format!("{service}: {other:?}")),
                    }
                })
                .collect();
            quiet_passes = if waiting.is_empty() { quiet_passes + 1 } else { 0 };
            assert!(
                std::time::Instant::now() < deadline,
                "outboxes still not delivered: {waiting:?}"
            );
            if quiet_passes == 0 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }

    /// Events the test sink recorded, in order, once every outbox is delivered.
    pub fn received(&self) -> Vec<Value> {
        self.settled();
        let r = self.get("/sink/received", None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json().as_array().unwrap().clone()
    }

    pub fn received_of(&self, event_type: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|e| e["eventType"] == event_type)
            .collect()
    }
}

/// The flows that cross services, as a layout's test runs them: a
/// catalogue of two, favourites and ratings and a comment that ask the
/// movies service about the movie, the ratings reaching the movies'
/// aggregates by events, `ana`'s comment named after her (and renamed with
/// her), then her account deleted and the saga removing her ratings and
/// anonymising her comment (`bob`'s favourite stays).
pub fn the_flows_across_services(api: &Api, admin: &str, ana: &str, bob: &str, settled: std::time::Duration) {
    let alien = api.movie(admin, "Alien");
    let heat = api.movie(admin, "Heat");
    assert_eq!(json_of(api, &format!("/api/movies/{alien}"), None)["title"], "Alien");
    let listed = json_of(api, "/api/movies", None);
    assert_eq!(listed["pagination"]["total"], 2, "{listed}");

    let ok = |r: &Reply| assert!(r.status < 300, "{}", r.body);
    ok(&api.send("POST", &format!("/api/favorites/{alien}"), Some(ana), None));
    ok(&api.send("POST", &format!("/api/favorites/{alien}"), Some(bob), None));
    let missing = api.send(
        "POST",
        "/api/favorites/00000000-0000-0000-0000-000000000000",
        Some(ana),
        None,
    );
    assert_eq!(missing.status, 404, "{}", missing.body);
    for (movie, token, score) in [(&alien, ana, 1), (&heat, ana, 4), (&alien, bob, 5)] {
        ok(&api.send(
            "POST",
            &format!("/api/ratings/{movie}"),
            Some(token),
            Some(&json!({"score": score})),
        ));
    }
    api.comment(ana, &alien, "Loved it", None);

    let rating = |id: &str| {
        let m = json_of(api, &format!("/api/movies/{id}"), None);
        (
            m["averageRating"].as_f64().unwrap(),
            m["totalRatings"].as_u64().unwrap(),
        )
    };
    eventually("the ratings reach the movies", settled, || {
        rating(&alien) == (3.0, 2) && rating(&heat) == (4.0, 1)
    });
    // Her comment carries her name, from the users service's events.
    let first_comment = || json_of(api, &format!("/api/comments/movie/{alien}"), None)["data"][0].clone();
    eventually("ana's name reaches her comment", settled, || {
        first_comment()["authorName"] == "ana"
    });
    ok(&api.send("PATCH", "/api/users/me", Some(ana), Some(&json!({"username": "ana_m"}))));
    eventually("her new name follows", settled, || {
        first_comment()["authorName"] == "ana_m"
    });

    let r = api.send("DELETE", "/api/users/me", Some(ana), None);
    assert_eq!(r.status, 204, "{}", r.body);
    eventually("ana's ratings leave the aggregates", settled, || {
        rating(&alien) == (5.0, 1) && rating(&heat) == (0.0, 0)
    });
    eventually("ana's comment is anonymised", settled, || {
        let c = first_comment();
        c["userId"].is_null() && c["authorName"].is_null()
    });
    assert_eq!(json_of(api, "/api/favorites", Some(bob))["pagination"]["total"], 1);
}

/// Poll `done` until it holds; after `timeout`, fail saying `what` never happened.
pub fn eventually(what: &str, timeout: std::time::Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// GET `path` (with `token`), which must answer 200: its JSON.
pub fn json_of(api: &Api, path: &str, token: Option<&str>) -> Value {
    let r = api.get(path, token);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

/// The SPEC §3 error shape, with the response's request id.
pub fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error"]["code"], code, "{}", r.body);
    assert!(
        v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.body
    );
    assert_eq!(v["error"]["requestId"].as_str(), r.header("x-request-id"), "{}", r.body);
}
