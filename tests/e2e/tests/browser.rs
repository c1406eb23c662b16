//! The web client in a real browser (scripts/browser-test.py: Debian's
//! chromium, headless, through Selenium and Debian's chromedriver) against
//! the app on its embedded default, a catalogue of three movies made through
//! the API, media on a local fake of Cloudinary's API (which, like
//! Cloudinary, takes the admin's direct video upload and notifies the app)
//! and comments moderated before they show; then what the people did there,
//! checked through the API. The script asks for the password-reset link
//! (`browser-wants: reset-link`), which this test finds in the e-mail the
//! app logs. The browser's Python is STREAMIA_BROWSER_PYTHON
//! (scripts/setup.sh's `ensure_browser`, which the test command runs).
//! Screenshots go to target/screenshots/; `UPDATE_SCREENSHOTS=1` copies the
//! catalogue's and the movie page's to docs/screenshots/ for the README.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, json_of, Api};
use streamia_testkit::{target_dir, workspace_root, FakeCloudinary};

const CLOUD: &str = "streamia-browser";
const FRONTEND: &str = "https://streamia.example";

#[test]
fn the_web_client_in_a_real_browser() {
    let cloudinary = FakeCloudinary::start(CLOUD, "987654321098765", "browser-test-secret");
    let api = Api {
        host: common::app()
            .env("SPIN_VARIABLE_CLOUDINARY_CLOUD_NAME", CLOUD)
            .env("SPIN_VARIABLE_CLOUDINARY_API_KEY", "987654321098765")
            .env("SPIN_VARIABLE_CLOUDINARY_API_SECRET", "browser-test-secret")
            .env("SPIN_VARIABLE_CLOUDINARY_BASE_URL", &cloudinary.base_url())
            .env(
                "SPIN_VARIABLE_CLOUDINARY_NOTIFICATION_URL",
                &format!("{FRONTEND}/api/movies/cloudinary/notify"),
            )
            .env("SPIN_VARIABLE_COMMENT_MODERATION", "pre")
            .env("SPIN_VARIABLE_FRONTEND_URL", FRONTEND)
            .start(),
    };
    // Cloudinary reaches the app at its public address: this one, here.
    cloudinary.deliver_notifications_to(&api.host.base);
    let admin = api.admin();
    for (title, year, genres, director, description) in [
        (
            "Alien",
            1979,
            ["Sci-Fi", "Horror"],
            "Ridley Scott",
            "The crew of a towing ship answers a distress call.",
        ),
        (
            "Heat",
            1995,
            ["Crime", "Drama"],
            "Michael Mann",
            "A detective and a master thief circle each other in Los Angeles.",
        ),
        (
            "Arrival",
            2016,
            ["Sci-Fi", "Drama"],
            "Denis Villeneuve",
            "A linguist is asked to talk with visitors from elsewhere.",
        ),
    ] {
        let body = serde_json::json!({"title": title, "releaseYear": year, "genres": genres,
            "director": director, "description": description});
        let made = api.send("POST", "/api/movies", Some(&admin), Some(&body));
        assert_eq!(made.status, 201, "{}", made.body);
    }
    long_thread(&api, &admin, "Heat", 25);
    let python = std::env::var("STREAMIA_BROWSER_PYTHON")
        .unwrap_or_else(|_| target_dir().join("tools/browser/bin/python").display().to_string());
    let shots = target_dir().join("screenshots");
    let mut browser = Command::new(&python)
        .arg(workspace_root().join("scripts/browser-test.py"))
        .arg(&api.host.base)
        .arg(&shots)
        .env("STREAMIA_ADMIN_EMAIL", common::ADMIN_EMAIL)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e} (scripts/setup.sh ensure_browser installs it)"));
    let mut stderr = browser.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).ok();
        text
    });
    let mut to_browser = browser.stdin.take().unwrap();
    let mut stdout = String::new();
    for line in BufReader::new(browser.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.starts_with("browser-wants: reset-link") {
            writeln!(to_browser, "{}", reset_link(&api)).unwrap();
        } else if line.starts_with("browser: ") {
            // Past the test harness's capture: the test command prints the figures.
            writeln!(std::io::stdout().lock(), "{line}").ok();
        }
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let status = browser.wait().unwrap();
    assert!(status.success(), "{stdout}\n{}", errors.join().unwrap());

    // What ana and the admin did in the browser is in the backend.
    let alien = &json_of(&api, "/api/movies?search=Alien", None)["data"][0];
    let id = alien["id"].as_str().unwrap().to_owned();
    eventually("ana's rating reaches the movie", Duration::from_secs(10), || {
        json_of(&api, &format!("/api/movies/{id}"), None)["totalRatings"] == 1
    });
    let login = api.post(
        "/api/users/login",
        serde_json::json!({"email": "ana@example.com", "password": "chosen-by-link"}),
    );
    assert_eq!(
        login.status, 200,
        "the password set through the reset page: {}",
        login.body
    );
    assert_eq!(login.json()["user"]["username"], "ana_m", "renamed on her profile");
    assert_eq!(login.json()["user"]["role"], "admin", "promoted on the Members page");
    let ana = login.json()["accessToken"].as_str().unwrap().to_owned();
    let favorites = json_of(&api, "/api/favorites", Some(&ana));
    assert_eq!(favorites["pagination"]["total"], 1, "{favorites}");
    // Her first comment, edited and approved by the admin, with his reply;
    // her second, deleted.
    let thread = json_of(&api, &format!("/api/comments/movie/{id}"), None);
    let visible: Vec<_> = thread["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["isDeleted"] == false)
        .collect();
    assert_eq!(visible.len(), 1, "{thread}");
    assert_eq!(visible[0]["content"], "A perfect organism, edited.");
    assert_eq!(
        (visible[0]["isEdited"].clone(), visible[0]["moderationStatus"].clone()),
        (true.into(), "approved".into())
    );
    let replies = json_of(
        &api,
        &format!("/api/comments/{}/replies", visible[0]["id"].as_str().unwrap()),
        Some(&admin),
    );
    assert_eq!(replies["data"][0]["content"], "Welcome aboard.", "{replies}");

    // The movie the admin made, with its poster and the video the browser
    // sent to Cloudinary itself; its subtitles (sent as .srt, kept as
    // WebVTT) played, then were removed, and destroyed on Cloudinary.
    let dune = &json_of(&api, "/api/movies?search=Dune", None)["data"][0];
    assert_eq!(
        (dune["releaseYear"].clone(), dune["director"].clone()),
        (2021.into(), "Denis Villeneuve".into()),
        "{dune}"
    );
    let prefix = format!("https://res.cloudinary.com/{CLOUD}/");
    for url in [&dune["posterUrl"], &dune["videoUrl"]] {
        assert!(url.as_str().is_some_and(|u| u.starts_with(&prefix)), "{dune}");
    }
    assert_eq!(dune["subtitles"], serde_json::json!([]), "{dune}");
    eventually("the removed track was destroyed", Duration::from_secs(10), || {
        cloudinary.calls().iter().any(|c| {
            c.path.ends_with("/raw/destroy") && c.params.iter().any(|(k, v)| k == "public_id" && v.ends_with("/es.vtt"))
        })
    });
    let video_uploads: Vec<_> = cloudinary
        .calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/video/upload"))
        .collect();
    assert_eq!(video_uploads.len(), 1, "{video_uploads:?}");
    assert!(
        video_uploads[0].accepted,
        "signed as Cloudinary checks it: {video_uploads:?}"
    );

    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let docs = workspace_root().join("docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        for name in ["catalogue", "movie"] {
            std::fs::copy(shots.join(format!("{name}.png")), docs.join(format!("{name}.png"))).unwrap();
        }
    }
}

/// The link in the password-reset e-mail the app logged (the `log` mail
/// provider), on this app's address instead of its public one.
fn reset_link(api: &Api) -> String {
    let needle = format!("{FRONTEND}/reset-password?token=");
    api.host.wait_for_log(&needle);
    let mails = api.host.json_lines(&[("msg", "e-mail (log provider)")]);
    let link = mails
        .iter()
        .filter_map(|mail| mail["text"].as_str())
        .flat_map(str::split_whitespace)
        .rfind(|w| w.starts_with(&needle))
        .unwrap()
        .to_owned();
    link.replacen(FRONTEND, &api.host.base, 1)
}

/// A comment on `title` with `replies` replies, every one approved: a thread
/// longer than the page opens at once.
fn long_thread(api: &Api, admin: &str, title: &str, replies: usize) {
    let movie = json_of(api, &format!("/api/movies?search={title}"), None)["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |content: String, parent: Option<&str>| {
        let id = api.comment(admin, &movie, &content, parent)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let approve = serde_json::json!({"status": "approved"});
        let approved = api.send(
            "PATCH",
            &format!("/api/comments/{id}/moderate"),
            Some(admin),
            Some(&approve),
        );
        assert_eq!(approved.status, 200, "{}", approved.body);
        id
    };
    let first = post("Who else watched it twice?".into(), None);
    for i in 1..=replies {
        post(format!("Reply {i}"), Some(&first));
    }
}
