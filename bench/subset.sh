#!/usr/bin/env bash
# Subsets (`seed snapshot create --subset`), two comparisons in one run:
#
# 1. Time follows the slice: on one 1,000,000-row database of the demo schema, a full
#    `snapshot create` against `--subset` slices of it (median of RUNS, peak RSS):
#      recipients  the welfare recipients of 1% of the offices, and every row they
#                  reference (upward only: the slice the goal names, about 1%)
#      offices     1% of the offices by key hash and all their children, recursively
#                  (offices -> staffs -> offices created by them ...: downward through
#                  the demo schema's cycle, a larger slice)
#    The demo schema indexes welfare_recipients.office_id only; the three other
#    referencing columns get an index here, as an application's schema usually has
#    (the full create does not use them).
# 2. Against db-condenser 1.7.1 (PyPI, a fork of Tonic's condenser) on pagila, the
#    same slice (customer:store_id = 1): wall time, rows, and whether the slice loads
#    into an empty copy of pagila's schema with every foreign key checked (seed: its
#    restore; condenser: `pg_dump --data-only` of its destination into psql,
#    ON_ERROR_STOP).
#
#   ROWS (default 1000000)   RUNS (default 3)
#   CONDENSER_VENV  a virtualenv with db-condenser 1.7.1 (default: one made in SCRATCH
#                   with `pip install db-condenser==1.7.1`)
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
ensure_seed
server_start
DB=bench_subset
OUT="$SCRATCH/out"
mkdir -p "$OUT"
URL="postgres://postgres@127.0.0.1:$PGPORT/$DB"
# An array, not a function: `timed` runs it under /usr/bin/time.
SEED=("$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps")
rows_of() { "$SEED_BIN" --snapshot-dir "$OUT/snaps" --json snapshot show "$1" | python3 -c 'import json,sys; print(sum(t["rows"] for t in json.load(sys.stdin)["header"]["tables"]))'; }

recreate_db "$DB" >/dev/null
"${PSQL[@]}" -d "$DB" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
log "loading $ROWS rows with seed bulk"
"$SEED_BIN" --database-url "$URL" -q --no-progress bulk --factories "$(factories_for "$ROWS")"
"${PSQL[@]}" -d "$DB" -c "CREATE INDEX ON staffs (home_office_id)" -c "CREATE INDEX ON offices (created_by)" \
    -c "CREATE INDEX ON office_staffs (staff_id)" -c "VACUUM (ANALYZE)" >/dev/null
checkpoint >/dev/null
OFFICES=$((ROWS / 100 / 100))
RECIPIENTS="welfare_recipients:office_id IN (SELECT id FROM offices ORDER BY id LIMIT $OFFICES)"

f_runs=(); r_runs=(); o_runs=()
for r in $(seq 0 "$RUNS"); do   # run 0 warms the cache and is not counted
    timed F -- "${SEED[@]}" --database-url "$URL" snapshot create full --force
    timed R -- "${SEED[@]}" --database-url "$URL" snapshot create recipients --force --subset "$RECIPIENTS"
    timed O -- "${SEED[@]}" --database-url "$URL" snapshot create offices --force --subset "offices:1%"
    [[ $r -eq 0 ]] && continue
    log "run $r/$RUNS: full ${F}s, recipients slice ${R}s, offices slice ${O}s"
    f_runs+=("$F"); r_runs+=("$R"); o_runs+=("$O"); f_rss=$F_rss; r_rss=$R_rss; o_rss=$O_rss
done
F=$(median "${f_runs[@]}"); R=$(median "${r_runs[@]}"); O=$(median "${o_runs[@]}")
full_rows=$(rows_of full); r_rows=$(rows_of recipients); o_rows=$(rows_of offices)

# --- pagila against db-condenser -----------------------------------------------------
PAGILA=bench_pagila
load_pagila "$PAGILA"
PURL="postgres://postgres@127.0.0.1:$PGPORT/$PAGILA"

V=${CONDENSER_VENV:-$SCRATCH/condenser-venv}
if [[ ! -x $V/bin/subset ]]; then
    log "installing db-condenser 1.7.1 into $V"
    python3 -m venv "$V" && "$V/bin/pip" -q install db-condenser==1.7.1
fi
cat >"$SCRATCH/condenser.json" <<EOF
{ "db_type": "postgres",
  "source_db_connection_info":      {"user_name": "postgres", "host": "$PGHOST", "port": $PGPORT, "db_name": "$PAGILA", "password": "unused"},
  "destination_db_connection_info": {"user_name": "postgres", "host": "$PGHOST", "port": $PGPORT, "db_name": "sub_condenser", "password": "unused"},
  "initial_targets": [{"table": "public.customer", "where": "store_id = 1"}],
  "keep_disconnected_tables": false, "excluded_tables": [], "passthrough_tables": [],
  "dependency_breaks": [], "fk_augmentation": [], "upstream_filters": [], "destination_mode": "recreate" }
EOF
s_runs=(); c_runs=()
for r in $(seq 1 "$RUNS"); do
    timed S -- "${SEED[@]}" --database-url "$PURL" snapshot create store1 --force --subset "customer:store_id = 1"
    "${PSQL[@]}" -d postgres -c 'DROP DATABASE IF EXISTS sub_condenser' -c 'CREATE DATABASE sub_condenser' >/dev/null
    # It writes ./SQL/ in its working directory; the password is required in the file.
    timed C -- bash -c "cd '$SCRATCH' && '$V/bin/subset' -y --config condenser.json"
    log "run $r/$RUNS: seed ${S}s, condenser ${C}s"
    s_runs+=("$S"); c_runs+=("$C"); s_rss=$S_rss; c_rss=$C_rss
done
S=$(median "${s_runs[@]}"); C=$(median "${c_runs[@]}")
empty_pagila sub_seed
seed_ok=no; "${SEED[@]}" --database-url "postgres://postgres@127.0.0.1:$PGPORT/sub_seed" snapshot restore store1 && seed_ok=yes
empty_pagila sub_check
cond_ok=no
pg_dump --data-only sub_condenser | "${PSQL[@]}" -d sub_check >"$SCRATCH/condenser-load.log" 2>&1 && cond_ok=yes
count() { "${PSQL[@]}" -At -d "$1" -c "SELECT (SELECT count(*) FROM customer) || ' customers, ' || (SELECT count(*) FROM rental) || ' rentals, ' || (SELECT count(*) FROM payment) || ' payments (' || (SELECT count(*) FROM payment_p2022_07) || ' in payment_p2022_07), ' || (SELECT count(*) FROM inventory) || ' inventory, ' || (SELECT count(*) FROM film) || ' films'"; }

echo
echo "subsets (median of $RUNS; load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '  full create of %s rows        %7.2fs  peak RSS %s kB\n' "$full_rows" "$F" "$f_rss"
printf '  recipients slice: %6s rows   %7.2fs  peak RSS %s kB   time %s of full (goal <= 0.10), RSS %s (goal <= 1.2)\n' \
    "$r_rows" "$R" "$r_rss" "$(ratio "$R" "$F")" "$(ratio "$r_rss" "$f_rss")"
printf '  offices:1%% slice: %6s rows   %7.2fs  peak RSS %s kB   time %s of full, RSS %s\n' \
    "$o_rows" "$O" "$o_rss" "$(ratio "$O" "$F")" "$(ratio "$o_rss" "$f_rss")"
echo "pagila, customer:store_id = 1"
printf '  seed --subset      %6.2fs  peak RSS %s kB  restores with every FK checked: %s\n    %s\n' "$S" "$s_rss" "$seed_ok" "$(count sub_seed)"
printf '  db-condenser 1.7.1 %6.2fs  peak RSS %s kB  loads with every FK checked: %s\n    %s\n' "$C" "$c_rss" "$cond_ok" "$(count sub_condenser)"
printf '  time seed/condenser = %s\n' "$(ratio "$S" "$C")"
