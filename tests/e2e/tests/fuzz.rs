//! Fuzzing from the contract: schemathesis (from PyPI, installed once into
//! the target directory by scripts/setup.sh's `ensure_schemathesis`)
//! generates requests for every operation of docs/openapi.json — examples,
//! boundary and wrong values, then random ones — against the app on the
//! embedded default (with a local Cloudinary fake, so that the media routes
//! answer instead of 503 `media_not_configured`), with an admin's token, and
//! checks every answer: no 5xx, a documented status, content type and
//! headers, and a body that matches the documented schema. The counts are
//! printed past the test harness's capture.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{app, Api};
use streamia_testkit::{target_dir, workspace_root, FakeCloudinary};

/// The schemathesis CLI scripts/setup.sh installed (`STREAMIA_SCHEMATHESIS`).
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("STREAMIA_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("tools/schemathesis/bin/st"));
    assert!(
        path.exists(),
        "no schemathesis at {}: run scripts/test.sh, which installs it",
        path.display()
    );
    path
}

fn report(line: String) {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "fuzz: {line}").ok();
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_off_the_contract() {
    let cloudinary = FakeCloudinary::start("fuzz-cloud", "fuzz-key", "fuzz-secret");
    let api = Api {
        host: app()
            .env("SPIN_VARIABLE_CLOUDINARY_CLOUD_NAME", "fuzz-cloud")
            .env("SPIN_VARIABLE_CLOUDINARY_API_KEY", "fuzz-key")
            .env("SPIN_VARIABLE_CLOUDINARY_API_SECRET", "fuzz-secret")
            .env("SPIN_VARIABLE_CLOUDINARY_BASE_URL", &cloudinary.base_url())
            .start(),
    };
    let admin = api.admin();
    let work = tempfile::tempdir().unwrap();
    let reports = work.path().join("reports");
    let output = Command::new(schemathesis())
        // Its caches (.schemathesis/, .hypothesis/) go beside the reports, not into the checkout.
        .current_dir(work.path())
        .arg("run")
        .arg(workspace_root().join("docs/openapi.json"))
        .args(["--url", &api.url("")])
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"])
        .args(["--phases", "examples,coverage,fuzzing"])
        // One worker: hypothesis's lambda introspection is not thread-safe
        // on CPython 3.11 ("AST constructor recursion depth mismatch").
        .args(["--max-examples", "25", "--max-time", "90", "--workers", "1"])
        .args(["--seed", "20261202"])
        // Deleting the account would leave the rest of the run without a user.
        .args(["--exclude-operation-id", "deleteMe"])
        .args(["--report", "har", "--report-dir"])
        .arg(&reports)
        .args(["--no-color"])
        .output()
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    // Every request it sent and what came back, from its HAR report.
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for entry in std::fs::read_dir(&reports).unwrap() {
        let har: serde_json::Value = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for e in har["log"]["entries"].as_array().into_iter().flatten() {
            let status = e["response"]["status"].as_u64().unwrap_or(0) as u16;
            *statuses.entry(status).or_default() += 1;
        }
    }
    let total: usize = statuses.values().sum();
    let server_errors: usize = statuses.iter().filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum();
    report(format!(
        "{total} generated requests, {server_errors} answered 5xx; by status {statuses:?}"
    ));
    // Its own summary: "4408 generated, 4408 passed".
    if let Some(cases) = stdout.lines().find(|l| l.contains(" generated, ")) {
        report(format!("schemathesis test cases: {}", cases.trim()));
    }
    assert!(
        output.status.success(),
        "schemathesis found answers off the contract:\n{stdout}\n{stderr}"
    );
    assert!(total >= 1000, "only {total} requests generated:\n{stdout}");
    assert_eq!(server_errors, 0, "{stdout}");
}
