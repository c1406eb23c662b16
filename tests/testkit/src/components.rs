//! Where the app's pieces are: the workspace, Cargo's target directory,
//! the components built for wasm32-wasip2 (once per test binary), and the
//! host binaries (devhost, the Spin CLI).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// Cargo's target directory (`$CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Build devhost's fixture components for wasm32-wasip2 (once per test
/// binary) and return the directory holding the `.wasm` files.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_dir().join("fixtures");
        let status = cargo()
            .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(workspace_root().join("devhost/tests/fixtures/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the fixture components failed");
        target.join("wasm32-wasip2/release")
    })
}

pub fn fixture(name: &str) -> String {
    fixtures().join(format!("fixture_{name}.wasm")).display().to_string()
}

/// A native binary of the workspace, built (debug, as `cargo test` builds)
/// and its path: the commands users run beside the app (`streamia-import`).
pub fn native_binary(package: &str, bin: &str) -> PathBuf {
    let status = cargo()
        .args(["build", "--quiet", "-p", package, "--bin", bin, "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {bin} failed");
    target_dir().join("debug").join(bin)
}

/// Build workspace components for wasm32-wasip2 (release), where spin.toml's
/// `source` paths point. Each package at most once per test binary.
pub fn build_components(packages: &[&str]) {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !built.iter().any(|b| b == p))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml"));
    for p in &missing {
        cmd.args(["-p", p]);
    }
    assert!(
        cmd.status().expect("cargo runs").success(),
        "building {missing:?} for wasm32-wasip2 failed"
    );
    built.extend(missing.iter().map(|p| p.to_string()));
}

/// A workspace component's release build: `event-sink` → `…/event_sink.wasm`.
pub fn component_wasm(package: &str) -> PathBuf {
    target_dir().join(format!("wasm32-wasip2/release/{}.wasm", package.replace('-', "_")))
}

/// The devhost binary: `$DEVHOST_BIN`, or the workspace's, built on first use.
pub fn devhost_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("DEVHOST_BIN") {
            return PathBuf::from(bin);
        }
        let status = cargo()
            .args(["build", "-p", "devhost", "--manifest-path"])
            .arg(workspace_root().join("Cargo.toml"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building devhost failed");
        target_dir().join("debug/devhost")
    })
    .clone()
}

/// Which host the tests run the app on: `STREAMIA_TEST_HOST=spin` for the
/// Spin CLI, devhost otherwise.
pub fn on_spin() -> bool {
    std::env::var("STREAMIA_TEST_HOST").as_deref() == Ok("spin")
}

/// The Spin CLI: `spin` on PATH, else the project's `../shared/bin/spin`.
pub fn spin_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("spin"))
        .find(|p| p.is_file());
    on_path.unwrap_or_else(|| workspace_root().join("../shared/bin/spin"))
}
