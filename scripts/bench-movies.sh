#!/usr/bin/env bash
# Benchmark (not a test): the main movie reads through the gateway at 100
# concurrent connections, beside a no-op component on the same host in the
# same run, reported as ratios; plus the movies cache hit ratio.
#   scripts/bench-movies.sh            # 10 s per measurement
#   DURATION=30 scripts/bench-movies.sh
#   BENCH_HOST=devhost scripts/bench-movies.sh   # default: the Spin CLI when there is one
source "$(dirname "$0")/bench-lib.sh"
build_host_and_noop
echo "==> building the components"
cargo build --quiet --release --target wasm32-wasip2 -p gateway -p users -p movies --manifest-path "$ROOT/Cargo.toml"

write_noop_manifest "$work/noop"
mkdir -p "$work/app"
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
report "$work/results"
curl -sf "$app/health/movies" | sed 's/.*"hits":\([0-9]*\),"misses":\([0-9]*\).*/\1 \2/' \
    | awk '{printf "movies cache: %d hits, %d misses, hit ratio %.3f\n", $1, $2, $1 / ($1 + $2)}'
