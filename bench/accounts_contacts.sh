#!/usr/bin/env bash
# Load test of the accounts and contacts endpoints with wrk (installed from Debian when missing).
#
# Seeds one org per size (default 1,000 and 1,000,000 accounts AND contacts, 1,000 leads) into a
# scratch database, starts the release server as the app role (RLS on) and, per org and module,
# drives GET list (response cache on, then off), GET detail and POST create with 16 connections.
# Prints requests/s, p50, p99 and the SQL statements each request sends.
#
#   cargo build --release -p bottlecrm && bench/accounts_contacts.sh
#   SIZES="1000" DURATION=10s MODULES="accounts" bench/accounts_contacts.sh     # quick run
#   COUNT_ONLY=1 SIZES=1000 BIN=target/debug/bottlecrm bench/accounts_contacts.sh  # statements only
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench_ac}
PORT=${PORT:-18081}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"1000 1000000"}
MODULES=${MODULES:-"accounts contacts"}
RESEED=${RESEED:-1}
OUT=${OUT:-bench/results_ac}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-4}

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    for n in $SIZES; do
        "$BIN" seed --email "ac$n@example.com" --password benchpass123 --seed 7 --accounts "$n" \
            --contacts "$n" --leads 1000 --users-per-org 5 --teams 3 --tags 10 --batch 10000
    done
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE"
fi

source bench/lib.sh

# First id of a module's list page.
first_id() { # $1: module, $2: token
    curl -fs "$BASE/api/$1/" -H "Authorization: Bearer $2" | python3 -c '
import json, sys
b = json.load(sys.stdin)
rows = b.get("active_accounts", {}).get("open_accounts") or b.get("contact_obj_list") or []
print(rows[0]["id"])'
}
body_of() { # $1: module -> a create body (unique names/e-mails from wrk counters)
    case $1 in
        accounts) echo '{"name":"Bench account %d","industry":"SOFTWARE","city":"Oslo","annual_revenue":1000}' ;;
        contacts) echo '{"first_name":"Bench","last_name":"Contact","email":"bench%d@example.org"}' ;;
    esac
}
for m in $MODULES; do
    create_lua "$OUT/create_$m.lua" "$(body_of "$m")"
done

first=${SIZES%% *}
serve "warn,sqlx::query=trace" 67108864
TOKEN=$(token "ac$first@example.com")
{
    echo "| request | SQL statements logged by sqlx (+1: the BEGIN + RLS context batch) |"
    echo "|---|---|"
    for m in $MODULES; do
        id=$(first_id "$m" "$TOKEN")
        count_statements "/api/$m/" "/api/$m/"
        count_statements "/api/$m/?search=smith" "/api/$m/?search=smith"
        count_statements "/api/$m/$id/" "/api/$m/{id}/"
    done
} | tee "$OUT/queries.md"
halt
# COUNT_ONLY=1: statement counts only (any build; e.g. BIN=target/debug/bottlecrm).
[ "${COUNT_ONLY:-0}" = 1 ] && exit 0

echo "| rows in org | request | req/s | p50 | p99 |" | tee "$OUT/results.md"
echo "|---:|---|---:|---:|---:|" | tee -a "$OUT/results.md"
for cache in 67108864 0; do
    serve warn "$cache"
    for n in $SIZES; do
        TOKEN=$(token "ac$n@example.com")
        for m in $MODULES; do
            if [ "$cache" = 0 ]; then
                measure "$n" "GET /api/$m/ (cache off)" "$BASE/api/$m/"
                continue
            fi
            measure "$n" "GET /api/$m/" "$BASE/api/$m/"
            measure "$n" "GET /api/$m/{id}/" "$BASE/api/$m/$(first_id "$m" "$TOKEN")/"
            measure "$n" "POST /api/$m/" -s "$OUT/create_$m.lua" "$BASE/api/$m/"
        done
        # Keep the orgs at their sizes for the next runs.
        psql "$DATABASE_URL" -q -c "DELETE FROM accounts WHERE name LIKE 'Bench account %'" \
            -c "DELETE FROM contacts WHERE email LIKE 'bench%@example.org'"
    done
    halt
done
