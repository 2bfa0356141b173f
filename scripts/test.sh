#!/usr/bin/env bash
# Runs every test (unit and end-to-end). The test harness starts its own throwaway
# PostgreSQL and MariaDB servers (initdb / mariadb-install-db in a temp dir, a free
# port); this script only makes sure the server binaries exist, installing them with
# apt-get when they do not.
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
exec cargo test --locked "$@"
