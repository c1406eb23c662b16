#!/usr/bin/env bash
# The benchmark (not a test): the whole app on its embedded default (spin.toml
# + runtime-config.toml: SQLite and key-value files, events over http),
# seeded through the public API with a realistic catalogue, then each main
# path at 100 concurrent connections with wrk, beside a no-op component
# measured on the same host in the same run; then the time from a rating
# write to the movie's aggregate. Prints a table and writes
# docs/bench/<host>.json and docs/bench/<host>.svg.
#   scripts/bench.sh                         # the Spin CLI when there is one
#   BENCH_HOST=devhost scripts/bench.sh      # devhost (release)
#   DURATION=30 CONNECTIONS=100 BENCH_MOVIES=1000 BENCH_USERS=1000 scripts/bench.sh
#   BENCH_PATHS="rate comment" scripts/bench.sh   # only these paths (and the no-op); no report files
#   scripts/bench.sh --mix                   # the mixed day instead (Locust; see below)
#   scripts/bench.sh --profile               # where one request's time goes (Spin's traces; see below)
#   scripts/bench.sh --search                # the catalogue search on 100,000 movies (see below)
# --mix: a mixed day (browsing, writes, MIX_SIGN_INS % sign-ins; scripts/bench/mix.py)
# offered at fixed rates by Locust (from PyPI) to MIX_PEOPLE people at each of
# MIX_RATES req/s, MIX_SECONDS each, on the embedded default and on
# runtime-config.redis.toml (with a redis-server of its own); per endpoint and
# step p50/p95/p99, errors and refusals, into docs/bench/mix-<host>.json/.svg.
# --profile: the app on Spin with its OpenTelemetry export pointed at a
# Phoenix of its own (arize-phoenix from PyPI), a small catalogue seeded, then
# PROFILE_SAMPLES requests of each path one at a time; every trace read back
# and each request's spans summed by kind: components, chained calls, host
# calls (scripts/bench/profile.py). Spin only (devhost exports no traces).
# --search: BENCH_SEARCH_MOVIES (100,000) movies imported through the import
# route, then each kind of search one request at a time, beside an uncached
# list page and the no-op component (scripts/bench/search.py); figures in
# docs/bench/search-<host>.json.
source "$(dirname "$0")/setup.sh"
ensure_wasm_target
ensure_debian_packages wrk:wrk python3:python3
mix=""
if [ "${1:-}" = "--mix" ]; then
    mix=1
    ensure_debian_packages redis-server:redis-server
    LOCUST_VERSION=2.47.0
    ensure_pip_tool locust locust "$LOCUST_VERSION"
    export LOCUST_VERSION
fi
profile=""
if [ "${1:-}" = "--profile" ]; then
    profile=1
    ensure_pip_tool phoenix arize-phoenix 20.26.1
    BENCH_HOST=spin
    BENCH_MOVIES="${BENCH_MOVIES:-200}" BENCH_USERS="${BENCH_USERS:-100}" BENCH_COMMENTS="${BENCH_COMMENTS:-400}"
    export BENCH_MOVIES BENCH_USERS BENCH_COMMENTS
fi
search=""
if [ "${1:-}" = "--search" ]; then search=1; fi
cd "$ROOT"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-100}"
devhost="$CARGO_TARGET_DIR/release/devhost"
spin="$(find_spin)"
BENCH_HOST="${BENCH_HOST:-$([ -n "$spin" ] && echo spin || echo devhost)}"
if [ "$BENCH_HOST" = spin ] && [ -z "$spin" ]; then
    echo "error: BENCH_HOST=spin but no Spin CLI (spin on PATH or ../shared/bin/spin)" >&2; exit 1
fi
noop_wasm="$CARGO_TARGET_DIR/fixtures/wasm32-wasip2/release/fixture_noop.wasm"

# host_version: which host serves, as the results name it
host_version() {
    if [ "$BENCH_HOST" = spin ]; then "$spin" --version | sed 's/ (.*//'; else echo "devhost (release)"; fi
}

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
# Each host leads its own process group (setsid): `spin up` serves through a
# `spin trigger http` child, which a kill of `spin up` alone leaves running.
# A host already stopped (restart_app) must not end the loop early.
trap 'for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; wait; rm -rf "$work"' EXIT

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
# relative SQLite paths against its working directory), with the variables
# in start_env as well; sets STARTED_URL to its base URL. Not in $(…) nor
# any subshell: the host's pid must reach the exit trap.
start_env=()
start() {
    local dir="$1"; shift
    if [ "$BENCH_HOST" = spin ]; then
        (cd "$dir" && exec env "${start_env[@]}" setsid "$spin" up -f spin.toml --listen "127.0.0.1:$(free_port)" "$@") >"$dir/stdout" 2>"$dir/stderr" &
    else
        (cd "$dir" && exec env "${start_env[@]}" setsid "$devhost" up -f spin.toml --listen 127.0.0.1:0 "$@") >"$dir/stdout" 2>"$dir/stderr" &
    fi
    pids+=($!)
    for _ in $(seq 1 600); do
        STARTED_URL="$(sed -n 's/^Serving //p' "$dir/stdout")"
        if [ -n "$STARTED_URL" ]; then return; fi
        sleep 0.1
    done
    cat "$dir/stderr" >&2; exit 1
}

export DURATION CONNECTIONS
build_host_and_noop
echo "==> building the components"
"$ROOT/scripts/build.sh" >/dev/null

write_noop_manifest "$work/noop"
mkdir -p "$work/app" "$work/requests"
sed "s#source = \"target/#source = \"$CARGO_TARGET_DIR/#" "$ROOT/spin.toml" > "$work/app/spin.toml"
cp "$ROOT/runtime-config.toml" "$work/app/"

if [ -z "$mix" ] && [ -z "$profile" ]; then
    start "$work/noop"
    noop="$STARTED_URL"
fi
export SPIN_VARIABLE_JWT_SECRET="bench-only-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SPIN_VARIABLE_ADMIN_EMAILS="bench-admin@example.com"
# The gateway's rate limits stay on and count every request, but 100
# connections from one IP must not be refused: limits no load reaches.
for limit in ANONYMOUS USER AUTH LOGIN_FAILURES; do export "SPIN_VARIABLE_RATE_LIMIT_$limit=1000000000/1m"; done
# The app's own deadline (3 s) unless BENCH_UPSTREAM_TIMEOUT_MS says otherwise.
if [ -n "${BENCH_UPSTREAM_TIMEOUT_MS:-}" ]; then
    export SPIN_VARIABLE_UPSTREAM_TIMEOUT_MS="$BENCH_UPSTREAM_TIMEOUT_MS"
fi
# run_mix CONFIG RUNTIME_CONFIG: the mixed day's steps on a fresh app.
run_mix() {
    local config="$1" runtime="$2"
    rm -rf "$work/app/.spin" "$work/requests"/*
    start "$work/app" --runtime-config-file "$runtime"
    local url="$STARTED_URL" pid="${pids[-1]}"
    echo "==> $config: seeding through the API"
    python3 "$ROOT/scripts/bench/driver.py" seed "$url" "$work/requests" | sed 's/^/  /'
    mkdir -p "$work/mix"
    for people in ${MIX_PEOPLE:-100 500}; do
        for rate in ${MIX_RATES:-200 500 1000 1500}; do
            local prefix="$work/mix/$config-$people-$rate"
            MIX_SEED="$work/requests/seed.json" MIX_PEOPLE="$people" MIX_RATE="$rate" MIX_SIGN_INS="${MIX_SIGN_INS:-1}" \
                "$CARGO_TARGET_DIR/tools/locust/bin/locust" -f "$ROOT/scripts/bench/mix.py" --headless \
                -u "$people" -r "$((people / 5 + 1))" -t "${MIX_SECONDS:-30}s" --reset-stats --only-summary \
                --stop-timeout 5 --host "$url" --csv "$prefix" >"$prefix.log" 2>&1 || true
            python3 "$ROOT/scripts/bench/driver.py" mix_step "$prefix" "$config" "$people" "$rate" \
                "${MIX_SECONDS:-30}" "$work/mix/results.jsonl"
            sleep 3
        done
    done
    cat "$work/app/stdout" "$work/app/stderr" > "$CARGO_TARGET_DIR/bench/mix-app-$config-$BENCH_HOST.log"
    kill -- "-$pid" 2>/dev/null || true
    sleep 1
}

if [ -n "$mix" ]; then
    mkdir -p "$ROOT/docs/bench" "$CARGO_TARGET_DIR/bench"
    run_mix default "$work/app/runtime-config.toml"
    redis_port="$(free_port)"
    setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
    pids+=($!)
    sed "s#redis://127.0.0.1:6379#redis://127.0.0.1:$redis_port#" "$ROOT/runtime-config.redis.toml" > "$work/app/runtime-config.redis.toml"
    sleep 1
    run_mix redis "$work/app/runtime-config.redis.toml"
    python3 "$ROOT/scripts/bench/driver.py" mix_report "$work/mix/results.jsonl" \
        "$ROOT/docs/bench/mix-$BENCH_HOST.json" "$ROOT/docs/bench/mix-$BENCH_HOST.svg" "$(host_version)"
    exit 0
fi

start "$work/app" --runtime-config-file "$work/app/runtime-config.toml"
app="$STARTED_URL"
app_pid="${pids[-1]}"

if [ -n "$search" ]; then
    mkdir -p "$ROOT/docs/bench"
    python3 "$ROOT/scripts/bench/search.py" "$app" "$noop" "$ROOT/docs/bench/search-$BENCH_HOST.json" "$(host_version)"
    exit 0
fi

echo "==> seeding through the API"
python3 "$ROOT/scripts/bench/driver.py" seed "$app" "$work/requests"
echo "==> a password hash's time: one login at a time, on the idle app"
python3 "$ROOT/scripts/bench/driver.py" login_time "$app" "$work/requests"

# run NAME URL REQUESTS [SECONDS] [nowarm]: a warm-up (unless nowarm: the
# favourites' file depends on the state the seeding left), then the
# measurement (one JSON line)
run() {
    if [ -n "${BENCH_PATHS:-}" ] && [ "$3" != noop ] && [[ " $BENCH_PATHS " != *" $3 "* ]]; then return; fi
    local script="$ROOT/scripts/bench/requests.lua" file="$work/requests/$3.requests"
    local seconds="${4:-$DURATION}"
    if [ "${5:-}" != nowarm ]; then
        wrk -t2 -c"$CONNECTIONS" -d3s --timeout 30s -s "$script" "$2" -- "$file" "$1" 2 >/dev/null
    fi
    # wrk stops with its requests in flight: let them end (and the
    # gateway's bulkheads forget any whose end it never saw) first.
    sleep 5
    wrk -t2 -c"$CONNECTIONS" -d"${seconds}s" --timeout 30s -s "$script" "$2" -- "$file" "$1" 2 | tail -n 1
}
printf 'GET\t/\t\t\n' > "$work/requests/noop.requests"
if [ -n "$profile" ]; then
    # Traced only now: the seeding's spans, hundreds of thousands, would
    # overflow Spin's export queue and keep Phoenix busy for minutes.
    phoenix_port="$(free_port)"
    mkdir -p "$work/phoenix"
    PHOENIX_WORKING_DIR="$work/phoenix" PHOENIX_HOST=127.0.0.1 PHOENIX_PORT="$phoenix_port" \
        PHOENIX_GRPC_PORT="$(free_port)" PHOENIX_TELEMETRY_ENABLED=false PHOENIX_DISABLE_AGENT_ASSISTANT=true \
        setsid "$CARGO_TARGET_DIR/tools/phoenix/bin/phoenix" serve >"$work/phoenix.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 240); do
        curl -sf "http://127.0.0.1:$phoenix_port/healthz" >/dev/null && break
        sleep 0.5
    done
    curl -sf "http://127.0.0.1:$phoenix_port/healthz" >/dev/null || { cat "$work/phoenix.log" >&2; exit 1; }
    kill -- "-$app_pid" 2>/dev/null || true
    : > "$work/app/stdout"
    # Every component's host calls as spans, exported within a fraction of a second.
    start_env=(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$phoenix_port/v1/traces"
        OTEL_BSP_SCHEDULE_DELAY=200 OTEL_RESOURCE_ATTRIBUTES=openinference.project.name=bench)
    start "$work/app" --runtime-config-file "$work/app/runtime-config.toml"
    app="$STARTED_URL"
    start "$work/noop"
    noop="$STARTED_URL"
    start_env=()
    echo "==> one request at a time, ${PROFILE_SAMPLES:-20} of each path: time per span kind (mean over the requests)"
    NOOP_URL="$noop" python3 "$ROOT/scripts/bench/profile.py" "$app" "http://127.0.0.1:$phoenix_port" bench \
        "$work/requests" "${PROFILE_SAMPLES:-20}"
    mkdir -p "$ROOT/docs/bench"
    cp "$work/requests/profile.json" "$ROOT/docs/bench/profile-spin.json"
    echo "==> figures: docs/bench/profile-spin.json"
    exit 0
fi

echo "==> ${CONNECTIONS} connections, ${DURATION} s each (after 3 s of warm-up)"
{
    run "no-op component" "$noop" noop
    run "GET /api/movies/{id}" "$app" movie
    run "GET /api/movies (list)" "$app" list
    run "GET /api/movies?search=" "$app" search
    run "GET /api/comments/movie/{id}" "$app" comments
    run "GET /api/ratings/movie/{id}/stats" "$app" stats
    run "POST /api/ratings/{id}" "$app" rate
    run "POST /api/comments/movie/{id}" "$app" comment
    run "POST+DELETE /api/favorites/{id}" "$app" favorite "$DURATION" nowarm
    # Argon2id by design: each login takes ~0.1 s of a core, so 100 at once
    # queue for seconds; twice as long a run, to let them finish.
    run "POST /api/users/login" "$app" login "$((2 * DURATION))"
} | tee "$work/requests/results" | sed 's/^/    /'

if [ -n "${BENCH_PATHS:-}" ]; then
    cat "$work/app/stdout" "$work/app/stderr" > "$CARGO_TARGET_DIR/bench/app-$BENCH_HOST.log" 2>/dev/null || true
    echo "==> only $BENCH_PATHS: no report written"; exit 0
fi
echo "==> rating write -> the movie's aggregate (one at a time, idle app)"
python3 "$ROOT/scripts/bench/driver.py" latency "$app" "$work/requests"

# The app's own log, for a look at what it said under load.
mkdir -p "$ROOT/docs/bench" "$CARGO_TARGET_DIR/bench"
cat "$work/app/stdout" "$work/app/stderr" > "$CARGO_TARGET_DIR/bench/app-$BENCH_HOST.log"
echo "==> the app's log: $CARGO_TARGET_DIR/bench/app-$BENCH_HOST.log" \
    "($(grep -c -E '"level":"(error|warn)"|panicked' "$CARGO_TARGET_DIR/bench/app-$BENCH_HOST.log" || true) error or warning lines)"

# restart_app VAR=VALUE…: the same app and state, restarted with these variables.
restart_app() {
    kill -- "-$app_pid" 2>/dev/null || true
    : > "$work/app/stdout"
    start_env=("$@")
    start "$work/app" --runtime-config-file "$work/app/runtime-config.toml"
    start_env=()
    app="$STARTED_URL"
    app_pid="${pids[-1]}"
}
# measure NAME REQUESTS: one more line of results
measure() { run "$1" "$app" "$2" | tee -a "$work/requests/results" | sed 's/^/    /'; }
echo "==> the gateway's protection on the hot path (a cached movie read): all on, metrics off, all off"
restart_app SPIN_VARIABLE_METRICS=on
measure "GET /api/movies/{id}: all on" movie
restart_app SPIN_VARIABLE_METRICS=off
measure "GET /api/movies/{id}: metrics off" movie
restart_app SPIN_VARIABLE_METRICS=off SPIN_VARIABLE_BREAKER=off SPIN_VARIABLE_RATE_LIMIT_ANONYMOUS=off \
    SPIN_VARIABLE_RATE_LIMIT_USER=off SPIN_VARIABLE_RATE_LIMIT_AUTH=off SPIN_VARIABLE_RATE_LIMIT_LOGIN_FAILURES=off
measure "GET /api/movies/{id}: all off" movie

python3 "$ROOT/scripts/bench/driver.py" report "$work/requests/results" \
    "$ROOT/docs/bench/$BENCH_HOST.json" "$ROOT/docs/bench/$BENCH_HOST.svg" "$(host_version)"
