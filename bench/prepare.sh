#!/usr/bin/env bash
# seed prepare: a seeding run (bulk + save) and a restoring run (another runner, same
# key) against plain `seed bulk` of the same rows, each into a fresh copy of the
# migrated schema, as CI runners start:
#   the README's job (demo schema, fixtures/factories.toml: 1,320 rows)
#   the demo schema at ROWS rows (factories_for)
#   pagila (tests/fixtures/pagila, 15 tables) at --count 10000
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
ensure_seed
server_start
recreate_db tmpl_demo >/dev/null
"${PSQL[@]}" -d tmpl_demo -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
recreate_db tmpl_pagila >/dev/null
"${PSQL[@]}" -d tmpl_pagila -f "$ROOT/tests/fixtures/pagila/schema.sql" >/dev/null 2>&1
fresh() { "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" -c "CREATE DATABASE \"$2\" TEMPLATE \"$1\""; checkpoint >/dev/null; }

bench_case() {
    local label=$1 template=$2; shift 2
    local b_runs=() s_runs=() r_runs=() url
    for r in $(seq 1 "$RUNS"); do
        local dir="$SCRATCH/snapshots-$template-$r"
        rm -rf "$dir"
        fresh "$template" bench_prepare >/dev/null
        url="postgres://postgres@127.0.0.1:$PGPORT/bench_prepare"
        timed B -- "$SEED_BIN" --database-url "$url" -q --no-progress bulk "$@"
        b_runs+=("$B")
        fresh "$template" bench_prepare >/dev/null
        timed S -- "$SEED_BIN" --database-url "$url" --snapshot-dir "$dir" --no-progress --json prepare baseline "$@"
        grep -q '"action": "seeded"' "$SCRATCH/last.log" || { cat "$SCRATCH/last.log" >&2; exit 1; }
        s_runs+=("$S")
        fresh "$template" bench_prepare >/dev/null
        timed R -- "$SEED_BIN" --database-url "$url" --snapshot-dir "$dir" --no-progress --json prepare baseline "$@"
        grep -q '"action": "restored"' "$SCRATCH/last.log" || { cat "$SCRATCH/last.log" >&2; exit 1; }
        r_runs+=("$R")
    done
    local b s r
    b=$(median "${b_runs[@]}"); s=$(median "${s_runs[@]}"); r=$(median "${r_runs[@]}")
    printf '| %s | %s s | %s s | %s s | %s |\n' "$label" "$b" "$s" "$r" "$(ratio "$r" "$b")"
    log "$label: bulk ${b_runs[*]}; prepare seeding ${s_runs[*]}; prepare restoring ${r_runs[*]}"
}

echo "| case | seed bulk | prepare, seeding (bulk + save) | prepare, restoring | restoring / bulk |"
echo "|---|---|---|---|---|"
(cd "$ROOT" && bench_case "README job (demo, factories.toml, 1,320 rows)" tmpl_demo --count 1000 --factories fixtures/factories.toml)
bench_case "demo schema, $ROWS rows" tmpl_demo --factories "$(factories_for "$ROWS")"
bench_case "pagila, --count 10000 (150,000 rows)" tmpl_pagila --count 10000
log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
