#!/usr/bin/env bash
# Incremental snapshots on one 1,000,000-row database of the demo schema: take a full
# snapshot, update 1% of the rows of one table (welfare_recipients, the largest: 690k
# rows, jsonb notes), then time
#   seed snapshot create bench --new-version   (incremental to bench@1)
#   seed snapshot create full                  (a full snapshot of the same state)
# and restore both into an empty copy of the schema, checking the two restores give
# the same data (pg_dump --data-only, lines sorted: row order on disk is physical).
# Prints the time and size ratios against the full create and the restore ratio.
#   TABLE    the table to update (default welfare_recipients)   PERCENT (default 1)
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
: "${TABLE:=welfare_recipients}"
: "${PERCENT:=1}"
ensure_seed
server_start
SRC=bench_inc_src
DST=bench_inc_dst
OUT="$SCRATCH/out"
mkdir -p "$OUT"
recreate_db "$SRC" >/dev/null
"${PSQL[@]}" -d "$SRC" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
log "loading $ROWS rows with seed bulk"
"$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$SRC" -q --no-progress bulk --factories "$(factories_for "$ROWS")"
"${PSQL[@]}" -d "$SRC" -c "VACUUM (ANALYZE)"
URL="postgres://postgres@127.0.0.1:$PGPORT/$SRC"
DURL="postgres://postgres@127.0.0.1:$PGPORT/$DST"
seed() { "$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" "$@"; }
empty_target() { recreate_db "$DST" >/dev/null; "${PSQL[@]}" -d "$DST" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null; checkpoint >/dev/null; }
dump_sorted() { pg_dump --data-only "$DST" | grep -v -e '^--' -e '^\\\(un\)\?restrict' | LC_ALL=C sort >"$1"; }
# A different PERCENT% of the rows each run (by a hash of the key and the run number).
update() {
    "${PSQL[@]}" -d "$SRC" -At -c "UPDATE $TABLE SET name = name || ' (run $1)'
        WHERE abs(hashtext(id::text || '$1')) % 100 < $PERCENT" >/dev/null
    "${PSQL[@]}" -d "$SRC" -c "VACUUM (ANALYZE) $TABLE" >/dev/null
}
changed=$("${PSQL[@]}" -d "$SRC" -At -c "SELECT count(*) FROM $TABLE WHERE abs(hashtext(id::text || '1')) % 100 < $PERCENT")
total=$("${PSQL[@]}" -d "$SRC" -At -c "SELECT count(*) FROM $TABLE")

inc_runs=(); full_runs=(); rinc_runs=(); rfull_runs=(); same=yes
for r in $(seq 0 "$RUNS"); do   # run 0 warms the cache and is not counted
    rm -rf "$OUT/snaps"
    seed --database-url "$URL" snapshot create bench
    update "$r"
    checkpoint >/dev/null
    # Alternate which create goes first, so neither always gets the warmer cache.
    if (( r % 2 )); then
        timed INC -- "$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" --database-url "$URL" snapshot create bench --new-version
        timed FULL -- "$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" --database-url "$URL" snapshot create full
    else
        timed FULL -- "$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" --database-url "$URL" snapshot create full
        timed INC -- "$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" --database-url "$URL" snapshot create bench --new-version
    fi
    inc_rss=$INC_rss
    empty_target
    timed RINC -- "$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" --database-url "$DURL" snapshot restore bench
    rinc_rss=$RINC_rss
    dump_sorted "$OUT/inc.sql"
    empty_target
    timed RFULL -- "$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" --database-url "$DURL" snapshot restore full
    dump_sorted "$OUT/full.sql"
    cmp -s "$OUT/inc.sql" "$OUT/full.sql" || same=NO
    [[ $r -eq 0 ]] && continue
    log "run $r/$RUNS: create incremental ${INC}s, full ${FULL}s; restore incremental ${RINC}s, full ${RFULL}s"
    inc_runs+=("$INC"); full_runs+=("$FULL"); rinc_runs+=("$RINC"); rfull_runs+=("$RFULL")
done
seed snapshot verify bench
INC=$(median "${inc_runs[@]}"); FULL=$(median "${full_runs[@]}")
RINC=$(median "${rinc_runs[@]}"); RFULL=$(median "${rfull_runs[@]}")
inc_size=$(stat -c %s "$OUT/snaps/bench@2.seed.gz"); full_size=$(stat -c %s "$OUT/snaps/full.seed.gz")
echo
echo "incremental snapshot of $ROWS rows after updating $changed of $total rows of $TABLE (median of $RUNS; load average $(cut -d' ' -f1 /proc/loadavg))"
printf '  create, incremental (bench@2 on bench@1)  %7.2fs  %10d bytes\n' "$INC" "$inc_size"
printf '  create, full (same state)                 %7.2fs  %10d bytes\n' "$FULL" "$full_size"
printf '  restore, incremental                      %7.2fs\n' "$RINC"
printf '  restore, full                             %7.2fs\n' "$RFULL"
printf '  create time incremental/full = %s (goal <= 0.5)   size incremental/full = %s (goal <= 0.05)\n' "$(ratio "$INC" "$FULL")" "$(awk -v a="$inc_size" -v b="$full_size" 'BEGIN{printf "%.4f", a/b}')"
printf '  restore time incremental/full = %s (goal <= 1.2)\n' "$(ratio "$RINC" "$RFULL")"
printf '  both restores identical by pg_dump --data-only (sorted): %s\n' "$same"
printf '  seed peak RSS: incremental create %s kB, incremental restore %s kB\n' "$inc_rss" "$rinc_rss"
