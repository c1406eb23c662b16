#!/usr/bin/env bash
# Baseline benchmark (not a test): a no-op HTTP component served by devhost,
# driven by wrk at 100 concurrent connections. Prints requests/s and
# p50/p95/p99; later benchmarks report their figures as a ratio to these.
#
#   scripts/bench-devhost.sh            # 10 s run
#   DURATION=30 scripts/bench-devhost.sh
source "$(dirname "$0")/setup.sh"
ensure_wasm_target
ensure_debian_packages wrk:wrk

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-100}"

echo "==> building devhost (release) and the no-op fixture component"
cargo build --quiet --release -p devhost --manifest-path "$ROOT/Cargo.toml"
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fixtures" cargo build --quiet --release --target wasm32-wasip2 \
    --manifest-path "$ROOT/devhost/tests/fixtures/Cargo.toml" -p fixture-noop
noop="$CARGO_TARGET_DIR/fixtures/wasm32-wasip2/release/fixture_noop.wasm"

work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench-noop"
[[trigger.http]]
route = "/..."
component = "noop"
[component.noop]
source = "$noop"
TOML

"$CARGO_TARGET_DIR/release/devhost" up -f "$work/spin.toml" --listen 127.0.0.1:0 \
    >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 300); do
    url="$(sed -n 's/^Serving //p' "$work/stdout")"
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/stderr"; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "devhost did not start" >&2; exit 1; }

echo "==> warm-up (3 s)"
wrk -t2 -c"$CONNECTIONS" -d3s "$url/" >/dev/null
echo "==> no-op component on devhost: ${CONNECTIONS} connections, ${DURATION} s"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$ROOT/scripts/wrk-report.lua" "$url/" | sed -n '/^requests:/,$p'
