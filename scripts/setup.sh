# Sourced by the other scripts: installs what building and testing need on a
# fresh Debian machine (Rust target, Debian packages), and nothing when present.
set -euo pipefail

need_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "error: '$*' needs root; run it by hand, then retry" >&2; exit 1
    fi
}

ensure_wasm_target() {
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        echo "==> rustup target add wasm32-wasip2"
        rustup target add wasm32-wasip2
    fi
}

# ensure_debian_packages CMD:PACKAGE ...
ensure_debian_packages() {
    local missing=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || missing+=("${pair##*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> apt-get install ${missing[*]}"
        need_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive need_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# make_venv DIR: a fresh Python virtualenv (Debian's python3-venv if need be).
make_venv() {
    ensure_debian_packages python3:python3
    if ! python3 -m venv --clear "$1" >/dev/null 2>&1; then
        need_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive need_root apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv --clear "$1"
    fi
}

# ensure_pip_tool NAME PACKAGE VERSION: PACKAGE==VERSION from PyPI in its
# own virtualenv, $CARGO_TARGET_DIR/tools/NAME (installed once per target
# directory, again when the pinned version changes).
ensure_pip_tool() {
    local venv="$CARGO_TARGET_DIR/tools/$1"
    local shown
    shown="$("$venv/bin/python" -m pip show "$2" 2>/dev/null || true)"
    if [[ "$shown" != *$'\n'"Version: $3"$'\n'* ]]; then
        echo "==> pip install $2==$3 (once per target directory)"
        make_venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$2==$3"
    fi
}

# ensure_schemathesis: the API fuzzer (tests/e2e/tests/fuzz.rs), pinned;
# exports its CLI as STREAMIA_SCHEMATHESIS.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
    ensure_pip_tool schemathesis schemathesis "$SCHEMATHESIS_VERSION"
    export STREAMIA_SCHEMATHESIS="$CARGO_TARGET_DIR/tools/schemathesis/bin/st"
}

# ensure_phoenix: Arize Phoenix, a real OpenTelemetry trace backend (OTLP
# over HTTP), pinned: the traces test runs Spin against it
# (tests/e2e/tests/traces.rs). Exports its CLI as STREAMIA_PHOENIX.
PHOENIX_VERSION=20.26.1
ensure_phoenix() {
    ensure_pip_tool phoenix arize-phoenix "$PHOENIX_VERSION"
    export STREAMIA_PHOENIX="$CARGO_TARGET_DIR/tools/phoenix/bin/phoenix"
}

# ensure_prometheus: Debian's Prometheus server and promtool, for the alert
# rules' checks and tests and the scrape test (tests/e2e/tests/monitoring.rs).
ensure_prometheus() {
    ensure_debian_packages promtool:prometheus
}

# ensure_kubernetes_validate: the Kubernetes schemas for validating
# deploy/spinkube/ offline (tests/e2e/tests/deploy.rs), pinned; exports its
# Python as STREAMIA_KUBE_PYTHON.
KUBERNETES_VALIDATE_VERSION=1.37.0
ensure_kubernetes_validate() {
    ensure_pip_tool kube kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"
    export STREAMIA_KUBE_PYTHON="$CARGO_TARGET_DIR/tools/kube/bin/python"
}

# ensure_browser: Debian's chromium and its chromedriver, driven by Selenium
# (pinned; pointed at Debian's driver, it never downloads a browser): the web
# client's browser test (tests/e2e/tests/browser.rs, scripts/browser-test.py).
# Exports STREAMIA_BROWSER_PYTHON.
SELENIUM_VERSION=4.27.1
ensure_browser() {
    ensure_debian_packages chromium:chromium chromedriver:chromium-driver
    ensure_pip_tool browser selenium "$SELENIUM_VERSION"
    export STREAMIA_BROWSER_PYTHON="$CARGO_TARGET_DIR/tools/browser/bin/python"
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The Spin CLI: `spin` on PATH, else the project's ../shared/bin/spin; prints
# its path, or nothing when neither is there.
find_spin() {
    if command -v spin; then return; fi
    if [ -x "$ROOT/../shared/bin/spin" ]; then echo "$(cd "$ROOT/../shared/bin" && pwd)/spin"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
