//! The web client in a real browser (scripts/browser-test.py: Debian's
//! chromium, headless, through Selenium and Debian's chromedriver) against
//! the app on its embedded default, a catalogue of three movies made through
//! the API; then what the person did there, checked through the API. The
//! browser's Python is STREAMIA_BROWSER_PYTHON (scripts/setup.sh's
//! `ensure_browser`, which the test command runs). Screenshots go to
//! target/screenshots/; `UPDATE_SCREENSHOTS=1` copies the catalogue's and
//! the movie page's to docs/screenshots/ for the README.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::{eventually, json_of, start};
use streamia_testkit::{target_dir, workspace_root};

#[test]
fn the_web_client_in_a_real_browser() {
    let api = start();
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
    let python = std::env::var("STREAMIA_BROWSER_PYTHON")
        .unwrap_or_else(|_| target_dir().join("tools/browser/bin/python").display().to_string());
    let shots = target_dir().join("screenshots");
    let out = Command::new(&python)
        .arg(workspace_root().join("scripts/browser-test.py"))
        .arg(&api.host.base)
        .arg(&shots)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (scripts/setup.sh ensure_browser installs it)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Past the test harness's capture: the test command prints the figures.
    for line in stdout.lines().filter(|l| l.starts_with("browser: ")) {
        writeln!(std::io::stdout().lock(), "{line}").ok();
    }
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // What ana did in the browser is in the backend.
    let alien = &json_of(&api, "/api/movies?search=Alien", None)["data"][0];
    let id = alien["id"].as_str().unwrap().to_owned();
    eventually("ana's rating reaches the movie", Duration::from_secs(10), || {
        json_of(&api, &format!("/api/movies/{id}"), None)["totalRatings"] == 1
    });
    let login = api.post(
        "/api/users/login",
        serde_json::json!({"email": "ana@example.com", "password": common::PASSWORD}),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let ana = login.json()["accessToken"].as_str().unwrap().to_owned();
    let favorites = json_of(&api, "/api/favorites", Some(&ana));
    assert_eq!(favorites["pagination"]["total"], 1, "{favorites}");

    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let docs = workspace_root().join("docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        for name in ["catalogue", "movie"] {
            std::fs::copy(shots.join(format!("{name}.png")), docs.join(format!("{name}.png"))).unwrap();
        }
    }
}
