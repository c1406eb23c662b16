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

    // Deleting the movie destroys its video on Cloudinary (after the
    // answer), with a valid signature.
    assert_eq!(
        api.send("DELETE", &format!("/api/movies/{id}"), Some(&admin), None)
            .status,
        204
    );
    common::eventually("the video was destroyed", std::time::Duration::from_secs(20), || {
        !fake.calls().is_empty()
    });
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].path, format!("/v1_1/{CLOUD}/video/destroy"));
    assert!(calls[0].accepted, "the fake refused the destroy signature: {calls:?}");
    assert!(calls[0]
        .params
        .contains(&("public_id".to_owned(), format!("streamia/movies/{id}/video"))));
}

/// A multipart/form-data body with text fields and one file.
fn form(fields: &[(&str, &str)], file_name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "e2eBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn upload(api: &Api, path: &str, token: &str, form: (String, Vec<u8>)) -> streamia_testkit::Reply {
    let auth = format!("Bearer {token}");
    streamia_testkit::call_bytes(
        "POST",
        &api.url(path),
        &[("content-type", &form.0), ("authorization", &auth)],
        form.1,
    )
}

const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01];

#[test]
fn posters_upload_through_the_service_to_cloudinary() {
    let fake = FakeCloudinary::start(CLOUD, KEY, SECRET);
    let api = with_cloudinary(&fake);
    let admin = api.admin();
    let id = movie(&api, &admin);
    let path = format!("/api/movies/{id}/poster");

    let r = upload(&api, &path, &admin, form(&[], "poster.jpg", JPEG));
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = format!("https://res.cloudinary.com/{CLOUD}/image/upload/v1/streamia/movies/{id}/poster");
    assert_eq!(r.json()["posterUrl"], expected.as_str());
    assert_eq!(
        api.get(&format!("/api/movies/{id}"), None).json()["posterUrl"],
        expected.as_str()
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].accepted && calls[0].path == format!("/v1_1/{CLOUD}/image/upload"),
        "{calls:?}"
    );

    // Not an image (whatever its name says), too big, not multipart, not an admin.
    assert_error(
        &upload(
            &api,
            &path,
            &admin,
            form(&[], "poster.jpg", b"<html>not an image</html>"),
        ),
        422,
        "unsupported_file",
    );
    let big = [JPEG, &vec![0u8; 5 * 1024 * 1024]].concat();
    assert_error(
        &upload(&api, &path, &admin, form(&[], "big.jpg", &big)),
        413,
        "payload_too_large",
    );
    assert_error(
        &api.send("POST", &path, Some(&admin), Some(&json!({"file": "x"}))),
        415,
        "unsupported_media_type",
    );
    let (_, user, _) = api.register("ana@example.com", "ana");
    assert_error(
        &upload(&api, &path, &user, form(&[], "poster.jpg", JPEG)),
        403,
        "forbidden",
    );
    assert_error(
        &upload(&api, "/api/movies/nope/poster", &admin, form(&[], "poster.jpg", JPEG)),
        404,
        "not_found",
    );
    assert_eq!(fake.calls().len(), 1, "refused uploads never reach Cloudinary");
}

#[test]
fn subtitles_upload_with_a_language_and_replace_that_language() {
    let fake = FakeCloudinary::start(CLOUD, KEY, SECRET);
    let api = with_cloudinary(&fake);
    let admin = api.admin();
    let id = movie(&api, &admin);
    let path = format!("/api/movies/{id}/subtitles");
    let vtt = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nIn space no one can hear you scream.\n";

    let r = upload(&api, &path, &admin, form(&[("language", "en")], "alien.vtt", vtt));
    assert_eq!(r.status, 201, "{}", r.body);
    let r = upload(
        &api,
        &path,
        &admin,
        form(
            &[("language", "es")],
            "alien.srt",
            b"1\n00:00:01,000 --> 00:00:02,000\nHola\n",
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = upload(&api, &path, &admin, form(&[("language", "en")], "alien-v2.vtt", vtt));
    let subs = r.json()["subtitles"].clone();
    assert_eq!(subs.as_array().unwrap().len(), 2, "{subs}");
    assert_eq!(subs[0]["language"], "en");
    assert!(
        subs[1]["url"].as_str().unwrap().ends_with("/subtitles/es.vtt"),
        "an .srt is kept as WebVTT, which browsers play: {subs}"
    );
    assert_eq!(
        subs[0]["url"],
        format!("https://res.cloudinary.com/{CLOUD}/raw/upload/v1/streamia/movies/{id}/subtitles/en.vtt")
    );
    assert!(fake
        .calls()
        .iter()
        .all(|c| c.accepted && c.path.ends_with("/raw/upload")));

    for (fields, name, body, status, code) in [
        (vec![], "x.vtt", &vtt[..], 400, "validation_failed"),
        (
            vec![("language", "english")],
            "x.vtt",
            &vtt[..],
            400,
            "validation_failed",
        ),
        (
            vec![("language", "en")],
            "x.txt",
            &b"hello"[..],
            422,
            "unsupported_file",
        ),
        (
            vec![("language", "en")],
            "x.vtt",
            &b"not webvtt"[..],
            422,
            "unsupported_file",
        ),
    ] {
        assert_error(&upload(&api, &path, &admin, form(&fields, name, body)), status, code);
    }

    // Deleting the movie destroys the poster-less movie's two subtitle files
    // (after the answer).
    assert_eq!(
        api.send("DELETE", &format!("/api/movies/{id}"), Some(&admin), None)
            .status,
        204
    );
    let destroyed = || -> Vec<_> {
        fake.calls()
            .into_iter()
            .filter(|c| c.path.ends_with("/raw/destroy"))
            .collect()
    };
    common::eventually("both were destroyed", std::time::Duration::from_secs(20), || {
        destroyed().len() >= 2
    });
    let destroyed = destroyed();
    assert_eq!(destroyed.len(), 2, "{destroyed:?}");
    assert!(destroyed.iter().all(|c| c.accepted));
}

#[test]
fn cloudinary_failing_opens_the_movies_services_breaker_around_it_and_nothing_else() {
    let fake = FakeCloudinary::start(CLOUD, KEY, SECRET);
    let api = with_cloudinary(&fake);
    let admin = api.admin();
    let id = movie(&api, &admin);
    let path = format!("/api/movies/{id}/poster");
    fake.fail_with(Some(500));
    // Four uploads reach a failing Cloudinary: 503 naming it, each tried.
    for i in 1..=4 {
        let r = upload(&api, &path, &admin, form(&[], "poster.jpg", JPEG));
        assert_error(&r, 503, "media_unavailable");
        assert_eq!(fake.calls().len(), i, "upload {i} reached Cloudinary");
    }
    // Half of them failed: the service's breaker around Cloudinary is open.
    // The next is refused at once, and says when to come back.
    let refused = upload(&api, &path, &admin, form(&[], "poster.jpg", JPEG));
    assert_error(&refused, 503, "media_unavailable");
    assert!(refused.body.contains("Cloudinary"), "{}", refused.body);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(fake.calls().len(), 4, "no call while open");
    let opened = api
        .host
        .json_lines(&[("msg", "circuit breaker"), ("breaker", "cloudinary")]);
    assert!(
        opened
            .iter()
            .any(|l| l["service"] == "movies" && l["change"].as_str().unwrap().starts_with("opened")),
        "{opened:?}"
    );
    // The catalogue is served; the gateway counted none of it as the movies service failing.
    assert_eq!(api.get(&format!("/api/movies/{id}"), None).status, 200);
    let list = api.get("/api/movies?genre=drama", None);
    assert_eq!((list.status, list.header("x-cache")), (200, Some("miss")));
    let health = api.get("/health", None);
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(
        health.json()["breakers"]["movies.media"]["failures"],
        0,
        "{}",
        health.body
    );
    // A movie deleted meanwhile is deleted; its assets wait until Cloudinary is back.
    let r = api.send("DELETE", &format!("/api/movies/{id}"), Some(&admin), None);
    assert_eq!(r.status, 204, "{}", r.body);
}

/// How many destroy calls for `public_id` reached Cloudinary.
fn destroys_of(fake: &FakeCloudinary, public_id: &str) -> usize {
    fake.calls()
        .iter()
        .filter(|c| c.path.ends_with("/destroy"))
        .filter(|c| c.params.iter().any(|(k, v)| k == "public_id" && v == public_id))
        .count()
}

#[test]
fn removed_media_is_destroyed_on_cloudinary_retried_until_it_confirms() {
    let fake = FakeCloudinary::start(CLOUD, KEY, SECRET);
    let api = Api {
        host: common::app()
            .env("SPIN_VARIABLE_CLOUDINARY_CLOUD_NAME", CLOUD)
            .env("SPIN_VARIABLE_CLOUDINARY_API_KEY", KEY)
            .env("SPIN_VARIABLE_CLOUDINARY_API_SECRET", SECRET)
            .env("SPIN_VARIABLE_CLOUDINARY_BASE_URL", &fake.base_url())
            .env("SPIN_VARIABLE_EVENT_RETRY_BASE_MS", "50")
            .start(),
    };
    let admin = api.admin();
    let id = movie(&api, &admin);
    let r = upload(
        &api,
        &format!("/api/movies/{id}/poster"),
        &admin,
        form(&[], "poster.jpg", JPEG),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let vtt = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n";
    for language in ["en", "es"] {
        let subtitles = format!("/api/movies/{id}/subtitles");
        let r = upload(&api, &subtitles, &admin, form(&[("language", language)], "s.vtt", vtt));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let poster = format!("streamia/movies/{id}/poster");
    let relay = || api.send("POST", "/api/admin/events/relay", Some(&admin), None);

    // Cloudinary fails: the poster is gone from the movie at once, and its
    // destruction is tried again and again, never parked.
    fake.fail_with(Some(500));
    let path = format!("/api/movies/{id}/poster");
    let r = api.send("DELETE", &path, Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["posterUrl"].is_null());
    let again = api.send("DELETE", &path, Some(&admin), None);
    assert_eq!(
        (again.status, again.json()["posterUrl"].is_null()),
        (200, true),
        "again: nothing to do"
    );
    common::eventually(
        "the destruction was tried twice",
        std::time::Duration::from_secs(20),
        || {
            relay();
            destroys_of(&fake, &poster) >= 2
        },
    );
    let letters = api.get("/api/admin/events/movies/dead-letters", Some(&admin));
    assert_eq!(
        letters.json()["pagination"]["total"],
        0,
        "an outage parks nothing: {}",
        letters.body
    );
    assert!(api.get("/health/movies", None).json()["outbox"].as_u64() >= Some(1));

    // Cloudinary is back: the next try is confirmed, and the event done.
    fake.fail_with(None);
    common::eventually("Cloudinary confirmed", std::time::Duration::from_secs(30), || {
        relay();
        api.get("/health/movies", None).json()["outbox"] == 0
    });
    let tries = destroys_of(&fake, &poster);

    // A subtitle track: its own route; then the movie, with the other.
    let r = api.send("DELETE", &format!("/api/movies/{id}/subtitles/en"), Some(&admin), None);
    assert_eq!(r.json()["subtitles"].as_array().unwrap().len(), 1, "{}", r.body);
    let bad = api.send(
        "DELETE",
        &format!("/api/movies/{id}/subtitles/english!"),
        Some(&admin),
        None,
    );
    assert_error(&bad, 400, "validation_failed");
    let no_video = api.send("DELETE", &format!("/api/movies/{id}/video"), Some(&admin), None);
    assert_eq!(no_video.status, 200, "none to remove: {}", no_video.body);
    let gone = api.send("DELETE", "/api/movies/no-such-movie/video", Some(&admin), None);
    assert_error(&gone, 404, "not_found");
    assert_eq!(
        api.send("DELETE", &format!("/api/movies/{id}"), Some(&admin), None)
            .status,
        204
    );
    for track in ["en", "es"] {
        let public_id = format!("streamia/movies/{id}/subtitles/{track}.vtt");
        common::eventually(
            &format!("{track}.vtt destroyed"),
            std::time::Duration::from_secs(20),
            || {
                relay();
                destroys_of(&fake, &public_id) == 1
            },
        );
    }
    assert_eq!(
        destroys_of(&fake, &poster),
        tries,
        "a confirmed destruction is not repeated"
    );
    assert!(fake
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/destroy"))
        .all(|c| c.accepted));
}
