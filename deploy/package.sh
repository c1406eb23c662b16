#!/usr/bin/env bash
# Build the components and push the release's two OCI artifacts:
#   $STREAMIA_REGISTRY/streamia:$STREAMIA_TAG        the whole app (spin.redis.toml)
#   $STREAMIA_REGISTRY/streamia-split:$STREAMIA_TAG  the split layout (spin.split.toml)
# Both hold the same .wasm files; the SpinApps name them (render.sh).
#   spin registry login ghcr.io -u USER --password-stdin   (once)
#   STREAMIA_REGISTRY=ghcr.io/acme STREAMIA_TAG=0.1.0 deploy/package.sh
# A tag is pushed once and never moved: rolling back is deploying an older one.
set -euo pipefail
source "$(dirname "$0")/../scripts/setup.sh"
: "${STREAMIA_REGISTRY:?set STREAMIA_REGISTRY (e.g. ghcr.io/acme)}"
: "${STREAMIA_TAG:?set STREAMIA_TAG (e.g. 0.1.0)}"
spin="$(find_spin)"
[ -n "$spin" ] || { echo "error: the Spin CLI is needed (spin on PATH)" >&2; exit 1; }
cd "$ROOT"
# Every component in one cargo build (what `spin build` does one by one).
scripts/build.sh
"$spin" registry push -f spin.redis.toml "$STREAMIA_REGISTRY/streamia:$STREAMIA_TAG" ${STREAMIA_INSECURE:+--insecure}
"$spin" registry push -f spin.split.toml "$STREAMIA_REGISTRY/streamia-split:$STREAMIA_TAG" ${STREAMIA_INSECURE:+--insecure}
echo "==> pushed $STREAMIA_REGISTRY/streamia:$STREAMIA_TAG and $STREAMIA_REGISTRY/streamia-split:$STREAMIA_TAG"
