#!/usr/bin/env bash
# Deploy (or upgrade, or roll back to) a release on the cluster kubectl
# points at, in order: namespace, config, Secrets (from ENV_FILE), Redis,
# the release's migration (once), then the layout's SpinApps.
#   STREAMIA_REGISTRY=ghcr.io/acme STREAMIA_TAG=0.1.0 STREAMIA_HOST=streamia.example.com \
#     deploy/spinkube/deploy.sh whole|split deploy/spinkube/.env
# STREAMIA_REDIS=external skips base/redis.yaml (a managed Redis in .env).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
layout="${1:?usage: deploy.sh whole|split ENV_FILE}"
env_file="${2:?usage: deploy.sh whole|split ENV_FILE}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

"$here/render.sh" "$layout" "$out"
kubectl apply -f "$out/base/namespace.yaml"
kubectl apply -f "$out/base/config.yaml"
"$here/secrets.sh" "$env_file" | kubectl apply -f -
if [ "${STREAMIA_REDIS:-}" != external ]; then
    kubectl apply -f "$out/base/redis.yaml"
    kubectl -n streamia rollout status statefulset/streamia-redis --timeout=5m
fi
kubectl apply -f "$out/base/network-policy.yaml"

echo "==> migrating the databases with ${STREAMIA_REGISTRY}/streamia:${STREAMIA_TAG}"
kubectl -n streamia delete job/streamia-migrate spinapp/streamia-migrate --ignore-not-found
kubectl apply -f "$out/migrate/migrate.yaml"
if ! kubectl -n streamia wait --for=condition=complete job/streamia-migrate --timeout=10m; then
    kubectl -n streamia logs job/streamia-migrate --tail=20 || true
    echo "error: the migration did not complete; the running release is untouched" >&2
    exit 1
fi
kubectl -n streamia logs job/streamia-migrate --tail=1
kubectl -n streamia delete job/streamia-migrate spinapp/streamia-migrate

echo "==> rolling out the $layout layout"
kubectl apply -f "$out/app/"
kubectl apply -f "$out/base/relay-cronjob.yaml"
for app in $(kubectl -n streamia get spinapps -o name); do
    kubectl -n streamia rollout status "deployment/${app#*/}" --timeout=10m
done
echo "==> https://$STREAMIA_HOST/health"
