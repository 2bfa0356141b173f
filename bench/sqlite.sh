#!/usr/bin/env bash
# seed against the sqlite3 CLI on the same 1,000,000 rows, each in one transaction with
# foreign keys enforced, on two schemas side by side in one run:
#   demo      the demo schema (SQLite version, fixtures/schema.sql): a deferred foreign-key
#             cycle whose unindexed child column makes the CLI scan a table per parent row
#   ordinary  the factory schema of the shared anchors (fixtures/ordinary.sqlite.sql, from
#             ../shared/bench/04_sqlite_load.sh): text uuid keys, a unique email, plain
#             foreign keys onto primary keys, no cycle (no worst case for the CLI)
# and per schema:
#   bulk     seed bulk                      vs  sqlite3: BEGIN; .import --csv of the same rows; COMMIT
#   restore  seed snapshot restore          vs  the same .import (the CLI's own restore of data)
# The CSVs are exported from the database seed filled, so both load identical rows. The
# four commands of a run go back to back, so they see the same machine load.
# Prints times, ratios (goal <= 1.0 for both) and seed's peak RSS. No server needed.
#   SCHEMAS  which schemas, in order (default "demo ordinary")   TUNED=0 skips the tuned CLI
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
: "${SQLITE3:=sqlite3}"
: "${SCHEMAS:=demo ordinary}"
: "${TUNED:=1}"
ensure_seed

# The ordinary schema's factories: the anchors' counts, uuid keys and the anchors' kinds of text.
ordinary_factories() {
    local n=$1 f="$SCRATCH/ordinary-$1.toml"
    cat >"$f" <<TOML
[tables.staffs]
count = $((n / 10))
columns.id = { generator = "uuid" }
columns.created_at = { generator = "timestamp" }
[tables.offices]
count = $((n / 100))
columns.id = { generator = "uuid" }
[tables.office_staffs]
count = $((n / 5))
columns.role = { one_of = ["manager", "carer", "nurse", "admin"] }
[tables.welfare_recipients]
count = $((n - n / 10 - n / 100 - n / 5))
columns.id = { generator = "uuid" }
columns.birth_date = { generator = "birth_date" }
columns.notes = { generator = "json" }
TOML
    echo "$f"
}

count() { "$SQLITE3" "$1" "SELECT (SELECT count(*) FROM staffs)+(SELECT count(*) FROM offices)+(SELECT count(*) FROM office_staffs)+(SELECT count(*) FROM welfare_recipients)"; }
load_avg() { cut -d' ' -f1 /proc/loadavg; }

report=()
for schema in $SCHEMAS; do
    case $schema in
    demo) DDL="$ROOT/fixtures/schema.sql"; FACTORIES=$(factories_for "$ROWS") ;;
    ordinary) DDL="$HERE/fixtures/ordinary.sqlite.sql"; FACTORIES=$(ordinary_factories "$ROWS") ;;
    *) echo "unknown schema '$schema' (demo, ordinary)" >&2; exit 2 ;;
    esac
    W="$SCRATCH/sqlite-$schema"
    mkdir -p "$W/csv"
    SRC="$W/src.db"
    fresh() { rm -f "$1" "$1-journal" "$1-wal"; "$SQLITE3" "$1" <"$DDL"; sync; }

    fresh "$SRC"
    log "$schema: loading $ROWS rows with seed bulk (untimed, the source of the CSVs and the snapshot)"
    "$SEED_BIN" --database-url "sqlite://$SRC" -q --no-progress bulk --factories "$FACTORIES"
    "$SEED_BIN" --database-url "sqlite://$SRC" --snapshot-dir "$W/snaps" -q --no-progress snapshot create bench --force
    for t in "${DEMO_TABLES[@]}"; do "$SQLITE3" -csv "$SRC" "SELECT * FROM $t" >"$W/csv/$t.csv"; done
    {
        echo "PRAGMA foreign_keys = ON;"
        echo "BEGIN;"
        for t in "${DEMO_TABLES[@]}"; do echo ".import --csv \"$W/csv/$t.csv\" $t"; done
        # CSV has no NULL: .import reads an empty field as ''. Put the NULLs back (the
        # demo's deferred home_office_id key would fail at COMMIT), in the same transaction.
        if [[ $schema == demo ]]; then
            echo "UPDATE staffs SET home_office_id = NULL WHERE home_office_id = '';"
            echo "UPDATE staffs SET phone = NULL WHERE phone = '';"
        fi
        echo "UPDATE welfare_recipients SET notes = NULL WHERE notes = '';"
        echo "COMMIT;"
    } >"$W/import.sql"
    # The CLI tuned as ../shared/bench/04_sqlite_load.sh does (WAL set on the fresh file):
    # a 256 MB page cache and synchronous=NORMAL. seed runs on the file as it is.
    { echo "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -262144;"; cat "$W/import.sql"; } >"$W/import_tuned.sql"

    b_runs=(); r_runs=(); c_runs=(); t_runs=(); loads=(); bc=(); rc=(); cc=()
    for r in $(seq 1 "$RUNS"); do
        loads+=("$(load_avg)")
        fresh "$W/a.db"
        timed B -- "$SEED_BIN" --database-url "sqlite://$W/a.db" -q --no-progress bulk --factories "$FACTORIES"
        [[ $(count "$W/a.db") -eq $ROWS ]] || { echo "seed bulk loaded the wrong count" >&2; exit 1; }
        b_runs+=("$B"); b_rss=$B_rss; bc+=("$B_cpu")
        fresh "$W/b.db"
        timed R -- "$SEED_BIN" --database-url "sqlite://$W/b.db" --snapshot-dir "$W/snaps" -q --no-progress snapshot restore bench
        [[ $(count "$W/b.db") -eq $ROWS ]] || { echo "seed restore loaded the wrong count" >&2; exit 1; }
        r_runs+=("$R"); r_rss=$R_rss; rc+=("$R_cpu")
        fresh "$W/c.db"
        timed C -- bash -c "'$SQLITE3' -bail '$W/c.db' < '$W/import.sql'"
        [[ $(count "$W/c.db") -eq $ROWS ]] || { echo "sqlite3 .import loaded the wrong count" >&2; exit 1; }
        c_runs+=("$C"); cc+=("$C_cpu")
        T=0
        if [[ $TUNED == 1 ]]; then
            fresh "$W/d.db"
            "$SQLITE3" "$W/d.db" "PRAGMA journal_mode = WAL" >/dev/null
            timed T -- bash -c "'$SQLITE3' -bail '$W/d.db' < '$W/import_tuned.sql'"
            [[ $(count "$W/d.db") -eq $ROWS ]] || { echo "tuned sqlite3 .import loaded the wrong count" >&2; exit 1; }
        fi
        t_runs+=("$T")
        loads[-1]="${loads[-1]}-$(load_avg)"
        log "$schema run $r/$RUNS (load ${loads[-1]}): seed bulk ${B}s (CPU ${B_cpu}s), seed restore ${R}s (CPU ${R_cpu}s), sqlite3 .import ${C}s (CPU ${C_cpu}s), tuned ${T}s; bulk/.import $(ratio "$B" "$C")"
    done
    B=$(median "${b_runs[@]}"); R=$(median "${r_runs[@]}"); C=$(median "${c_runs[@]}"); T=$(median "${t_runs[@]}")
    report+=("$(
        echo
        echo "SQLite, $ROWS rows of the $schema schema, one transaction, foreign keys on (median of $RUNS; load average before-after each run: ${loads[*]})"
        printf '  seed bulk                  %7.2fs  %9s rows/s   (runs: %s)\n' "$B" "$(rate "$ROWS" "$B")" "${b_runs[*]}"
        printf '  seed snapshot restore      %7.2fs  %9s rows/s   (runs: %s)\n' "$R" "$(rate "$ROWS" "$R")" "${r_runs[*]}"
        printf '  sqlite3 .import (CSV)      %7.2fs  %9s rows/s   (runs: %s)\n' "$C" "$(rate "$ROWS" "$C")" "${c_runs[*]}"
        if [[ $TUNED == 1 ]]; then
            printf '  sqlite3 .import, tuned     %7.2fs  %9s rows/s   (WAL, synchronous=NORMAL, 256 MB cache; runs: %s)\n' "$T" "$(rate "$ROWS" "$T")" "${t_runs[*]}"
        fi
        printf '  %s: bulk/.import = %s (goal <= 1.0)   restore/.import = %s (goal <= 1.0)\n' "$schema" "$(ratio "$B" "$C")" "$(ratio "$R" "$C")"
        if [[ $TUNED == 1 ]]; then
            printf '  against the tuned CLI: bulk %s, restore %s\n' "$(ratio "$B" "$T")" "$(ratio "$R" "$T")"
        fi
        # On a machine shared with other work, wall time follows the load; CPU time less so.
        printf '  CPU seconds (user + system), median: bulk %s, restore %s, .import %s: bulk/.import = %s, restore/.import = %s\n' \
            "$(median "${bc[@]}")" "$(median "${rc[@]}")" "$(median "${cc[@]}")" \
            "$(ratio "$(median "${bc[@]}")" "$(median "${cc[@]}")")" "$(ratio "$(median "${rc[@]}")" "$(median "${cc[@]}")")"
        printf '  seed peak RSS: bulk %s kB, restore %s kB\n' "$b_rss" "$r_rss"
    )")
done
printf '%s\n' "${report[@]}"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), sqlite3 $("$SQLITE3" --version | cut -d' ' -f1)"
