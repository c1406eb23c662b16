//! Fuzzing from the contract: schemathesis (from PyPI, installed once into
//! the target directory by scripts/setup.sh's `ensure_schemathesis`) runs
//! every one of its checks (`--checks all`) on every operation of the
//! document the gateway serves (`/api/openapi.json`) — examples, boundary
//! and wrong values, random requests, then stateful sequences that use one
//! answer's ids in the next request — against the app on the embedded
//! default (with a local Cloudinary fake, so that the media routes answer
//! instead of 503 `media_not_configured`), first as an admin, then as a
//! plain member. It fails on any 5xx, any answer off the document (status,
//! content type, headers, body schema), a request the document calls valid
//! that is refused or one it calls invalid that is taken, an undeclared
//! method not answered 405 with `Allow`, a missing required header taken.
//! Its configuration (`tests/e2e/fuzz/schemathesis.toml`) lets 422 answer a
//! valid request: a rule of the domain no schema states. The counts are
//! printed past the test harness's capture.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

/// What one run of schemathesis did.
struct Run {
    /// Answers by status, from its HAR report.
    statuses: BTreeMap<u16, usize>,
    /// Its own summary line: "4408 generated, 4408 passed".
    summary: String,
    passed: bool,
    output: String,
}

/// schemathesis with every check against `api`, with `token`, for at most `seconds`.
fn fuzz(api: &Api, token: &str, seconds: u32, work: &Path) -> Run {
    let reports = work.join("reports");
    let output = Command::new(schemathesis())
        // Its caches (.schemathesis/, .hypothesis/) go beside the reports, not into the checkout.
        .current_dir(work)
        .arg("--config-file")
        .arg(workspace_root().join("tests/e2e/fuzz/schemathesis.toml"))
        .arg("run")
        .arg(api.url("/api/openapi.json"))
        .args(["--url", &api.url("")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        // One worker: hypothesis's lambda introspection is not thread-safe
        // on CPython 3.11 ("AST constructor recursion depth mismatch").
        .args(["--max-examples", "25", "--workers", "1"])
        .args(["--max-time", &seconds.to_string()])
        .args(["--seed", "20261206"])
        // Deleting the account would leave the rest of the run without a user.
        .args(["--exclude-operation-id", "deleteMe"])
        .args(["--report", "har", "--report-dir"])
        .arg(&reports)
        .args(["--no-color"])
        .output()
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut statuses = BTreeMap::<u16, usize>::new();
    for entry in std::fs::read_dir(&reports).unwrap() {
        let har: serde_json::Value = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for e in har["log"]["entries"].as_array().into_iter().flatten() {
            let status = e["response"]["status"].as_u64().unwrap_or(0) as u16;
            *statuses.entry(status).or_default() += 1;
        }
    }
    let summary = stdout
        .lines()
        .find(|l| l.contains(" generated, "))
        .map(|l| l.trim().to_owned())
        .unwrap_or_default();
    Run {
        statuses,
        summary,
        passed: output.status.success(),
        output: format!("{stdout}\n{stderr}"),
    }
}

#[test]
fn schemathesis_with_every_check_finds_nothing_off_the_contract() {
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
    let (_, member, _) = api.register("member@example.com", "member");
    let mut total = 0;
    let mut server_errors = 0;
    for (who, token, seconds) in [("an admin", &admin, 90), ("a member", &member, 30)] {
        let work = tempfile::tempdir().unwrap();
        let run = fuzz(&api, token, seconds, work.path());
        let requests: usize = run.statuses.values().sum();
        let errors: usize = run.statuses.iter().filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum();
        report(format!(
            "as {who}: {requests} requests, {errors} answered 5xx; by status {:?}",
            run.statuses
        ));
        report(format!("as {who}: schemathesis test cases: {}", run.summary));
        assert!(
            run.passed,
            "as {who}, schemathesis found answers off the contract:\n{}",
            run.output
        );
        total += requests;
        server_errors += errors;
    }
    assert!(total >= 1000, "only {total} requests generated");
    assert_eq!(server_errors, 0);
}
