#!/usr/bin/env bash
# Runs every test (unit and end-to-end). The test harness starts its own throwaway
# PostgreSQL and MariaDB servers (initdb / mariadb-install-db in a temp dir, a free
# port) and an S3 server (moto, on 127.0.0.1); this script only makes sure they are
# installed: PostgreSQL and MariaDB with apt-get, moto from PyPI in a venv under target/.
#
#   scripts/test.sh [--pg-version N] [cargo test arguments...]
#
# --pg-version N (or SEED_TEST_PG_VERSION=N) runs the PostgreSQL tests against PostgreSQL N
# (14 to 18) instead of the apt server: scripts/pg-binaries.sh fetches it once into
# target/test-tools/pg/N. Without it the tests use the system's PostgreSQL (apt's 15).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo_args=()
pg_version=${SEED_TEST_PG_VERSION:-}
while [[ $# -gt 0 ]]; do
    case $1 in
        --pg-version | --pg-version=*)
            if [[ $1 == *=* ]]; then v=${1#*=}; shift; else v=${2:-}; shift $(($# < 2 ? 1 : 2)); fi
            if [[ -n ${SEED_TEST_PG_VERSION:-} && $SEED_TEST_PG_VERSION != "$v" ]]; then
                echo "scripts/test.sh: --pg-version $v and SEED_TEST_PG_VERSION=$SEED_TEST_PG_VERSION disagree" >&2
                exit 2
            fi
            pg_version=$v
            ;;
        --)
            cargo_args+=("$@")
            break
            ;;
        *)
            cargo_args+=("$1")
            shift
            ;;
    esac
done
if [[ -n $pg_version && ! $pg_version =~ ^[0-9]+$ ]]; then
    echo "scripts/test.sh: --pg-version wants a PostgreSQL major version such as 17, not '$pg_version'" >&2
    exit 2
fi

missing=()
have_pg() {
    { command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; } ||
        compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
have_pg || missing+=(postgresql postgresql-contrib)
have_mariadb() {
    for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
        [ -x "$d/mariadbd" ] && return 0
    done
    return 1
}
have_mariadb && command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-server mariadb-client)
# The SQLite tests drive the sqlite3 CLI as a second, independent client.
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} with apt-get (needed by the tests)" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The store tests run moto's S3 server (PyPI `moto[server]`) from a venv in target/.
MOTO_VENV=target/test-tools/moto
if [ ! -x "$MOTO_VENV/bin/moto_server" ] && [ -z "${SEED_TEST_MOTO_SERVER:-}" ]; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        echo "installing python3-venv with apt-get (needed for moto, the S3 test server)" >&2
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    fi
    echo "installing moto (S3 test server) into $MOTO_VENV" >&2
    rm -rf "$MOTO_VENV"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install -q 'moto[server]==5.1.22'
fi
if [[ -n $pg_version ]]; then
    scripts/pg-binaries.sh "$pg_version"
    export SEED_TEST_PG_VERSION=$pg_version
    echo "PostgreSQL tests run against target/test-tools/pg/$pg_version (npm $(cat "target/test-tools/pg/$pg_version/.complete")), psql and pg_dump from target/test-tools/pg/client" >&2
fi
exec cargo test --locked "${cargo_args[@]}"
