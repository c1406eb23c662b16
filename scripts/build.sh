#!/usr/bin/env bash
# Build every component in components/ for wasm32-wasip2 (release), where
# spin.toml's `source` paths point.
source "$(dirname "$0")/setup.sh"
ensure_wasm_target
packages=()
for manifest in "$ROOT"/components/*/Cargo.toml; do
    [ -e "$manifest" ] || continue
    packages+=(-p "$(basename "$(dirname "$manifest")")")
done
if [ ${#packages[@]} -gt 0 ]; then
    echo "==> cargo build --release --target wasm32-wasip2 ${packages[*]}"
    cargo build --release --target wasm32-wasip2 --manifest-path "$ROOT/Cargo.toml" "${packages[@]}"
fi
