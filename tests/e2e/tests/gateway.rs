//! The gateway: routing, health, CORS, request log, services not deployed.

mod common;

use common::{assert_error, call, start};

#[test]
fn unknown_routes_get_a_json_404() {
    let api = start();
    for path in ["/api", "/api/nothing/here", "/users/login"] {
        assert_error(&api.get(path, None), 404, "not_found");
    }
}

#[test]
fn a_method_a_path_does_not_take_is_405_with_the_methods_it_does() {
    let api = start();
    for (method, path, allow) in [
        ("TRACE", "/api/movies", "GET, HEAD, POST, OPTIONS"),
        ("DELETE", "/api/movies", "GET, HEAD, POST, OPTIONS"),
        (
            "POST",
            "/api/movies/0192f3a4-0000-7000-8000-000000000000",
            "GET, HEAD, PUT, PATCH, DELETE, OPTIONS",
        ),
        ("PUT", "/api/comments/pending", "GET, HEAD, OPTIONS"),
        ("GET", "/api/users/login", "POST, OPTIONS"),
        ("DELETE", "/health", "GET, HEAD, OPTIONS"),
        ("POST", "/metrics", "GET, HEAD, OPTIONS"),
        ("PATCH", "/api/openapi.json", "GET, HEAD, OPTIONS"),
    ] {
        let r = call(method, &api.url(path), &[], "");
        assert_error(&r, 405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
    // Not a path of the API at all: 404, whatever the method.
    assert_error(&call("TRACE", &api.url("/api/nothing"), &[], ""), 404, "not_found");
    // OPTIONS that is no CORS preflight: the methods, 204.
    let options = call("OPTIONS", &api.url("/api/favorites/abc"), &[], "");
    assert_eq!(options.status, 204, "{}", options.body);
    assert_eq!(options.header("allow"), Some("POST, DELETE, OPTIONS"));
    // HEAD is GET without the body.
    let head = call("HEAD", &api.url("/api/movies"), &[], "");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
}

#[test]
fn a_json_body_that_is_not_an_object_is_400_and_changes_nothing() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let auth = format!("Bearer {ana}");
    for body in ["[]", "[\"note\"]", "\"note\"", "null", "42"] {
        let r = call(
            "POST",
            &api.url(&format!("/api/favorites/{movie}")),
            &[("authorization", &auth), ("content-type", "application/json")],
            body,
        );
        assert_error(&r, 400, "invalid_json");
    }
    let check = api.get(&format!("/api/favorites/{movie}/check"), Some(&ana));
    assert_eq!(check.json()["isFavorite"], false, "{}", check.body);
}

#[test]
fn health_reports_the_gateway_and_each_deployed_service() {
    let api = start();
    let r = api.get("/health", None);
    assert_eq!(r.status, 200, "{}", r.body);
    for service in ["users", "movies", "favorites", "ratings", "comments", "notifications"] {
        assert_eq!(r.json()["services"][service], "ok", "{}", r.body);
        let one = api.get(&format!("/health/{service}"), None);
        assert_eq!(one.json()["checks"]["sqlite"], true, "{service}: {}", one.body);
    }
    assert_eq!(r.json()["status"], "ok");
    let breakers = r.json()["breakers"].clone();
    for group in [
        "movies.catalogue",
        "movies.media",
        "users.sign-in",
        "ratings.stats",
        "comments.threads",
    ] {
        assert_eq!(breakers[group]["state"], "closed", "{group}: {breakers}");
    }
    assert_eq!(api.get("/health/live", None).status, 200);
    assert_eq!(api.get("/health/ready", None).status, 200);
    let users = api.get("/health/users", None);
    assert_eq!(users.status, 200, "{}", users.body);
    assert_eq!(users.json()["checks"]["sqlite"], true);
    assert_error(&api.get("/health/nope", None), 404, "not_found");
}

#[test]
fn services_not_deployed_answer_503_after_the_token_check() {
    let api = common::Api {
        host: common::app()
            .env("SPIN_VARIABLE_ENABLED_SERVICES", "users,movies")
            .start(),
    };
    assert_error(&api.get("/health/comments", None), 503, "service_unavailable");
    assert_error(&api.get("/api/comments/movie/1", None), 503, "service_unavailable");
    assert_error(&api.get("/api/favorites", None), 401, "unauthorized");
    let (_, token, _) = api.register("ana@example.com", "ana");
    assert_error(&api.get("/api/favorites", Some(&token)), 503, "service_unavailable");
}

#[test]
fn cors_preflight_and_responses_follow_cors_origins() {
    let api = start();
    let url = api.url("/api/users/login");
    let ok = call(
        "OPTIONS",
        &url,
        &[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
        "",
    );
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(ok.header("access-control-allow-origin"), Some("http://localhost:5173"));
    assert!(ok.header("access-control-allow-methods").unwrap().contains("POST"));
    assert!(ok
        .header("access-control-allow-headers")
        .unwrap()
        .contains("authorization"));

    let refused = call(
        "OPTIONS",
        &url,
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    );
    assert_error(&refused, 403, "forbidden");
    assert_eq!(refused.header("access-control-allow-origin"), None);

    let get = call(
        "GET",
        &api.url("/health/live"),
        &[("origin", "http://localhost:5173")],
        "",
    );
    assert_eq!(get.header("access-control-allow-origin"), Some("http://localhost:5173"));
    let get = call(
        "GET",
        &api.url("/health/live"),
        &[("origin", "https://evil.example")],
        "",
    );
    assert_eq!(get.header("access-control-allow-origin"), None);
}

#[test]
fn every_request_gets_one_json_log_line_per_component_with_its_request_and_trace_ids() {
    let api = start();
    let (user, token, _) = api.register("log@example.com", "logger");
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let bearer = format!("Bearer {token}");
    let headers = [
        ("x-request-id", "log-check-1"),
        ("traceparent", traceparent.as_str()),
        ("authorization", bearer.as_str()),
    ];
    assert_eq!(call("GET", &api.url("/api/users/me"), &headers, "").status, 200);
    let lines = |id: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let lines = api.host.json_lines(&[("msg", "request"), ("requestId", id)]);
            if lines.len() >= 2 || std::time::Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    // The gateway's line and the users service's, tied by both ids.
    let both = lines("log-check-1");
    let of = |service: &str| {
        let mine: Vec<_> = both.iter().filter(|l| l["service"] == service).collect();
        assert_eq!(mine.len(), 1, "one {service} line: {both:?}");
        mine[0].clone()
    };
    let gateway = of("gateway");
    assert_eq!(gateway["route"], "/api/users/me");
    assert_eq!(gateway["path"], "/api/users/me");
    assert_eq!(gateway["method"], "GET");
    assert_eq!(gateway["status"], 200);
    assert_eq!(gateway["upstream"], "users");
    assert_eq!(gateway["userId"], user["id"]);
    assert_eq!(gateway["traceId"], trace);
    assert!(gateway["durationMs"].is_number());
    let users = of("users");
    assert_eq!(users["status"], 200);
    assert_eq!(users["route"], "/api/users/me");
    assert_eq!(users["traceId"], trace, "the trace crosses the service call");
    assert!(!api.host.log().contains(&token), "tokens never reach the log");

    // Refused at the gateway: its line only.
    let r = call("GET", &api.url("/api/users/me"), &[("x-request-id", "log-check-2")], "");
    assert_eq!(r.status, 401);
    let refused = lines("log-check-2");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["status"], 401);
    assert_eq!(refused[0]["traceId"], serde_json::Value::Null);
}

#[test]
fn every_consuming_service_lists_its_dead_letters_to_an_admin() {
    let api = start();
    let admin = api.admin();
    for service in ["movies", "favorites", "ratings", "comments", "notifications"] {
        let r = api.get(&format!("/api/admin/events/{service}/dead-letters"), Some(&admin));
        assert_eq!(r.status, 200, "{service}: {}", r.body);
        assert_eq!(r.json()["data"], serde_json::json!([]), "{service}");
    }
}
