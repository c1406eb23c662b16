//! What Spin does, checked on devhost: real fixture components, built for
//! wasm32-wasip2, served over HTTP. Each test states a behaviour of `spin up`;
//! under `STREAMIA_TEST_HOST=spin` the same tests run against the Spin CLI
//! itself (the README's test command does both), so devhost is held to the
//! real thing. devhost's own log format is tested in `devhost_logs.rs`.

use std::time::Duration;

use streamia_testkit::{get, on_spin, request, upstream, App, Redis};

/// This very devhost binary, or the Spin CLI under `STREAMIA_TEST_HOST=spin`.
pub fn app(spin_toml: &str) -> App {
    let app = App::new(spin_toml);
    if on_spin() {
        app
    } else {
        app.binary(env!("CARGO_BIN_EXE_devhost"))
    }
}

const ROUTED: &str = r#"
spin_manifest_version = 2
[application]
name = "routing"

[[trigger.http]]
route = "/front/..."
component = "front"
[[trigger.http]]
route = "/front/exact/headers"
component = "exact"
[[trigger.http]]
route = "/users/:id/..."
component = "users"
[[trigger.http]]
route = { private = true }
component = "back"

[component.front]
source = "{http}"
allowed_outbound_hosts = ["http://back.spin.internal"]
[component.exact]
source = "{http}"
[component.users]
source = "{http}"
[component.back]
source = "{http}"
"#;

fn header<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[test]
fn wildcard_routes_receive_the_spin_headers() {
    let host = app(ROUTED).start();
    let r = get(&host.url("/front/a/b/headers?x=1"));
    assert_eq!(r.status, 200, "{}", r.body);
    let port = host.base.rsplit(':').next().unwrap();
    let expected = [
        (
            "spin-full-url",
            format!("http://127.0.0.1:{port}/front/a/b/headers?x=1"),
        ),
        ("spin-path-info", "/a/b/headers".to_owned()),
        ("spin-matched-route", "/front/...".to_owned()),
        ("spin-raw-component-route", "/front/...".to_owned()),
        ("spin-component-route", "/front".to_owned()),
        ("spin-base-path", "/".to_owned()),
    ];
    for (name, want) in expected {
        assert_eq!(header(&r.body, name), Some(want.as_str()), "{name} in\n{}", r.body);
    }
    assert!(
        header(&r.body, "spin-client-addr").unwrap().starts_with("127.0.0.1:"),
        "{}",
        r.body
    );
}

#[test]
fn the_most_specific_route_wins_and_named_segments_are_passed_on() {
    let host = app(ROUTED).start();
    let exact = get(&host.url("/front/exact/headers"));
    assert_eq!(header(&exact.body, "spin-matched-route"), Some("/front/exact/headers"));
    assert_eq!(header(&exact.body, "spin-path-info"), Some(""));

    let users = get(&host.url("/users/42/headers"));
    assert_eq!(header(&users.body, "spin-path-match-id"), Some("42"), "{}", users.body);
    assert_eq!(header(&users.body, "spin-component-route"), Some("/users/:id"));
}

#[test]
fn unknown_paths_and_private_components_answer_404() {
    let host = app(ROUTED).start();
    for path in ["/", "/nothing/here", "/back/headers", "/users"] {
        let r = get(&host.url(path));
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    assert_eq!(get(&host.url("/.well-known/spin/health")).status, 200);
}

#[test]
fn service_chaining_reaches_a_private_component_in_process() {
    let host = app(ROUTED).start();
    let r = get(&host.url("/front/chain?target=back&path=/inner/headers"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.starts_with("200 from back"), "{}", r.body);
    assert_eq!(header(&r.body, "spin-path-info"), Some("/inner/headers"), "{}", r.body);
    assert_eq!(header(&r.body, "spin-matched-route"), Some("/..."));
    assert_eq!(header(&r.body, "spin-client-addr"), Some("0.0.0.0:0"));
}

#[test]
fn service_chaining_needs_the_target_in_allowed_outbound_hosts() {
    let host = app(&ROUTED.replace(
        "allowed_outbound_hosts = [\"http://back.spin.internal\"]",
        "allowed_outbound_hosts = [\"http://other.spin.internal\"]",
    ))
    .start();
    let r = get(&host.url("/front/chain?target=back&bodyless=1"));
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("HttpRequestDenied"), "{}", r.body);
}

#[test]
fn wildcard_service_chaining_reaches_only_the_apps_own_components() {
    // Spin expands `*.spin.internal` to the names of the app's components.
    let host = app(&ROUTED.replace("http://back.spin.internal", "http://*.spin.internal")).start();
    let r = get(&host.url("/front/chain?target=ghost&bodyless=1"));
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("HttpRequestDenied"), "{}", r.body);
    let r = get(&host.url("/front/chain?target=back&path=/x/headers"));
    assert!(r.body.starts_with("200 from back"), "{}", r.body);
}

#[test]
fn outbound_http_is_limited_to_the_allow_list() {
    let allowed = upstream();
    let other = upstream();
    let manifest = format!(
        r#"
spin_manifest_version = 2
[application]
name = "outbound"
[variables]
upstream = {{ default = "http://127.0.0.1:{allowed}" }}
[[trigger.http]]
route = "/..."
component = "caller"
[component.caller]
source = "{{http}}"
allowed_outbound_hosts = ["{{{{ upstream }}}}"]
"#
    );
    let host = app(&manifest).start();
    let ok = get(&host.url(&format!("/outbound?url=http%3A%2F%2F127.0.0.1%3A{allowed}%2Fhello")));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body, "status 200: upstream /hello");

    for refused in [
        format!("http%3A%2F%2F127.0.0.1%3A{other}%2Fhello"),
        format!("https%3A%2F%2F127.0.0.1%3A{allowed}%2Fhello"),
        format!("http%3A%2F%2Flocalhost%3A{allowed}%2Fhello"),
    ] {
        let r = get(&host.url(&format!("/outbound?url={refused}")));
        assert_eq!(r.status, 502, "{refused}: {}", r.body);
        assert!(r.body.contains("HttpRequestDenied"), "{refused}: {}", r.body);
    }
}

const VARS: &str = r#"
spin_manifest_version = 2
[application]
name = "vars"
[variables]
greeting = { default = "hello" }
api_key = { required = true, secret = true }
[[trigger.http]]
route = "/..."
component = "reader"
[component.reader]
source = "{http}"
[component.reader.variables]
message = "{{ greeting }}, world"
key = "{{ api_key }}"
"#;

#[test]
fn variables_come_from_defaults_and_spin_variable_environment() {
    let host = app(VARS).env("SPIN_VARIABLE_API_KEY", "k-123-secret").start();
    assert_eq!(get(&host.url("/var?name=message")).body, "hello, world");
    assert_eq!(get(&host.url("/var?name=key")).body, "k-123-secret");
    // Application variables are not visible unless the component maps them.
    let r = get(&host.url("/var?name=greeting"));
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Undefined"), "{}", r.body);
    assert!(get(&host.url("/var?name=Bad-Name")).body.contains("InvalidName"));

    let host = app(VARS)
        .env("SPIN_VARIABLE_API_KEY", "k-456-secret")
        .env("SPIN_VARIABLE_GREETING", "hi")
        .start();
    assert_eq!(get(&host.url("/var?name=message")).body, "hi, world");
    assert!(!host.log().contains("k-456-secret"), "a secret reached the log");
}

#[test]
fn a_required_variable_without_a_value_stops_start_up() {
    let err = app(VARS).start_failure();
    assert!(err.contains("api_key"), "{err}");
}

#[test]
fn variables_also_come_from_a_dot_env_file_in_the_working_directory() {
    let host = app(VARS)
        .file(
            ".env",
            "# written by a developer\nSPIN_VARIABLE_API_KEY=from-dotenv\nSPIN_VARIABLE_GREETING=\"hey there\"\n",
        )
        .env("SPIN_VARIABLE_GREETING", "hi")
        .start();
    assert_eq!(get(&host.url("/var?name=key")).body, "from-dotenv");
    // The process environment wins over the file.
    assert_eq!(get(&host.url("/var?name=message")).body, "hi, world");
}

const STORES: &str = r#"
spin_manifest_version = 2
[application]
name = "stores"
[[trigger.http]]
route = "/owner/..."
component = "owner"
[[trigger.http]]
route = "/stranger/..."
component = "stranger"
[component.owner]
source = "{http}"
key_value_stores = ["default", "cache"]
sqlite_databases = ["default"]
[component.stranger]
source = "{http}"
"#;

const STORES_RC: &str = r#"
[key_value_store.cache]
type = "spin"
"#;

#[test]
fn key_value_get_set_delete_and_keys() {
    let host = app(STORES).runtime_config(STORES_RC).start();
    assert_eq!(request("PUT", &host.url("/owner/kv?key=a"), "one").status, 200);
    assert_eq!(request("PUT", &host.url("/owner/kv?key=b"), "two").status, 200);
    assert_eq!(get(&host.url("/owner/kv?key=a")).body, "one");
    assert_eq!(request("POST", &host.url("/owner/kv"), "").body, "a,b");
    assert_eq!(request("DELETE", &host.url("/owner/kv?key=a"), "").status, 200);
    assert_eq!(get(&host.url("/owner/kv?key=a")).status, 404);
    // Stores are separate: "cache" does not see "default"'s keys.
    assert_eq!(get(&host.url("/owner/kv?store=cache&key=b")).status, 404);
}

#[test]
fn a_component_sees_only_the_stores_it_lists() {
    let host = app(STORES).runtime_config(STORES_RC).start();
    let kv = get(&host.url("/stranger/kv?key=a"));
    assert_eq!(kv.status, 403);
    assert!(kv.body.contains("AccessDenied"), "{}", kv.body);
    let db = request("POST", &host.url("/stranger/sqlite"), "SELECT 1");
    assert_eq!(db.status, 403);
    assert!(db.body.contains("AccessDenied"), "{}", db.body);
}

#[test]
fn key_value_and_sqlite_persist_under_dot_spin_across_restarts() {
    let host = app(STORES).runtime_config(STORES_RC).start();
    request("PUT", &host.url("/owner/kv?key=kept"), "still here");
    request("POST", &host.url("/owner/sqlite"), "CREATE TABLE t (n INTEGER)");
    request("POST", &host.url("/owner/sqlite?p=7"), "INSERT INTO t (n) VALUES (?)");
    let dir = host.stop();
    assert!(dir.path().join(".spin/sqlite_key_value.db").exists());
    assert!(dir.path().join(".spin/sqlite_db.db").exists());

    let host = app(STORES).runtime_config(STORES_RC).start_in(dir);
    assert_eq!(get(&host.url("/owner/kv?key=kept")).body, "still here");
    assert_eq!(
        request("POST", &host.url("/owner/sqlite"), "SELECT n FROM t").body,
        "n\n7"
    );
}

#[test]
fn sqlite_runs_statements_with_parameters_and_reports_errors() {
    let host = app(STORES).runtime_config(STORES_RC).start();
    let sql = |body: &str, q: &str| request("POST", &host.url(&format!("/owner/sqlite{q}")), body);
    assert_eq!(
        sql(
            "CREATE TABLE movies (id INTEGER PRIMARY KEY, title TEXT, rating REAL)",
            ""
        )
        .status,
        200
    );
    assert_eq!(
        sql("INSERT INTO movies (title, rating) VALUES (?, 4.5)", "?p=Alien").status,
        200
    );
    assert_eq!(
        sql("INSERT INTO movies (title, rating) VALUES (?, NULL)", "?p=Heat").status,
        200
    );
    let rows = sql("SELECT id, title, rating FROM movies WHERE id >= ? ORDER BY id", "?p=1");
    assert_eq!(rows.body, "id|title|rating\n1|Alien|4.5\n2|Heat|null");
    let bad = sql("SELEKT nonsense", "");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Io"), "{}", bad.body);
}

#[test]
fn sqlite_paths_resolve_against_the_working_directory_and_key_value_paths_against_the_runtime_config() {
    let rc = "[key_value_store.cache]\ntype = \"spin\"\npath = \"data/cache.db\"\n\
              [sqlite_database.default]\ntype = \"spin\"\npath = \"data/app.db\"\n";
    let host = app(STORES).runtime_config_at("config/runtime-config.toml", rc).start();
    assert_eq!(
        request("PUT", &host.url("/owner/kv?store=cache&key=a"), "1").status,
        200
    );
    assert_eq!(
        request("POST", &host.url("/owner/sqlite"), "CREATE TABLE t (n INTEGER)").status,
        200
    );
    assert!(host.dir.path().join("config/data/cache.db").exists());
    assert!(host.dir.path().join("data/app.db").exists());
    assert!(!host.dir.path().join("config/data/app.db").exists());
}

#[test]
fn an_in_memory_sqlite_database_belongs_to_the_connection_that_opened_it() {
    let rc = format!("{STORES_RC}[sqlite_database.default]\ntype = \"spin\"\n");
    let host = app(STORES).runtime_config(&rc).start();
    let sql = |body: &str| request("POST", &host.url("/owner/sqlite"), body);
    assert_eq!(sql("CREATE TABLE t (n INTEGER)").status, 200);
    // The next request opens a new connection: a new, empty database.
    let r = sql("SELECT n FROM t");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("no such table"), "{}", r.body);
}

#[test]
fn sqlite_files_keep_sqlites_default_rollback_journal() {
    // Spin opens databases as rusqlite does and sets no WAL; a host that did
    // would hide the lock waits writers meet on Spin.
    let host = app(STORES).runtime_config(STORES_RC).start();
    let r = request("POST", &host.url("/owner/sqlite"), "PRAGMA journal_mode");
    assert_eq!(r.body, "journal_mode\ndelete");
}

#[test]
fn undefined_stores_stop_start_up() {
    let err = app(&STORES.replace("\"cache\"", "\"nowhere\""))
        .runtime_config(STORES_RC)
        .start_failure();
    assert!(err.contains("\"nowhere\""), "{err}");
    let err = app(&STORES.replace("sqlite_databases = [\"default\"]", "sqlite_databases = [\"movies\"]"))
        .runtime_config(STORES_RC)
        .start_failure();
    assert!(err.contains("uses database 'movies'"), "{err}");
}

#[test]
fn key_value_can_live_in_redis() {
    let redis = Redis::start();
    let rc = format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n{STORES_RC}",
        redis.url()
    );
    let host = app(STORES).runtime_config(&rc).start();
    assert_eq!(request("PUT", &host.url("/owner/kv?key=film"), "Alien").status, 200);
    assert!(redis.command(&["GET", "film"]).contains("Alien"));
    assert_eq!(get(&host.url("/owner/kv?key=film")).body, "Alien");
}

fn redis_app(redis: &Redis) -> App {
    app(&format!(
        r#"
spin_manifest_version = 2
[application]
name = "redis"
[application.trigger.redis]
address = "redis://127.0.0.1:{{{{ redis_port }}}}"
[variables]
redis_port = {{ default = "{port}" }}
[[trigger.http]]
route = "/..."
component = "web"
[[trigger.redis]]
channel = "jobs"
component = "listener"
[component.web]
source = "{{http}}"
key_value_stores = ["default"]
allowed_outbound_hosts = ["redis://127.0.0.1:{{{{ redis_port }}}}"]
[component.listener]
source = "{{redis}}"
key_value_stores = ["default"]
"#,
        port = redis.port
    ))
}

#[test]
fn outbound_redis_set_get_incr_execute() {
    let redis = Redis::start();
    let host = redis_app(&redis).start();
    let addr = format!("redis%3A%2F%2F127.0.0.1%3A{}", redis.port);
    let op = |q: &str| get(&host.url(&format!("/redis?address={addr}&{q}")));
    assert_eq!(op("op=set&key=k&value=v1").body, "set");
    assert_eq!(op("op=get&key=k").body, "v1");
    assert_eq!(op("op=get&key=missing").body, "nil");
    assert_eq!(op("op=incr&key=n").body, "1");
    assert_eq!(op("op=incr&key=n").body, "2");
    assert_eq!(op("op=execute&key=k&value=2").body, "int 3");
    assert!(redis.command(&["GET", "k"]).contains("v12"));
}

#[test]
fn outbound_redis_is_limited_to_the_allow_list() {
    let redis = Redis::start();
    let other = Redis::start();
    let host = redis_app(&redis).start();
    let r = get(&host.url(&format!(
        "/redis?address=redis%3A%2F%2F127.0.0.1%3A{}&op=get&key=k",
        other.port
    )));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("InvalidAddress"), "{}", r.body);
}

#[test]
fn the_redis_trigger_delivers_each_published_message_in_order() {
    let redis = Redis::start();
    let host = redis_app(&redis).start();
    redis.wait_for_subscribers(&["jobs"]);
    // Published by the app itself (outbound redis) and by an outside client.
    let addr = format!("redis%3A%2F%2F127.0.0.1%3A{}", redis.port);
    assert_eq!(
        get(&host.url(&format!("/redis?address={addr}&op=publish&key=jobs&value=first"))).body,
        "published"
    );
    redis.command(&["PUBLISH", "jobs", "second"]);
    redis.command(&["PUBLISH", "other-channel", "ignored"]);
    redis.command(&["PUBLISH", "jobs", "third"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = get(&host.url("/kv?key=messages"));
        if r.body == "first\nsecond\nthird\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "messages so far: {:?}", r.body);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_host_stops_when_the_redis_trigger_loses_its_connection() {
    // Spin's trigger does not reconnect: `spin up` ends, and whatever
    // supervises it (a Kubernetes pod, systemd) starts it again.
    let redis = Redis::start();
    let mut host = redis_app(&redis).start();
    redis.wait_for_subscribers(&["jobs"]);
    drop(redis);
    let status = host.wait_exit(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| !s.success()),
        "still running: {status:?}\n{}",
        host.log()
    );
}

#[test]
fn a_redis_trigger_that_cannot_connect_stops_start_up() {
    let port = streamia_testkit::free_port();
    let err = app(&format!(
        r#"
spin_manifest_version = 2
[application]
name = "no-redis"
[application.trigger.redis]
address = "redis://127.0.0.1:{port}"
[[trigger.redis]]
channel = "jobs"
component = "listener"
[component.listener]
source = "{{redis}}"
key_value_stores = ["default"]
"#
    ))
    .start_failure();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[test]
fn a_trapping_component_gets_500_and_the_host_keeps_serving() {
    let host = app(ROUTED).start();
    let r = get(&host.url("/front/trap"));
    assert_eq!(r.status, 500);
    assert!(
        !r.body.contains("trap requested"),
        "no guest details in the response: {}",
        r.body
    );
    assert_eq!(get(&host.url("/front/ok")).status, 200);
}

#[test]
fn many_requests_at_once_each_get_their_own_instance() {
    let host = app(STORES).runtime_config(STORES_RC).start();
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let url = host.url(&format!("/owner/kv?key=k{i}"));
            std::thread::spawn(move || {
                assert_eq!(request("PUT", &url, &format!("v{i}")).status, 200);
                get(&url).body
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        assert_eq!(t.join().unwrap(), format!("v{i}"));
    }
}

#[test]
fn a_missing_component_file_stops_start_up() {
    let err = app(&ROUTED.replace(
        "source = \"{http}\"\n[component.users]",
        "source = \"/no/such/file.wasm\"\n[component.users]",
    ))
    .start_failure();
    assert!(err.contains("/no/such/file.wasm"), "{err}");
}
