#!/usr/bin/env bash
# Load test of the invoice endpoints with wrk (installed from Debian when missing).
#
# Seeds one org per size (default 1,000 and 1,000,000 invoices, each with 1-3 lines, payments on
# paid ones) into a scratch database, starts the server as the app role (RLS on) and, per org,
# drives GET list, GET list filtered, GET detail and POST create (two lines, a number allocated
# under the org's counter lock) with 16 connections. Prints requests/s, p50, p99 and the SQL
# statements each request sends.
#
#   cargo build --release -p bottlecrm && bench/invoices.sh
#   SIZES="1000" DURATION=5s BIN=target/debug/bottlecrm bench/invoices.sh   # quick check (debug: no figures)
#   COUNT_ONLY=1 SIZES=1000 BIN=target/debug/bottlecrm bench/invoices.sh    # statements only
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench_inv}
PORT=${PORT:-18083}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"1000 1000000"}
RESEED=${RESEED:-1}
OUT=${OUT:-bench/results_inv}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-4}

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    for n in $SIZES; do
        "$BIN" seed --email "inv$n@example.com" --password benchpass123 --seed 7 --invoices "$n" \
            --accounts 200 --contacts 200 --leads 10 --users-per-org 5 --teams 3 --tags 10 --batch 20000
    done
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE"
fi

PID=
serve() { # $1: RUST_LOG
    RUST_LOG="$1" "$BIN" serve --no-worker --no-migrate --bind "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
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
first_id() { # $1: token
    curl -fs "$BASE/api/invoices/?limit=1" -H "Authorization: Bearer $1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["id"])'
}
# An account of the admin's org and a contact without another account, for the create body.
party() { # $1: admin e-mail
    psql "$DATABASE_URL" -Atc "SELECT a.id || ' ' || c.id FROM users u JOIN profile p ON p.user_id = u.id
        JOIN accounts a ON a.org_id = p.org_id JOIN contacts c ON c.org_id = p.org_id AND c.account_id IS NULL
        WHERE u.email = '$1' LIMIT 1"
}
create_lua() { # $1: account, $2: contact
    cat >"$OUT/create_invoice.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"invoice_title":"Bench invoice","account_id":"$1","contact_id":"$2","tax_rate":"10","discount_type":"PERCENTAGE","discount_value":"5","line_items":[{"name":"Work","quantity":"3","unit_price":"33.33"},{"name":"Parts","quantity":"1","unit_price":"120.00","tax_rate":"5"}]}'
LUA
}

first=${SIZES%% *}
serve "warn,sqlx::query=trace"
TOKEN=$(token "inv$first@example.com")
{
    echo "| request | SQL statements logged by sqlx (+1: the BEGIN + RLS context batch) |"
    echo "|---|---|"
    id=$(first_id "$TOKEN")
    for path in "/api/invoices/" "/api/invoices/?status=Paid&search=invoice" "/api/invoices/$id/"; do
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
echo "| invoices in org | request | req/s | p50 | p99 |" | tee "$OUT/results.md"
echo "|---:|---|---:|---:|---:|" | tee -a "$OUT/results.md"
serve warn
for n in $SIZES; do
    TOKEN=$(token "inv$n@example.com")
    read -r account contact <<<"$(party "inv$n@example.com")"
    create_lua "$account" "$contact"
    measure "$n" "GET /api/invoices/" "$BASE/api/invoices/"
    measure "$n" "GET /api/invoices/?status=Paid" "$BASE/api/invoices/?status=Paid"
    measure "$n" "GET /api/invoices/{id}/" "$BASE/api/invoices/$(first_id "$TOKEN")/"
    measure "$n" "POST /api/invoices/" -s "$OUT/create_invoice.lua" "$BASE/api/invoices/"
    # Keep the org at its size for the next runs.
    psql "$DATABASE_URL" -q -c "WITH b AS (SELECT id FROM invoice WHERE invoice_title = 'Bench invoice'),
        l AS (DELETE FROM invoice_line_item WHERE invoice_id IN (SELECT id FROM b)),
        h AS (DELETE FROM invoice_history WHERE invoice_id IN (SELECT id FROM b))
        DELETE FROM invoice WHERE id IN (SELECT id FROM b)"
done
halt
