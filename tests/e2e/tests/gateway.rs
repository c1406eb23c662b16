//! The gateway: routing, health, CORS, request log, services not deployed.

mod common;

use common::{assert_error, call, start};

#[test]
fn unknown_routes_get_a_json_404() {
    let api = start();
    for path in ["/", "/api", "/api/nothing/here", "/users/login"] {
        assert_error(&api.get(path, None), 404, "not_found");
    }
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
fn every_request_gets_one_json_log_line() {
    let api = start();
    let r = call("GET", &api.url("/api/users/me"), &[("x-request-id", "log-check-1")], "");
    assert_eq!(r.status, 401);
    let log = api.host.wait_for_log("\"requestId\":\"log-check-1\"");
    // The gateway's line is JSON; devhost tags component output with its
    // id, Spin passes it on as it is: read from the first brace.
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(&l[l.find('{')?..]).ok())
        .filter(|j: &serde_json::Value| j["requestId"] == "log-check-1")
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    let json = &lines[0];
    assert_eq!(json["status"], 401);
    assert_eq!(json["method"], "GET");
    assert_eq!(json["path"], "/api/users/me");
    assert_eq!(json["service"], "users");
}
