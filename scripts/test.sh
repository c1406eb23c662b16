#!/usr/bin/env bash
# Every check and test: formatting, lints (clippy, as the crates build), the
# components' wasm build (once, for both hosts), the supply-chain check, unit tests, devhost's tests and the
# end-to-end suite on devhost; then, with the Spin CLI (`spin` on PATH, else
# ../shared/bin/spin), the end-to-end suite, `spin build`, the split and Cloud layouts, the
# release pushed to a local registry (Debian's docker-registry) and run from it,
# the schemathesis fuzzing, the web client in Debian's chromium and devhost's Spin-behaviour tests again on the
# real Spin. deploy/spinkube/ is validated against the Kubernetes schemas. Tests start redis-server and
# the hosts themselves on free loopback ports.
source "$(dirname "$0")/setup.sh"
ensure_wasm_target
ensure_debian_packages redis-server:redis-server git:git docker-registry:docker-registry
cd "$ROOT"
ensure_schemathesis
ensure_kubernetes_validate
ensure_browser
ensure_phoenix
ensure_prometheus
logs="$CARGO_TARGET_DIR/test-logs"
mkdir -p "$logs"
rm -f "$logs"/*.log

# step NAME: announce a step; the time each took is printed at the end.
timings=()
step() {
    if [ -n "${step_name:-}" ]; then timings+=("$(printf '%5d s  %s' $((SECONDS - step_start)) "$step_name")"); fi
    step_name="$1"
    step_start=$SECONDS
    [ -n "$1" ] && echo "==> $1"
    return 0
}

wasm_packages=()
for dir in components/*/ tests/components/*/; do
    wasm_packages+=(-p "$(basename "$dir")")
done
# The end-to-end suite (tests/e2e/tests/*.rs) and the tests that hold devhost
# to Spin's behaviour: what runs on both hosts.
both_hosts=(--test spin_behaviour)
for file in tests/e2e/tests/*.rs; do
    both_hosts+=(--test "$(basename "$file" .rs)")
done

step "cargo fmt --check"
cargo fmt --all -- --check
(cd devhost/tests/fixtures && cargo fmt --all -- --check)

# Linted as they are built: clippy-driver compiles the workspace's own
# crates (what `cargo clippy` does, but building rather than only checking),
# so that the dependencies, wasmtime among them, compile once for the lints
# and the tests instead of twice. Every cargo call below builds this way.
export RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

# Built once: both hosts serve these same .wasm files.
step "cargo build --release --target wasm32-wasip2, linted by clippy: ${wasm_packages[*]}"
cargo build --quiet --release --target wasm32-wasip2 "${wasm_packages[@]}"

step "supply chain: cargo-deny (advisories, licences, bans, sources)"
# cargo-deny is installed with cargo: not a crate of ours to lint.
env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS scripts/supply-chain.sh

# One native build: the devhost binary `cargo test` builds is the one the
# end-to-end tests run (building it alone would unify features differently
# and compile wasmtime a second time).
step "cargo test --no-run: the native crates and their tests, linted by clippy"
cargo test --quiet --no-run
export DEVHOST_BIN="$CARGO_TARGET_DIR/debug/devhost"

# passed LOG [TEST…]: how many tests cargo test's output reports passed (in
# the named test binaries only, when some are named)
passed() {
    local log="$1"; shift
    awk -v only=" $* " '
        /Running / { name = $2; sub(/^tests\//, "", name); sub(/\.rs$/, "", name) }
        /^test result:/ && (only == "  " || index(only, " " name " ")) { n += $4 }
        END { print n + 0 }' "$log"
}
both_names=()
for ((i = 1; i < ${#both_hosts[@]}; i += 2)); do both_names+=("${both_hosts[i]}"); done

spin="$(find_spin)"
step "cargo test: unit tests, devhost's tests, the end-to-end suite on devhost"
# `spin build`, the split layout (`spin up -c`, selective deployment), the
# Cloud layout (self requests, which devhost does not make) and the image in
# a registry (`spin up --from`) are the Spin CLI's, and so are traces
# (devhost exports none): they run in the Spin pass below. So do the fuzzing and the browser test when there is a Spin (once,
# on the host users run).
skip=(--skip spin_build --skip the_split_layout --skip the_cloud_layout --skip the_release_is_pushed --skip spins_traces)
if [ -n "$spin" ]; then skip+=(--skip schemathesis --skip the_web_client_in_a_real_browser); fi
cargo test -- "${skip[@]}" 2>&1 | tee "$logs/devhost.log"
summary=("devhost: $(passed "$logs/devhost.log" "${both_names[@]}") end-to-end and Spin-behaviour tests passed")
total=$(passed "$logs/devhost.log")

if [ -n "$spin" ]; then
    version="$("$spin" --version)"
    step "the same suite on the real Spin: $version ($spin), and spin build"
    STREAMIA_TEST_HOST=spin cargo test "${both_hosts[@]}" 2>&1 | tee "$logs/spin.log"
    summary+=("${version%% (*}: $(passed "$logs/spin.log") end-to-end, spin build and Spin-behaviour tests passed")
    total=$((total + $(passed "$logs/spin.log")))
else
    summary+=("the real Spin: NOT RUN (no Spin CLI on PATH or at ../shared/bin/spin)")
fi

step ""
echo "==> time per step (${SECONDS} s in all)"
printf '    %s\n' "${timings[@]}"
echo "==> hosts"
printf '    %s\n' "${summary[@]}"
echo "==> figures (fault, fuzz, browser, import, traces, monitoring and catch-up tests)"
for log in "$logs/devhost.log" "$logs/spin.log"; do
    if [ -f "$log" ]; then grep -h "^durable: \|^fuzz: \|^browser: \|^import: \|^traces: \|^monitoring: \|^catch-up: " "$log" | sed "s/^/    $(basename "$log" .log) /" || true; fi
done
echo "$total passed, 0 failed"
