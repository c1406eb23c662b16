#!/usr/bin/env bash
# Print the Secrets Streamia's SpinApps read, made from an env file (a copy
# of .env.example filled in): `streamia-secrets` (the secret Spin variables,
# and the Redis URL) and `streamia-runtime-config` (runtime-config.toml with
# the databases' URLs and tokens).
#   deploy/spinkube/secrets.sh deploy/spinkube/.env | kubectl apply -f -
# Refuses, naming the key, an env file that lacks a value the app needs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
env_file="${1:?usage: secrets.sh ENV_FILE}"

declare -A env
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in '' | '#'*) continue ;; esac
    if [[ ! "$line" =~ ^[A-Z][A-Z0-9_]*= ]]; then
        echo "error: $env_file: not KEY=VALUE: $line" >&2
        exit 1
    fi
    env["${line%%=*}"]="${line#*=}"
done < "$env_file"

fail() { echo "error: $env_file: $*" >&2; exit 1; }
value() { printf '%s' "${env[$1]:-}"; }
need() { [ -n "$(value "$1")" ] || fail "$1 is empty${2:+ ($2)}"; }

need JWT_SECRET "openssl rand -base64 48"
[ "$(value JWT_SECRET | wc -c)" -ge 32 ] || fail "JWT_SECRET must be at least 32 bytes"
need RELAY_TOKEN "openssl rand -hex 32"
need METRICS_TOKEN "openssl rand -hex 32"
need REDIS_URL
need REDIS_GATEWAY_URL
for service in USERS MOVIES FAVORITES RATINGS COMMENTS NOTIFICATIONS; do
    need "LIBSQL_URL_$service"
    need "LIBSQL_TOKEN_$service"
    case "$(value "LIBSQL_URL_$service")" in
        https://* | http://*) ;;
        *) fail "LIBSQL_URL_$service must start with https:// (Spin speaks to libSQL over HTTP)" ;;
    esac
done

# The runtime config: every ${KEY} of the template replaced; none may remain.
runtime_config="$(cat "$here/runtime-config.toml")"
for key in "${!env[@]}"; do
    runtime_config="${runtime_config//\$\{$key\}/${env[$key]}}"
done
if left="$(grep -o '\${[A-Z_0-9]*}' <<<"$runtime_config")"; then
    fail "runtime-config.toml needs $(echo $left | tr ' ' ',')"
fi

b64() { printf '%s' "$1" | base64 -w0; }
cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: streamia-secrets
  namespace: streamia
  labels:
    app.kubernetes.io/part-of: streamia
type: Opaque
data:
  jwt_secret: "$(b64 "$(value JWT_SECRET)")"
  relay_token: "$(b64 "$(value RELAY_TOKEN)")"
  metrics_token: "$(b64 "$(value METRICS_TOKEN)")"
  redis_url: "$(b64 "$(value REDIS_URL)")"
  cloudinary_api_secret: "$(b64 "$(value CLOUDINARY_API_SECRET)")"
  sendgrid_api_key: "$(b64 "$(value SENDGRID_API_KEY)")"
---
apiVersion: v1
kind: Secret
metadata:
  name: streamia-runtime-config
  namespace: streamia
  labels:
    app.kubernetes.io/part-of: streamia
type: Opaque
data:
  runtime-config.toml: "$(b64 "$runtime_config")"
YAML
