#!/usr/bin/env bash
# Run the whole app on its embedded default: SQLite and key-value files under
# .spin/, events over HTTP, e-mail to the log; no external services.
# With the Spin CLI (on PATH, or ../shared/bin/spin) this is `spin up`;
# without it, devhost.
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
# jwt_secret is a required secret. Unless you set SPIN_VARIABLE_JWT_SECRET,
# a random one is made once per checkout and kept in .spin/ (not committed).
if [ -z "${SPIN_VARIABLE_JWT_SECRET:-}" ]; then
    mkdir -p .spin
    [ -s .spin/dev-jwt-secret ] || (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' > .spin/dev-jwt-secret)
    SPIN_VARIABLE_JWT_SECRET="$(cat .spin/dev-jwt-secret)"
    export SPIN_VARIABLE_JWT_SECRET
fi
spin="$(find_spin)"
if [ -n "$spin" ]; then
    echo "==> serving with $("$spin" --version)"
    exec "$spin" up "${args[@]}"
fi
echo "==> Spin CLI not found: serving with devhost (see devhost/README.md)"
cargo build --quiet -p devhost
exec "$CARGO_TARGET_DIR/debug/devhost" up "${args[@]}"
