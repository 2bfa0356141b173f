#!/usr/bin/env bash
# seed on MariaDB against MariaDB's own tools, in one run on one throwaway server and
# the same 1,000,000 rows of the factory schema (staffs 100k, offices 10k,
# office_staffs 200k, welfare_recipients 690k; the DDL of ../shared/bench/05_mariadb.sh):
#   A  seed bulk into the empty tables (one transaction, keys in place)
#   B  mariadb-dump --single-transaction | gzip      of A's rows (time, size)
#   B1 mariadb-dump --single-transaction | gzip -1
#   C  seed snapshot create of A's rows (time, size)
#   D  reload of B: gunzip | mariadb into an empty database (schema + data, as a user
#      restores a dump; the dump switches unique and foreign-key checks off)
#   D1 the data part of a dump, reloaded into the empty tables in ONE transaction
#   E  seed snapshot restore of C into the empty tables (one transaction)
#   L  LOAD DATA INFILE of ready CSV into the keyed tables, one transaction (reference)
# Prints every time, the ratios the issue sets goals for, sizes, and seed's peak RSS.
#
#   SCRATCH  work folder (default: a new temp dir)   RUNS  timed runs, median kept (default 3)
#   MYPORT   port of the throwaway server (default 33400)
#   SEED_BIN the seed binary (default: target/dist/seed, built if missing)
source "$(dirname "$0")/lib.sh"   # log, ensure_seed, timed, median, ratio, factories_for
: "${MYPORT:=33400}"
: "${ROWS:=1000000}"
SCRATCH=$(cd "$SCRATCH" && pwd); chmod 777 "$SCRATCH"   # the mysql OS user writes here
ensure_seed

D="$SCRATCH/mariadb"; mkdir -p "$D"
USER_OPT=(); [[ $(id -u) -eq 0 ]] && { chown mysql "$D"; USER_OPT=(--user=mysql); }
mariadb-install-db --no-defaults "${USER_OPT[@]}" --datadir="$D/data" --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
# Stock settings but for a buffer pool that holds the data (as 05_mariadb.sh).
/usr/sbin/mariadbd --no-defaults "${USER_OPT[@]}" --datadir="$D/data" --port="$MYPORT" --bind-address=127.0.0.1 \
    --socket="$D/sock" --pid-file="$D/pid" --secure-file-priv="$SCRATCH" --innodb-buffer-pool-size=1G \
    --skip-log-bin --log-error="$D/err.log" &
trap 'kill $(cat "$D/pid") 2>/dev/null || true' EXIT
for _ in $(seq 120); do mariadb-admin --no-defaults --socket="$D/sock" -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
M=(mariadb --no-defaults --socket="$D/sock" -uroot)
DUMP=(mariadb-dump --no-defaults --socket="$D/sock" -uroot)
"${M[@]}" -e "CREATE USER bench@'%' IDENTIFIED BY 'bench-pw'; GRANT ALL ON *.* TO bench@'%'"
URL="mysql://bench:bench-pw@127.0.0.1:$MYPORT"

ddl() { cat <<'SQL'
CREATE TABLE staffs (id CHAR(36) PRIMARY KEY, name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE,
  created_at DATETIME(6) NOT NULL) ENGINE=InnoDB;
CREATE TABLE offices (id CHAR(36) PRIMARY KEY, name VARCHAR(255) NOT NULL, address VARCHAR(255) NOT NULL,
  created_by CHAR(36) NOT NULL, FOREIGN KEY (created_by) REFERENCES staffs(id)) ENGINE=InnoDB;
CREATE TABLE office_staffs (office_id CHAR(36) NOT NULL, staff_id CHAR(36) NOT NULL, role VARCHAR(20) NOT NULL,
  PRIMARY KEY (office_id, staff_id), FOREIGN KEY (office_id) REFERENCES offices(id),
  FOREIGN KEY (staff_id) REFERENCES staffs(id)) ENGINE=InnoDB;
CREATE TABLE welfare_recipients (id CHAR(36) PRIMARY KEY, office_id CHAR(36) NOT NULL, name VARCHAR(255) NOT NULL,
  birth_date DATE NOT NULL, notes JSON, FOREIGN KEY (office_id) REFERENCES offices(id)) ENGINE=InnoDB;
SQL
}
T=(staffs offices office_staffs welfare_recipients)
fresh() { "${M[@]}" -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1"; [[ ${2:-} == empty ]] || ddl | "${M[@]}" "$1"; }
count() { "${M[@]}" -N "$1" -e "SELECT (SELECT count(*) FROM staffs)+(SELECT count(*) FROM offices)+(SELECT count(*) FROM office_staffs)+(SELECT count(*) FROM welfare_recipients)"; }
check_count() { local n; n=$(count "$1"); [[ $n -eq $ROWS ]] || { echo "$2 left $n rows in $1, expected $ROWS" >&2; exit 1; }; }

F=$(factories_for "$ROWS")

tsh() { local __v=$1; shift 2; timed "$__v" -- bash -c "$*"; }
SEED=("$SEED_BIN" --no-progress -q)
export SEED_SNAPSHOT_DIR="$SCRATCH/snapshots"
MS="--no-defaults --socket=$D/sock -uroot"

declare -A runs
add() { runs[$1]="${runs[$1]:-} $2"; }
for r in $(seq "$RUNS"); do
    log "run $r/$RUNS: A seed bulk"
    fresh src
    timed A -- "${SEED[@]}" --database-url "$URL/src" bulk --factories "$F"; add A "$A"; A_peak=$A_rss
    check_count src "seed bulk"
    log "run $r/$RUNS: B mariadb-dump | gzip, B1 gzip -1"
    tsh B -- "mariadb-dump $MS --single-transaction src | gzip >'$SCRATCH/dump.sql.gz'"; add B "$B"
    tsh B1 -- "mariadb-dump $MS --single-transaction src | gzip -1 >'$SCRATCH/dump1.sql.gz'"; add B1 "$B1"
    log "run $r/$RUNS: C seed snapshot create"
    rm -rf "$SEED_SNAPSHOT_DIR"
    timed C -- "${SEED[@]}" --database-url "$URL/src" snapshot create bench; add C "$C"; C_peak=$C_rss
    log "run $r/$RUNS: D reload of the dump"
    fresh re empty
    tsh Dr -- "gunzip -c '$SCRATCH/dump.sql.gz' | mariadb $MS re"; add D "$Dr"
    check_count re "the reload"
    log "run $r/$RUNS: D1 data-only reload in one transaction"
    "${DUMP[@]}" --single-transaction --no-create-info src | gzip -1 >"$SCRATCH/data.sql.gz"
    fresh re
    tsh D1 -- "{ echo 'SET autocommit=0;'; gunzip -c '$SCRATCH/data.sql.gz'; echo 'COMMIT;'; } | mariadb $MS re"; add D1 "$D1"
    check_count re "the one-transaction reload"
    log "run $r/$RUNS: E seed snapshot restore"
    fresh dst
    timed E -- "${SEED[@]}" --database-url "$URL/dst" snapshot restore bench; add E "$E"; E_peak=$E_rss
    check_count dst "seed snapshot restore"
    log "run $r/$RUNS: L LOAD DATA INFILE (reference)"
    rm -f "$SCRATCH"/*.csv
    for t in "${T[@]}"; do "${M[@]}" src -e "SELECT * FROM $t INTO OUTFILE '$SCRATCH/$t.csv'"; done
    fresh ld
    tsh L -- "{ echo 'BEGIN;'; for t in ${T[*]}; do echo \"LOAD DATA INFILE '$SCRATCH/\$t.csv' INTO TABLE \$t;\"; done; echo 'COMMIT;'; } | mariadb $MS ld"; add L "$L"
    check_count ld "LOAD DATA"
done
m() { median ${runs[$1]}; }
A=$(m A); B=$(m B); B1=$(m B1); C=$(m C); Dr=$(m D); D1=$(m D1); E=$(m E); L=$(m L)
dump_size=$(stat -c %s "$SCRATCH/dump.sql.gz"); dump1_size=$(stat -c %s "$SCRATCH/dump1.sql.gz")
snap_size=$(stat -c %s "$SEED_SNAPSHOT_DIR/bench.seed.gz")
echo
echo "MariaDB $("${M[@]}" -N -e 'SELECT VERSION()'), $ROWS rows of the factory schema, median of $RUNS runs, $(date +%F), load average $(cut -d' ' -f1 /proc/loadavg), $(nproc) cores"
printf '  A  seed bulk                          %8.2fs   peak RSS %6d kB\n' "$A" "$A_peak"
printf '  B  mariadb-dump | gzip                %8.2fs   %s bytes\n' "$B" "$dump_size"
printf '  B1 mariadb-dump | gzip -1             %8.2fs   %s bytes\n' "$B1" "$dump1_size"
printf '  C  seed snapshot create               %8.2fs   %s bytes   peak RSS %6d kB\n' "$C" "$snap_size" "$C_peak"
printf '  D  reload of the dump (gunzip|mariadb)%8.2fs\n' "$Dr"
printf '  D1 data-only reload, one transaction  %8.2fs\n' "$D1"
printf '  E  seed snapshot restore              %8.2fs   peak RSS %6d kB\n' "$E" "$E_peak"
printf '  L  LOAD DATA INFILE, one transaction  %8.2fs   (reference)\n' "$L"
echo "ratios (goals from the issue):"
printf '  bulk / reload               A/D  = %s   (goal <= 1.0, stretch 0.5)\n' "$(ratio "$A" "$Dr")"
printf '  create / dump|gzip          C/B  = %s   (goal <= 0.5)\n' "$(ratio "$C" "$B")"
printf '  create size / dump size          = %s   (goal <= 1.1)\n' "$(ratio "$snap_size" "$dump_size")"
printf '  restore / reload            E/D  = %s   (goal <= 1.0, stretch 0.5)\n' "$(ratio "$E" "$Dr")"
printf '  restore / 1-txn reload      E/D1 = %s\n' "$(ratio "$E" "$D1")"
printf '  peak RSS (bulk, create, restore) = %s / %s / %s kB   (goal < 100 MB)\n' "$A_peak" "$C_peak" "$E_peak"
