#!/usr/bin/env bash
# Lead import of a large CSV (default 100,000 rows) through the API, as a user would: upload
# to `POST /api/leads/upload/`, which answers 202 with a job id, then poll
# `GET /api/leads/upload/<id>/` until the job is done. Prints the upload's answer time, the
# total time to `done`, rows/s, and checks that every row became a lead.
#
#   cargo build --release -p bottlecrm && bench/leads_import.sh
#   BIN=target/debug/bottlecrm ROWS=20000 bench/leads_import.sh     # quick run
#
# Uses a scratch database (dropped at the end) on BENCH_PG (a superuser URL without a database
# name, default postgres://postgres@127.0.0.1:5432). The server runs its embedded worker.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-100000}
BIN=${BIN:-target/release/bottlecrm}
BENCH_PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18081}
DB=bottlecrm_bench_import_$$
OUT=${OUT:-bench/results}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
export DATABASE_URL="$BENCH_PG/$DB" SECRET_KEY=bench-secret-key RUST_LOG=${RUST_LOG:-warn,crm::leads=info} NO_COLOR=1

SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    psql -q "$BENCH_PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
}
trap cleanup EXIT

psql -q "$BENCH_PG/postgres" -c "CREATE DATABASE $DB" >/dev/null
"$BIN" migrate >/dev/null
"$BIN" seed --email bench-import@example.com --password benchpass123 --seed 1 \
    --users-per-org 0 --teams 0 --tags 0 --contacts 0 --accounts 0 --leads 0 >/dev/null

CSV="$OUT/import_$ROWS.csv"
python3 - "$ROWS" "$CSV" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(42)
first = ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Joe"]
last = ["Smith", "Jones", "Brown", "Ng", "Garcia", "Kim", "Lee", "Moore"]
city = ["Paris", "Lyon", "Pune", "Austin", "Leeds", "Osaka"]
status = ["assigned", "in process", "recycled", "closed"]
source = ["call", "email", "website", "existing customer"]
with open(path, "w") as f:
    f.write("title,first_name,last_name,email,phone,city,status,source,probability,opportunity_amount\n")
    for i in range(1, n + 1):
        f.write(f"Deal {i},{rnd.choice(first)},{rnd.choice(last)},lead{i}@example.com,+1555{i:07d},"
                f"{rnd.choice(city)},{rnd.choice(status)},{rnd.choice(source)},{rnd.randint(0, 100)},{rnd.randint(0, 99999)}.50\n")
PY
echo "file: $ROWS rows, $(( $(stat -c %s "$CSV") / 1024 )) KiB"

"$BIN" serve --no-migrate --bind "127.0.0.1:$PORT" >"$OUT/import_server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz/" >/dev/null 2>&1 && break; sleep 0.2; done
TOKEN=$(curl -fs "$BASE/api/auth/login/" -H 'Content-Type: application/json' \
    -d '{"email":"bench-import@example.com","password":"benchpass123"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

start=$(date +%s.%N)
answer=$(curl -fsS "$BASE/api/leads/upload/" -H "Authorization: Bearer $TOKEN" -F "leads_file=@$CSV;type=text/csv")
answered=$(date +%s.%N)
job=$(echo "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
while :; do
    status=$(curl -fs "$BASE/api/leads/upload/$job/" -H "Authorization: Bearer $TOKEN")
    state=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    case $state in done | failed) break ;; esac
    sleep 0.2
done
end=$(date +%s.%N)
created=$(echo "$status" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["created"], "created,", d["failed"], "failed")')
leads=$(psql -Atq "$DATABASE_URL" -c "SELECT count(*) FROM lead")
python3 - "$start" "$answered" "$end" "$ROWS" "$state" "$created" "$leads" <<'PY' | tee "$OUT/import_results.md"
import sys
start, answered, end = map(float, sys.argv[1:4])
rows, state, created, leads = int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
print(f"| {rows} rows | upload answered in {answered - start:.2f} s | {state} after {end - start:.1f} s "
      f"| {rows / (end - start):,.0f} rows/s | {created}; {leads} leads in the table |")
PY
