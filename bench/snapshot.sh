#!/usr/bin/env bash
# seed snapshot create against pg_dump on one 1,000,000-row database of the demo schema:
#   seed snapshot create (gzip level 1, the default; parallel compression)
#   pg_dump -Fc (zlib level 6, the default)      pg_dump -Fp | gzip -6
# Prints times, sizes, the time and size ratios against pg_dump -Fc, and seed's peak RSS.
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
ensure_seed
server_start
DB=bench_snap
OUT="$SCRATCH/out"
mkdir -p "$OUT"
recreate_db "$DB" >/dev/null
"${PSQL[@]}" -d "$DB" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
log "loading $ROWS rows with seed bulk"
"$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$DB" -q --no-progress bulk --factories "$(factories_for "$ROWS")"
"${PSQL[@]}" -d "$DB" -c "VACUUM (ANALYZE)"
checkpoint >/dev/null
URL="postgres://postgres@127.0.0.1:$PGPORT/$DB"

s_runs=(); d_runs=(); g_runs=()
for r in $(seq 0 "$RUNS"); do   # run 0 warms the cache and is not counted
    rm -rf "$OUT"/*
    timed S -- "$SEED_BIN" --database-url "$URL" --snapshot-dir "$OUT/snaps" -q --no-progress snapshot create bench
    timed D -- pg_dump -Fc -f "$OUT/dump.Fc" "$DB"
    timed G -- bash -c "pg_dump -Fp '$DB' | gzip -6 > '$OUT/dump.sql.gz'"
    [[ $r -eq 0 ]] && continue
    log "run $r/$RUNS: seed ${S}s, pg_dump -Fc ${D}s, pg_dump | gzip ${G}s"
    s_runs+=("$S"); d_runs+=("$D"); g_runs+=("$G"); s_rss=$S_rss
done
"$SEED_BIN" --snapshot-dir "$OUT/snaps" -q snapshot verify bench
S=$(median "${s_runs[@]}"); D=$(median "${d_runs[@]}"); G=$(median "${g_runs[@]}")
s_size=$(stat -c %s "$OUT/snaps/bench.seed.gz"); d_size=$(stat -c %s "$OUT/dump.Fc"); g_size=$(stat -c %s "$OUT/dump.sql.gz")
echo
echo "snapshot of $ROWS rows (median of $RUNS; load average $(cut -d' ' -f1 /proc/loadavg))"
printf '  seed snapshot create   %7.2fs  %10d bytes\n' "$S" "$s_size"
printf '  pg_dump -Fc            %7.2fs  %10d bytes\n' "$D" "$d_size"
printf '  pg_dump -Fp | gzip -6  %7.2fs  %10d bytes\n' "$G" "$g_size"
printf '  time seed/pg_dump -Fc = %s (goal <= 0.5)   size seed/pg_dump -Fc = %s (goal <= 1.1)\n' "$(ratio "$S" "$D")" "$(ratio "$s_size" "$d_size")"
printf '  seed peak RSS: %s kB\n' "$s_rss"
