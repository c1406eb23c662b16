#!/usr/bin/env bash
# Every check and test: formatting, lints, the components' wasm build, unit
# tests, devhost's tests and the end-to-end tests (which start devhost and
# redis-server themselves on free loopback ports).
source "$(dirname "$0")/setup.sh"
ensure_wasm_target
ensure_debian_packages redis-server:redis-server
cd "$ROOT"

wasm_packages=()
for dir in components/*/ tests/components/*/; do
    wasm_packages+=(-p "$(basename "$dir")")
done

echo "==> cargo fmt --check"
cargo fmt --all -- --check
(cd devhost/tests/fixtures && cargo fmt --all -- --check)

echo "==> cargo clippy (native crates, then components for wasm32-wasip2)"
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet --target wasm32-wasip2 "${wasm_packages[@]}" -- -D warnings

echo "==> cargo build --release --target wasm32-wasip2 ${wasm_packages[*]}"
cargo build --quiet --release --target wasm32-wasip2 "${wasm_packages[@]}"

echo "==> cargo test"
cargo test
