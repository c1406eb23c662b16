#!/usr/bin/env bash
# Write the manifests of one layout, their image references filled in, to a
# directory ready for `kubectl apply -f`:
#   STREAMIA_REGISTRY=ghcr.io/acme STREAMIA_TAG=0.1.0 STREAMIA_HOST=streamia.example.com \
#     deploy/spinkube/render.sh whole|split OUT_DIR
# The images are the ones package.sh pushed: $STREAMIA_REGISTRY/streamia:$STREAMIA_TAG
# (the whole app) and $STREAMIA_REGISTRY/streamia-split:$STREAMIA_TAG (split).
# OUT_DIR gets base/ (namespace, config, Redis, network policy, relay
# ticker), app/ (the layout's SpinApps, autoscalers, ingress) and migrate/.
# With STREAMIA_TRACES_URL (an OTLP/HTTP traces endpoint, e.g.
# http://phoenix.observability:6006/v1/traces) base/ also gets the traced
# shim executor (tracing/executor.yaml) and every SpinApp runs on it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
layout="${1:?usage: render.sh whole|split OUT_DIR}"
out="${2:?usage: render.sh whole|split OUT_DIR}"
case "$layout" in
    whole) gateway=streamia ;;
    split) gateway=streamia-gateway ;;
    *) echo "error: the layout is whole or split, not $layout" >&2; exit 1 ;;
esac
: "${STREAMIA_REGISTRY:?set STREAMIA_REGISTRY (e.g. ghcr.io/acme)}"
: "${STREAMIA_TAG:?set STREAMIA_TAG (e.g. 0.1.0)}"
: "${STREAMIA_HOST:?set STREAMIA_HOST, the public host name (e.g. streamia.example.com)}"

render() { # FILE → stdout
    local text
    text="$(cat "$1")"
    text="${text//\$\{STREAMIA_IMAGE\}/$STREAMIA_REGISTRY/streamia:$STREAMIA_TAG}"
    text="${text//\$\{STREAMIA_SPLIT_IMAGE\}/$STREAMIA_REGISTRY/streamia-split:$STREAMIA_TAG}"
    text="${text//\$\{STREAMIA_GATEWAY\}/$gateway}"
    text="${text//\$\{STREAMIA_HOST\}/$STREAMIA_HOST}"
    if [ -n "${STREAMIA_TRACES_URL:-}" ]; then
        text="${text//\$\{STREAMIA_TRACES_URL\}/$STREAMIA_TRACES_URL}"
        text="${text//executor: containerd-shim-spin/executor: containerd-shim-spin-traced}"
    fi
    if grep -q '\${' <<<"$text"; then
        echo "error: $1: a placeholder is left: $(grep -o '\${[A-Z_]*}' <<<"$text" | head -1)" >&2
        exit 1
    fi
    printf '%s\n' "$text"
}

rm -rf "$out"
mkdir -p "$out/base" "$out/app" "$out/migrate"
for file in "$here"/base/*.yaml; do render "$file" > "$out/base/$(basename "$file")"; done
for file in "$here/$layout"/*.yaml; do render "$file" > "$out/app/$(basename "$file")"; done
render "$here/migrate/migrate.yaml" > "$out/migrate/migrate.yaml"
if [ -n "${STREAMIA_TRACES_URL:-}" ]; then render "$here/tracing/executor.yaml" > "$out/base/tracing-executor.yaml"; fi
echo "$out: $layout layout, images $STREAMIA_REGISTRY/streamia{,-split}:$STREAMIA_TAG, host $STREAMIA_HOST, traces ${STREAMIA_TRACES_URL:-off}" >&2
