//! Comments through the gateway: threads, edits, soft deletion, moderation.

mod common;

use std::time::Duration;

use common::{assert_error, eventually, json_of, start, Api};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[test]
fn threads_are_listed_newest_first_with_reply_counts_and_nest_to_any_depth() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (ana_user, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");

    let first = api.comment(&ana, &movie, "Best film ever", None);
    assert_eq!(first["userId"], ana_user["id"]);
    assert_eq!(first["movieId"], movie.as_str());
    assert_eq!(first["parentId"], Value::Null);
    assert_eq!(first["isEdited"], false);
    assert_eq!(first["isDeleted"], false);
    assert_eq!(first["moderationStatus"], "approved");
    assert_eq!(first["replyCount"], 0);
    let second = api.comment(&bob, &movie, "Second!", None);
    let reply = api.comment(&bob, &movie, "Agreed", Some(&id(&first)));
    let deeper = api.comment(&ana, &movie, "Thanks", Some(&id(&reply)));
    assert_eq!(deeper["parentId"], reply["id"]);

    // Public, no token.
    let top = api.get(&format!("/api/comments/movie/{movie}"), None);
    assert_eq!(top.status, 200, "{}", top.body);
    let top = top.json();
    assert_eq!(top["pagination"]["total"], 2, "replies are not top level");
    assert_eq!(top["data"][0]["id"], second["id"]);
    assert_eq!(top["data"][1]["replyCount"], 1);
    let replies = api.get(&format!("/api/comments/{}/replies", id(&reply)), None).json();
    assert_eq!(replies["data"][0]["id"], deeper["id"]);
    assert_eq!(replies["data"][0]["content"], "Thanks");
    assert_error(&api.get("/api/comments/nope/replies", None), 404, "not_found");

    // A parent on another movie, or none at all, is refused.
    let other = api.movie(&admin, "Heat");
    let r = api.send(
        "POST",
        &format!("/api/comments/movie/{other}"),
        Some(&bob),
        Some(&json!({"content": "x", "parentId": id(&first)})),
    );
    assert_error(&r, 422, "parent_not_found");
    let r = api.send(
        "POST",
        &format!("/api/comments/movie/{other}"),
        Some(&bob),
        Some(&json!({"content": "x", "parentId": "no such comment"})),
    );
    assert_error(&r, 422, "parent_not_found");
    assert_eq!(api.received_of("comment.created").len(), 4);
}

#[test]
fn comments_name_their_authors_and_follow_a_rename() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    let first = api.comment(&ana, &movie, "Best film ever", None);
    api.comment(&bob, &movie, "Agreed", Some(&id(&first)));
    let names = || {
        let top = &json_of(&api, &format!("/api/comments/movie/{movie}"), None)["data"][0];
        let reply = &json_of(&api, &format!("/api/comments/{}/replies", id(&first)), None)["data"][0];
        (top["authorName"].clone(), reply["authorName"].clone())
    };
    eventually("the names reach the comments", Duration::from_secs(10), || {
        names() == (json!("ana"), json!("bob"))
    });
    let r = api.send(
        "PATCH",
        "/api/users/me",
        Some(&ana),
        Some(&json!({"username": "ana_m"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    eventually("the new name follows", Duration::from_secs(10), || {
        names() == (json!("ana_m"), json!("bob"))
    });
    // Names only: never an e-mail address.
    let listed = api.get(&format!("/api/comments/movie/{movie}"), None).body;
    assert!(!listed.contains("@example.com"), "{listed}");
}

/// An app that ran before comments consumed the users' events: comments
/// know none of its accounts' names until an admin announces them again.
#[test]
fn after_an_upgrade_an_admin_announces_the_accounts_comments_never_heard_of() {
    let manifest: toml::Table = std::fs::read_to_string(streamia_testkit::workspace_root().join("spin.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let wired = manifest["variables"]["users_event_subscribers"]["default"]
        .as_str()
        .unwrap();
    // The wiring before: comments took only user.deleted; the sink sees all.
    let sink = format!("*={}", common::SINK);
    let before: Vec<&str> = wired
        .split(',')
        .filter(|e| e.starts_with("user.deleted=") || !e.ends_with("//comments.spin.internal/events"))
        .chain([sink.as_str()])
        .collect();
    let old = common::app()
        .env("SPIN_VARIABLE_USERS_EVENT_SUBSCRIBERS", &before.join(","))
        .start();
    let api = Api { host: old };
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    api.comment(&ana, &movie, "Best film ever", None);
    api.settled();
    let author =
        |api: &Api| json_of(api, &format!("/api/comments/movie/{movie}"), None)["data"][0]["authorName"].clone();
    assert_eq!(author(&api), Value::Null, "comments never heard of ana");

    // The new release, on the same state.
    let state = api.host.stop();
    let api = Api {
        host: common::app().start_in(state),
    };
    assert_eq!(author(&api), Value::Null);
    let url = "/api/users/announce?page=1&limit=100";
    assert_error(&api.send("POST", url, Some(&ana), None), 403, "forbidden");
    // The tokens from before the restart still hold (the same secret).
    let r = api.send("POST", url, Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["pagination"]["total"], 2, "the admin and ana");
    eventually("ana's name reaches her comment", Duration::from_secs(10), || {
        author(&api) == json!("ana")
    });
}

#[test]
fn the_author_edits_and_the_author_or_an_admin_deletes_keeping_the_thread() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    let c = api.comment(&ana, &movie, "Gret film", None);
    let reply = api.comment(&bob, &movie, "Typo!", Some(&id(&c)));
    let path = format!("/api/comments/{}", id(&c));

    let edited = api.send("PUT", &path, Some(&ana), Some(&json!({"content": "Great film"})));
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.json()["isEdited"], true);
    assert_eq!(edited.json()["content"], "Great film");
    assert_error(
        &api.send("PUT", &path, Some(&bob), Some(&json!({"content": "mine now"}))),
        403,
        "forbidden",
    );
    assert_error(&api.send("DELETE", &path, Some(&bob), None), 403, "forbidden");

    // The admin removes bob's reply; ana removes her own comment.
    let reply_path = format!("/api/comments/{}", id(&reply));
    assert_eq!(api.send("DELETE", &reply_path, Some(&admin), None).status, 204);
    assert_eq!(api.send("DELETE", &path, Some(&ana), None).status, 204);
    let top = api.get(&format!("/api/comments/movie/{movie}"), None).json();
    let kept = &top["data"][0];
    assert_eq!(kept["isDeleted"], true);
    assert_eq!(kept["content"], Value::Null, "the text is hidden");
    assert_eq!(kept["replyCount"], 1, "the thread is kept");
    assert_error(
        &api.send("PUT", &path, Some(&ana), Some(&json!({"content": "back"}))),
        422,
        "comment_deleted",
    );
    let deleted = api.received_of("comment.deleted");
    assert_eq!(deleted.len(), 2);
    assert_eq!(api.received_of("comment.updated").len(), 1);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let path = format!("/api/comments/movie/{movie}");
    for bad in [
        json!({"content": ""}),
        json!({"content": "   "}),
        json!({"content": "x".repeat(1001)}),
    ] {
        assert_error(
            &api.send("POST", &path, Some(&ana), Some(&bad)),
            400,
            "validation_failed",
        );
    }
    assert_error(
        &api.send("POST", &path, Some(&ana), Some(&json!({"text": "hi"}))),
        400,
        "invalid_json",
    );
    assert_error(
        &api.send("POST", &path, None, Some(&json!({"content": "hi"}))),
        401,
        "unauthorized",
    );
    assert_error(
        &api.send(
            "POST",
            "/api/comments/movie/0190c0de-0000-7000-8000-000000000000",
            Some(&ana),
            Some(&json!({"content": "hi"})),
        ),
        404,
        "not_found",
    );
    assert_error(&api.get(&format!("{path}?page=0"), None), 400, "validation_failed");
    assert_error(&api.get(&path, Some("bad-token")), 401, "unauthorized");
    let c = api.comment(&ana, &movie, "ok", None);
    let moderate = format!("/api/comments/{}/moderate", id(&c));
    assert_error(
        &api.send("PATCH", &moderate, Some(&ana), Some(&json!({"status": "approved"}))),
        403,
        "forbidden",
    );
    assert_error(
        &api.send("PATCH", &moderate, Some(&admin), Some(&json!({"status": "spam"}))),
        400,
        "validation_failed",
    );
    assert_error(&api.get("/api/comments/pending", Some(&ana)), 403, "forbidden");
    assert_eq!(api.get(&path, None).json()["pagination"]["total"], 1);
    assert_eq!(api.received_of("comment.moderated").len(), 0);
}

#[test]
fn post_moderation_shows_comments_at_once_and_admins_may_reject() {
    let api = start();
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    let spam = api.comment(&ana, &movie, "buy pills", None);
    let path = format!("/api/comments/movie/{movie}");
    assert_eq!(api.get(&path, None).json()["pagination"]["total"], 1);
    let r = api.send(
        "PATCH",
        &format!("/api/comments/{}/moderate", id(&spam)),
        Some(&admin),
        Some(&json!({"status": "rejected"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["moderationStatus"], "rejected");
    assert_eq!(api.get(&path, None).json()["pagination"]["total"], 0);
    assert_eq!(api.get(&path, Some(&bob)).json()["pagination"]["total"], 0);
    assert_eq!(
        api.get(&path, Some(&ana)).json()["pagination"]["total"],
        1,
        "authors always see their own"
    );
    assert_eq!(api.received_of("comment.moderated").len(), 1);
}

#[test]
fn pre_moderation_holds_comments_until_an_admin_approves() {
    let api = Api {
        host: common::app().env("SPIN_VARIABLE_COMMENT_MODERATION", "pre").start(),
    };
    let admin = api.admin();
    let movie = api.movie(&admin, "Alien");
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let (_, bob, _) = api.register("bob@example.com", "bob");
    let c = api.comment(&ana, &movie, "First!", None);
    assert_eq!(c["moderationStatus"], "pending");
    let path = format!("/api/comments/movie/{movie}");
    assert_eq!(api.get(&path, None).json()["pagination"]["total"], 0);
    assert_eq!(api.get(&path, Some(&bob)).json()["pagination"]["total"], 0);
    assert_eq!(api.get(&path, Some(&ana)).json()["pagination"]["total"], 1);

    let queue = api.get("/api/comments/pending", Some(&admin));
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert_eq!(queue.json()["data"][0]["id"], c["id"]);
    let r = api.send(
        "PATCH",
        &format!("/api/comments/{}/moderate", id(&c)),
        Some(&admin),
        Some(&json!({"status": "approved"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.get(&path, None).json()["pagination"]["total"], 1);
    assert_eq!(
        api.get("/api/comments/pending", Some(&admin)).json()["pagination"]["total"],
        0
    );
}
