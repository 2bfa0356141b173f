#!/usr/bin/env bash
# seed snapshot create against pg_dump on one 1,000,000-row database of the demo schema:
#   seed snapshot create (gzip level 2, the default; parallel compression; -j = cores)
#   and the same with -j 1 and -j 4, to show how reading tables in parallel scales
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

s_runs=(); j1_runs=(); j4_runs=(); d_runs=(); g_runs=()
for r in $(seq 0 "$RUNS"); do   # run 0 warms the cache and is not counted
    rm -rf "$OUT"/*
    timed S -- "$SEED_BIN" --database-url "$URL" --snapshot-dir "$OUT/snaps" -q --no-progress snapshot create bench
    timed J1 -- "$SEED_BIN" --database-url "$URL" --snapshot-dir "$OUT/snaps" -q --no-progress snapshot create bench1 -j 1
    timed J4 -- "$SEED_BIN" --database-url "$URL" --snapshot-dir "$OUT/snaps" -q --no-progress snapshot create bench4 -j 4
    timed D -- pg_dump -Fc -f "$OUT/dump.Fc" "$DB"
    timed G -- bash -c "pg_dump -Fp '$DB' | gzip -6 > '$OUT/dump.sql.gz'"
    [[ $r -eq 0 ]] && continue
    log "run $r/$RUNS: seed ${S}s (-j 1 ${J1}s, -j 4 ${J4}s), pg_dump -Fc ${D}s, pg_dump | gzip ${G}s"
    j1_runs+=("$J1"); j4_runs+=("$J4")
    s_runs+=("$S"); d_runs+=("$D"); g_runs+=("$G"); s_rss=$S_rss
done
"$SEED_BIN" --snapshot-dir "$OUT/snaps" -q snapshot verify bench
J1=$(median "${j1_runs[@]}"); J4=$(median "${j4_runs[@]}")
S=$(median "${s_runs[@]}"); D=$(median "${d_runs[@]}"); G=$(median "${g_runs[@]}")
s_size=$(stat -c %s "$OUT/snaps/bench.seed.gz"); d_size=$(stat -c %s "$OUT/dump.Fc"); g_size=$(stat -c %s "$OUT/dump.sql.gz")
echo
echo "snapshot of $ROWS rows (median of $RUNS; load average $(cut -d' ' -f1 /proc/loadavg))"
printf '  seed snapshot create   %7.2fs  %10d bytes  (-j %s, the cores)\n' "$S" "$s_size" "$(nproc)"
printf '  seed ... -j 1          %7.2fs\n' "$J1"
printf '  seed ... -j 4          %7.2fs\n' "$J4"
printf '  pg_dump -Fc            %7.2fs  %10d bytes\n' "$D" "$d_size"
printf '  pg_dump -Fp | gzip -6  %7.2fs  %10d bytes\n' "$G" "$g_size"
printf '  time seed/pg_dump -Fc = %s (goal <= 0.25)   size seed/pg_dump -Fc = %s (goal <= 1.05)\n' "$(ratio "$S" "$D")" "$(ratio "$s_size" "$d_size")"
printf '  seed peak RSS: %s kB\n' "$s_rss"
