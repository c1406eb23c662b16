#!/usr/bin/env bash
# Benchmark (not a test): the main movie reads through the gateway at 100
# concurrent connections, beside a no-op component on the same host in the
# same run, reported as ratios; plus the movies cache hit ratio.
#   scripts/bench-movies.sh            # 10 s per measurement
#   DURATION=30 scripts/bench-movies.sh
source "$(dirname "$0")/setup.sh"
ensure_wasm_target
ensure_debian_packages wrk:wrk curl:curl
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-100}"

echo "==> building devhost (release), the components and the no-op fixture"
cargo build --quiet --release -p devhost --manifest-path "$ROOT/Cargo.toml"
cargo build --quiet --release --target wasm32-wasip2 -p gateway -p users -p movies --manifest-path "$ROOT/Cargo.toml"
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fixtures" cargo build --quiet --release --target wasm32-wasip2 \
    --manifest-path "$ROOT/devhost/tests/fixtures/Cargo.toml" -p fixture-noop
devhost="$CARGO_TARGET_DIR/release/devhost"

work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

# start DIR: run devhost on DIR/spin.toml, print its base URL
start() {
    local dir="$1"; shift
    "$devhost" up -f "$dir/spin.toml" --listen 127.0.0.1:0 "$@" >"$dir/stdout" 2>"$dir/stderr" &
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

mkdir -p "$work/noop" "$work/app"
cat > "$work/noop/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench-noop"
[[trigger.http]]
route = "/..."
component = "noop"
[component.noop]
source = "$CARGO_TARGET_DIR/fixtures/wasm32-wasip2/release/fixture_noop.wasm"
TOML
sed "s#source = \"target/#source = \"$CARGO_TARGET_DIR/#" "$ROOT/spin.toml" > "$work/app/spin.toml"
cp "$ROOT/runtime-config.toml" "$work/app/"

noop="$(start "$work/noop")"
export SPIN_VARIABLE_JWT_SECRET="bench-only-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SPIN_VARIABLE_ADMIN_EMAILS="bench-admin@example.com"
app="$(start "$work/app" --runtime-config-file "$work/app/runtime-config.toml")"

echo "==> seeding 50 movies"
token="$(curl -sf "$app/api/users/register" -H 'content-type: application/json' \
    -d '{"email":"bench-admin@example.com","password":"bench-password","username":"bench"}' \
    | sed 's/.*"accessToken":"\([^"]*\)".*/\1/')"
for i in $(seq 1 50); do
    id="$(curl -sf "$app/api/movies" -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d "{\"title\":\"Movie $i\",\"description\":\"Benchmark movie $i\",\"releaseYear\":$((1950 + i)),\"genres\":[\"Drama\"]}" \
        | sed 's/.*"id":"\([^"]*\)".*/\1/')"
done

echo "==> ${CONNECTIONS} connections, ${DURATION} s each"
{
    measure "no-op component (baseline)" "$noop/"
    measure "GET /api/movies/{id}" "$app/api/movies/$id"
    measure "GET /api/movies?limit=20" "$app/api/movies?limit=20&sort=title"
} > "$work/results"
awk 'NR == 1 {base = $(NF-3)}
     {n = NF; name = ""; for (i = 1; i <= n - 4; i++) name = name (i > 1 ? " " : "") $i
      printf "%-30s %8.0f req/s  p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  (%.2f of baseline)\n", name, $(n-3), $(n-2), $(n-1), $n, $(n-3) / base}' \
    "$work/results"
curl -sf "$app/health/movies" | sed 's/.*"hits":\([0-9]*\),"misses":\([0-9]*\).*/\1 \2/' \
    | awk '{printf "movies cache: %d hits, %d misses, hit ratio %.3f\n", $1, $2, $1 / ($1 + $2)}'
