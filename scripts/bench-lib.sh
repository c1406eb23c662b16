# Sourced by the benchmarks: building, starting the host, measuring with wrk.
# The host is the Spin CLI (`spin` on PATH, else ../shared/bin/spin) when
# there is one, else devhost; BENCH_HOST=spin|devhost chooses.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ensure_wasm_target
ensure_debian_packages wrk:wrk curl:curl
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-100}"
devhost="$CARGO_TARGET_DIR/release/devhost"
spin="$(find_spin)"
BENCH_HOST="${BENCH_HOST:-$([ -n "$spin" ] && echo spin || echo devhost)}"
if [ "$BENCH_HOST" = spin ] && [ -z "$spin" ]; then
    echo "error: BENCH_HOST=spin but no Spin CLI (spin on PATH or ../shared/bin/spin)" >&2; exit 1
fi
noop_wasm="$CARGO_TARGET_DIR/fixtures/wasm32-wasip2/release/fixture_noop.wasm"

build_host_and_noop() {
    if [ "$BENCH_HOST" = spin ]; then
        echo "==> host: $("$spin" --version) ($spin)"
    else
        echo "==> host: devhost (release); building it"
        cargo build --quiet --release -p devhost --manifest-path "$ROOT/Cargo.toml"
    fi
    echo "==> building the no-op fixture component"
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fixtures" cargo build --quiet --release --target wasm32-wasip2 \
        --manifest-path "$ROOT/devhost/tests/fixtures/Cargo.toml" -p fixture-noop
}

work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait; rm -rf "$work"' EXIT

# write_noop_manifest DIR: a one-component app answering every path
write_noop_manifest() {
    mkdir -p "$1"
    cat > "$1/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench-noop"
[[trigger.http]]
route = "/..."
component = "noop"
[component.noop]
source = "$noop_wasm"
TOML
}

# start DIR [ARGS…]: run the host on DIR/spin.toml, in DIR (Spin resolves
# relative SQLite paths against its working directory); prints its base URL
start() {
    local dir="$1"; shift
    if [ "$BENCH_HOST" = spin ]; then
        (cd "$dir" && exec "$spin" up -f spin.toml --listen "127.0.0.1:$(free_port)" "$@") >"$dir/stdout" 2>"$dir/stderr" &
    else
        (cd "$dir" && exec "$devhost" up -f spin.toml --listen 127.0.0.1:0 "$@") >"$dir/stdout" 2>"$dir/stderr" &
    fi
    pids+=($!)
    for _ in $(seq 1 600); do
        local url; url="$(sed -n 's/^Serving //p' "$dir/stdout")"
        if [ -n "$url" ]; then echo "$url"; return; fi
        sleep 0.1
    done
    cat "$dir/stderr" >&2; exit 1
}

# measure NAME URL: wrk after a 3 s warm-up; prints "NAME rps p50 p95 p99"
measure() {
    wrk -t2 -c"$CONNECTIONS" -d3s "$2" >/dev/null
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$ROOT/scripts/wrk-report.lua" "$2" | awk -v name="$1" '
        /^requests\/s:/ {rps=$2} /^p50/ {p50=$3} /^p95/ {p95=$3} /^p99/ {p99=$3}
        END {printf "%s %s %s %s %s\n", name, rps, p50, p95, p99}'
}

# report FILE: one line per measurement, each as a ratio of the first
report() {
    awk 'NR == 1 {base = $(NF-3)}
         {n = NF; name = ""; for (i = 1; i <= n - 4; i++) name = name (i > 1 ? " " : "") $i
          printf "%-30s %8.0f req/s  p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  (%.2f of baseline)\n", name, $(n-3), $(n-2), $(n-1), $n, $(n-3) / base}' "$1"
}
