#!/usr/bin/env bash
# Baseline benchmark (not a test): a no-op HTTP component served by devhost,
# driven by wrk at 100 concurrent connections. Prints requests/s and
# p50/p95/p99; later benchmarks report their figures as a ratio to these.
#   scripts/bench-devhost.sh            # 10 s run
#   DURATION=30 scripts/bench-devhost.sh
BENCH_HOST=devhost
source "$(dirname "$0")/bench-lib.sh"
build_host_and_noop
write_noop_manifest "$work/noop"
noop="$(start "$work/noop")"
echo "==> no-op component on devhost: ${CONNECTIONS} connections, ${DURATION} s"
measure "no-op component" "$noop/" > "$work/results"
report "$work/results"
