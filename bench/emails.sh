#!/usr/bin/env bash
# Load test of the e-mails endpoints with wrk (installed from Debian when missing).
#
# Seeds one org per size (default 1,000 and 1,000,000 e-mails in the history, spread over 1,000
# contacts) into a scratch database, starts the release server as the app role (RLS on,
# --no-worker: created e-mails stay queued) and drives, with 16 connections: a contact's history
# (`GET /api/emails/?record_type=contact&record_id=`), the org's list, one e-mail's detail and
# `POST /api/emails/` (validate, render check, insert + enqueue in one transaction). Then it
# starts a worker against an SMTP sink (python3 -m aiosmtpd) and reports how fast the queued
# e-mails are sent. Prints requests/s, p50, p99 and the SQL statements each request sends.
#
#   cargo build --release -p bottlecrm && bench/emails.sh
#   SIZES="1000" DURATION=10s bench/emails.sh                                  # quick run
#   COUNT_ONLY=1 SIZES=1000 BIN=target/debug/bottlecrm bench/emails.sh          # statements only
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench_emails}
PORT=${PORT:-18083}
SMTP_PORT=${SMTP_PORT:-18025}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"1000 1000000"}
RESEED=${RESEED:-1}
OUT=${OUT:-bench/results_emails}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-4}

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    for n in $SIZES; do
        "$BIN" seed --email "em$n@example.com" --password benchpass123 --seed 7 --emails "$n" \
            --contacts 1000 --accounts 100 --leads 100 --users-per-org 5 --teams 3 --tags 10 --batch 10000
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
# The contact with the most e-mails, and one of its e-mails.
busiest() { # $1: admin e-mail -> "contact_id email_id"
    psql "$DATABASE_URL" -Atc "SELECT e.record_id, min(e.id::text) FROM crm_email e
        JOIN organization o ON o.id = e.org_id JOIN profile p ON p.org_id = o.id JOIN users u ON u.id = p.user_id
        WHERE u.email = '$1' AND e.status <> 'draft' GROUP BY e.record_id ORDER BY count(*) DESC LIMIT 1" | tr '|' ' '
}

first=${SIZES%% *}
serve "warn,sqlx::query=trace"
TOKEN=$(token "em$first@example.com")
read -r CONTACT EMAIL <<<"$(busiest "em$first@example.com")"
{
    echo "| request | SQL statements logged by sqlx (+1: the BEGIN + RLS context batch) |"
    echo "|---|---|"
    for path in "/api/emails/?record_type=contact&record_id=$CONTACT" "/api/emails/" "/api/emails/$EMAIL/"; do
        before=$(grep -c summary "$OUT/server.log" || true)
        curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE$path"
        sleep 0.3
        label=${path/$CONTACT/\{id\}}
        echo "| GET ${label/$EMAIL/\{id\}} | $(( $(grep -c summary "$OUT/server.log" || true) - before )) |"
    done
    before=$(grep -c summary "$OUT/server.log" || true)
    curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d "{\"record_type\":\"contact\",\"record_id\":\"$CONTACT\",\"subject\":\"Count {{ first_name }}\"}" "$BASE/api/emails/"
    sleep 0.3
    echo "| POST /api/emails/ | $(( $(grep -c summary "$OUT/server.log" || true) - before )) |"
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
echo "| e-mails in org | request | req/s | p50 | p99 |" | tee "$OUT/results.md"
echo "|---:|---|---:|---:|---:|" | tee -a "$OUT/results.md"
serve warn
for n in $SIZES; do
    TOKEN=$(token "em$n@example.com")
    read -r CONTACT EMAIL <<<"$(busiest "em$n@example.com")"
    cat >"$OUT/create.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"record_type":"contact","record_id":"$CONTACT","subject":"Bench {{ first_name }}","body":"<p>Hello {{ first_name }}</p>"}'
LUA
    measure "$n" "GET /api/emails/?record_type=contact&record_id={id}" "$BASE/api/emails/?record_type=contact&record_id=$CONTACT"
    measure "$n" "GET /api/emails/" "$BASE/api/emails/"
    measure "$n" "GET /api/emails/{id}/" "$BASE/api/emails/$EMAIL/"
    measure "$n" "POST /api/emails/" -s "$OUT/create.lua" "$BASE/api/emails/"
done
halt

# Send rate: the e-mails queued by the POST runs, through one worker process to a local SMTP sink.
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd
python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Sink &
SINK=$!
trap 'halt; kill $SINK 2>/dev/null || true' EXIT
sleep 1
queued=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM jobs WHERE kind = 'crm_email' AND status = 'queued'")
start=$(date +%s.%N)
EMAIL_URL="smtp://127.0.0.1:$SMTP_PORT" EMAIL_TLS=none JOB_CONCURRENCY=${JOB_CONCURRENCY:-4} "$BIN" worker >"$OUT/worker.log" 2>&1 &
WPID=$!
while [ "$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM jobs WHERE kind = 'crm_email' AND status IN ('queued', 'running')")" != 0 ]; do sleep 1; done
end=$(date +%s.%N)
kill "$WPID" 2>/dev/null || true; wait "$WPID" 2>/dev/null || true
sent=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM crm_email WHERE status = 'sent' AND subject LIKE 'Bench %'")
echo "| send | $queued queued, $sent sent over SMTP | $(python3 -c "print(round($queued / ($end - $start), 1))") e-mails/s |" | tee -a "$OUT/results.md"
psql "$DATABASE_URL" -qc "DELETE FROM crm_email WHERE subject LIKE 'Bench %' OR subject LIKE 'Count %'"
