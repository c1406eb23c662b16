//! Every users endpoint through the gateway, with its error cases.

mod common;

use common::{assert_error, start, Api, ADMIN_EMAIL, PASSWORD, SECRET};
use serde_json::json;

fn login(api: &Api, email: &str, password: &str) -> streamia_testkit::Reply {
    api.post("/api/users/login", json!({"email": email, "password": password}))
}

#[test]
fn register_returns_the_user_and_a_session() {
    let api = start();
    let r = api.post(
        "/api/users/register",
        json!({"email": "Ana@Example.com", "password": PASSWORD, "username": "ana"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(v["user"]["email"], "ana@example.com");
    assert_eq!(v["user"]["role"], "user");
    assert!(v["user"]["id"].as_str().unwrap().len() == 36);
    assert!(v["user"]["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(v["accessToken"].as_str().unwrap().split('.').count() == 3);
    assert!(v["refreshToken"].as_str().unwrap().len() >= 43);
    assert!(
        !r.body.contains("argon2") && !r.body.to_lowercase().contains("password"),
        "{}",
        r.body
    );
}

#[test]
fn register_rejects_bad_input_and_changes_nothing() {
    let api = start();
    api.register("ana@example.com", "ana");
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD, "username": "bob"}),
            400,
            "validation_failed",
        ),
        (
            json!({"email": "bob@example.com", "password": "short", "username": "bob"}),
            400,
            "validation_failed",
        ),
        (
            json!({"email": "bob@example.com", "password": PASSWORD, "username": "<b>x</b>"}),
            400,
            "validation_failed",
        ),
        (
            json!({"email": "bob@example.com", "password": PASSWORD}),
            400,
            "invalid_json",
        ),
        (
            json!({"email": "ANA@example.com", "password": PASSWORD, "username": "ana2"}),
            409,
            "conflict",
        ),
        (
            json!({"email": "eve@example.com", "password": PASSWORD, "username": "eve", "role": "admin"}),
            400,
            "invalid_json",
        ),
    ];
    for (body, status, code) in cases {
        let r = api.post("/api/users/register", body.clone());
        assert_error(&r, status, code);
        let email = body["email"].as_str().unwrap_or_default();
        if email != "ANA@example.com" {
            assert_eq!(
                login(&api, email, PASSWORD).status,
                401,
                "{body} must not have created an account"
            );
        }
    }
    let v = api
        .post(
            "/api/users/register",
            json!({"email": "x", "password": "y", "username": "z"}),
        )
        .json();
    let fields: Vec<&str> = v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password", "username"], "every bad field is listed");
}

#[test]
fn wrong_content_type_and_oversized_bodies_are_refused_before_parsing() {
    let api = start();
    let url = api.url("/api/users/register");
    let body = json!({"email": "ana@example.com", "password": PASSWORD, "username": "ana"}).to_string();
    let r = common::call("POST", &url, &[("content-type", "text/plain")], &body);
    assert_error(&r, 415, "unsupported_media_type");
    let big = format!("{{\"email\":\"{}\"}}", "a".repeat(1024 * 1024 + 1));
    let r = common::call("POST", &url, &[("content-type", "application/json")], &big);
    assert_error(&r, 413, "payload_too_large");
    let r = common::call("POST", &url, &[("content-type", "application/json")], "{not json");
    assert_error(&r, 400, "invalid_json");
    assert_eq!(login(&api, "ana@example.com", PASSWORD).status, 401);
}

#[test]
fn login_fails_identically_for_unknown_email_and_wrong_password() {
    let api = start();
    api.register("ana@example.com", "ana");
    let ok = login(&api, "ANA@example.com", PASSWORD);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["user"]["email"], "ana@example.com");
    let wrong = login(&api, "ana@example.com", "wrong-password");
    let unknown = login(&api, "nobody@example.com", PASSWORD);
    assert_error(&wrong, 401, "invalid_credentials");
    assert_error(&unknown, 401, "invalid_credentials");
    let strip = |r: &streamia_testkit::Reply| {
        let mut v = r.json();
        v["error"]["requestId"] = json!(null);
        v
    };
    assert_eq!(strip(&wrong), strip(&unknown));
}

#[test]
fn me_needs_a_valid_token() {
    let api = start();
    let (user, access, _) = api.register("ana@example.com", "ana");
    let me = api.get("/api/users/me", Some(&access));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["id"], user["id"]);

    assert_error(&api.get("/api/users/me", None), 401, "unauthorized");
    let parts: Vec<&str> = access.split('.').collect();
    let none_alg = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    let tampered = format!("{}.{}.{}x", parts[0], parts[1], parts[2]);
    let foreign = forge_hs256(user["id"].as_str().unwrap(), "some-other-secret-that-is-long-enough!!");
    for bad in [none_alg.as_str(), tampered.as_str(), foreign.as_str(), "garbage"] {
        assert_error(&api.get("/api/users/me", Some(bad)), 401, "unauthorized");
    }
    let r = common::call(
        "GET",
        &api.url("/api/users/me"),
        &[("authorization", &format!("Basic {access}"))],
        "",
    );
    assert_error(&r, 401, "unauthorized");
    assert_ne!(SECRET, "some-other-secret-that-is-long-enough!!");
}

/// A well-formed token for `sub`, signed with another secret (and claiming admin).
fn forge_hs256(sub: &str, secret: &str) -> String {
    let keys = streamia_auth::JwtKeys::new(secret).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    keys.issue(sub, streamia_auth::Role::Admin, now).unwrap().0
}

#[test]
fn refresh_rotates_and_a_reused_token_revokes_the_session() {
    let api = start();
    let (_, _, first) = api.register("ana@example.com", "ana");
    let r = api.post("/api/users/refresh", json!({"refreshToken": first}));
    assert_eq!(r.status, 200, "{}", r.body);
    let second = r.json()["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(
        api.get("/api/users/me", Some(r.json()["accessToken"].as_str().unwrap()))
            .status,
        200
    );

    assert_error(
        &api.post("/api/users/refresh", json!({"refreshToken": first})),
        401,
        "unauthorized",
    );
    assert_error(
        &api.post("/api/users/refresh", json!({"refreshToken": second})),
        401,
        "unauthorized",
    );
    assert_error(
        &api.post("/api/users/refresh", json!({"refreshToken": "made-up"})),
        401,
        "unauthorized",
    );
    assert_error(&api.post("/api/users/refresh", json!({})), 400, "invalid_json");
}

#[test]
fn logout_ends_the_session() {
    let api = start();
    let (_, _, refresh) = api.register("ana@example.com", "ana");
    let r = api.post("/api/users/logout", json!({"refreshToken": refresh}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_error(
        &api.post("/api/users/refresh", json!({"refreshToken": refresh})),
        401,
        "unauthorized",
    );
}

#[test]
fn profile_updates_validate_and_keep_emails_unique() {
    let api = start();
    let (_, access, _) = api.register("ana@example.com", "ana");
    api.register("bob@example.com", "bob");
    let r = api.send(
        "PATCH",
        "/api/users/me",
        Some(&access),
        Some(&json!({"username": "ana_m", "email": "Ana.M@example.com"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["email"], "ana.m@example.com");
    assert_eq!(r.json()["username"], "ana_m");
    assert_error(
        &api.send(
            "PATCH",
            "/api/users/me",
            Some(&access),
            Some(&json!({"email": "BOB@example.com"})),
        ),
        409,
        "conflict",
    );
    assert_error(
        &api.send("PATCH", "/api/users/me", Some(&access), Some(&json!({"email": "nope"}))),
        400,
        "validation_failed",
    );
    assert_error(
        &api.send("PATCH", "/api/users/me", Some(&access), Some(&json!({}))),
        400,
        "validation_failed",
    );
    assert_error(
        &api.send("PATCH", "/api/users/me", None, Some(&json!({"username": "x1x"}))),
        401,
        "unauthorized",
    );
    assert_eq!(
        api.get("/api/users/me", Some(&access)).json()["email"],
        "ana.m@example.com"
    );
}

#[test]
fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let api = start();
    let (_, access, refresh) = api.register("ana@example.com", "ana");
    let body = |current: &str| json!({"currentPassword": current, "newPassword": "brand-new-pass"});
    assert_error(
        &api.send("PUT", "/api/users/me/password", Some(&access), Some(&body("wrong-one"))),
        403,
        "forbidden",
    );
    assert_error(
        &api.send(
            "PUT",
            "/api/users/me/password",
            Some(&access),
            Some(&json!({"currentPassword": PASSWORD, "newPassword": "short"})),
        ),
        400,
        "validation_failed",
    );
    let r = api.send("PUT", "/api/users/me/password", Some(&access), Some(&body(PASSWORD)));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["refreshToken"].is_string());
    assert_error(
        &api.post("/api/users/refresh", json!({"refreshToken": refresh})),
        401,
        "unauthorized",
    );
    assert_eq!(login(&api, "ana@example.com", PASSWORD).status, 401);
    assert_eq!(login(&api, "ana@example.com", "brand-new-pass").status, 200);
}

#[test]
fn forgot_never_reveals_accounts_and_the_reset_token_works_once() {
    let api = start();
    let (_, _, refresh) = api.register("ana@example.com", "ana");
    let known = api.post("/api/users/password/forgot", json!({"email": "ana@example.com"}));
    let unknown = api.post("/api/users/password/forgot", json!({"email": "nobody@example.com"}));
    let malformed = api.post("/api/users/password/forgot", json!({"email": "nope"}));
    for r in [&known, &unknown, &malformed] {
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(r.body, known.body);
    }
    let events = api.received_of("password.reset.requested");
    assert_eq!(events.len(), 1, "only the real account gets a reset: {events:?}");
    let token = events[0]["envelope"]["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(events[0]["envelope"]["data"]["email"], "ana@example.com");

    assert_error(
        &api.post("/api/users/password/reset", json!({"token": token, "newPassword": "x"})),
        400,
        "validation_failed",
    );
    assert_error(
        &api.post(
            "/api/users/password/reset",
            json!({"token": "forged", "newPassword": "brand-new-pass"}),
        ),
        422,
        "invalid_token",
    );
    let r = api.post(
        "/api/users/password/reset",
        json!({"token": token, "newPassword": "brand-new-pass"}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_error(
        &api.post(
            "/api/users/password/reset",
            json!({"token": token, "newPassword": "another-pass"}),
        ),
        422,
        "invalid_token",
    );
    assert_eq!(login(&api, "ana@example.com", "brand-new-pass").status, 200);
    assert_error(
        &api.post("/api/users/refresh", json!({"refreshToken": refresh})),
        401,
        "unauthorized",
    );
}

#[test]
fn deleting_the_account_ends_it_and_emits_user_deleted() {
    let api = start();
    let (user, access, refresh) = api.register("ana@example.com", "ana");
    let r = api.send("DELETE", "/api/users/me", Some(&access), None);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_error(&api.get("/api/users/me", Some(&access)), 401, "unauthorized");
    assert_error(&login(&api, "ana@example.com", PASSWORD), 401, "invalid_credentials");
    assert_error(
        &api.post("/api/users/refresh", json!({"refreshToken": refresh})),
        401,
        "unauthorized",
    );
    let deleted = api.received_of("user.deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["envelope"]["data"]["userId"], user["id"]);
    api.register("ana@example.com", "ana");
}

#[test]
fn admins_list_users_and_change_roles() {
    let api = start();
    let admin = api.admin();
    let (ana, ana_token, _) = api.register("ana@example.com", "ana");
    assert_error(&api.get("/api/users", Some(&ana_token)), 403, "forbidden");
    assert_error(&api.get("/api/users", None), 401, "unauthorized");

    let list = api.get("/api/users?page=1&limit=1", Some(&admin));
    assert_eq!(list.status, 200, "{}", list.body);
    let v = list.json();
    assert_eq!(v["data"][0]["email"], ADMIN_EMAIL);
    assert_eq!(v["data"][0]["role"], "admin");
    assert_eq!(
        v["pagination"],
        json!({"page": 1, "limit": 1, "total": 2, "totalPages": 2})
    );
    assert_error(&api.get("/api/users?limit=500", Some(&admin)), 400, "validation_failed");
    assert_error(&api.get("/api/users?page=0", Some(&admin)), 400, "validation_failed");

    let path = format!("/api/users/{}/role", ana["id"].as_str().unwrap());
    assert_error(
        &api.send("PATCH", &path, Some(&ana_token), Some(&json!({"role": "admin"}))),
        403,
        "forbidden",
    );
    assert_error(
        &api.send("PATCH", &path, Some(&admin), Some(&json!({"role": "root"}))),
        400,
        "validation_failed",
    );
    assert_error(
        &api.send(
            "PATCH",
            "/api/users/no-such-id/role",
            Some(&admin),
            Some(&json!({"role": "admin"})),
        ),
        404,
        "not_found",
    );
    let r = api.send("PATCH", &path, Some(&admin), Some(&json!({"role": "admin"})));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["role"], "admin");
}

#[test]
fn request_ids_are_kept_or_made() {
    let api = start();
    let r = common::call("GET", &api.url("/api/users/me"), &[("x-request-id", "trace-123")], "");
    assert_eq!(r.header("x-request-id"), Some("trace-123"));
    assert_eq!(r.json()["error"]["requestId"], "trace-123");
    let r = common::call(
        "GET",
        &api.url("/api/users/me"),
        &[("x-request-id", "bad id with spaces")],
        "",
    );
    let id = r.header("x-request-id").unwrap();
    assert!(id != "bad id with spaces" && id.len() == 36, "{id}");
}
