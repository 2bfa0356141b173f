#!/usr/bin/env bash
# seed against the sqlite3 CLI on the same 1,000,000 rows of the demo schema (SQLite
# version, fixtures/schema.sql), each in one transaction with foreign keys enforced:
#   bulk     seed bulk                      vs  sqlite3: BEGIN; .import --csv of the same rows; COMMIT
#   restore  seed snapshot restore          vs  the same .import (the CLI's own restore of data)
# The CSVs are exported from the database seed filled, so both load identical rows.
# Prints times, ratios (goal <= 1.0 for both) and seed's peak RSS. No server needed.
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
: "${SQLITE3:=sqlite3}"
ensure_seed
W="$SCRATCH/sqlite"
mkdir -p "$W/csv"
SRC="$W/src.db"
fresh() { rm -f "$1" "$1-journal" "$1-wal"; "$SQLITE3" "$1" <"$ROOT/fixtures/schema.sql"; sync; }

fresh "$SRC"
log "loading $ROWS rows with seed bulk (untimed, the source of the CSVs and the snapshot)"
"$SEED_BIN" --database-url "sqlite://$SRC" -q --no-progress bulk --factories "$(factories_for "$ROWS")"
"$SEED_BIN" --database-url "sqlite://$SRC" --snapshot-dir "$W/snaps" -q --no-progress snapshot create bench --force
for t in "${DEMO_TABLES[@]}"; do "$SQLITE3" -csv "$SRC" "SELECT * FROM $t" >"$W/csv/$t.csv"; done
{
    echo "PRAGMA foreign_keys = ON;"
    echo "BEGIN;"
    for t in "${DEMO_TABLES[@]}"; do echo ".import --csv \"$W/csv/$t.csv\" $t"; done
    # CSV has no NULL: .import reads an empty field as ''. Put the NULLs back (the
    # deferred home_office_id key would fail at COMMIT), inside the same transaction.
    echo "UPDATE staffs SET home_office_id = NULL WHERE home_office_id = '';"
    echo "UPDATE staffs SET phone = NULL WHERE phone = '';"
    echo "UPDATE welfare_recipients SET notes = NULL WHERE notes = '';"
    echo "COMMIT;"
} >"$W/import.sql"
count() { "$SQLITE3" "$1" "SELECT (SELECT count(*) FROM staffs)+(SELECT count(*) FROM offices)+(SELECT count(*) FROM office_staffs)+(SELECT count(*) FROM welfare_recipients)"; }

b_runs=(); r_runs=(); c_runs=()
for r in $(seq 1 "$RUNS"); do
    fresh "$W/a.db"
    timed B -- "$SEED_BIN" --database-url "sqlite://$W/a.db" -q --no-progress bulk --factories "$(factories_for "$ROWS")"
    [[ $(count "$W/a.db") -eq $ROWS ]] || { echo "seed bulk loaded the wrong count" >&2; exit 1; }
    b_runs+=("$B"); b_rss=$B_rss
    fresh "$W/b.db"
    timed R -- "$SEED_BIN" --database-url "sqlite://$W/b.db" --snapshot-dir "$W/snaps" -q --no-progress snapshot restore bench
    [[ $(count "$W/b.db") -eq $ROWS ]] || { echo "seed restore loaded the wrong count" >&2; exit 1; }
    r_runs+=("$R"); r_rss=$R_rss
    fresh "$W/c.db"
    timed C -- bash -c "'$SQLITE3' -bail '$W/c.db' < '$W/import.sql'"
    [[ $(count "$W/c.db") -eq $ROWS ]] || { echo "sqlite3 .import loaded the wrong count" >&2; exit 1; }
    c_runs+=("$C")
    log "run $r/$RUNS: seed bulk ${B}s, seed restore ${R}s, sqlite3 .import ${C}s"
done
B=$(median "${b_runs[@]}"); R=$(median "${r_runs[@]}"); C=$(median "${c_runs[@]}")
echo
echo "SQLite, $ROWS rows of the demo schema, one transaction, foreign keys on (median of $RUNS; load average $(cut -d' ' -f1 /proc/loadavg))"
printf '  seed bulk                  %7.2fs  %9s rows/s\n' "$B" "$(rate "$ROWS" "$B")"
printf '  seed snapshot restore      %7.2fs  %9s rows/s\n' "$R" "$(rate "$ROWS" "$R")"
printf '  sqlite3 .import (CSV)      %7.2fs  %9s rows/s\n' "$C" "$(rate "$ROWS" "$C")"
printf '  bulk/.import = %s (goal <= 1.0)   restore/.import = %s (goal <= 1.0)\n' "$(ratio "$B" "$C")" "$(ratio "$R" "$C")"
printf '  seed peak RSS: bulk %s kB, restore %s kB\n' "$b_rss" "$r_rss"
