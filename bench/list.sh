#!/usr/bin/env bash
# `seed snapshot list` over 100 and 1,000 snapshots (goals: < 100 ms and < 1 s): list
# reads each file's header only. The snapshots are small ones of the SQLite demo schema
# (the size of the rows does not matter to list); each is a real `snapshot create`.
source "$(dirname "$0")/lib.sh"
: "${RUNS:=5}"
ensure_seed
W="$SCRATCH/list"
mkdir -p "$W"
DB="sqlite://$W/demo.db"
rm -f "$W/demo.db"
sqlite3 "$W/demo.db" <"$ROOT/fixtures/schema.sql"
"$SEED_BIN" --database-url "$DB" -q --no-progress bulk --count 100
for n in 100 1000; do
    dir="$W/snaps$n"
    mkdir -p "$dir"
    have=$(find "$dir" -name '*.seed.gz' | wc -l)
    log "creating $((n - have)) snapshots in $dir"
    for i in $(seq "$((have + 1))" "$n"); do
        "$SEED_BIN" --database-url "$DB" --snapshot-dir "$dir" -q --no-progress snapshot create "s$i"
    done
    runs=()
    for r in $(seq 1 "$RUNS"); do
        timed L -- "$SEED_BIN" --snapshot-dir "$dir" snapshot list
        runs+=("$L"); rss=$L_rss
    done
    lines=$("$SEED_BIN" --snapshot-dir "$dir" snapshot list | wc -l)
    printf 'snapshot list of %5d snapshots: %6.3fs (median of %s), %s lines, peak RSS %s kB\n' "$n" "$(median "${runs[@]}")" "$RUNS" "$lines" "$rss"
done
