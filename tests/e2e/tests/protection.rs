//! The gateway's protection, as a client and an operator meet it: rate
//! limits (429 with `Retry-After` and `X-RateLimit-*`), failed logins per
//! account, the upstream deadline and the circuit breakers (503) of each
//! route group, anonymous clients kept to their own, `/metrics`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{app, assert_error, call, eventually, Api, ADMIN_EMAIL, PASSWORD};
use serde_json::json;
use streamia_testkit::Redis;

fn with(vars: &[(&str, &str)]) -> Api {
    let mut app = app();
    for (name, value) in vars {
        app = app.env(&format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
    }
    Api { host: app.start() }
}

fn remaining(r: &common::Reply) -> Option<u32> {
    r.header("x-ratelimit-remaining").and_then(|v| v.parse().ok())
}

#[test]
fn anonymous_calls_are_limited_per_client_with_headers_that_say_when_to_come_back() {
    let api = with(&[("rate_limit_anonymous", "3/1h")]);
    let replies: Vec<_> = (0..4).map(|_| api.get("/api/movies", None)).collect();
    assert_eq!(
        replies.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 200, 429]
    );
    assert_eq!(
        replies.iter().map(remaining).collect::<Vec<_>>(),
        [Some(2), Some(1), Some(0), Some(0)]
    );
    let refused = &replies[3];
    assert_error(refused, 429, "rate_limited");
    assert_eq!(refused.header("x-ratelimit-limit"), Some("3"));
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    let reset: u64 = refused.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry) && retry == reset, "{retry} {reset}");
    // Health is never limited (probes must get through).
    assert_eq!(api.get("/health/live", None).status, 200);
}

#[test]
fn a_token_is_counted_per_user_and_sign_in_routes_have_their_own_stricter_limit() {
    let api = with(&[("rate_limit_user", "4/1h"), ("rate_limit_auth", "3/1h")]);
    // register + login + login: the sign-in limit's 3.
    let (_, ann, _) = api.register("ann@example.com", "ann");
    let login = json!({"email": "ann@example.com", "password": PASSWORD});
    assert_eq!(api.post("/api/users/login", login.clone()).status, 200);
    assert_eq!(api.post("/api/users/login", login.clone()).status, 200);
    let refused = api.post("/api/users/login", login);
    assert_error(&refused, 429, "rate_limited");
    assert_eq!(refused.header("x-ratelimit-limit"), Some("3"));
    // Ann's token: 4 calls, then 429; anonymous reads from the same IP go on.
    let statuses: Vec<u16> = (0..5).map(|_| api.get("/api/users/me", Some(&ann)).status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
    assert_eq!(api.get("/api/movies", None).status, 200);
}

#[test]
fn failed_logins_lock_an_account_whatever_the_ip_while_others_log_in() {
    // Behind one trusted proxy: each request claims its own client IP.
    let api = with(&[("rate_limit_login_failures", "3/1h"), ("trusted_proxy_hops", "1")]);
    api.register("bea@example.com", "bea");
    api.register("cid@example.com", "cid");
    let login = |email: &str, password: &str, ip: &str| {
        let body = json!({"email": email, "password": password}).to_string();
        call(
            "POST",
            &api.url("/api/users/login"),
            &[("content-type", "application/json"), ("x-forwarded-for", ip)],
            &body,
        )
    };
    for (i, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        assert_eq!(login("bea@example.com", "wrong-pass", ip).status, 401, "guess {i}");
    }
    // The right password, from a fresh IP: still refused until the window ends.
    let locked = login("BEA@example.com", PASSWORD, "10.0.0.4");
    assert_error(&locked, 429, "rate_limited");
    assert_eq!(locked.header("x-ratelimit-limit"), Some("3"), "the account's limit");
    assert!(locked.header("retry-after").is_some());
    assert_eq!(
        login("cid@example.com", PASSWORD, "10.0.0.4").status,
        200,
        "other accounts log in"
    );
}

#[test]
fn forwarded_for_counts_only_when_the_operator_trusts_a_proxy() {
    let get = |api: &Api, ip: &str| call("GET", &api.url("/api/movies"), &[("x-forwarded-for", ip)], "");
    // Not trusted: changing X-Forwarded-For does not make a new client.
    let api = with(&[("rate_limit_anonymous", "2/1h")]);
    let statuses: Vec<u16> = ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
        .iter()
        .map(|ip| get(&api, ip).status)
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    drop(api);
    // One trusted hop: the address it recorded is the client.
    let api = with(&[("rate_limit_anonymous", "2/1h"), ("trusted_proxy_hops", "1")]);
    let statuses: Vec<u16> = ["1.1.1.1", "1.1.1.1", "1.1.1.1", "2.2.2.2"]
        .iter()
        .map(|ip| get(&api, ip).status)
        .collect();
    assert_eq!(statuses, [200, 200, 429, 200]);
    // The client's own entries left of the proxy's do not matter.
    assert_eq!(get(&api, "9.9.9.9, 1.1.1.1").status, 429);
}

/// A stand-in for the ratings service: answers its health at once and
/// other calls with 200, or, for the methods in `hang`, reads the request
/// and never answers.
struct Upstream {
    url: String,
    hang: Arc<Mutex<Vec<&'static str>>>,
    calls: Arc<AtomicUsize>,
}

fn upstream(hang: &[&'static str]) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hang = Arc::new(Mutex::new(hang.to_vec()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (h, c) = (hang.clone(), calls.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (h, c) = (h.clone(), c.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let method = head.split(' ').next().unwrap_or_default().to_owned();
                let body = if head.contains("/health/") {
                    r#"{"service":"ratings","status":"ok"}"#
                } else {
                    c.fetch_add(1, Ordering::SeqCst);
                    if h.lock().unwrap().contains(&method.as_str()) {
                        std::thread::sleep(Duration::from_secs(5));
                        return;
                    }
                    r#"{"movieId":"m","average":0,"count":0,"distribution":{}}"#
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    Upstream { url, hang, calls }
}

const MOVIE: &str = "0192f3a4-0000-7000-8000-000000000000";

fn breakers(api: &Api) -> (u16, serde_json::Value) {
    let r = api.get("/health", None);
    (r.status, r.json())
}

#[test]
fn a_failing_route_group_opens_its_own_breaker_while_the_services_other_routes_go_on() {
    let ratings = upstream(&["POST"]);
    let api = with(&[
        ("ratings_url", &ratings.url),
        ("upstream_timeout_ms", "300"),
        ("breaker_min_calls", "3"),
        ("breaker_open_s", "2"),
    ]);
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let rate = || {
        api.send(
            "POST",
            &format!("/api/ratings/{MOVIE}"),
            Some(&ana),
            Some(&json!({"score": 4})),
        )
    };
    let stats = format!("/api/ratings/movie/{MOVIE}/stats");
    // Three writes wait out the deadline: 503, and each reached the service.
    for i in 0..3 {
        let r = rate();
        assert_error(&r, 503, "service_unavailable");
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains("300 ms"), "{i}: {message}");
    }
    assert_eq!(ratings.calls.load(Ordering::SeqCst), 3);
    // The writes' breaker is open: refused without calling the service, with Retry-After.
    let open = rate();
    assert_error(&open, 503, "service_unavailable");
    let message = open.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("circuit open"), "{message}");
    assert!(open.header("retry-after").is_some());
    assert_eq!(ratings.calls.load(Ordering::SeqCst), 3, "no call while open");
    // The same service's statistics are another group: served.
    assert_eq!(api.get(&stats, None).status, 200);
    assert_eq!(ratings.calls.load(Ordering::SeqCst), 4);
    // Health says which breaker is open, and that the app is degraded.
    let (status, health) = breakers(&api);
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["services"]["ratings"], "ok", "the service itself answers");
    assert_eq!(health["breakers"]["ratings.writes"]["state"], "open", "{health}");
    assert_eq!(health["breakers"]["ratings.writes"]["failures"], 3);
    assert_eq!(health["breakers"]["ratings.stats"]["state"], "closed");
    assert_eq!(health["breakers"]["movies.catalogue"]["state"], "closed");

    // The service recovers; after open_s one probe goes through and closes it.
    ratings.hang.lock().unwrap().clear();
    eventually("the breaker closes", Duration::from_secs(10), || rate().status == 200);
    assert_eq!(rate().status, 200);
    let (status, health) = breakers(&api);
    assert_eq!((status, &health["status"]), (200, &json!("ok")), "{health}");
    assert_eq!(health["breakers"]["ratings.writes"]["state"], "closed");
    let transitions = api
        .host
        .json_lines(&[("msg", "circuit breaker"), ("breaker", "ratings.writes")]);
    let changes: Vec<&str> = transitions.iter().map(|l| l["change"].as_str().unwrap()).collect();
    assert!(changes.first().is_some_and(|c| c.starts_with("opened")), "{changes:?}");
    assert!(changes.last().is_some_and(|c| c.starts_with("closed")), "{changes:?}");
}

#[test]
fn anonymous_calls_never_open_a_breaker_for_others_and_a_client_that_keeps_failing_is_refused_alone() {
    let ratings = upstream(&["GET"]);
    // Behind one trusted proxy, each request names its client.
    let api = with(&[
        ("ratings_url", &ratings.url),
        ("upstream_timeout_ms", "300"),
        ("breaker_min_calls", "3"),
        ("trusted_proxy_hops", "1"),
    ]);
    let stats = api.url(&format!("/api/ratings/movie/{MOVIE}/stats"));
    let from = |ip: &str| call("GET", &stats, &[("x-forwarded-for", ip)], "");
    // One client's calls time out: after as many failures as would open a
    // breaker at its fewest calls (half of 3: 2), that client is refused.
    for _ in 0..2 {
        let r = from("10.0.0.1");
        assert_error(&r, 503, "service_unavailable");
        assert!(r.body.contains("300 ms"), "{}", r.body);
    }
    let refused = from("10.0.0.1");
    assert_error(&refused, 503, "service_unavailable");
    assert!(
        refused.body.contains("circuit open for this client"),
        "{}",
        refused.body
    );
    assert!(refused.header("retry-after").is_some());
    assert_eq!(ratings.calls.load(Ordering::SeqCst), 2, "refused at once");
    // Another client still reaches the service.
    let other = from("10.0.0.2");
    assert!(other.body.contains("300 ms"), "{}", other.body);
    assert_eq!(ratings.calls.load(Ordering::SeqCst), 3);
    // Ten more anonymous failures from ten clients: the shared breaker never counted them.
    for i in 0..10 {
        from(&format!("10.0.1.{i}"));
    }
    let (status, health) = breakers(&api);
    assert_eq!((status, &health["status"]), (200, &json!("ok")), "{health}");
    assert_eq!(health["breakers"]["ratings.stats"]["state"], "closed");
    assert_eq!(health["breakers"]["ratings.stats"]["calls"], 0, "{health}");
    // Once it answers, everyone who was not refused is served.
    ratings.hang.lock().unwrap().clear();
    assert_eq!(from("10.0.0.2").status, 200);
}

#[test]
fn media_routes_failing_never_refuse_catalogue_reads() {
    // The embedded default: no Cloudinary. Every media call is a
    // deliberate 503 naming it, anonymous or an admin's.
    let api = with(&[("breaker_min_calls", "3")]);
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    for _ in 0..12 {
        let r = api.send("POST", "/api/movies/cloudinary/notify", None, Some(&json!({})));
        assert_error(&r, 503, "media_not_configured");
        let r = api.send(
            "POST",
            &format!("/api/movies/{movie}/video/upload-signature"),
            Some(&admin),
            None,
        );
        assert_error(&r, 503, "media_not_configured");
        assert!(
            r.header("streamia-dependency").is_none(),
            "the gateway keeps that header to itself"
        );
    }
    // Uncached reads reach the movies service: all served.
    for page in 2..8 {
        let r = api.get(&format!("/api/movies?page={page}"), None);
        assert_eq!((r.status, r.header("x-cache")), (200, Some("miss")), "{}", r.body);
    }
    assert_eq!(api.get(&format!("/api/movies/{movie}"), None).status, 200);
    let (status, health) = breakers(&api);
    assert_eq!((status, &health["status"]), (200, &json!("ok")), "{health}");
    for group in ["movies.media", "movies.catalogue"] {
        assert_eq!(health["breakers"][group]["state"], "closed", "{health}");
        assert_eq!(health["breakers"][group]["failures"], 0, "{group}: {health}");
    }
}

#[test]
fn metrics_are_prometheus_text_for_the_operators_token_only() {
    const TOKEN: &str = "metrics-token-for-the-test";
    let api = with(&[("metrics_token", TOKEN), ("rate_limit_anonymous", "5/1h")]);
    let admin = api.admin();
    let movie = api.movie(&admin, "Metered");
    for _ in 0..3 {
        assert_eq!(api.get(&format!("/api/movies/{movie}"), None).status, 200);
    }
    assert_eq!(
        api.get("/api/movies/0192f3a4-0000-7000-8000-000000000000", None).status,
        404
    );
    assert_eq!(api.get("/api/nothing/at/all", None).status, 404);
    while api.get("/api/movies", None).status != 429 {}
    api.settled();

    let scrape = |token: Option<&str>| {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        call("GET", &api.url("/metrics"), &headers, "")
    };
    let anonymous = scrape(None);
    assert_error(&anonymous, 401, "unauthorized");
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    assert_error(&scrape(Some("a-guess")), 403, "forbidden");
    let r = scrape(Some(TOKEN));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.body;
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(
        value(r#"streamia_http_requests_total{route="/api/movies/{id}",method="GET",status="200"}"#),
        3.0
    );
    assert_eq!(
        value(r#"streamia_http_requests_total{route="/api/movies/{id}",method="GET",status="404"}"#),
        1.0
    );
    assert_eq!(
        value(r#"streamia_http_requests_total{route="unmatched",method="GET",status="404"}"#),
        1.0
    );
    assert_eq!(value(r#"streamia_rate_limited_total{scope="anonymous"}"#), 1.0);
    for le in ["0.1", "0.3", "1.2", "5", "+Inf"] {
        let series =
            format!(r#"streamia_http_request_duration_seconds_bucket{{route="/api/movies/{{id}}",le="{le}"}}"#);
        assert!(value(&series) >= 1.0, "{series}");
    }
    assert_eq!(
        value(r#"streamia_http_request_duration_seconds_count{route="/api/movies/{id}"}"#),
        4.0
    );
    assert_eq!(
        value(r#"streamia_circuit_breaker_open{service="movies",group="catalogue"}"#),
        0.0
    );
    assert_eq!(
        value(r#"streamia_circuit_breaker_open{service="movies",group="media"}"#),
        0.0
    );
    // The admin's registration and the movie's creation were published.
    assert!(value(r#"streamia_events_published_total{service="users"}"#) >= 1.0);
    assert!(value(r#"streamia_events_published_total{service="movies"}"#) >= 1.0);
    assert!(value(r#"streamia_events_consumed_total{service="notifications"}"#) >= 1.0);
    assert_eq!(value(r#"streamia_events_dead_letters{service="favorites"}"#), 0.0);
    assert!(
        !text.contains(ADMIN_EMAIL) && !text.contains(&admin),
        "no personal data or tokens"
    );

    // Off: no counting and no route.
    drop(api);
    let off = with(&[("metrics_token", TOKEN), ("metrics", "off")]);
    let r = call(
        "GET",
        &off.url("/metrics"),
        &[("authorization", &format!("Bearer {TOKEN}"))],
        "",
    );
    assert_error(&r, 404, "not_found");
}

#[test]
fn gateway_replicas_on_one_redis_share_their_limits_and_metrics() {
    const TOKEN: &str = "metrics-token-for-the-replicas";
    let redis = Redis::start();
    // As runtime-config.redis.toml wires it, on this test's Redis.
    let replica = || {
        let mut app = app()
            .env("SPIN_VARIABLE_RATE_LIMIT_ANONYMOUS", "4/1h")
            .env("SPIN_VARIABLE_METRICS_TOKEN", TOKEN);
        let config = app.runtime_config.as_mut().unwrap();
        let in_memory = "[key_value_store.gateway]\ntype = \"spin\"\n";
        assert!(config.contains(in_memory), "{config}");
        *config = config.replace(
            in_memory,
            &format!(
                "[key_value_store.gateway]\ntype = \"redis\"\nurl = \"{}/1\"\n",
                redis.url()
            ),
        );
        Api { host: app.start() }
    };
    let (a, b) = (replica(), replica());
    let statuses: Vec<u16> = [&a, &b, &a, &b, &a, &b]
        .iter()
        .map(|r| r.get("/api/movies", None).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "one limit for both replicas");
    let metrics = call(
        "GET",
        &b.url("/metrics"),
        &[("authorization", &format!("Bearer {TOKEN}"))],
        "",
    )
    .body;
    for line in [
        r#"streamia_http_requests_total{route="/api/movies",method="GET",status="200"} 4"#,
        r#"streamia_http_requests_total{route="/api/movies",method="GET",status="429"} 2"#,
        r#"streamia_rate_limited_total{scope="anonymous"} 2"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line} in\n{metrics}");
    }
}

#[test]
fn without_a_metrics_token_nobody_reads_the_metrics() {
    let api = with(&[]);
    let anonymous = api.get("/metrics", None);
    assert_error(&anonymous, 401, "unauthorized");
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    let r = call("GET", &api.url("/metrics"), &[("authorization", "Bearer a-guess")], "");
    assert_error(&r, 403, "forbidden");
}

#[test]
fn calls_over_a_services_bulkhead_are_refused_at_once_and_others_go_on() {
    const TOKEN: &str = "metrics-token-for-the-bulkhead";
    let ratings = upstream(&["GET"]);
    let api = with(&[
        ("ratings_url", &ratings.url),
        ("upstream_timeout_ms", "1500"),
        ("bulkhead_per_service", "2"),
        ("metrics_token", TOKEN),
    ]);
    let stats = api.url(&format!("/api/ratings/movie/{MOVIE}/stats"));
    // Two calls wait on the hanging service, from two clients.
    let waiting: Vec<_> = ["10.0.0.1", "10.0.0.2"]
        .into_iter()
        .map(|ip| {
            let url = stats.clone();
            std::thread::spawn(move || call("GET", &url, &[("x-forwarded-for", ip)], ""))
        })
        .collect();
    eventually("two calls in flight", Duration::from_secs(5), || {
        ratings.calls.load(Ordering::SeqCst) == 2
    });
    // The third is refused at once (not after the deadline), without reaching the service.
    let refused = api.get(&format!("/api/ratings/movie/{MOVIE}/stats"), None);
    assert_error(&refused, 503, "overloaded");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(ratings.calls.load(Ordering::SeqCst), 2);
    // Other services are not behind this bulkhead.
    assert_eq!(api.get("/api/movies", None).status, 200);
    for w in waiting {
        assert_error(&w.join().unwrap(), 503, "service_unavailable");
    }
    // Once they ended, calls go through again.
    ratings.hang.lock().unwrap().clear();
    assert_eq!(api.get(&format!("/api/ratings/movie/{MOVIE}/stats"), None).status, 200);
    let metrics = call(
        "GET",
        &api.url("/metrics"),
        &[("authorization", &format!("Bearer {TOKEN}"))],
        "",
    )
    .body;
    for line in [
        r#"streamia_bulkhead_rejected_total{bulkhead="ratings"} 1"#,
        r#"streamia_in_flight_limit{bulkhead="ratings"} 2"#,
        r#"streamia_in_flight{bulkhead="ratings"} 0"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line} in\n{metrics}");
    }
}

#[test]
fn sign_ins_beyond_the_hash_capacity_are_refused_fast_with_retry_after() {
    let api = with(&[("sign_in_concurrency", "1")]);
    api.register("ana@example.com", "ana");
    let login = json!({"email": "ana@example.com", "password": PASSWORD}).to_string();
    let url = api.url("/api/users/login");
    // Eight at once: each thread waits for the others before it sends.
    let start = Arc::new(std::sync::Barrier::new(8));
    let replies: Vec<_> = (0..8)
        .map(|_| {
            let (url, login, start) = (url.clone(), login.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                call("POST", &url, &[("content-type", "application/json")], &login)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(ok >= 1, "one at a time gets through");
    assert_eq!(
        ok + refused.len(),
        8,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(!refused.is_empty(), "eight at once cannot all hash at once");
    for r in &refused {
        assert_error(r, 503, "overloaded");
        assert_eq!(r.header("retry-after"), Some("1"));
    }
}
