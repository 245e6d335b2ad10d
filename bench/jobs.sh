#!/usr/bin/env bash
# Job queue throughput: N no-op jobs drained by 1 and then 2 `bottlecrm worker` processes.
# Workers are started first and idle; the N jobs are then committed in one transaction (as an
# enqueue burst would be) and the clock runs from that commit until the last job is done.
#
#   cargo build --release -p bottlecrm
#   bench/jobs.sh                       # N=10000, workers 1 and 2, JOB_CONCURRENCY=4 each
#
# Uses a scratch database (dropped at the end) on BENCH_PG (a superuser URL without a database
# name, default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000}
BIN=${BIN:-target/release/bottlecrm}
BENCH_PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=bottlecrm_bench_jobs_$$
URL="$BENCH_PG/$DB"
export DATABASE_URL=$URL RUST_LOG=warn NO_COLOR=1

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -q "$BENCH_PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
}
trap cleanup EXIT

psql -q "$BENCH_PG/postgres" -c "CREATE DATABASE $DB" >/dev/null
"$BIN" migrate >/dev/null

echo "jobs=$N concurrency per worker=${JOB_CONCURRENCY:-4} cpus=$(nproc)"
for workers in 1 2; do
    psql -q "$URL" -c "TRUNCATE jobs" >/dev/null
    pids=()
    for _ in $(seq "$workers"); do
        "$BIN" worker >/dev/null &
        pids+=($!)
    done
    sleep 1
    start=$(date +%s.%N)
    psql -q "$URL" -c "INSERT INTO jobs (id, kind, payload)
                       SELECT gen_random_uuid(), 'noop', '{\"type\": \"noop\"}' FROM generate_series(1, $N);
                       NOTIFY bottlecrm_jobs;" >/dev/null
    while [ "$(psql -qtA "$URL" -c "SELECT count(*) FROM jobs WHERE status = 'done'")" -lt "$N" ]; do
        sleep 0.05
    done
    end=$(date +%s.%N)
    for p in "${pids[@]}"; do kill -TERM "$p"; done
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
    awk -v n="$N" -v s="$start" -v e="$end" -v w="$workers" \
        'BEGIN { printf "workers=%d  %.2f s  %.0f jobs/s\n", w, e - s, n / (e - s) }'
done
