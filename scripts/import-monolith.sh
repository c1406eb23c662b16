#!/usr/bin/env bash
# The import from the old Node/Express + MongoDB system (README, "Importing
# from the old system"): builds `streamia-import` (crates/import) and runs it.
#   scripts/import-monolith.sh DUMP_DIR --dry-run
#   STREAMIA_ADMIN_PASSWORD=… scripts/import-monolith.sh DUMP_DIR --url http://127.0.0.1:3000 --email admin@example.com
#   scripts/import-monolith.sh generate DIR [--users N --movies N --ratings N --comments N]
# DUMP_DIR: mongoexport's users.json, movies.json, favorites.json,
# ratings.json and comments.json (one document per line, relaxed or canonical).
source "$(dirname "$0")/setup.sh"
cargo build --quiet --release -p streamia-import --manifest-path "$ROOT/Cargo.toml"
exec "$CARGO_TARGET_DIR/release/streamia-import" "$@"
