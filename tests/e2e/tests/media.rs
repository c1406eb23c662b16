//! Movies and Cloudinary: signed direct video uploads, the signed upload
//! notification, asset destruction, and 503 when media is not configured.

mod common;

use common::{assert_error, Api};
use serde_json::{json, Value};
use sha1::Digest;
use streamia_testkit::{cloudinary_signature, FakeCloudinary};

const CLOUD: &str = "streamia-test";
const KEY: &str = "123456789012345";
const SECRET: &str = "cloudinary-test-secret";

fn with_cloudinary(fake: &FakeCloudinary) -> Api {
    let app = common::app()
        .env("SPIN_VARIABLE_CLOUDINARY_CLOUD_NAME", CLOUD)
        .env("SPIN_VARIABLE_CLOUDINARY_API_KEY", KEY)
        .env("SPIN_VARIABLE_CLOUDINARY_API_SECRET", SECRET)
        .env("SPIN_VARIABLE_CLOUDINARY_BASE_URL", &fake.base_url())
        .env(
            "SPIN_VARIABLE_CLOUDINARY_NOTIFICATION_URL",
            "https://streamia.example/api/movies/cloudinary/notify",
        )
        .env(
            "SPIN_VARIABLE_MOVIES_EVENT_SUBSCRIBERS",
            "*=http://event-sink.spin.internal/sink/events",
        );
    Api { host: app.start() }
}

fn movie(api: &Api, admin: &str) -> String {
    let r = api.send(
        "POST",
        "/api/movies",
        Some(admin),
        Some(&json!({"title": "Alien", "description": "d", "releaseYear": 1979})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_owned()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// What Cloudinary sends: the body, `X-Cld-Timestamp`, and SHA-1(body + timestamp + secret).
fn notification(body: &Value, timestamp: i64, secret: &str) -> (String, String, String) {
    let body = body.to_string();
    let ts = timestamp.to_string();
    let sig: String = sha1::Sha1::digest(format!("{body}{ts}{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (body, ts, sig)
}

fn notify(api: &Api, body: &str, ts: &str, sig: &str) -> streamia_testkit::Reply {
    common::call(
        "POST",
        &api.url("/api/movies/cloudinary/notify"),
        &[
            ("content-type", "application/json"),
            ("x-cld-timestamp", ts),
            ("x-cld-signature", sig),
        ],
        body,
    )
}

#[test]
fn media_endpoints_answer_503_until_cloudinary_is_configured() {
    let api = common::start();
    let admin = api.admin();
    let id = movie(&api, &admin);
    let r = api.send(
        "POST",
        &format!("/api/movies/{id}/video/upload-signature"),
        Some(&admin),
        None,
    );
    assert_error(&r, 503, "media_not_configured");
    let (body, ts, sig) = notification(&json!({"notification_type": "upload"}), now(), SECRET);
    assert_error(&notify(&api, &body, &ts, &sig), 503, "media_not_configured");
    assert_eq!(
        api.get(&format!("/api/movies/{id}"), None).status,
        200,
        "the catalogue keeps working"
    );
    assert_eq!(
        api.send("DELETE", &format!("/api/movies/{id}"), Some(&admin), None)
            .status,
        204
    );
}

#[test]
fn the_upload_signature_is_what_cloudinary_will_verify() {
    let fake = FakeCloudinary::start(CLOUD, KEY, SECRET);
    let api = with_cloudinary(&fake);
    let admin = api.admin();
    let id = movie(&api, &admin);
    let r = api.send(
        "POST",
        &format!("/api/movies/{id}/video/upload-signature"),
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["uploadUrl"], format!("{}/v1_1/{CLOUD}/video/upload", fake.base_url()));
    assert_eq!(v["apiKey"], KEY);
    assert_eq!(v["publicId"], format!("streamia/movies/{id}/video"));
    assert!(!r.body.contains(SECRET), "the secret never leaves the service");
    let params: Vec<(String, String)> = [
        ("public_id", v["publicId"].as_str().unwrap().to_owned()),
        ("timestamp", v["timestamp"].as_i64().unwrap().to_string()),
        ("notification_url", v["notificationUrl"].as_str().unwrap().to_owned()),
        ("api_key", KEY.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(v["signature"], cloudinary_signature(&params, SECRET));

    let (_, user, _) = api.register("ana@example.com", "ana");
    let path = format!("/api/movies/{id}/video/upload-signature");
    assert_error(&api.send("POST", &path, Some(&user), None), 403, "forbidden");
    assert_error(
        &api.send("POST", "/api/movies/nope/video/upload-signature", Some(&admin), None),
        404,
        "not_found",
    );
}

#[test]
fn a_signed_notification_stores_the_video_and_a_forged_one_changes_nothing() {
    let fake = FakeCloudinary::start(CLOUD, KEY, SECRET);
    let api = with_cloudinary(&fake);
    let admin = api.admin();
    let id = movie(&api, &admin);
    let url = format!("https://res.cloudinary.com/{CLOUD}/video/upload/v1/streamia/movies/{id}/video.mp4");
    let payload = json!({"notification_type": "upload", "resource_type": "video", "public_id": format!("streamia/movies/{id}/video"),
        "secure_url": url, "bytes": 1048576});

    let (body, ts, _) = notification(&payload, now(), SECRET);
    let (_, _, forged) = notification(&payload, now(), "not-the-secret");
    assert_error(&notify(&api, &body, &ts, &forged), 401, "unauthorized");
    let (old_body, old_ts, old_sig) = notification(&payload, now() - 3 * 3600, SECRET);
    assert_error(&notify(&api, &old_body, &old_ts, &old_sig), 401, "unauthorized");
    assert_error(
        &common::call(
            "POST",
            &api.url("/api/movies/cloudinary/notify"),
            &[("content-type", "application/json")],
            &body,
        ),
        401,
        "unauthorized",
    );
    assert!(api.get(&format!("/api/movies/{id}"), None).json()["videoUrl"].is_null());

    let (body, ts, sig) = notification(&payload, now(), SECRET);
    let r = notify(&api, &body, &ts, &sig);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        api.get(&format!("/api/movies/{id}"), None).json()["videoUrl"],
        url.as_str()
    );
    let events = api.received_of("movie.video_uploaded");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["envelope"]["data"]["videoUrl"], url.as_str());

    // Deleting the movie destroys its video on Cloudinary, with a valid signature.
    assert_eq!(
        api.send("DELETE", &format!("/api/movies/{id}"), Some(&admin), None)
            .status,
        204
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].path, format!("/v1_1/{CLOUD}/video/destroy"));
    assert!(calls[0].accepted, "the fake refused the destroy signature: {calls:?}");
    assert!(calls[0]
        .params
        .contains(&("public_id".to_owned(), format!("streamia/movies/{id}/video"))));
}
