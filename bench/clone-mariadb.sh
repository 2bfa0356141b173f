#!/usr/bin/env bash
# `seed clone` on MariaDB (stock durability), end to end, against the ways users do it
# today, in one run on one throwaway server and sakila seeded by `seed prepare`:
#   seed clone      copy inside the server (DDL, INSERT … SELECT, views, routines, triggers)
#   dump pipe       mariadb-dump --single-transaction --routines --triggers TEMPLATE | mariadb NEW
#   restore         seed snapshot restore --clean of the same data (a restore per test)
#
#   CLONES (default 20)  runs per way, median kept     COUNT (default 1000) rows per table
#   MYPORT  port of the throwaway server (default 33471)
source "$(dirname "$0")/lib.sh"
: "${MYPORT:=33471}"
: "${CLONES:=20}"
: "${COUNT:=1000}"
SCRATCH=$(cd "$SCRATCH" && pwd); chmod 777 "$SCRATCH"
ensure_seed

D="$SCRATCH/mariadb"; mkdir -p "$D"
USER_OPT=(); [[ $(id -u) -eq 0 ]] && { chown mysql "$D"; USER_OPT=(--user=mysql); }
mariadb-install-db --no-defaults "${USER_OPT[@]}" --datadir="$D/data" --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
/usr/sbin/mariadbd --no-defaults "${USER_OPT[@]}" --datadir="$D/data" --port="$MYPORT" --bind-address=127.0.0.1 \
    --socket="$D/sock" --pid-file="$D/pid" --skip-log-bin --log-error="$D/err.log" &
trap 'kill $(cat "$D/pid") 2>/dev/null || true' EXIT
for _ in $(seq 120); do mariadb-admin --no-defaults --socket="$D/sock" -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
M=(mariadb --no-defaults --socket="$D/sock" -uroot)
DUMP=(mariadb-dump --no-defaults --socket="$D/sock" -uroot)
"${M[@]}" -e "CREATE USER bench@'%' IDENTIFIED BY 'bench-pw'; GRANT ALL ON *.* TO bench@'%'; CREATE DATABASE sakila"
"${M[@]}" sakila <"$ROOT/tests/fixtures/sakila-mysql/schema.sql"
URL="mysql://bench:bench-pw@127.0.0.1:$MYPORT/sakila"
seed() { "$SEED_BIN" -q --no-progress --snapshot-dir "$SCRATCH/snaps" --database-url "$URL" "$@"; }
log "seed prepare sakila --template --count $COUNT"
seed prepare sakila --template --count "$COUNT" --seed 1
TPL=sakila_seed_sakila_tpl
size=$("${M[@]}" -N -e "SELECT CONCAT(ROUND(SUM(DATA_LENGTH + INDEX_LENGTH) / 1048576, 1), ' MB') FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$TPL'")

pipe() { "${M[@]}" -e "CREATE DATABASE $1" && "${DUMP[@]}" --single-transaction --routines --triggers "$TPL" | "${M[@]}" "$1"; }
s_runs=(); p_runs=()
for i in $(seq 1 "$CLONES"); do
    s_runs+=("$(ms seed clone sakila)")
    p_runs+=("$(ms pipe "by_hand_$i")")
done
S=$(median "${s_runs[@]}"); P=$(median "${p_runs[@]}")
key=$("$SEED_BIN" --snapshot-dir "$SCRATCH/snaps" --json snapshot list | python3 -c 'import json,sys; print([s["name"] for s in json.load(sys.stdin)["snapshots"] if s["name"].startswith("sakila.")][0])')
r_runs=()
for r in $(seq 0 "$RUNS"); do
    timed T -- "$SEED_BIN" -q --no-progress --snapshot-dir "$SCRATCH/snaps" --database-url "$URL" snapshot restore "$key" --clean
    [[ $r -eq 0 ]] && continue
    r_runs+=("$(awk -v s="$T" 'BEGIN{printf "%.1f", s*1000}')")
done
R=$(median "${r_runs[@]}")
load=$(cut -d' ' -f1-3 /proc/loadavg)
seed clone --gc

cat <<EOF

MariaDB $("${M[@]}" -N -e "SELECT VERSION()"), stock durability; sakila seeded with --count $COUNT (template $size)
median of $CLONES end-to-end runs each (load average after: $load)
  seed clone sakila               ${S} ms
  mariadb-dump | mariadb          ${P} ms     seed / dump pipe = $(ratio "$S" "$P")
  seed snapshot restore --clean   ${R} ms     seed clone / restore = $(ratio "$S" "$R")
EOF
