//! `spin build` — the real Spin CLI — builds every component of spin.toml
//! from a clean checkout with each component's `[component.*.build]` command,
//! and the result serves.
//!
//! The checkout is the repository's tracked files copied to a temporary
//! directory, with a `target/` of its own. So that the test does not compile
//! every registry crate again, that `target/` starts as a copy of the shared
//! target directory's release artifacts (cargo reuses them; the workspace's
//! own crates are newer in the copy and are compiled again). It is a copy,
//! not a link: two checkouts of one workspace in one target directory
//! overwrite each other's build-script outputs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use streamia_testkit::{get, spin_binary, target_dir, workspace_root, App};

fn clean_checkout(into: &Path) {
    let root = workspace_root();
    let listed = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["ls-files", "-z", "--cached"])
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "git ls-files failed");
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let file = std::str::from_utf8(file).unwrap();
        let (from, to) = (root.join(file), into.join(file));
        if !from.exists() {
            continue; // deleted in the working tree, not yet committed
        }
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    for dir in [
        "wasm32-wasip2/release",
        "release/build",
        "release/deps",
        "release/.fingerprint",
    ] {
        let (from, to) = (target_dir().join(dir), into.join("target").join(dir));
        if from.exists() {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            let status = Command::new("cp")
                .args(["-a", "--reflink=auto"])
                .arg(&from)
                .arg(&to)
                .status()
                .expect("cp runs");
            assert!(status.success(), "copying {}", from.display());
        }
    }
}

#[test]
fn spin_build_builds_every_component_from_a_clean_checkout() {
    let checkout = tempfile::tempdir().unwrap();
    clean_checkout(checkout.path());
    let started = SystemTime::now() - Duration::from_secs(2);
    let out = Command::new(spin_binary())
        .current_dir(checkout.path())
        .args(["build", "-f", "spin.toml"])
        // As a new user runs it: cargo's default target/ under the checkout.
        .env_remove("CARGO_TARGET_DIR")
        // scripts/test.sh builds through clippy-driver; a user does not.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .output()
        .expect("the Spin CLI runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "spin build failed:\n{log}");

    let manifest: toml::Table = std::fs::read_to_string(checkout.path().join("spin.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let components = manifest["component"].as_table().unwrap();
    for (id, component) in components {
        let command = component["build"]["command"].as_str().unwrap_or_default();
        assert!(command.contains(&format!("-p {id}")), "{id} builds itself: {command:?}");
        assert!(
            log.contains(&format!("Building component {id}")),
            "{id} was not built:\n{log}"
        );
        let source = checkout.path().join(component["source"].as_str().unwrap());
        let built = std::fs::metadata(&source)
            .unwrap_or_else(|e| panic!("{id}: {}: {e}", source.display()))
            .modified()
            .unwrap();
        assert!(built >= started, "{id}: {} is older than the build", source.display());
    }

    // What it built serves: the checkout's own spin.toml and runtime config.
    let app = App::new(
        &std::fs::read_to_string(checkout.path().join("spin.toml"))
            .unwrap()
            .replace(
                "source = \"target/",
                &format!("source = \"{}/target/", checkout.path().display()),
            ),
    )
    .runtime_config(&std::fs::read_to_string(checkout.path().join("runtime-config.toml")).unwrap())
    .env("SPIN_VARIABLE_JWT_SECRET", "spin-build-test-secret-long-enough-0123")
    .start();
    let health = get(&app.url("/health"));
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.json()["status"], "ok", "{}", health.body);
}
