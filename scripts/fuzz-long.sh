#!/usr/bin/env bash
# The snapshot fuzz test (tests/it/fuzz.rs) run longer than the normal suite runs it:
# the same mutations, cases drawn until the time is up. Prints the figures docs/reliability.md
# records (cases, runs, panics, hangs, wrong restores...).
#
#   scripts/fuzz-long.sh [SECONDS] [SEED]     defaults: 600 seconds, a seed from the clock
#   scripts/fuzz-long.sh --memory             the header memory test over 100 worst-case files
#
# A failure prints `SEED_FUZZ_SEED=... case N`; rerun that case with the same seed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--memory" ]; then
    SEED_TEST_WORST_FILES=100 exec cargo test --locked --test it r8_3_header_bombs -- --nocapture 2>&1 |
        grep -E "peak RSS|test result|panicked"
fi

secs=${1:-600}
seed=${2:-$(date +%s)}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "fuzzing for ${secs}s with SEED_FUZZ_SEED=${seed} ..." >&2
status=0
SEED_FUZZ_SECS=$secs SEED_FUZZ_CASES=${SEED_FUZZ_CASES:-100000000} SEED_FUZZ_SEED=$seed \
    cargo test --locked --test it fuzz_snapshot_reader -- --nocapture >"$log" 2>&1 || status=$?
grep -E "^fuzz (summary|exits)|SEED_FUZZ_SEED=|test result" "$log" || tail -40 "$log"
exit $status
