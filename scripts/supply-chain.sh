#!/usr/bin/env bash
# Supply-chain check (part of scripts/test.sh): known advisories, licences,
# duplicate or banned crates and crate sources, by cargo-deny with deny.toml,
# against the RustSec advisory database snapshot in ../shared/advisory-db
# (or $STREAMIA_ADVISORY_DB). Nothing is fetched from the advisory database's
# upstream: cargo-deny runs --offline.
source "$(dirname "$0")/setup.sh"
cd "$ROOT"

CARGO_DENY_VERSION=0.20.2
snapshot="${STREAMIA_ADVISORY_DB:-$ROOT/../shared/advisory-db}"
if [ ! -f "$snapshot/SNAPSHOT.txt" ] || [ ! -d "$snapshot/crates" ]; then
    echo "error: no advisory database snapshot at $snapshot (set STREAMIA_ADVISORY_DB)" >&2
    exit 1
fi

# cargo-deny, built once from crates.io into the target directory.
tools="$CARGO_TARGET_DIR/tools"
deny="$tools/bin/cargo-deny"
if ! "$deny" --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
    echo "==> cargo install cargo-deny@$CARGO_DENY_VERSION (once per target directory)"
    cargo install --quiet --locked "cargo-deny@$CARGO_DENY_VERSION" \
        --root "$tools" --target-dir "$CARGO_TARGET_DIR/tools-build"
fi

# cargo-deny opens its database as a git checkout named after the default
# database's URL (advisory-db-<hash of the URL>, as it names its clones); the
# snapshot is a plain folder, so it becomes a one-commit checkout dated as the
# snapshot.
export STREAMIA_ADVISORY_DBS="$CARGO_TARGET_DIR/advisory-dbs"
db="$STREAMIA_ADVISORY_DBS/advisory-db-3157b0e258782691"
commit=$(sed -n 's/^commit \([0-9a-f]*\) (\(.*\))$/\1/p' "$snapshot/SNAPSHOT.txt")
date=$(sed -n 's/^commit [0-9a-f]* (\(.*\))$/\1/p' "$snapshot/SNAPSHOT.txt")
if [ "$(cat "$db/.snapshot" 2>/dev/null)" != "$commit" ]; then
    rm -rf "$db"
    mkdir -p "$db"
    cp -R "$snapshot/." "$db/"
    (
        cd "$db"
        git init -q
        git add -A
        GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z" \
            git -c user.name=snapshot -c user.email=snapshot@localhost commit -qm "RustSec advisory-db $commit"
        echo "$commit" > .snapshot
    )
fi
age=$(( ( $(date +%s) - $(date -d "$date" +%s) ) / 86400 ))
echo "advisory database: RustSec snapshot $commit of $date ($age days old)"

# Every crate of every target must be on disk for an offline run.
cargo fetch --quiet --locked
"$deny" --offline --locked --log-level error check --show-stats
