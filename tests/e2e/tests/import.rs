//! The import from the old Node/MongoDB system, as an operator runs it:
//! `streamia-import generate` writes a dump of realistic size in the
//! monolith's shape (both Extended JSON forms, the unclean data a years-old
//! Mongoose database holds) and what a correct import makes of it
//! (`expected.json`); `streamia-import DUMP --dry-run` writes nothing; the
//! real run moves it through the admin-only import routes; imported people
//! sign in with their old passwords; aggregates are the dump's; a second
//! run changes nothing, and an interrupted one goes on where it stopped.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::{json, Value};
use streamia_testkit::native_binary;

use common::{json_of, Api};

/// The size unless STREAMIA_IMPORT_SCALE divides it (a quick local run).
fn size() -> [(&'static str, usize); 4] {
    let scale: usize = std::env::var("STREAMIA_IMPORT_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    [
        ("--users", 10_000 / scale),
        ("--movies", 2_000 / scale),
        ("--ratings", 100_000 / scale),
        ("--comments", 50_000 / scale),
    ]
}

fn run(args: &[&str]) -> Output {
    let bin = native_binary("streamia-import", "streamia-import");
    Command::new(bin).args(args).output().expect("streamia-import runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn total(api: &Api, path: &str, token: Option<&str>) -> u64 {
    json_of(api, path, token)["pagination"]["total"].as_u64().unwrap()
}

#[test]
fn a_monolith_dump_moves_across_and_its_people_sign_in_with_their_old_passwords() {
    let api = common::start();
    let admin = api.admin();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let dump_arg = dump.to_str().unwrap();
    let mut args = vec!["generate".to_owned(), dump_arg.to_owned()];
    for (flag, n) in size() {
        args.extend([flag.to_owned(), n.to_string()]);
    }
    let generated = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(generated.status.success(), "{}", text(&generated));
    let expected: Value = serde_json::from_slice(&std::fs::read(dump.join("expected.json")).unwrap()).unwrap();

    // Bad input: the file and line named, nothing written.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for name in ["users", "movies", "favorites", "ratings", "comments"] {
        std::fs::copy(dump.join(format!("{name}.json")), broken.join(format!("{name}.json"))).unwrap();
    }
    let mut ratings = std::fs::read_to_string(broken.join("ratings.json")).unwrap();
    ratings.insert_str(ratings.find('\n').unwrap() + 1, "{\"user\": {\"$oid\": \n");
    std::fs::write(broken.join("ratings.json"), ratings).unwrap();
    let token_arg = ["--url", &api.url(""), "--token", &admin];
    let refused = run(&[&[broken.to_str().unwrap()][..], &token_arg[..]].concat());
    assert!(!refused.status.success());
    let message = text(&refused);
    assert!(message.contains("ratings.json:2: not JSON"), "{message}");
    assert_eq!(
        total(&api, "/api/users", Some(&admin)),
        1,
        "nothing written: only the admin"
    );

    // The dry run: the report, and nothing written.
    let dry = run(&[dump_arg, "--dry-run"]);
    let report = text(&dry);
    assert!(dry.status.success(), "{report}");
    assert!(report.contains("users: "), "{report}");
    assert!(report.contains("not imported: score 6 is outside 1-5"), "{report}");
    assert!(
        report.contains("not imported: same e-mail as an older account: merged into …"),
        "{report}"
    );
    assert!(
        report.contains("not imported ratings.json:"),
        "every skipped row is listed: {report}"
    );
    assert!(report.contains("nothing written"), "{report}");
    assert_eq!(total(&api, "/api/users", Some(&admin)), 1);
    assert_eq!(total(&api, "/api/movies", None), 0);

    // The real run.
    let started = Instant::now();
    let imported = run(&[&[dump_arg][..], &token_arg[..]].concat());
    let seconds = started.elapsed().as_secs_f64();
    let out = text(&imported);
    assert!(imported.status.success(), "{out}");
    let rows = out
        .lines()
        .find_map(|l| l.strip_prefix("imported: "))
        .unwrap_or_else(|| panic!("{out}"));
    let written: u64 = rows.split(' ').next().unwrap().parse().unwrap();
    assert!(rows.contains(" rows written, 0 already there"), "{rows}");
    // Straight to stdout (past the test harness's capture): the test command prints it.
    writeln!(
        std::io::stdout().lock(),
        "import: {written} rows written in {seconds:.1} s ({:.0} rows/s; the command's own figure: {rows})",
        written as f64 / seconds
    )
    .ok();

    // What arrived is what the dump holds once its rules are applied.
    assert_eq!(
        total(&api, "/api/users", Some(&admin)),
        expected["users"].as_u64().unwrap() + 1,
        "the imported accounts and the admin"
    );
    assert_eq!(total(&api, "/api/movies", None), expected["movies"].as_u64().unwrap());
    for movie in expected["ratedMovies"].as_array().unwrap() {
        let id = movie["id"].as_str().unwrap();
        let (count, sum) = (movie["count"].as_f64().unwrap(), movie["sum"].as_f64().unwrap());
        let stored = json_of(&api, &format!("/api/movies/{id}"), None);
        assert_eq!(stored["title"], movie["title"]);
        assert_eq!(stored["totalRatings"].as_f64(), Some(count), "{stored}");
        let average = stored["averageRating"].as_f64().unwrap();
        assert!(
            (average - sum / count).abs() < 0.006,
            "{average} against {}",
            sum / count
        );
        let stats = json_of(&api, &format!("/api/ratings/movie/{id}/stats"), None);
        assert_eq!(stats["count"].as_f64(), Some(count), "{stats}");
    }
    // Imported people sign in with the passwords they had, a short one too.
    for person in expected["signIn"].as_array().unwrap() {
        let r = api.post("/api/users/login", person.clone());
        assert_eq!(r.status, 200, "{person}: {}", r.body);
        let token = r.json()["accessToken"].as_str().unwrap().to_owned();
        let me = json_of(&api, "/api/users/me", Some(&token));
        assert_eq!(me["email"], person["email"]);
        // Their ratings and comments came with them.
        let again = api.post("/api/users/login", person.clone());
        assert_eq!(again.status, 200, "the re-hashed password still signs in");
    }
    let wrong = api.post(
        "/api/users/login",
        json!({"email": expected["signIn"][0]["email"], "password": "not-it"}),
    );
    assert_eq!(wrong.status, 401);

    // Run again: every batch was confirmed, nothing is sent.
    let resumed = run(&[&[dump_arg][..], &token_arg[..]].concat());
    let out = text(&resumed);
    assert!(resumed.status.success(), "{out}");
    assert!(
        out.contains("imported: 0 rows written, 0 already there (") && out.contains("batches done before, skipped"),
        "{out}"
    );
    // Without the record of progress, everything is sent again and nothing changes.
    std::fs::remove_file(Path::new(&dump).join(".streamia-import-progress")).unwrap();
    let again = run(&[&[dump_arg][..], &token_arg[..]].concat());
    let out = text(&again);
    assert!(again.status.success(), "{out}");
    assert!(
        out.contains(&format!("imported: 0 rows written, {written} already there")),
        "{out}"
    );
    assert_eq!(total(&api, "/api/movies", None), expected["movies"].as_u64().unwrap());
    // The mapping table: every imported old id and its new one.
    let map = std::fs::read_to_string(dump.join("streamia-id-map.csv")).unwrap();
    assert!(map.starts_with("collection,object_id,id\n"));
    assert!(map.lines().filter(|l| l.starts_with("movies,")).count() as u64 == expected["movies"].as_u64().unwrap());
}

#[test]
fn the_import_routes_are_for_admins_and_refuse_a_bad_batch_whole() {
    let api = common::start();
    let admin = api.admin();
    let (_, member, _) = api.register("member@example.com", "member");
    let batch = json!({"rows": [{"userId": "01720000-0000-7000-8000-000000000001", "username": "old"}]});
    assert_eq!(
        api.send("POST", "/api/admin/import/comment-authors", None, Some(&batch))
            .status,
        401
    );
    assert_eq!(
        api.send("POST", "/api/admin/import/comment-authors", Some(&member), Some(&batch))
            .status,
        403
    );
    let ok = api.send("POST", "/api/admin/import/comment-authors", Some(&admin), Some(&batch));
    assert_eq!(
        (ok.status, ok.json()),
        (200, json!({"written": 1, "unchanged": 0})),
        "{}",
        ok.body
    );
    let bad = json!({"rows": [
        {"id": "01720000-0000-7000-8000-000000000002", "email": "fine@example.com", "username": "fine",
         "passwordHash": "!imported-without-a-usable-password", "admin": false, "createdAtMs": 0},
        {"id": "01720000-0000-7000-8000-000000000003", "email": "x@example.com", "username": "fine2",
         "passwordHash": "plain-text", "admin": false, "createdAtMs": 0}]});
    let r = api.send("POST", "/api/admin/import/users", Some(&admin), Some(&bad));
    common::assert_error(&r, 400, "validation_failed");
    assert!(r.body.contains("rows[1].passwordHash"), "{}", r.body);
    assert_eq!(
        total(&api, "/api/users", Some(&admin)),
        2,
        "the admin and the member: nothing of the batch"
    );
    assert_eq!(
        api.send("GET", "/api/admin/import/users", Some(&admin), None).status,
        405
    );
    assert_eq!(
        api.send("POST", "/api/admin/import/notifications", Some(&admin), Some(&batch))
            .status,
        404
    );
}
