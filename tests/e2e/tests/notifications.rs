//! Notifications end to end: events from the users service become e-mails,
//! sent through a local fake of SendGrid's v3 Mail Send API (or, on the
//! embedded default, to the log and the key-value sent log).

mod common;

use std::time::{Duration, Instant};

use common::{assert_error, eventually, Api, PASSWORD};
use serde_json::{json, Value};
use streamia_testkit::{FakeSendGrid, Redis};

const API_KEY: &str = "SG.test-key-never-logged";

fn with_sendgrid(fake: &FakeSendGrid) -> Api {
    let app = common::app()
        .env("SPIN_VARIABLE_EMAIL_PROVIDER", "sendgrid")
        .env("SPIN_VARIABLE_SENDGRID_API_KEY", API_KEY)
        .env("SPIN_VARIABLE_SENDGRID_BASE_URL", &fake.base_url())
        .env("SPIN_VARIABLE_FRONTEND_URL", "https://streamia.example")
        .env("SPIN_VARIABLE_EMAIL_MAX_ATTEMPTS", "3")
        .env("SPIN_VARIABLE_EMAIL_RETRY_BASE_MS", "50");
    Api { host: app.start() }
}

/// The whole app with its Redis consumers (spin.redis.toml), events over
/// `redis`, mail to `fake`.
fn over_redis_with_sendgrid(redis: &Redis, fake: &FakeSendGrid) -> Api {
    let app = common::app_from("spin.redis.toml")
        .env("SPIN_VARIABLE_EVENT_TRANSPORT", "redis")
        .env("SPIN_VARIABLE_REDIS_URL", &redis.url())
        .env("SPIN_VARIABLE_EMAIL_PROVIDER", "sendgrid")
        .env("SPIN_VARIABLE_SENDGRID_API_KEY", API_KEY)
        .env("SPIN_VARIABLE_SENDGRID_BASE_URL", &fake.base_url());
    Api { host: app.start() }
}

fn data_of(events: &[Value]) -> Vec<Value> {
    events.iter().map(|e| e["envelope"]["data"].clone()).collect()
}

#[test]
fn a_registration_answers_before_its_welcome_mail_is_sent() {
    let fake = FakeSendGrid::start(API_KEY);
    let api = with_sendgrid(&fake);
    // SendGrid takes the mail but does not answer until released: a
    // registration that waited for its e-mail would wait for ever.
    fake.hold();
    let (tx, rx) = std::sync::mpsc::channel();
    let url = api.url("/api/users/register");
    std::thread::spawn(move || {
        let body = json!({"email": "ana@example.com", "password": PASSWORD, "username": "ana"});
        tx.send(streamia_testkit::call(
            "POST",
            &url,
            &[("content-type", "application/json")],
            &body.to_string(),
        ))
        .ok();
    });
    let registered = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the registration answered while SendGrid held its mail");
    assert_eq!(registered.status, 201, "{}", registered.body);
    eventually("the welcome mail reached SendGrid", Duration::from_secs(20), || {
        fake.waiting() == 1
    });
    assert!(fake.requests().is_empty(), "no mail answered yet");
    fake.release();
    eventually("the mail was sent", Duration::from_secs(20), || {
        fake.delivered().len() == 1
    });
    assert_eq!(fake.delivered()[0].to(), "ana@example.com");
}

#[test]
fn registering_sends_one_welcome_mail_to_the_new_address() {
    let fake = FakeSendGrid::start(API_KEY);
    let api = with_sendgrid(&fake);
    api.register("ana@example.com", "ana");

    eventually("the welcome mail was sent", Duration::from_secs(20), || {
        !fake.delivered().is_empty()
    });
    let mails = fake.delivered();
    assert_eq!(mails.len(), 1, "{:?}", fake.requests());
    let mail = &mails[0];
    assert_eq!(mail.to(), "ana@example.com");
    assert_eq!(mail.body["from"]["email"], "no-reply@streamia.example");
    assert!(mail.body["subject"].as_str().unwrap().contains("Welcome"));
    assert!(mail.content("text/plain").contains("ana"));
    assert!(mail.content("text/html").contains("<h1>Welcome to Streamia, ana!</h1>"));

    let sent = data_of(&api.received_of("notification.sent"));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["template"], "welcome");
    assert_eq!(sent[0]["provider"], "sendgrid");
    assert_eq!(sent[0]["messageId"], "fake-1");
    let registered = api.received_of("user.registered");
    assert_eq!(sent[0]["sourceEventId"], registered[0]["envelope"]["eventId"]);

    // The same event again (at-least-once delivery) sends nothing more.
    let again = api.deliver("notifications", &registered[0]["envelope"]);
    assert_eq!(again.json()["result"], "duplicate", "{}", again.body);
    assert_eq!(fake.requests().len(), 1);
    assert!(!api.host.log().contains(API_KEY), "the API key never reaches the log");
}

#[test]
fn a_reset_mail_carries_a_token_that_resets_the_password() {
    let fake = FakeSendGrid::start(API_KEY);
    let api = with_sendgrid(&fake);
    api.register("ana@example.com", "ana");
    let r = api.post("/api/users/password/forgot", json!({"email": "ana@example.com"}));
    assert_eq!(r.status, 202, "{}", r.body);
    api.settled();

    let mails = fake.delivered();
    assert_eq!(mails.len(), 2, "welcome and reset");
    // Each request's mail leaves after its own response: in either order.
    let reset = mails
        .iter()
        .find(|m| m.content("text/plain").contains("reset-password?token="))
        .expect("a reset mail");
    assert_eq!(reset.to(), "ana@example.com");
    let text = reset.content("text/plain");
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://streamia.example/reset-password?token="))
        .unwrap_or_else(|| panic!("no reset link in {text}"));
    let token: String = form_urlencoded::parse(link.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert!(reset.content("text/html").contains("reset-password?token="));

    let r = api.post(
        "/api/users/password/reset",
        json!({"token": token, "newPassword": "brand-new-pass"}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let login = api.post(
        "/api/users/login",
        json!({"email": "ana@example.com", "password": "brand-new-pass"}),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let old = api.post(
        "/api/users/login",
        json!({"email": "ana@example.com", "password": PASSWORD}),
    );
    assert_error(&old, 401, "invalid_credentials");
    // No mail for an address without an account (no enumeration either way).
    api.post("/api/users/password/forgot", json!({"email": "nobody@example.com"}));
    api.settled();
    assert_eq!(fake.delivered().len(), 2);
}

#[test]
fn a_429_then_202_gets_one_mail_through() {
    let fake = FakeSendGrid::start(API_KEY);
    let api = with_sendgrid(&fake);
    fake.answer_next(&[429]);
    api.register("ana@example.com", "ana");
    api.settled();
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 202]);
    assert_eq!(fake.delivered().len(), 1);
    assert!(api.received_of("notification.failed").is_empty());
    assert_eq!(data_of(&api.received_of("notification.sent")).len(), 1);
}

#[test]
fn an_address_that_always_fails_ends_in_notification_failed() {
    let fake = FakeSendGrid::start(API_KEY);
    let api = with_sendgrid(&fake);
    fake.always_fail("doomed@example.com", 503);
    api.register("doomed@example.com", "doomed");
    api.settled();
    assert_eq!(fake.requests().len(), 3, "email_max_attempts tries, then it gives up");
    assert!(fake.delivered().is_empty());
    let failed = data_of(&api.received_of("notification.failed"));
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["attempts"], 3);
    assert_eq!(failed[0]["template"], "welcome");
    assert!(failed[0]["reason"].as_str().unwrap().contains("503"));
    assert!(api.received_of("notification.sent").is_empty());

    // A refusal that retrying cannot fix (400) fails at the first try.
    fake.always_fail("refused@example.com", 400);
    api.register("refused@example.com", "refused");
    api.settled();
    let tries = fake
        .requests()
        .iter()
        .filter(|r| r.to() == "refused@example.com")
        .count();
    assert_eq!(tries, 1);
    assert_eq!(api.received_of("notification.failed").len(), 2);
}

#[test]
fn markup_in_a_username_cannot_reach_the_html() {
    let fake = FakeSendGrid::start(API_KEY);
    let api = with_sendgrid(&fake);
    // The users service refuses such names; an event from anywhere else is
    // rendered just as safely.
    let event = json!({
        "eventId": "0190c0de-0000-7000-8000-00000000beef", "eventType": "user.registered",
        "occurredAt": "2026-11-23T00:00:00.000Z", "source": "users", "version": 1,
        "data": {"userId": "u1", "email": "eve@example.com", "username": "<script>alert(1)</script>", "role": "user"}
    });
    let r = api.deliver("notifications", &event);
    assert_eq!(r.json()["result"], "applied", "{}", r.body);
    let html = fake.delivered()[0].content("text/html");
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
}

#[test]
fn asked_for_e_mails_are_sent_and_bad_requests_fail_without_sending() {
    let fake = FakeSendGrid::start(API_KEY);
    let api = with_sendgrid(&fake);
    let ask = |id: &str, data: Value| {
        json!({
            "eventId": id, "eventType": "notification.send_email", "occurredAt": "2026-11-23T00:00:00.000Z",
            "source": "movies", "version": 1, "data": data
        })
    };
    let ok = ask(
        "0190c0de-0000-7000-8000-000000000001",
        json!({"to": "bob@example.com", "subject": "New this week", "template": "notification",
            "data": {"name": "Bob", "message": "Alien is back", "actionUrl": "https://streamia.example/movies/1"}}),
    );
    assert_eq!(api.deliver("notifications", &ok).json()["result"], "applied");
    let mail = &fake.delivered()[0];
    assert_eq!(mail.body["subject"], "New this week");
    assert!(mail.content("text/plain").contains("Alien is back"));

    let bad = ask(
        "0190c0de-0000-7000-8000-000000000002",
        json!({"to": "bob@example.com", "subject": "x", "template": "invoice", "data": {}}),
    );
    assert_eq!(api.deliver("notifications", &bad).json()["result"], "applied");
    let failed = data_of(&api.received_of("notification.failed"));
    assert_eq!(failed[0]["attempts"], 0);
    assert!(failed[0]["reason"].as_str().unwrap().contains("invoice"));
    assert_eq!(fake.requests().len(), 1, "nothing was sent for it");

    let garbage = api.deliver("notifications", &json!({"eventType": "x"}));
    assert_eq!(garbage.status, 400, "{}", garbage.body);
}

#[test]
fn the_embedded_default_logs_mail_and_keeps_a_sent_log() {
    let api = common::start();
    api.register("ana@example.com", "ana");
    let log = api.host.wait_for_log("e-mail (log provider)");
    let mails = api
        .host
        .json_lines(&[("msg", "e-mail (log provider)"), ("service", "notifications")]);
    assert_eq!(mails.len(), 1, "{log}");
    assert_eq!(mails[0]["to"], "ana@example.com");
    assert_eq!(mails[0]["subject"], "Welcome to Streamia, ana");
    assert!(mails[0]["text"].as_str().unwrap().contains("Welcome to Streamia, ana!"));
    // The line is printed as the mail goes out; the sent log is written
    // just after.
    let mut entries = Vec::new();
    eventually("the mail is in the sent log", Duration::from_secs(10), || {
        let sent = api.peek("notifications", "/sent?limit=5");
        assert_eq!(sent.status, 200, "{}", sent.body);
        entries = sent.json()["data"].as_array().unwrap().clone();
        !entries.is_empty()
    });
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["to"], "ana@example.com");
    assert_eq!(entries[0]["template"], "welcome");
    assert_eq!(entries[0]["provider"], "log");
    assert!(entries[0]["text"]
        .as_str()
        .unwrap()
        .contains("Welcome to Streamia, ana!"));
    assert_eq!(api.peek("notifications", "/sent?limit=0").status, 400);
    // No public route reaches the service.
    assert_error(&api.post("/api/notifications/events", json!({})), 404, "not_found");
    assert_eq!(api.get("/health/notifications", None).json()["checks"]["sqlite"], true);
}

#[test]
fn over_redis_a_registration_sends_one_welcome_mail() {
    let redis = Redis::start();
    let fake = FakeSendGrid::start(API_KEY);
    let api = over_redis_with_sendgrid(&redis, &fake);
    redis.wait_for_subscribers(&["streamia.user.registered"]);
    api.register("ana@example.com", "ana");
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.delivered().is_empty() {
        assert!(Instant::now() < deadline, "no mail arrived: {}", api.host.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let applied = [
        ("msg", "event"),
        ("service", "notifications"),
        ("eventType", "user.registered"),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.host.json_lines(&applied).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the event never reached the log: {}",
            api.host.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let event_id = api.host.json_lines(&applied)[0]["eventId"].as_str().unwrap().to_owned();
    // In the stream again: the consumer recognises it and sends nothing.
    let envelope = json!({
        "eventId": event_id, "eventType": "user.registered", "occurredAt": "2026-11-23T00:00:00.000Z",
        "source": "users", "version": 1,
        "data": {"userId": "u", "email": "ana@example.com", "username": "ana", "role": "user"}
    });
    redis.append_event(&envelope);
    api.host.wait_for_event("notifications", &event_id, "Duplicate");
    assert_eq!(fake.requests().len(), 1);
}

/// The users service's use of `notification.send_email`: a deleted account
/// is told so by e-mail, sent by the notifications service.
fn a_deleted_account_is_told_by_e_mail(api: &Api, fake: &FakeSendGrid) {
    let (_, token, _) = api.register("ana@example.com", "ana");
    eventually("the welcome mail was sent", Duration::from_secs(20), || {
        fake.delivered().len() == 1
    });
    let r = api.send("DELETE", "/api/users/me", Some(&token), None);
    assert_eq!(r.status, 204, "{}", r.body);
    eventually("the farewell mail was sent", Duration::from_secs(20), || {
        fake.delivered().len() == 2
    });
    let mail = &fake.delivered()[1];
    assert_eq!(mail.to(), "ana@example.com");
    assert_eq!(mail.body["subject"], "Your Streamia account was deleted");
    assert!(
        mail.content("text/plain").contains("Hello ana"),
        "{}",
        mail.content("text/plain")
    );
    assert!(mail.content("text/html").contains("has been deleted"));
}

#[test]
fn a_deleted_account_is_told_by_e_mail_through_the_send_email_command() {
    let fake = FakeSendGrid::start(API_KEY);
    let api = with_sendgrid(&fake);
    a_deleted_account_is_told_by_e_mail(&api, &fake);
    let asked = api.received_of("notification.send_email");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["envelope"]["source"], "users");
    let sent = data_of(&api.received_of("notification.sent"));
    let farewell: Vec<&Value> = sent.iter().filter(|s| s["template"] == "notification").collect();
    assert_eq!(farewell.len(), 1, "{sent:?}");
    assert_eq!(farewell[0]["sourceEventId"], asked[0]["envelope"]["eventId"]);
}

#[test]
fn over_redis_a_deleted_account_is_told_by_e_mail() {
    let redis = Redis::start();
    let fake = FakeSendGrid::start(API_KEY);
    let api = over_redis_with_sendgrid(&redis, &fake);
    redis.wait_for_subscribers(&["streamia.user.registered", "streamia.notification.send_email"]);
    a_deleted_account_is_told_by_e_mail(&api, &fake);
}
