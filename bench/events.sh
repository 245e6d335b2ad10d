#!/usr/bin/env bash
# Load test of the events endpoints with wrk (installed from Debian when missing).
#
# Seeds one org per size (default 1,000 and 1,000,000 events, 1,000 members for the first size)
# into a scratch database, adds a daily series assigned to every member, starts the server as the
# app role (RLS on) and drives with 16 connections: GET list, GET a one-year window (the daily
# series expanded, 365 occurrences plus the org's other events in that year), GET detail and
# POST create. Prints requests/s, p50, p99 and the SQL statements each request sends.
#
#   cargo build --release -p bottlecrm && bench/events.sh
#   SIZES="1000" DURATION=10s bench/events.sh                               # quick run
#   COUNT_ONLY=1 SIZES=1000 BIN=target/debug/bottlecrm bench/events.sh     # statements only
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench_events}
PORT=${PORT:-18083}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"1000 1000000"}
MEMBERS=${MEMBERS:-1000}
RESEED=${RESEED:-1}
OUT=${OUT:-bench/results_events}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-4}

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    for n in $SIZES; do
        "$BIN" seed --email "ev$n@example.com" --password benchpass123 --seed 7 --events "$n" \
            --contacts 1000 --accounts 10 --leads 10 --users-per-org "$MEMBERS" --teams 3 --tags 5 --batch 10000
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
# A daily series for the whole next year, assigned to every member of the org; prints its id.
daily_series() { # $1: token, $2: org size
    local members
    members=$(psql "$DATABASE_URL" -Atc "SELECT json_agg(p.id) FROM profile p JOIN users u ON u.id = p.user_id
        WHERE p.org_id = (SELECT org_id FROM profile p2 JOIN users u2 ON u2.id = p2.user_id WHERE u2.email = 'ev$2@example.com')")
    curl -fs "$BASE/api/events/" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d "{\"name\":\"Daily standup\",\"start\":\"2027-01-04T09:00:00+01:00\",\"end\":\"2027-01-04T09:15:00+01:00\",
             \"timezone\":\"Europe/Berlin\",\"rrule\":\"FREQ=DAILY\",\"assigned_to\":$members}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
WINDOW="from=2027-01-01&to=2028-01-01"
cat >"$OUT/create_event.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"Bench call","event_type":"call","start":"2027-03-01T10:00:00Z","end":"2027-03-01T10:30:00Z"}'
LUA

first=${SIZES%% *}
serve "warn,sqlx::query=trace" 67108864
TOKEN=$(token "ev$first@example.com")
SERIES=$(daily_series "$TOKEN" "$first")
{
    echo "| request | SQL statements logged by sqlx (+1: the BEGIN + RLS context batch) |"
    echo "|---|---|"
    for path in "/api/events/" "/api/events/?$WINDOW" "/api/events/$SERIES/"; do
        before=$(grep -c summary "$OUT/server.log" || true)
        curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE$path"
        sleep 0.3
        echo "| GET ${path/$SERIES/{id\}} | $(( $(grep -c summary "$OUT/server.log" || true) - before )) |"
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
echo "| events in org | request | req/s | p50 | p99 |" | tee "$OUT/results.md"
echo "|---:|---|---:|---:|---:|" | tee -a "$OUT/results.md"
for cache in 67108864 0; do
    serve warn "$cache"
    for n in $SIZES; do
        TOKEN=$(token "ev$n@example.com")
        [ "$n" = "$first" ] || [ "$cache" = 0 ] || SERIES=$(daily_series "$TOKEN" "$n")
        if [ "$cache" = 0 ]; then
            measure "$n" "GET /api/events/ (cache off)" "$BASE/api/events/"
            measure "$n" "GET /api/events/?from&to one year (cache off)" "$BASE/api/events/?$WINDOW"
            continue
        fi
        measure "$n" "GET /api/events/" "$BASE/api/events/"
        measure "$n" "GET /api/events/?from&to one year" "$BASE/api/events/?$WINDOW"
        measure "$n" "GET /api/events/{id}/" "$BASE/api/events/$SERIES/"
        measure "$n" "POST /api/events/" -s "$OUT/create_event.lua" "$BASE/api/events/"
        psql "$DATABASE_URL" -q -c "DELETE FROM event WHERE name = 'Bench call'"
    done
    halt
done
