#!/usr/bin/env bash
# Activity feed and dashboard at 1,000,000 activity rows (issue 9, item 21).
#
# Seeds one org (50,000 leads, 2,000 accounts, 20 members who each see ~7 % of the leads) into a
# scratch database, adds 1,000,000 activity rows with SQL, then drives GET /api/activities/ and
# GET /api/dashboard/ as the admin and as a member with wrk (16 connections).
#
#   cargo build --release -p bottlecrm && bench/activity.sh
#   RESEED=0 DURATION=5s bench/activity.sh         # again, without reseeding
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench_activity}
PORT=${PORT:-18081}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
ROWS=${ROWS:-1000000}
RESEED=${RESEED:-1}
ADMIN=${BENCH_ADMIN:-bench-activity@example.com}
PASSWORD=${BENCH_PASSWORD:-benchpass123}
BASE="http://127.0.0.1:$PORT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-4}

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    "$BIN" seed --email "$ADMIN" --password "$PASSWORD" --seed 1 \
        --leads 50000 --accounts 2000 --contacts 5000 --users-per-org 20 --teams 4 >/dev/null
    psql "$DATABASE_URL" -q <<SQL
INSERT INTO activity (created_at, updated_at, id, action, entity_type, entity_id, entity_name, description, org_id, user_id)
SELECT now() - make_interval(secs => g * 60), now(), gen_random_uuid(),
       (ARRAY['CREATE','UPDATE','COMMENT'])[1 + g % 3],
       CASE WHEN g % 10 = 0 THEN 'Account' ELSE 'Lead' END,
       CASE WHEN g % 10 = 0 THEN x.ac[1 + (g * 7919) % cardinality(x.ac)]
            ELSE x.l[1 + (g * 104729) % cardinality(x.l)] END,
       'Record ' || g, '', x.org, x.p[1 + g % cardinality(x.p)]
FROM (SELECT (SELECT array_agg(id) FROM lead) AS l, (SELECT array_agg(id) FROM accounts) AS ac,
             (SELECT array_agg(id) FROM profile) AS p, (SELECT org_id FROM profile LIMIT 1) AS org) x,
     generate_series(1::bigint, ${ROWS}::bigint) g;
VACUUM ANALYZE;
SQL
fi

"$BIN" serve --no-migrate --no-worker --bind "127.0.0.1:$PORT" >/dev/null 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "$BASE/healthz/" >/dev/null && break; sleep 0.2; done

login() {
    curl -fs "$BASE/api/auth/login/" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"$PASSWORD\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}
MEMBER=$(psql "$DATABASE_URL" -Atc "SELECT u.email FROM profile p JOIN users u ON u.id = p.user_id WHERE p.role = 'USER' ORDER BY u.email LIMIT 1")
for who in "$ADMIN" "$MEMBER"; do
    TOKEN=$(login "$who")
    for path in /api/activities/ /api/dashboard/; do
        printf '%-28s %-20s ' "$who" "$path"
        wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$BASE$path" |
            awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "%s req/s  p50 %s  p99 %s\n", rps, p50, p99}'
    done
done
