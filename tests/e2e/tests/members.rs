//! Admins manage others' accounts through the gateway: look one up,
//! suspend and reactivate it, delete it (the deletion saga, as when its
//! owner deletes it).

mod common;

use std::time::Duration;

use common::{assert_error, eventually, json_of, start, Api, PASSWORD};
use serde_json::{json, Value};

fn login(api: &Api, email: &str) -> streamia_testkit::Reply {
    api.post("/api/users/login", json!({"email": email, "password": PASSWORD}))
}

/// The claims of a JWT (its middle part), as any client can read them.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let mut bits = 0u32;
    let mut n = 0;
    let mut bytes = Vec::new();
    for c in payload.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
        }
    }
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn admins_suspend_and_reactivate_an_account() {
    let api = start();
    let admin = api.admin();
    let (ana, ana_token, ana_refresh) = api.register("ana@example.com", "ana");
    let ana_path = format!("/api/users/{}", ana["id"].as_str().unwrap());
    let one = json_of(&api, &ana_path, Some(&admin));
    assert_eq!(
        (one["email"].as_str(), one["suspendedAt"].is_null()),
        (Some("ana@example.com"), true)
    );
    assert_error(&api.get(&ana_path, Some(&ana_token)), 403, "forbidden");
    assert_error(&api.get(&ana_path, None), 401, "unauthorized");
    assert_error(&api.get("/api/users/no-such-id", Some(&admin)), 404, "not_found");
    // Only the named routes are not ids: `password` is one only under /password/….
    assert_error(&api.get("/api/users/password", Some(&admin)), 404, "not_found");

    let suspend = format!("{ana_path}/suspend");
    assert_error(&api.send("POST", &suspend, Some(&ana_token), None), 403, "forbidden");
    let r = api.send("POST", &suspend, Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let at = r.json()["suspendedAt"].as_str().unwrap().to_owned();
    assert_eq!(
        api.send("POST", &suspend, Some(&admin), None).json()["suspendedAt"],
        at.as_str(),
        "suspending again changes nothing"
    );
    assert_error(&login(&api, "ana@example.com"), 403, "account_suspended");
    let refresh = api.post("/api/users/refresh", json!({"refreshToken": ana_refresh}));
    assert_error(&refresh, 401, "unauthorized");
    assert_error(
        &api.send(
            "PATCH",
            "/api/users/me",
            Some(&ana_token),
            Some(&json!({"username": "ana2"})),
        ),
        403,
        "account_suspended",
    );
    // Her access token is her last: no renewal, and it expires on its own.
    let token = claims(&ana_token);
    let lifetime = token["exp"].as_u64().unwrap() - token["iat"].as_u64().unwrap();
    assert!(lifetime <= 15 * 60, "{token}");
    let listed = json_of(&api, "/api/users?limit=10", Some(&admin));
    let row = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == ana["id"])
        .unwrap();
    assert_eq!(row["suspendedAt"], at.as_str());

    let admin_id = json_of(&api, "/api/users/me", Some(&admin))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api.send("POST", &format!("/api/users/{admin_id}/suspend"), Some(&admin), None);
    assert_error(&r, 422, "admin_account");

    let r = api.send("POST", &format!("{ana_path}/reactivate"), Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["suspendedAt"].is_null());
    assert_eq!(login(&api, "ana@example.com").status, 200);
    assert_error(
        &api.send("PUT", &suspend, Some(&admin), None),
        405,
        "method_not_allowed",
    );
}

#[test]
fn an_admin_deletes_an_account_and_the_saga_clears_it() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (bob, bob_token, _) = api.register("bob@example.com", "bob");
    let ok = |r: streamia_testkit::Reply| assert!(r.status < 300, "{}", r.body);
    ok(api.send("POST", &format!("/api/favorites/{movie}"), Some(&bob_token), None));
    ok(api.send(
        "POST",
        &format!("/api/ratings/{movie}"),
        Some(&bob_token),
        Some(&json!({"score": 5})),
    ));
    let bob_path = format!("/api/users/{}", bob["id"].as_str().unwrap());
    let stats = || json_of(&api, &format!("/api/ratings/movie/{movie}/stats"), None)["count"].as_u64();
    assert_eq!(stats(), Some(1));

    let admin_id = json_of(&api, "/api/users/me", Some(&admin))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api.send("DELETE", &format!("/api/users/{admin_id}"), Some(&admin), None);
    assert_error(&r, 422, "admin_account");
    assert_error(&api.send("DELETE", &bob_path, Some(&bob_token), None), 403, "forbidden");
    let r = api.send("DELETE", &bob_path, Some(&admin), None);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_error(&api.get(&bob_path, Some(&admin)), 404, "not_found");
    assert_error(&api.send("DELETE", &bob_path, Some(&admin), None), 404, "not_found");
    assert_error(&login(&api, "bob@example.com"), 401, "invalid_credentials");
    eventually("the saga dropped his rating", Duration::from_secs(20), || {
        stats() == Some(0)
    });
    eventually("and ended his favourites", Duration::from_secs(20), || {
        api.get("/api/favorites", Some(&bob_token)).status == 401
    });
    let deleted = api.received_of("user.deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["envelope"]["data"]["userId"], bob["id"]);
    let told = api.received_of("notification.send_email");
    assert_eq!(told[0]["envelope"]["data"]["to"], "bob@example.com");
}
