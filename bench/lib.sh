# Shared helpers for the benchmark scripts. Source it; do not run it.
#
# Every script starts its own throwaway PostgreSQL (initdb defaults, fsync on: the
# figures describe a stock server), runs `seed` and the tool it competes with on the
# same data in one run, and prints both times and the ratio.
#
#   SCRATCH   work folder (default: a new temp dir)      RUNS  timed runs, median kept (default 3)
#   PGPORT    port for the throwaway server (default 54400)
#   SEED_BIN  the seed binary (default: target/dist/seed, the fat-LTO release build, built if missing)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
: "${SCRATCH:=$(mktemp -d /tmp/seed-bench.XXXXXX)}"
: "${RUNS:=3}"
: "${PGPORT:=54400}"
: "${SEED_BIN:=$ROOT/target/dist/seed}"
mkdir -p "$SCRATCH"
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
PGBIN=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
export PATH="$PGBIN:$PATH"
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

server_start() {
    local data="$SCRATCH/pgdata"
    if [[ ! -f "$data/PG_VERSION" ]]; then
        mkdir -p "$data" "$SCRATCH/sock"
        [[ $(id -u) -eq 0 ]] && chown postgres "$data" "$SCRATCH/sock" "$SCRATCH"
        as_pg initdb -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$SCRATCH/initdb.log"
    fi
    as_pg pg_ctl -D "$data" -l "$SCRATCH/server.log" -w \
        -o "-p $PGPORT -k $SCRATCH/sock -c listen_addresses=127.0.0.1" start >/dev/null
    trap server_stop EXIT
}

server_stop() { as_pg pg_ctl -D "$SCRATCH/pgdata" -m fast -w stop >/dev/null 2>&1 || true; }

ensure_seed() {
    if [[ ! -x "$SEED_BIN" ]]; then
        log "building seed (profile dist: fat LTO, as released)"
        (cd "$ROOT" && cargo build --profile dist --locked -q)
    fi
}

recreate_db() {
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\""
}

# empty_pagila DB: pagila's schema, no rows; load_pagila DB: with its rows, analysed.
empty_pagila() { recreate_db "$1" >/dev/null; "${PSQL[@]}" -d "$1" -f "$ROOT/tests/fixtures/pagila/schema.sql" >/dev/null 2>&1; }
load_pagila() {
    empty_pagila "$1"
    "${PSQL[@]}" -d "$1" -f "$ROOT/tests/fixtures/pagila/data.sql" >/dev/null 2>&1
    "${PSQL[@]}" -d "$1" -c "VACUUM (ANALYZE)" >/dev/null
}

checkpoint() { "${PSQL[@]}" -d postgres -c CHECKPOINT; sync; }

# timed OUTVAR -- command... : wall seconds into OUTVAR, client peak RSS (kB) into
# OUTVAR_rss, the command's CPU seconds (user + system, children included) into OUTVAR_cpu
timed() {
    local __var=$1; shift 2
    local t0 t1 rssf="$SCRATCH/rss.$$"
    t0=$(date +%s%N)
    /usr/bin/time -f '%M %U %S' -o "$rssf" "$@" >"$SCRATCH/last.log" 2>&1 || { cat "$SCRATCH/last.log" >&2; return 1; }
    t1=$(date +%s%N)
    printf -v "$__var" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')"
    printf -v "${__var}_rss" '%s' "$(tail -1 "$rssf" | cut -d' ' -f1)"
    printf -v "${__var}_cpu" '%s' "$(tail -1 "$rssf" | awk '{printf "%.2f", $2 + $3}')"
}

# ms COMMAND...: milliseconds one command took (stdout discarded), printed
ms() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1e6}'
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print (NR%2)? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN{printf "%.0f", n/s}'; }

DEMO_TABLES=(staffs offices office_staffs welfare_recipients)
count_demo() {
    "${PSQL[@]}" -At -d "$1" -c "SELECT (SELECT count(*) FROM staffs)+(SELECT count(*) FROM offices)+(SELECT count(*) FROM office_staffs)+(SELECT count(*) FROM welfare_recipients)"
}

# Writes a factories file giving the demo schema N rows in the anchors' proportions
# (10% staffs, 1% offices, 20% office_staffs, 69% welfare_recipients).
factories_for() {
    local n=$1 f="$SCRATCH/factories-$1.toml"
    cat >"$f" <<TOML
[tables.staffs]
count = $((n / 10))
[tables.offices]
count = $((n / 100))
[tables.office_staffs]
count = $((n / 5))
[tables.welfare_recipients]
count = $((n - n / 10 - n / 100 - n / 5))
TOML
    echo "$f"
}
