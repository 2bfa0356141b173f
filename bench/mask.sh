#!/usr/bin/env bash
# Masked snapshots (`seed snapshot create --mask`), two comparisons in one run:
#
# 1. The cost of masking: on one ROWS-row database of the demo schema (default
#    1,000,000), `snapshot create` unmasked against `--mask auto` (every personal-looking
#    column masked: names, emails, phones, addresses, birth dates, JSON notes), median of
#    RUNS, peak RSS. Goal: masked <= 1.5x the time, <= 1.2x the peak RSS.
# 2. Against pynonymizer 2.5.0 (PyPI: the masking tool users would otherwise install
#    that runs here offline; dump in, masked dump out) on pagila, the same five columns
#    (customer first_name, last_name, email; address address, phone): wall time, and
#    whether the result loads into an empty copy of pagila's schema with every foreign
#    key checked (seed: its restore; pynonymizer: its dump through psql, ON_ERROR_STOP).
#    seed masks exactly those five: a rules file keeps every other column auto mode
#    would mask. pynonymizer's time includes its own pg_dump-format restore into a
#    scratch database and the dump out (that is how it works); seed reads the live
#    database. Both are given the same database.
#
#   ROWS (default 1000000)   RUNS (default 3)
#   PYN_VENV  a virtualenv with pynonymizer 2.5.0 (default: one made in SCRATCH with
#             `pip install pynonymizer==2.5.0`)
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
ensure_seed
server_start
OUT="$SCRATCH/out"
mkdir -p "$OUT"
export SEED_MASK_KEY=bench-mask-key-0123456789abcdef
SEED=("$SEED_BIN" -q --no-progress --snapshot-dir "$OUT/snaps")

# --- 1. masked against unmasked create -----------------------------------------------
DB=bench_mask
URL="postgres://postgres@127.0.0.1:$PGPORT/$DB"
if [[ $(count_demo "$DB" 2>/dev/null) != "$ROWS" ]]; then   # a rerun in the same SCRATCH keeps the data
    recreate_db "$DB" >/dev/null
    "${PSQL[@]}" -d "$DB" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
    log "loading $ROWS rows with seed bulk"
    "$SEED_BIN" --database-url "$URL" -q --no-progress bulk --factories "$(factories_for "$ROWS")"
    "${PSQL[@]}" -d "$DB" -c "VACUUM (ANALYZE)" >/dev/null
fi
checkpoint >/dev/null
masked_cols=$("$SEED_BIN" --database-url "$URL" --json snapshot create x --mask auto --dry-run |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["masking"]["masked_columns"])')

u_runs=(); m_runs=()
for r in $(seq 0 "$RUNS"); do   # run 0 warms the cache and is not counted
    timed U -- "${SEED[@]}" --database-url "$URL" snapshot create plain --force
    timed M -- "${SEED[@]}" --database-url "$URL" snapshot create masked --force --mask auto
    [[ $r -eq 0 ]] && continue
    log "run $r/$RUNS: unmasked ${U}s, masked ${M}s"
    u_runs+=("$U"); m_runs+=("$M"); u_rss=$U_rss; m_rss=$M_rss
done
U=$(median "${u_runs[@]}"); M=$(median "${m_runs[@]}")

# --- 2. pagila against pynonymizer -----------------------------------------------------
PAGILA=bench_pagila
load_pagila "$PAGILA"
PURL="postgres://postgres@127.0.0.1:$PGPORT/$PAGILA"
FIVE="customer.first_name customer.last_name customer.email address.address address.phone"

V=${PYN_VENV:-$SCRATCH/pyn-venv}
if [[ ! -x $V/bin/pynonymizer ]]; then
    log "installing pynonymizer 2.5.0 into $V"
    python3 -m venv "$V" && "$V/bin/pip" -q install pynonymizer==2.5.0
fi
cat >"$SCRATCH/pynonymizer.yml" <<'EOF'
tables:
  customer:
    columns: { first_name: first_name, last_name: last_name, email: unique_email }
  address:
    columns: { address: street_address, phone: phone_number }
EOF
# seed: the same five columns with the same kinds of values; every other column auto
# mode would mask is kept.
"$SEED_BIN" --database-url "$PURL" --json snapshot create x --mask auto --dry-run | FIVE="$FIVE" python3 -c '
import json, os, sys
five = os.environ["FIVE"].split()
rules = {"customer.first_name": "{ fake = \"first_name\" }", "customer.last_name": "{ fake = \"last_name\" }",
         "customer.email": "{ fake = \"email\" }", "address.address": "{ fake = \"street_address\" }",
         "address.phone": "{ fake = \"phone\" }"}
print("[mask]")
for name, rule in rules.items():
    print(f"\"{name}\" = {rule}")
for t in json.load(sys.stdin)["masking"]["tables"]:
    for c in t["columns"]:
        name = t["table"] + "." + c["name"]
        if c["masked"] and name not in five and not c["reason"].startswith("same values as"):
            print(f"\"{name}\" = \"keep\"")
' >"$SCRATCH/five.toml"
pg_dump "$PAGILA" >"$SCRATCH/pagila.sql"
s_runs=(); p_runs=()
for r in $(seq 1 "$RUNS"); do
    timed S -- "${SEED[@]}" --database-url "$PURL" snapshot create five --force --mask "$SCRATCH/five.toml"
    "${PSQL[@]}" -d postgres -c 'DROP DATABASE IF EXISTS pyn_work WITH (FORCE)' >/dev/null
    timed P -- "$V/bin/pynonymizer" -i "$SCRATCH/pagila.sql" -o "$SCRATCH/masked.sql" -s "$SCRATCH/pynonymizer.yml" \
        -t postgres -d "$PGHOST" -P "$PGPORT" -u postgres -p unused -n pyn_work
    log "run $r/$RUNS: seed ${S}s, pynonymizer ${P}s"
    s_runs+=("$S"); p_runs+=("$P"); s_rss=$S_rss; p_rss=$P_rss
done
S=$(median "${s_runs[@]}"); P=$(median "${p_runs[@]}")
empty_pagila mask_seed
seed_ok=no; "${SEED[@]}" --database-url "postgres://postgres@127.0.0.1:$PGPORT/mask_seed" snapshot restore five && seed_ok=yes
"${PSQL[@]}" -d postgres -c 'DROP DATABASE IF EXISTS mask_pyn' -c 'CREATE DATABASE mask_pyn' >/dev/null
pyn_ok=no
"${PSQL[@]}" -d mask_pyn -f "$SCRATCH/masked.sql" >"$SCRATCH/pyn-load.log" 2>&1 && pyn_ok=yes
# Originals left: customers whose first name, last name or email is still theirs.
left() {
    "${PSQL[@]}" -At -d "$PAGILA" -c "COPY (SELECT customer_id, first_name, last_name, email FROM customer) TO STDOUT" >"$SCRATCH/orig.tsv"
    "${PSQL[@]}" -At -d "$1" -c "COPY (SELECT customer_id, first_name, last_name, email FROM customer) TO STDOUT" >"$SCRATCH/masked.tsv"
    python3 - "$SCRATCH/orig.tsv" "$SCRATCH/masked.tsv" <<'PY'
import sys
a = {l.split("\t")[0]: l.rstrip("\n").split("\t")[1:] for l in open(sys.argv[1])}
b = {l.split("\t")[0]: l.rstrip("\n").split("\t")[1:] for l in open(sys.argv[2])}
kept = sum(1 for k, v in b.items() if k in a and any(x == y for x, y in zip(v, a[k])))
names = len({(v[0], v[1]) for v in b.values()})
print(f"{kept} of {len(b)} customers kept a name or email; {names} distinct names")
PY
}
# Determinism: seed twice under one key gives the same data; pynonymizer twice differs.
"${SEED[@]}" --database-url "$PURL" snapshot create five2 --force --mask "$SCRATCH/five.toml"
data_of() { python3 -c 'import gzip,sys; d=gzip.open(sys.argv[1]).read(); sys.stdout.buffer.write(d[d.index(b"\n")+1:])' "$1" | sha256sum; }
same_seed=no; [[ $(data_of "$OUT/snaps/five.seed.gz") == $(data_of "$OUT/snaps/five2.seed.gz") ]] && same_seed=yes
"${PSQL[@]}" -d postgres -c 'DROP DATABASE IF EXISTS pyn_work WITH (FORCE)' >/dev/null
"$V/bin/pynonymizer" -i "$SCRATCH/pagila.sql" -o "$SCRATCH/masked2.sql" -s "$SCRATCH/pynonymizer.yml" \
    -t postgres -d "$PGHOST" -P "$PGPORT" -u postgres -p unused -n pyn_work >/dev/null 2>&1
same_pyn=no; cmp -s "$SCRATCH/masked.sql" "$SCRATCH/masked2.sql" && same_pyn=yes

echo
echo "masking (median of $RUNS; load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores)"
printf '  %s-row demo database, %s columns masked by --mask auto\n' "$ROWS" "$masked_cols"
printf '  unmasked create  %7.2fs  peak RSS %s kB\n' "$U" "$u_rss"
printf '  masked create    %7.2fs  peak RSS %s kB   time %sx (goal <= 1.5), RSS %sx (goal <= 1.2)\n' \
    "$M" "$m_rss" "$(ratio "$M" "$U")" "$(ratio "$m_rss" "$u_rss")"
echo "pagila, five columns (customer first_name, last_name, email; address address, phone)"
printf '  seed --mask         %6.2fs  peak RSS %s kB  restores with every FK checked: %s  same data twice: %s\n    %s\n' \
    "$S" "$s_rss" "$seed_ok" "$same_seed" "$(left mask_seed)"
printf '  pynonymizer 2.5.0   %6.2fs  peak RSS %s kB  loads with every FK checked: %s  same data twice: %s\n    %s\n' \
    "$P" "$p_rss" "$pyn_ok" "$same_pyn" "$(left mask_pyn)"
printf '  time seed/pynonymizer = %s\n' "$(ratio "$S" "$P")"
