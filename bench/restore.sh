#!/usr/bin/env bash
# seed snapshot restore against pg_restore on one 1,000,000-row database of the demo
# schema, same target state (an empty copy of the schema), in one run:
#   seed snapshot restore (one transaction; keys and indexes dropped and rebuilt inside it)
#   pg_restore --data-only --single-transaction --disable-triggers of a pg_dump -Fc
#     (--disable-triggers: the staffs <-> offices foreign-key cycle cannot be restored
#      data-only without it; it also skips the foreign-key checks seed performs)
# For context: pg_restore --single-transaction of schema + data into an empty database,
# and the server's floor — psql \copy of the same rows into the tables without keys,
# one transaction, no index or foreign-key work at all.
# Then proves the schema after seed's restore equals the original (pg_dump --schema-only).
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
ensure_seed
server_start
SRC=bench_restore_src
DST=bench_restore_dst
OUT="$SCRATCH/out"
mkdir -p "$OUT"
recreate_db "$SRC" >/dev/null
"${PSQL[@]}" -d "$SRC" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
log "loading $ROWS rows with seed bulk"
"$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$SRC" -q --no-progress bulk --factories "$(factories_for "$ROWS")"
"$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$SRC" --snapshot-dir "$OUT" -q --no-progress snapshot create bench --force
pg_dump -Fc -f "$OUT/dump.Fc" "$SRC"

empty_target() { recreate_db "$DST" >/dev/null; "${PSQL[@]}" -d "$DST" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null; checkpoint >/dev/null; }
for t in "${DEMO_TABLES[@]}"; do "${PSQL[@]}" -d "$SRC" -c "\\copy $t TO '$OUT/$t.txt'"; done
{
    echo "BEGIN;"
    for t in "${DEMO_TABLES[@]}"; do echo "\\copy $t FROM '$OUT/$t.txt'"; done
    echo "COMMIT;"
} >"$OUT/floor.sql"
s_runs=(); t_runs=(); p_runs=(); f_runs=(); full_runs=()
for r in $(seq 1 "$RUNS"); do
    empty_target
    timed S -- "$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$DST" --snapshot-dir "$OUT" -q --no-progress snapshot restore bench
    [[ $(count_demo "$DST") -eq $ROWS ]] || { echo "seed restored the wrong count" >&2; exit 1; }
    s_runs+=("$S"); s_rss=$S_rss
    if [[ $r -eq 1 ]]; then
        # The schema after seed's restore (keys dropped and rebuilt) equals the original.
        recreate_db bench_schema_ref >/dev/null
        "${PSQL[@]}" -d bench_schema_ref -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
        pg_dump --schema-only "$DST" | grep -v '^\\\(un\)\?restrict' >"$OUT/after.sql"
        pg_dump --schema-only bench_schema_ref | grep -v '^\\\(un\)\?restrict' >"$OUT/ref.sql"
        diff "$OUT/ref.sql" "$OUT/after.sql" >/dev/null && schema_same=yes || schema_same=NO
        "$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$DST" --snapshot-dir "$OUT" -q snapshot verify bench --against-db
    fi
    # The same restore through text COPY only (what seed did before binary COPY).
    empty_target
    timed T -- env SEED_RESTORE_TEXT_COPY=1 "$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$DST" --snapshot-dir "$OUT" -q --no-progress snapshot restore bench
    t_runs+=("$T")
    empty_target
    timed P -- pg_restore --data-only --single-transaction --disable-triggers -d "$DST" "$OUT/dump.Fc"
    [[ $(count_demo "$DST") -eq $ROWS ]] || { echo "pg_restore restored the wrong count" >&2; exit 1; }
    p_runs+=("$P")
    # floor: tables without keys or indexes (from a bare copy of the table definitions)
    recreate_db "$DST" >/dev/null
    pg_dump --schema-only --section=pre-data "$SRC" | grep -v '^\\\(un\)\?restrict' | "${PSQL[@]}" -d "$DST" >/dev/null
    checkpoint >/dev/null
    timed F -- psql -X -q -v ON_ERROR_STOP=1 -d "$DST" -f "$OUT/floor.sql"
    f_runs+=("$F")
    recreate_db "$DST" >/dev/null; checkpoint >/dev/null
    timed FULL -- pg_restore --single-transaction -d "$DST" "$OUT/dump.Fc"
    full_runs+=("$FULL")
    log "run $r/$RUNS: seed ${S}s (text COPY ${T}s), pg_restore data-only ${P}s, pg_restore schema+data ${FULL}s, floor ${F}s"
done
S=$(median "${s_runs[@]}"); T=$(median "${t_runs[@]}"); P=$(median "${p_runs[@]}"); F=$(median "${f_runs[@]}"); FULL=$(median "${full_runs[@]}")
echo
echo "restore of $ROWS rows into an empty schema (median of $RUNS; load average $(cut -d' ' -f1 /proc/loadavg))"
printf '  seed snapshot restore                                     %7.2fs  %9s rows/s\n' "$S" "$(rate "$ROWS" "$S")"
printf '  seed snapshot restore, text COPY only (SEED_RESTORE_TEXT_COPY) %7.2fs  %9s rows/s\n' "$T" "$(rate "$ROWS" "$T")"
printf '  pg_restore --data-only --single-transaction --disable-triggers %7.2fs  %9s rows/s\n' "$P" "$(rate "$ROWS" "$P")"
printf '  pg_restore --single-transaction (schema + data, empty db)     %7.2fs  (context)\n' "$FULL"
printf '  server floor: psql \\copy into tables without keys, 1 txn     %7.2fs  (context)\n' "$F"
printf '  seed/pg_restore = %s (goal <= 0.5); seed/schema+data pg_restore = %s; seed/floor = %s\n' "$(ratio "$S" "$P")" "$(ratio "$S" "$FULL")" "$(ratio "$S" "$F")"
printf '  schema after seed restore identical to the original (pg_dump --schema-only): %s\n' "$schema_same"
printf '  seed peak RSS: %s kB\n' "$s_rss"
