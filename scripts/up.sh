#!/usr/bin/env bash
# Run the whole app on its embedded default: SQLite and key-value files under
# .spin/, events over HTTP, e-mail to the log; no external services.
# With the Spin CLI installed this is `spin up`; without it, devhost.
#   scripts/up.sh [--listen 127.0.0.1:3000] [--runtime-config-file FILE]
source "$(dirname "$0")/setup.sh"
args=("$@")
case " $* " in
    *" --runtime-config-file "*) ;;
    *) args+=(--runtime-config-file runtime-config.toml) ;;
esac
"$ROOT/scripts/build.sh"
cd "$ROOT"
# A development secret so the app starts out of the box; set your own for anything real.
export SPIN_VARIABLE_JWT_SECRET="${SPIN_VARIABLE_JWT_SECRET:-dev-only-insecure-jwt-secret-change-me-0123456789}"
if command -v spin >/dev/null; then
    exec spin up -f spin.toml "${args[@]}"
fi
echo "==> Spin CLI not found: serving with devhost (see devhost/README.md)"
cargo build --quiet -p devhost
exec "$CARGO_TARGET_DIR/debug/devhost" up -f spin.toml "${args[@]}"
