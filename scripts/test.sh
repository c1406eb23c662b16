#!/usr/bin/env bash
# Every check and test: formatting, lints, the components' wasm build, unit
# tests, devhost's tests and the end-to-end tests (which start redis-server
# themselves on free loopback ports).
source "$(dirname "$0")/setup.sh"
ensure_wasm_target
ensure_debian_packages redis-server:redis-server
cd "$ROOT"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
(cd devhost/tests/fixtures && cargo fmt --all -- --check)

echo "==> cargo clippy"
cargo clippy --quiet --workspace --all-targets -- -D warnings

"$ROOT/scripts/build.sh"

echo "==> cargo test"
cargo test --workspace
