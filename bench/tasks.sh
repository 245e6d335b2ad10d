#!/usr/bin/env bash
# Load test of the tasks endpoints with wrk (installed from Debian when missing).
#
# Seeds one org per size (default 1,000 and 1,000,000 tasks, 1,000 contacts/accounts/leads)
# into a scratch database, starts the release server as the app role (RLS on) and, per org,
# drives GET list (response cache on, then off), GET detail and POST create with 16
# connections. Prints requests/s, p50, p99 and the SQL statements each request sends.
#
#   cargo build --release -p bottlecrm && bench/tasks.sh
#   SIZES="1000" DURATION=10s bench/tasks.sh                                   # quick run
#   COUNT_ONLY=1 SIZES=1000 BIN=target/debug/bottlecrm bench/tasks.sh           # statements only
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench_tasks}
PORT=${PORT:-18083}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"1000 1000000"}
RESEED=${RESEED:-1}
OUT=${OUT:-bench/results/tasks}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-4}

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    for n in $SIZES; do
        "$BIN" seed --email "tk$n@example.com" --password benchpass123 --seed 7 --tasks "$n" \
            --accounts 1000 --contacts 1000 --leads 1000 --users-per-org 5 --teams 3 --tags 10 --batch 10000
    done
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE"
fi

source bench/lib.sh

first_id() { # $1: token
    curl -fs "$BASE/api/tasks/" -H "Authorization: Bearer $1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["tasks"][0]["id"])'
}
# The frontend's create body (titles are unique per org).
create_lua "$OUT/create_tasks.lua" '{"title":"Bench task %d","description":null,"status":"New","priority":"Medium","due_date":"2026-12-24","assigned_to":[],"contacts":[],"teams":[],"tags":[],"account":null,"opportunity":null,"case":null,"lead":null}'

first=${SIZES%% *}
serve "warn,sqlx::query=trace" 67108864
TOKEN=$(token "tk$first@example.com")
{
    echo "| request | SQL statements logged by sqlx (+1: the BEGIN + RLS context batch) |"
    echo "|---|---|"
    id=$(first_id "$TOKEN")
    count_statements "/api/tasks/" "/api/tasks/"
    count_statements "/api/tasks/?search=call&status=New" "/api/tasks/?search=call&status=New"
    count_statements "/api/tasks/$id/" "/api/tasks/{id}/"
} | tee "$OUT/queries.md"
halt
# COUNT_ONLY=1: statement counts only (any build; e.g. BIN=target/debug/bottlecrm).
[ "${COUNT_ONLY:-0}" = 1 ] && exit 0

echo "| tasks in org | request | req/s | p50 | p99 |" | tee "$OUT/results.md"
echo "|---:|---|---:|---:|---:|" | tee -a "$OUT/results.md"
for cache in 67108864 0; do
    serve warn "$cache"
    for n in $SIZES; do
        TOKEN=$(token "tk$n@example.com")
        if [ "$cache" = 0 ]; then
            measure "$n" "GET /api/tasks/ (cache off)" "$BASE/api/tasks/"
            continue
        fi
        measure "$n" "GET /api/tasks/" "$BASE/api/tasks/"
        measure "$n" "GET /api/tasks/{id}/" "$BASE/api/tasks/$(first_id "$TOKEN")/"
        measure "$n" "POST /api/tasks/" -s "$OUT/create_tasks.lua" "$BASE/api/tasks/"
        # Keep the org at its size for the next runs.
        psql "$DATABASE_URL" -q -c "DELETE FROM activity WHERE entity_type = 'Task' AND entity_name LIKE 'Bench task %'" \
            -c "DELETE FROM task WHERE title LIKE 'Bench task %'"
    done
    halt
done
