#!/usr/bin/env bash
# Load test of the opportunities endpoints with wrk (installed from Debian when missing).
#
# Seeds one org per size (default 1,000 and 1,000,000 opportunities, about a third with line
# items; 1,000 accounts and contacts) into a scratch database, starts the server as the app role
# (RLS on) and, per org, drives GET list (response cache on, then off), GET detail, GET line items
# and POST create with 16 connections. Prints requests/s, p50, p99 and the SQL statements each
# request sends.
#
#   cargo build --release -p bottlecrm && bench/opportunities.sh
#   SIZES="1000" DURATION=10s bench/opportunities.sh                                   # quick run
#   COUNT_ONLY=1 SIZES=1000 BIN=target/debug/bottlecrm bench/opportunities.sh          # statements only
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench_opp}
PORT=${PORT:-18082}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"1000 1000000"}
RESEED=${RESEED:-1}
OUT=${OUT:-bench/results/opportunities}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-4}

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    for n in $SIZES; do
        "$BIN" seed --email "op$n@example.com" --password benchpass123 --seed 7 --opportunities "$n" \
            --accounts 1000 --contacts 1000 --leads 100 --users-per-org 5 --teams 3 --tags 10 --batch 10000
    done
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE"
fi

PID=
serve() { # $1: RUST_LOG, $2: RESPONSE_CACHE_BYTES
    RUST_LOG="$1" RESPONSE_CACHE_BYTES="$2" "$BIN" serve --no-worker --no-migrate --bind "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
    PID=$!
    for _ in $(seq 50); do curl -fs "$BASE/healthz/" >/dev/null 2>&1 && return; sleep 0.2; done
    echo "server did not start"; cat "$OUT/server.log"; exit 1
}
halt() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap halt EXIT

token() {
    curl -fs "$BASE/api/auth/login/" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"benchpass123\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
# First id of the list page (an opportunity with line items when the page has one).
first_id() { # $1: token
    curl -fs "$BASE/api/opportunities/" -H "Authorization: Bearer $1" | python3 -c '
import json, sys
rows = json.load(sys.stdin)["opportunities"]
print(next((r["id"] for r in rows if r["line_items"]), rows[0]["id"]))'
}
# Each wrk thread runs its own copy: number them in setup() so no two threads send one name
# (names are unique per org: a clash is a 400, not a create).
cat >"$OUT/create.lua" <<'LUA'
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
end
local n = 0
function init(args)
    n = tid * 100000000 + (os.time() % 10000) * 10000
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, string.format(
        '{"name":"Bench deal %d","amount":1000,"probability":0,"stage":"PROPOSAL","contacts":[],"assigned_to":[],"teams":[],"tags":[]}', n))
end
LUA

first=${SIZES%% *}
serve "warn,sqlx::query=trace" 67108864
TOKEN=$(token "op$first@example.com")
{
    echo "| request | SQL statements logged by sqlx (+1: the BEGIN + RLS context batch) |"
    echo "|---|---|"
    id=$(first_id "$TOKEN")
    for path in "/api/opportunities/" "/api/opportunities/?search=a&stage=CLOSED&limit=10&offset=0&limit=20&offset=0" \
                "/api/opportunities/$id/" "/api/opportunities/$id/line-items/"; do
        before=$(grep -c summary "$OUT/server.log" || true)
        curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE$path"
        sleep 0.3
        echo "| GET ${path/$id/{id\}} | $(( $(grep -c summary "$OUT/server.log" || true) - before )) |"
    done
} | tee "$OUT/queries.md"
halt
[ "${COUNT_ONLY:-0}" = 1 ] && exit 0

measure() { # $1: size, $2: label, rest: wrk args
    local n=$1 label=$2; shift 2
    local log="$OUT/wrk_${n}_${label//[^A-Za-z0-9]/_}.txt"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$@" >"$log"
    local extra=""
    grep -q 'Non-2xx' "$log" && extra=" ($(grep 'Non-2xx' "$log" | xargs))"
    printf '| %s | %s%s | %s | %s | %s |\n' "$n" "$label" "$extra" \
        "$(awk '/^Requests\/sec/ {print $2}' "$log")" "$(awk '$1 == "50%" {print $2}' "$log")" \
        "$(awk '$1 == "99%" {print $2}' "$log")" | tee -a "$OUT/results.md"
}
echo "| rows in org | request | req/s | p50 | p99 |" | tee "$OUT/results.md"
echo "|---:|---|---:|---:|---:|" | tee -a "$OUT/results.md"
for cache in 67108864 0; do
    serve warn "$cache"
    for n in $SIZES; do
        TOKEN=$(token "op$n@example.com")
        if [ "$cache" = 0 ]; then
            measure "$n" "GET /api/opportunities/ (cache off)" "$BASE/api/opportunities/"
            continue
        fi
        id=$(first_id "$TOKEN")
        measure "$n" "GET /api/opportunities/" "$BASE/api/opportunities/"
        measure "$n" "GET /api/opportunities/{id}/" "$BASE/api/opportunities/$id/"
        measure "$n" "GET /api/opportunities/{id}/line-items/" "$BASE/api/opportunities/$id/line-items/"
        measure "$n" "POST /api/opportunities/" -s "$OUT/create.lua" "$BASE/api/opportunities/"
        # Keep the orgs at their sizes for the next runs.
        psql "$DATABASE_URL" -q -c "DELETE FROM opportunity_assigned_to WHERE opportunity_id IN (SELECT id FROM opportunity WHERE name LIKE 'Bench deal %')" \
            -c "DELETE FROM opportunity WHERE name LIKE 'Bench deal %'"
    done
    halt
done
