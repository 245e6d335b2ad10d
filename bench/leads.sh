#!/usr/bin/env bash
# Load test of the leads endpoints with wrk (installed from Debian when missing).
#
# Seeds one org per size (default 1,000 and 1,000,000 leads) into a scratch database, starts the
# release server as the app role (RLS on), and for each org drives GET list, GET detail, POST
# create and PATCH with 16 connections. Prints requests/s, p50, p99 and the server's RSS, and the
# SQL statements each request sends (counted from sqlx's statement log in a separate short run).
#
#   cargo build --release -p bottlecrm && bench/leads.sh
#   SIZES="1000" DURATION=10s bench/leads.sh     # quick run
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench}
PORT=${PORT:-18080}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"1000 1000000"}
RESEED=${RESEED:-1}
OUT=${OUT:-bench/results}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-4}

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    for n in $SIZES; do
        "$BIN" seed --email "bench$n@example.com" --password benchpass123 --seed 42 \
            --leads "$n" --contacts 500 --accounts 100 --users-per-org 5 --teams 3 --tags 10 --batch 10000
    done
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE"
fi

SERVER_PID=
start_server() { # $1: RUST_LOG, $2: RESPONSE_CACHE_BYTES (default: the server's)
    # --no-worker: the embedded job worker's polling would blur the statement counts.
    RUST_LOG="$1" RESPONSE_CACHE_BYTES="${2:-67108864}" "$BIN" serve --no-worker --no-migrate --bind "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 50); do curl -fs "$BASE/healthz/" >/dev/null 2>&1 && return; sleep 0.2; done
    echo "server did not start"; cat "$OUT/server.log"; exit 1
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
trap stop_server EXIT
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

login() { # $1: e-mail -> access token
    curl -fs "$BASE/api/auth/login/" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"benchpass123\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
lead_ids() { # $1: token -> 200 ids, one per line
    curl -fs "$BASE/api/leads/?limit=200" -H "Authorization: Bearer $1" |
        python3 -c 'import json,sys; [print(l["id"]) for l in json.load(sys.stdin)["open_leads"]["open_leads"]]'
}

# wrk scripts: POST a new lead; PATCH leads round-robin (ids from $IDS_FILE).
cat >"$OUT/create.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"Bench lead","first_name":"Bench","last_name":"Mark","status":"assigned","source":"call","opportunity_amount":"1000.00","probability":20}'
EOF
cat >"$OUT/patch.lua" <<'EOF'
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local i = 0
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"rating":"HOT","probability":60,"description":"touched by the benchmark"}'
request = function()
    i = i % #ids + 1
    return wrk.format(nil, "/api/leads/" .. ids[i] .. "/")
end
EOF

# One short run with sqlx's statement log on: statements per request type.
start_server "warn,sqlx::query=trace"
first=$(echo "$SIZES" | awk '{print $1}')
TOKEN=$(login "bench$first@example.com")
ID=$(lead_ids "$TOKEN" | sed -n 1p)
count_sql() { # $1: label, then curl args
    local label=$1; shift
    local before; before=$(grep -c 'summary' "$OUT/server.log" || true)
    curl -fs -o /dev/null "$@" -H "Authorization: Bearer $TOKEN"
    sleep 0.3
    local after; after=$(grep -c 'summary' "$OUT/server.log" || true)
    echo "| $label | $((after - before)) |"
}
{
    echo "| request | SQL statements logged by sqlx (+1: the BEGIN + RLS context batch) |"
    echo "|---|---|"
    count_sql "GET /api/leads/" "$BASE/api/leads/"
    count_sql "GET /api/leads/ (again: cached)" "$BASE/api/leads/"
    count_sql "GET /api/leads/?search=smith&status=assigned" "$BASE/api/leads/?search=smith&status=assigned"
    count_sql "GET /api/leads/{id}/" "$BASE/api/leads/$ID/"
    count_sql "POST /api/leads/" -X POST -H 'Content-Type: application/json' -d '{"title":"q","first_name":"Q"}' "$BASE/api/leads/"
    count_sql "PATCH /api/leads/{id}/" -X PATCH -H 'Content-Type: application/json' -d '{"rating":"WARM"}' "$BASE/api/leads/$ID/"
} | tee "$OUT/queries.md"
stop_server

start_server "warn"
echo "| leads in org | request | req/s | p50 | p99 | RSS after |" | tee "$OUT/results.md"
echo "|---:|---|---:|---:|---:|---:|" | tee -a "$OUT/results.md"
for n in $SIZES; do
    TOKEN=$(login "bench$n@example.com")
    export IDS_FILE="$OUT/ids_$n.txt"
    lead_ids "$TOKEN" >"$IDS_FILE"
    ID=$(head -1 "$IDS_FILE")
    run() { # $1: label, rest: wrk args
        local label=$1; shift
        local log="$OUT/wrk_${n}_${label// /_}.txt"
        wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$@" >"$log"
        local rps p50 p99
        rps=$(awk '/^Requests\/sec/ {print $2}' "$log")
        p50=$(awk '$1 == "50%" {print $2}' "$log")
        p99=$(awk '$1 == "99%" {print $2}' "$log")
        if grep -q 'Non-2xx' "$log"; then label="$label ($(grep 'Non-2xx' "$log" | xargs))"; fi
        echo "| $n | $label | $rps | $p50 | $p99 | $(( $(rss_kb) / 1024 )) MB |" | tee -a "$OUT/results.md"
    }
    run "GET list" "$BASE/api/leads/"
    run "GET detail" "$BASE/api/leads/$ID/"
    run "PATCH" -s "$OUT/patch.lua" "$BASE"
    run "POST create" -s "$OUT/create.lua" "$BASE/api/leads/"
    # The list while one connection keeps PATCHing (each write invalidates the org's pages).
    wrk -t1 -c1 -d"$DURATION" -H "Authorization: Bearer $TOKEN" -s "$OUT/patch.lua" "$BASE" >"$OUT/wrk_${n}_patch_bg.txt" &
    bg=$!
    run "GET list during PATCHes" "$BASE/api/leads/"
    wait "$bg"
    echo "|   | (the background PATCHes: $(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk_${n}_patch_bg.txt") req/s) | | | | |" | tee -a "$OUT/results.md"
    # Keep the org at its size for the next run.
    psql "$PGURL/$DB" -q <<'SQL'
CREATE TEMP TABLE gone AS SELECT id FROM lead WHERE title IN ('Bench lead', 'q');
DELETE FROM activity WHERE entity_id IN (SELECT id FROM gone);
DELETE FROM lead_assigned_to WHERE lead_id IN (SELECT id FROM gone);
DELETE FROM lead_tags WHERE lead_id IN (SELECT id FROM gone);
DELETE FROM lead_teams WHERE lead_id IN (SELECT id FROM gone);
DELETE FROM lead_contacts WHERE lead_id IN (SELECT id FROM gone);
DELETE FROM lead WHERE id IN (SELECT id FROM gone);
SQL
done
echo "peak RSS (VmHWM): $(( $(hwm_kb) / 1024 )) MB" | tee -a "$OUT/results.md"
stop_server

# The list again with the response cache off: every request renders its page (what a list costs
# right after a write, or for a query nobody asked for since).
start_server "warn" 0
for n in $SIZES; do
    TOKEN=$(login "bench$n@example.com")
    log="$OUT/wrk_${n}_list_uncached.txt"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/leads/" >"$log"
    echo "| $n | GET list, cache off | $(awk '/^Requests\/sec/ {print $2}' "$log") | $(awk '$1 == "50%" {print $2}' "$log") | $(awk '$1 == "99%" {print $2}' "$log") | $(( $(rss_kb) / 1024 )) MB |" | tee -a "$OUT/results.md"
done
