#!/usr/bin/env bash
# The server as a user starts it: no tuning variables, the embedded job worker on, the default
# log filter (each request's access line written to a file). Drives POST /api/leads/ (16
# connections) and a mixed load (32 connections: 70 % list, 10 % detail, 10 % PATCH, 10 % POST)
# against a 1,000-lead org; prints req/s, p50, p99 and the server's RSS before and after.
#
#   cargo build --release -p bottlecrm && bench/defaults.sh
#   EXTRA_ENV="DB_MAX_CONNECTIONS=20" bench/defaults.sh     # compare with a setting changed
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench_defaults}
PORT=${PORT:-18081}
DURATION=${DURATION:-10s}
RESEED=${RESEED:-1}
OUT=${OUT:-bench/results}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    "$BIN" seed --email bench@example.com --password benchpass123 --seed 42 \
        --leads 1000 --contacts 500 --accounts 100 --users-per-org 5 --teams 3 --tags 10 >/dev/null
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE"
fi

# shellcheck disable=SC2086
env -u RUST_LOG ${EXTRA_ENV:-} "$BIN" serve --no-migrate --bind "127.0.0.1:$PORT" >"$OUT/defaults_server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "$BASE/healthz/" >/dev/null 2>&1 && break; sleep 0.2; done
rss() { echo $(( $(awk '/^VmRSS/ {print $2}' "/proc/$PID/status") / 1024 )); }
TOKEN=$(curl -fs "$BASE/api/auth/login/" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"benchpass123"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -fs "$BASE/api/leads/?limit=200" -H "Authorization: Bearer $TOKEN" |
    python3 -c 'import json,sys; [print(l["id"]) for l in json.load(sys.stdin)["open_leads"]["open_leads"]]' >"$OUT/defaults_ids.txt"

cat >"$OUT/defaults_create.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"Bench lead","first_name":"Bench","last_name":"Mark","status":"assigned","source":"call","opportunity_amount":"1000.00","probability":20}'
LUA
cat >"$OUT/defaults_mixed.lua" <<'LUA'
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local n = 0
local function json_headers() -- the -H headers (Authorization) plus the content type
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end
    h["Content-Type"] = "application/json"
    return h
end
request = function()
    n = n + 1
    local k = n % 10
    local id = ids[n % #ids + 1]
    if k == 7 then
        return wrk.format("GET", "/api/leads/" .. id .. "/")
    elseif k == 8 then
        return wrk.format("PATCH", "/api/leads/" .. id .. "/", json_headers(),
            '{"rating":"HOT","probability":60,"description":"touched by the benchmark"}')
    elseif k == 9 then
        return wrk.format("POST", "/api/leads/", json_headers(),
            '{"title":"Bench lead","first_name":"Bench","status":"assigned","source":"call"}')
    end
    return wrk.format("GET", "/api/leads/")
end
LUA
export IDS_FILE="$OUT/defaults_ids.txt"
echo "settings: ${EXTRA_ENV:-defaults}; RSS at start $(rss) MB"
run() { # $1: label, $2: connections, rest: wrk args
    local label=$1 conns=$2; shift 2
    local log="$OUT/defaults_${label// /_}.txt"
    wrk -t2 -c"$conns" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$@" >"$log"
    echo "| $label | $conns | $(awk '/^Requests\/sec/ {print $2}' "$log") | $(awk '$1 == "50%" {print $2}' "$log") | $(awk '$1 == "99%" {print $2}' "$log") | $(rss) MB | $(grep -h 'Non-2xx' "$log" | xargs) |"
}
echo "| request | connections | req/s | p50 | p99 | RSS after | errors |"
echo "|---|---:|---:|---:|---:|---:|---|"
run "POST create" 16 -s "$OUT/defaults_create.lua" "$BASE/api/leads/"
run "mixed" 32 -s "$OUT/defaults_mixed.lua" "$BASE"
echo "peak RSS (VmHWM): $(( $(awk '/^VmHWM/ {print $2}' "/proc/$PID/status") / 1024 )) MB"
psql "$DATABASE_URL" -q <<'SQL'
CREATE TEMP TABLE gone AS SELECT id FROM lead WHERE title = 'Bench lead';
DELETE FROM activity WHERE entity_id IN (SELECT id FROM gone);
DELETE FROM lead WHERE id IN (SELECT id FROM gone);
SQL
