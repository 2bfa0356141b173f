#!/usr/bin/env bash
# seed bulk, snapshot create and snapshot restore of the demo schema at 1,000,000 and
# 10,000,000 rows (the same proportions: counts x10), on one server: time and peak RSS
# of each, and how the 10M time compares with 10x the 1M time (goal: within 1.15x, RSS
# under 100 MB). SIZES overrides the row counts (default "1000000 10000000").
source "$(dirname "$0")/lib.sh"
: "${SIZES:=1000000 10000000}"
ensure_seed
server_start
OUT="$SCRATCH/scale"
mkdir -p "$OUT"
URL() { echo "postgres://postgres@127.0.0.1:$PGPORT/$1"; }
declare -A T R
for n in $SIZES; do
    SRC="scale_src_$n"; DST="scale_dst_$n"
    recreate_db "$SRC" >/dev/null
    "${PSQL[@]}" -d "$SRC" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
    checkpoint >/dev/null
    log "bulk $n rows"
    timed B -- "$SEED_BIN" --database-url "$(URL "$SRC")" -q --no-progress bulk --factories "$(factories_for "$n")"
    [[ $(count_demo "$SRC") -eq $n ]] || { echo "bulk loaded the wrong count" >&2; exit 1; }
    "${PSQL[@]}" -d "$SRC" -c "VACUUM (ANALYZE)"
    checkpoint >/dev/null
    log "snapshot create $n rows"
    rm -rf "$OUT/snaps"
    timed C -- "$SEED_BIN" --database-url "$(URL "$SRC")" --snapshot-dir "$OUT/snaps" -q --no-progress snapshot create s
    recreate_db "$DST" >/dev/null
    "${PSQL[@]}" -d "$DST" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
    checkpoint >/dev/null
    log "snapshot restore $n rows"
    timed S -- "$SEED_BIN" --database-url "$(URL "$DST")" --snapshot-dir "$OUT/snaps" -q --no-progress snapshot restore s
    [[ $(count_demo "$DST") -eq $n ]] || { echo "restore loaded the wrong count" >&2; exit 1; }
    T[bulk_$n]=$B; R[bulk_$n]=$B_rss; T[create_$n]=$C; R[create_$n]=$C_rss; T[restore_$n]=$S; R[restore_$n]=$S_rss
    size=$(stat -c %s "$OUT/snaps/s.seed.gz")
    log "$n rows: bulk ${B}s ${B_rss}kB, create ${C}s ${C_rss}kB ($size bytes), restore ${S}s ${S_rss}kB"
    "${PSQL[@]}" -d postgres -c "DROP DATABASE \"$SRC\"" -c "DROP DATABASE \"$DST\"" >/dev/null
done
echo
echo "scale (load average $(cut -d' ' -f1 /proc/loadavg); one run per size)"
sizes=($SIZES)
for step in bulk create restore; do
    line="  $(printf '%-8s' "$step")"
    for n in "${sizes[@]}"; do line+=$(printf '  %9s rows: %7.2fs %6s kB RSS' "$n" "${T[${step}_$n]}" "${R[${step}_$n]}"); done
    if [[ ${#sizes[@]} -ge 2 ]]; then
        a=${sizes[0]}; b=${sizes[-1]}
        line+=$(printf '   %s/(%dx %s) = %s (goal <= 1.15)' "$b" "$((b / a))" "$a" "$(awk -v x="${T[${step}_$b]}" -v y="${T[${step}_$a]}" -v k="$((b / a))" 'BEGIN{printf "%.2f", x/(k*y)}')")
    fi
    echo "$line"
done
