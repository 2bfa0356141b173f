#!/usr/bin/env bash
# Per-test databases (`seed clone`), end to end (process start to exit, URL printed),
# against the ways users do it today, in one run on one stock server (fsync on):
#
#   seed clone      `seed clone pagila` (reads the template's record, checks the source's
#                   fingerprint, CREATE DATABASE … TEMPLATE with the strategy it chose)
#   createdb -T     the IntegreSQL / pgtestdb way without a pool: `createdb -T TEMPLATE`
#                   (what a test helper scripts), on the same template
#   psql CREATE     `psql -c "CREATE DATABASE … TEMPLATE … STRATEGY s"`, the same copy
#                   with the least client work
#   psql RENAME     `ALTER DATABASE ready RENAME TO …`: what a pool (`--pool N`) would do
#                   per caller, ready copies made beforehand (not built: see docs/clone.md)
#   restore         `seed snapshot restore --clean` of the same data (a restore per test)
# and on SQLite (Laravel's schema, seeded): `seed clone` against `cp` of the template.
#
# Clones are never dropped (DROP DATABASE forces a checkpoint that the next copy would
# pay, and after a few hundred copies one checkpoint syncs their files for minutes): the
# server is thrown away at the end.
#
#   CLONES (default 100)   clones per way, median kept     COUNT (default 1000) rows per table
#   RUNS (default 3)       restores, median kept
source "$(dirname "$0")/lib.sh"
: "${CLONES:=100}"
: "${COUNT:=1000}"
ensure_seed
server_start
DB=pagila
OUT="$SCRATCH/out"
mkdir -p "$OUT"
URL="postgres://postgres@127.0.0.1:$PGPORT/$DB"
seed() { "$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" --database-url "$URL" "$@"; }

recreate_db "$DB" >/dev/null
"${PSQL[@]}" -d "$DB" -f "$ROOT/tests/fixtures/pagila/schema.sql" >/dev/null 2>&1
log "seed prepare pagila --template --count $COUNT"
seed prepare pagila --template --count "$COUNT" --seed 1
TPL=${DB}_seed_pagila_tpl
size=$("${PSQL[@]}" -At -d postgres -c "SELECT pg_size_pretty(pg_database_size('$TPL'))")
strategy=$("${PSQL[@]}" -At -d postgres -c "SELECT shobj_description(oid, 'pg_database')::json->>'strategy' FROM pg_database WHERE datname = '$TPL'")
checkpoint >/dev/null


s_runs=(); c_runs=(); p_runs=(); r_runs=()
for i in $(seq 1 "$CLONES"); do
    s_runs+=("$(ms seed clone pagila)")
    c_runs+=("$(ms createdb -T "$TPL" "by_hand_createdb_$i")")
    p_runs+=("$(ms "${PSQL[@]}" -d postgres -c "CREATE DATABASE by_hand_psql_$i TEMPLATE $TPL${strategy:+ STRATEGY $strategy}")")
done
# Ready copies for the rename (made outside the timed loop, as a pool refills).
for i in $(seq 1 "$CLONES"); do createdb -T "$TPL" "pool_ready_$i"; done
for i in $(seq 1 "$CLONES"); do
    r_runs+=("$(ms "${PSQL[@]}" -d postgres -c "ALTER DATABASE pool_ready_$i RENAME TO pool_taken_$i")")
done
S=$(median "${s_runs[@]}"); C=$(median "${c_runs[@]}"); P=$(median "${p_runs[@]}"); R=$(median "${r_runs[@]}")
load_pg=$(cut -d' ' -f1-3 /proc/loadavg)

key=$("$SEED_BIN" --snapshot-dir "$OUT/snaps" --json snapshot list | python3 -c 'import json,sys; print([s["name"] for s in json.load(sys.stdin)["snapshots"] if s["name"].startswith("pagila.")][0])')
rest=()
for r in $(seq 0 "$RUNS"); do
    timed T -- "$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" --database-url "$URL" snapshot restore "$key" --clean
    [[ $r -eq 0 ]] && continue
    rest+=("$(awk -v s="$T" 'BEGIN{printf "%.1f", s*1000}')")
done
T=$(median "${rest[@]}")


# --- SQLite ------------------------------------------------------------------------
SQ="$SCRATCH/sqlite"
rm -rf "$SQ" && mkdir -p "$SQ"
sqlite3 -batch -bail "$SQ/app.db" <"$ROOT/tests/fixtures/constraints/laravel.sqlite.sql"
SURL="sqlite://$SQ/app.db"
"$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps" --database-url "$SURL" prepare app --template --count $((COUNT * 10)) --seed 1
ssize=$(du -h "$SQ/app_seed_app_tpl.db" | cut -f1)
q_runs=(); k_runs=()
for i in $(seq 1 "$CLONES"); do
    q_runs+=("$(ms "$SEED_BIN" -q --database-url "$SURL" clone app)")
    k_runs+=("$(ms cp "$SQ/app_seed_app_tpl.db" "$SQ/by_hand_$i.db")")
done
Q=$(median "${q_runs[@]}"); K=$(median "${k_runs[@]}")
load_sq=$(cut -d' ' -f1-3 /proc/loadavg)

cat <<EOF

PostgreSQL $(postgres --version | awk '{print $3}'), stock (fsync on); pagila seeded with --count $COUNT, template $size, strategy ${strategy:-default}
median of $CLONES end-to-end runs each (load average after: $load_pg)
  seed clone pagila             ${S} ms
  createdb -T (by hand)         ${C} ms     seed / createdb = $(ratio "$S" "$C")
  psql CREATE DATABASE          ${P} ms     seed / psql     = $(ratio "$S" "$P")
  psql RENAME of a ready copy   ${R} ms     (what a pool would cost per caller)
  seed snapshot restore --clean ${T} ms     seed clone / restore = $(ratio "$S" "$T")

SQLite (Laravel's schema, --count $((COUNT * 10)), template $ssize), median of $CLONES runs (load average after: $load_sq)
  seed clone app                ${Q} ms
  cp of the template            ${K} ms     seed / cp = $(ratio "$Q" "$K")
EOF
