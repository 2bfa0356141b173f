#!/usr/bin/env bash
# seed snapshot create / restore with the snapshot in an S3 bucket against the same in
# a local directory, on one 1,000,000-row database of the demo schema, in one run.
# The S3 server is s3s-fs (crates.io, a file-backed S3 server in Rust) on 127.0.0.1,
# storing into the same scratch file system as the local directory: a server that is
# not itself the bottleneck (moto, the test server, is a Python in-memory one).
#
#   S3S_FS  the s3s-fs binary (default: s3s-fs on PATH, else installed with
#           `cargo install s3s-fs --version 0.14.1 --features binary` into $SCRATCH)
#
# Goal: store / local <= 1.2 for both create and restore.
source "$(dirname "$0")/lib.sh"
: "${ROWS:=1000000}"
: "${S3PORT:=54480}"
ensure_seed
if [[ -z "${S3S_FS:-}" ]]; then
    S3S_FS=$(command -v s3s-fs || true)
    if [[ -z "$S3S_FS" ]]; then
        log "installing s3s-fs (cargo install, a few minutes)"
        cargo install -q --locked s3s-fs --version 0.14.1 --features binary --root "$SCRATCH/s3s"
        S3S_FS="$SCRATCH/s3s/bin/s3s-fs"
    fi
fi
server_start
SRC=bench_store_src
DST=bench_store_dst
OUT="$SCRATCH/out"
DATA="$SCRATCH/s3data"
mkdir -p "$OUT" "$DATA/bench"
export AWS_ACCESS_KEY_ID=bench-key AWS_SECRET_ACCESS_KEY=bench-secret-0123456789 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3PORT"
"$S3S_FS" --host 127.0.0.1 --port "$S3PORT" --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" \
    "$DATA" >"$SCRATCH/s3s.log" 2>&1 &
S3PID=$!
trap 'kill $S3PID 2>/dev/null; server_stop' EXIT
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$S3PORT/" && break; sleep 0.1; done

recreate_db "$SRC" >/dev/null
"${PSQL[@]}" -d "$SRC" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null
log "loading $ROWS rows with seed bulk"
"$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$SRC" -q --no-progress bulk --factories "$(factories_for "$ROWS")"
"${PSQL[@]}" -d "$SRC" -c "VACUUM ANALYZE" >/dev/null
empty_target() { recreate_db "$DST" >/dev/null; "${PSQL[@]}" -d "$DST" -f "$ROOT/fixtures/schema.postgres.sql" >/dev/null; checkpoint >/dev/null; }
FROM=("$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$SRC" -q --no-progress)
INTO=("$SEED_BIN" --database-url "postgres://postgres@127.0.0.1:$PGPORT/$DST" -q --no-progress)
S3="s3://bench/snapshots"
cl=(); cs=(); rl=(); rs=()
for r in $(seq 1 "$RUNS"); do
    checkpoint >/dev/null
    timed CL -- "${FROM[@]}" --snapshot-dir "$OUT" snapshot create bench --force
    checkpoint >/dev/null
    timed CS -- "${FROM[@]}" --snapshot-dir "$S3" snapshot create bench --force
    cs_rss=$CS_rss
    empty_target
    timed RL -- "${INTO[@]}" --snapshot-dir "$OUT" snapshot restore bench
    [[ $(count_demo "$DST") -eq $ROWS ]] || { echo "local restore: wrong count" >&2; exit 1; }
    empty_target
    timed RS -- "${INTO[@]}" --snapshot-dir "$S3" snapshot restore bench
    rs_rss=$RS_rss
    [[ $(count_demo "$DST") -eq $ROWS ]] || { echo "store restore: wrong count" >&2; exit 1; }
    cl+=("$CL"); cs+=("$CS"); rl+=("$RL"); rs+=("$RS")
    log "run $r/$RUNS: create local ${CL}s, store ${CS}s; restore local ${RL}s, store ${RS}s"
done
# The object is the same snapshot, byte for byte.
"${FROM[@]}" --snapshot-dir "$S3" snapshot verify bench >/dev/null
SIZE=$(stat -c %s "$OUT/bench.seed.gz")
CL=$(median "${cl[@]}"); CS=$(median "${cs[@]}"); RL=$(median "${rl[@]}"); RS=$(median "${rs[@]}")
echo
echo "snapshot of $ROWS rows ($((SIZE / 1000000)) MB), local directory vs S3 bucket on s3s-fs (median of $RUNS; load average $(cut -d' ' -f1 /proc/loadavg))"
printf '  create   local %6.2fs   store %6.2fs   store/local = %s (goal <= 1.2)\n' "$CL" "$CS" "$(ratio "$CS" "$CL")"
printf '  restore  local %6.2fs   store %6.2fs   store/local = %s (goal <= 1.2)\n' "$RL" "$RS" "$(ratio "$RS" "$RL")"
printf '  seed peak RSS: create to the store %s kB, restore from it %s kB\n' "$cs_rss" "$rs_rss"
