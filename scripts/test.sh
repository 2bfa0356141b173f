#!/usr/bin/env bash
# Runs every test (unit and end-to-end). The test harness starts its own throwaway
# PostgreSQL and MariaDB servers (initdb / mariadb-install-db in a temp dir, a free
# port) and an S3 server (moto, on 127.0.0.1); this script only makes sure they are
# installed: PostgreSQL and MariaDB with apt-get, moto from PyPI in a venv under target/.
set -euo pipefail
cd "$(dirname "$0")/.."

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
exec cargo test --locked "$@"
