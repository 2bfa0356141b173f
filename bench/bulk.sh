#!/usr/bin/env bash
# seed bulk against a hand-written load of the same rows, in one run on one server:
#   A  seed bulk: 1,000,000 rows of the demo schema into empty tables (one transaction)
#   B  the same rows exported with COPY ... TO (CSV), tables emptied, loaded back with
#      psql \copy in one transaction (constraints in place; the one FK closing the
#      staffs <-> offices cycle is dropped and re-added inside that transaction, as a
#      script would have to) — what a script that already had its data would cost
#   C  pgbench -i -s 10 (1,000,000 pgbench_accounts rows), for reference
# Prints A, B, A/B, rows/s, and seed's peak RSS at 100k and 1M rows.
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
ensure_seed
server_start
DB=bench_bulk
CSV="$SCRATCH/csv"
mkdir -p "$CSV"

fresh() { recreate_db "$DB" >/dev/null; "${PSQL[@]}" -d "$DB" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null; checkpoint >/dev/null; }

run_seed() { # run_seed ROWS -> sets A / A_rss
    local f; f=$(factories_for "$1")
    fresh
    timed A -- "$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$DB" --no-progress -q bulk --factories "$f"
    [[ $(count_demo "$DB") -eq $1 ]] || { echo "seed loaded $(count_demo "$DB") rows, expected $1" >&2; exit 1; }
}

log "seed peak RSS at 100k rows"
run_seed 100000; rss_100k=$A_rss

a_runs=(); b_runs=(); c_runs=()
for r in $(seq 1 "$RUNS"); do
    log "run $r/$RUNS: seed bulk $ROWS rows"
    run_seed "$ROWS"; a_runs+=("$A"); rss_1m=$A_rss
    # export exactly these rows, then load them back by hand
    for t in "${DEMO_TABLES[@]}"; do "${PSQL[@]}" -d "$DB" -c "\\copy $t TO '$CSV/$t.csv' WITH (FORMAT csv)"; done
    "${PSQL[@]}" -d "$DB" -c "TRUNCATE staffs, offices, office_staffs, welfare_recipients"
    checkpoint >/dev/null
    cat >"$SCRATCH/load.sql" <<SQL
ALTER TABLE staffs DROP CONSTRAINT staffs_home_office_id_fkey;
\\copy staffs FROM '$CSV/staffs.csv' WITH (FORMAT csv)
\\copy offices FROM '$CSV/offices.csv' WITH (FORMAT csv)
\\copy office_staffs FROM '$CSV/office_staffs.csv' WITH (FORMAT csv)
\\copy welfare_recipients FROM '$CSV/welfare_recipients.csv' WITH (FORMAT csv)
ALTER TABLE staffs ADD CONSTRAINT staffs_home_office_id_fkey FOREIGN KEY (home_office_id) REFERENCES offices (id);
SQL
    log "run $r/$RUNS: psql \\copy of the same rows"
    timed B -- psql -X -q -v ON_ERROR_STOP=1 -1 -d "$DB" -f "$SCRATCH/load.sql"
    [[ $(count_demo "$DB") -eq $ROWS ]] || { echo "\\copy loaded the wrong count" >&2; exit 1; }
    b_runs+=("$B")
    log "run $r/$RUNS: pgbench -i -s 10"
    recreate_db bench_pgbench >/dev/null; checkpoint >/dev/null
    timed C -- pgbench -i -s 10 -q bench_pgbench
    c_runs+=("$C")
done
A=$(median "${a_runs[@]}"); B=$(median "${b_runs[@]}"); C=$(median "${c_runs[@]}")
echo
echo "bulk load, $ROWS rows of the demo schema (median of $RUNS; load average $(cut -d' ' -f1 /proc/loadavg))"
printf '  A seed bulk               %8.2fs  %9s rows/s\n' "$A" "$(rate "$ROWS" "$A")"
printf '  B psql \\copy of ready CSV %8.2fs  %9s rows/s\n' "$B" "$(rate "$ROWS" "$B")"
printf '  C pgbench -i -s 10        %8.2fs  %9s rows/s (reference)\n' "$C" "$(rate 1000000 "$C")"
printf '  A/B = %s   (goal <= 1.0)\n' "$(ratio "$A" "$B")"
printf '  seed peak RSS: %s kB at 100k rows, %s kB at %s rows\n' "$rss_100k" "$rss_1m" "$ROWS"
