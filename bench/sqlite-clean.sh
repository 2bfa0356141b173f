#!/usr/bin/env bash
# `seed snapshot restore --clean` on SQLite: what emptying the tables costs (issue 19.13).
# The demo schema (SQLite version) with COUNT rows per table (default 300,000: 1.2M rows),
# one snapshot of it, then per run, on a fresh copy of the full database:
#   clean (before)  the statements seed ran until 19.13, through the sqlite3 CLI:
#                   foreign keys on and deferred, child indexes for the load, DELETE per
#                   table (parents first, as the load order ran them); rolled back
#   clean (after)   what seed runs now: foreign keys off for the transaction, DELETE per
#                   table (children first: SQLite's truncate path); rolled back
#   restore --clean seed itself, end to end (its phase lines go to restore-N.log)
# Prints the medians. No server needed.
source "$(dirname "$0")/lib.sh"
# lib.sh points the PG* variables at its PostgreSQL; with them set, seed would go there.
unset PGHOST PGPORT PGUSER
: "${COUNT:=300000}"
: "${SQLITE3:=sqlite3}"
ensure_seed
W="$SCRATCH/sqlite-clean"
mkdir -p "$W/src" "$W/run"
SRC="$W/src/seed.db"
rm -f "$SRC" "$SRC-journal"
# seed runs on its embedded default (./seed.db) in these folders.
log "loading $((COUNT * 4)) rows with seed bulk (untimed)"
(cd "$W/src" && "$SEED_BIN" -q --no-progress bulk --count "$COUNT")
(cd "$W/src" && "$SEED_BIN" --snapshot-dir "$W/snaps" -q --no-progress snapshot create bench --force)

cat >"$W/before.sql" <<'SQL'
PRAGMA foreign_keys = ON;
BEGIN IMMEDIATE;
PRAGMA defer_foreign_keys = ON;
CREATE INDEX seed_load_fk_1 ON staffs (home_office_id);
CREATE INDEX seed_load_fk_2 ON offices (created_by);
CREATE INDEX seed_load_fk_3 ON office_staffs (staff_id);
DELETE FROM staffs;
DELETE FROM offices;
DELETE FROM office_staffs;
DELETE FROM welfare_recipients;
ROLLBACK;
SQL
cat >"$W/after.sql" <<'SQL'
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
DELETE FROM welfare_recipients;
DELETE FROM office_staffs;
DELETE FROM offices;
DELETE FROM staffs;
ROLLBACK;
SQL

before=(); after=(); restore=()
for r in $(seq 1 "$RUNS"); do
    A="$W/run/seed.db"
    cp "$SRC" "$A"; sync
    timed t -- "$SQLITE3" "$A" ".read $W/before.sql"; before+=("$t")
    cp "$SRC" "$A"; sync
    timed t -- "$SQLITE3" "$A" ".read $W/after.sql"; after+=("$t")
    cp "$SRC" "$A"; sync
    cd "$W/run"
    timed t -- "$SEED_BIN" --snapshot-dir "$W/snaps" snapshot restore bench --clean
    cd - >/dev/null
    restore+=("$t"); cp "$SCRATCH/last.log" "$W/restore-$r.log"
    log "run $r: clean before ${before[-1]} s, after ${after[-1]} s, restore --clean ${restore[-1]} s"
done
printf 'rows            %s\n' "$((COUNT * 4))"
printf 'clean (before)  %s s  (runs: %s)\n' "$(median "${before[@]}")" "${before[*]}"
printf 'clean (after)   %s s  (runs: %s)\n' "$(median "${after[@]}")" "${after[*]}"
printf 'restore --clean %s s  (runs: %s)\n' "$(median "${restore[@]}")" "${restore[*]}"
printf 'phases of the last restore (plain lines: every 3 s and at the end of a long step):\n'
cat "$W/restore-$RUNS.log"
