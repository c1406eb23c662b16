#!/usr/bin/env bash
# Run the whole app on its embedded default: SQLite and key-value files under
# .spin/, events over HTTP, e-mail to the log; no external services. Beside
# it runs the outbox relay's ticker (Spin has no timer): every
# STREAMIA_RELAY_EVERY seconds (default 5) it calls
# POST /api/admin/events/relay with the relay token, so undelivered events
# are retried, and on Redis consumers catch up, without a user request.
# With the Spin CLI (on PATH, or ../shared/bin/spin) this is `spin up`;
# without it, devhost.
# Traces: STREAMIA_TRACES_URL=<an OTLP/HTTP traces endpoint> (Phoenix, say:
# http://127.0.0.1:6006/v1/traces) makes Spin export every request's spans
# there (README "Operations"); devhost does not trace.
#   scripts/up.sh [-f spin.redis.toml] [--listen 127.0.0.1:3000] [--runtime-config-file FILE]
source "$(dirname "$0")/setup.sh"
args=("$@")
case " $* " in
    *" --runtime-config-file "*) ;;
    *) args+=(--runtime-config-file runtime-config.toml) ;;
esac
case " $* " in
    *" -f "* | *" --from "*) ;;
    *) args=(-f spin.toml "${args[@]}") ;;
esac
"$ROOT/scripts/build.sh"
cd "$ROOT"
# dev_secret VARIABLE FILE: unless SPIN_VARIABLE_<VARIABLE> is set, a random
# value made once per checkout and kept in .spin/FILE (not committed).
dev_secret() {
    local var="SPIN_VARIABLE_$1" file=".spin/$2"
    if [ -z "${!var:-}" ]; then
        mkdir -p .spin
        [ -s "$file" ] || (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n/+=' > "$file")
        export "$var=$(cat "$file")"
    fi
}
dev_secret JWT_SECRET dev-jwt-secret        # jwt_secret is a required secret
dev_secret RELAY_TOKEN dev-relay-token      # the ticker's token
dev_secret METRICS_TOKEN dev-metrics-token  # GET /metrics

listen=127.0.0.1:3000
for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[i]}" = "--listen" ] && listen="${args[i + 1]}"
done
# POST the relay once over bash's /dev/tcp (no curl needed); quiet on failure:
# the app may still be starting, or restarting.
relay_once() {
    local host="${listen%:*}" port="${listen##*:}"
    exec 3<>"/dev/tcp/$host/$port" || return 0
    printf 'POST /api/admin/events/relay HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' \
        "$listen" "$SPIN_VARIABLE_RELAY_TOKEN" >&3
    cat <&3 >/dev/null
    exec 3>&-
}
ticker() {
    while sleep "${STREAMIA_RELAY_EVERY:-5}"; do relay_once 2>/dev/null || true; done
}

spin="$(find_spin)"
if [ -n "$spin" ]; then
    echo "==> serving with $("$spin" --version); outbox relay every ${STREAMIA_RELAY_EVERY:-5} s"
    host=("$spin" up)
else
    echo "==> Spin CLI not found: serving with devhost (see devhost/README.md)"
    cargo build --quiet -p devhost
    host=("$CARGO_TARGET_DIR/debug/devhost" up)
fi
# The reset link in e-mails opens this app's own web client.
export SPIN_VARIABLE_FRONTEND_URL="${SPIN_VARIABLE_FRONTEND_URL:-http://$listen}"
echo "==> web client: http://$listen/"
if [ -n "${SPIN_VARIABLE_ADMIN_EMAILS:-}" ]; then
    echo "==> accounts registered with $SPIN_VARIABLE_ADMIN_EMAILS are administrators"
else
    echo "==> no administrator: to manage the catalogue, run SPIN_VARIABLE_ADMIN_EMAILS=you@example.com scripts/up.sh and register with that e-mail"
fi
if [ -n "${STREAMIA_TRACES_URL:-}" ]; then
    # The traces-only variable: the general one would send logs and metrics too.
    export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="$STREAMIA_TRACES_URL"
    export OTEL_SERVICE_NAME="${OTEL_SERVICE_NAME:-streamia}"
    export OTEL_BSP_SCHEDULE_DELAY="${OTEL_BSP_SCHEDULE_DELAY:-1000}"
    if [ -n "$spin" ]; then
        echo "==> traces: every request's spans to $STREAMIA_TRACES_URL; a response's X-Trace-Id names its trace"
    else
        echo "==> traces: NOT exported: devhost does not trace (install the Spin CLI)"
    fi
fi
echo "==> metrics: curl -H \"authorization: Bearer \$(cat .spin/dev-metrics-token)\" http://$listen/metrics (or your SPIN_VARIABLE_METRICS_TOKEN)"
ticker &
ticker_pid=$!
trap 'kill "$ticker_pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
"${host[@]}" "${args[@]}"
