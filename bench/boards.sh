#!/usr/bin/env bash
# Load test of the Kanban boards endpoints with wrk (installed from Debian when missing).
#
# Seeds one org per size into a scratch database, SIZES counting the org's cards (the module's
# main table): under 10,000 cards, 10 boards share them; from 10,000 up, boards of 10,000 cards
# each (1,000,000 cards = 100 boards of 10,000). Starts the server as the app role (RLS on) and,
# per org, drives with 16 connections: the board list, a board's detail, its full view (every
# column with every card: the board of 10,000 cards in the big org), a card create and a card
# move (PATCH {column, order: 0}, alternating between two columns). Prints requests/s, p50, p99
# and the SQL statements each request sends.
#
#   cargo build --release -p bottlecrm && bench/boards.sh
#   SIZES="1000" DURATION=10s bench/boards.sh                                   # quick run
#   COUNT_ONLY=1 SIZES=1000 BIN=target/debug/bottlecrm bench/boards.sh          # statements only
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/bottlecrm}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-bottlecrm_bench_boards}
PORT=${PORT:-18083}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"1000 1000000"}
RESEED=${RESEED:-1}
OUT=${OUT:-bench/results/boards}
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
export DATABASE_URL="$PGURL/$DB" SECRET_KEY=bench-secret-key DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-4}

shape() { # $1: cards in the org -> "boards cards_per_board"
    if [ "$1" -ge 10000 ]; then echo "$(($1 / 10000)) 10000"; else echo "10 $(($1 / 10))"; fi
}

if [ "$RESEED" = 1 ]; then
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    "$BIN" migrate >/dev/null
    for n in $SIZES; do
        read -r boards cards <<<"$(shape "$n")"
        "$BIN" seed --email "boards$n@example.com" --password benchpass123 --seed 7 --accounts 0 \
            --contacts 0 --leads 0 --users-per-org 5 --teams 2 --tags 5 --boards "$boards" --board-cards "$cards"
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
# The newest board (the list's first row), its first two columns and the first card of column 0.
ids() { # $1: token -> "board col0 col1 card"
    local board
    board=$(curl -fs "$BASE/api/boards/?limit=1" -H "Authorization: Bearer $1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["id"])')
    curl -fs "$BASE/api/boards/$board/columns/" -H "Authorization: Bearer $1" | python3 -c '
import json, sys
cols = json.load(sys.stdin)
print(sys.argv[1], cols[0]["id"], cols[1]["id"], cols[0]["tasks"][0]["id"])' "$board"
}
scripts() { # $1: col0, $2: col1
    cat >"$OUT/create.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"Bench card","description":"","priority":"medium","column":"$1"}'
LUA
    cat >"$OUT/move.lua" <<LUA
-- The frontend's drag and drop: PATCH {column, order: 0}, to one column and back.
local n = 0
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
request = function()
    n = n + 1
    local col = (n % 2 == 0) and "$1" or "$2"
    return wrk.format(nil, nil, nil, '{"column":"' .. col .. '","order":0}')
end
LUA
}

first=${SIZES%% *}
serve "warn,sqlx::query=trace"
TOKEN=$(token "boards$first@example.com")
read -r BOARD COL0 COL1 CARD <<<"$(ids "$TOKEN")"
{
    echo "| request | SQL statements logged by sqlx (+1: the BEGIN + RLS context batch) |"
    echo "|---|---|"
    for path in "/api/boards/" "/api/boards/?search=sprint" "/api/boards/$BOARD/" "/api/boards/$BOARD/columns/" \
        "/api/boards/columns/$COL0/tasks/" "/api/boards/tasks/$CARD/"; do
        before=$(grep -c summary "$OUT/server.log" || true)
        curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE$path"
        sleep 0.3
        label=${path/$BOARD/{id\}}; label=${label/$COL0/{id\}}; label=${label/$CARD/{id\}}
        echo "| GET $label | $(( $(grep -c summary "$OUT/server.log" || true) - before )) |"
    done
    before=$(grep -c summary "$OUT/server.log" || true)
    curl -fs -o /dev/null -X PATCH -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d "{\"column\":\"$COL1\",\"order\":0}" "$BASE/api/boards/tasks/$CARD/"
    sleep 0.3
    echo "| PATCH /api/boards/tasks/{id}/ (move) | $(( $(grep -c summary "$OUT/server.log" || true) - before )) |"
} | tee "$OUT/queries.md"
halt
# COUNT_ONLY=1: statement counts only (any build; e.g. BIN=target/debug/bottlecrm).
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
echo "| cards in org | request | req/s | p50 | p99 |" | tee "$OUT/results.md"
echo "|---:|---|---:|---:|---:|" | tee -a "$OUT/results.md"
serve warn
for n in $SIZES; do
    TOKEN=$(token "boards$n@example.com")
    read -r BOARD COL0 COL1 CARD <<<"$(ids "$TOKEN")"
    scripts "$COL0" "$COL1"
    cards=$(shape "$n" | cut -d' ' -f2)
    measure "$n" "GET /api/boards/" "$BASE/api/boards/"
    measure "$n" "GET /api/boards/{id}/" "$BASE/api/boards/$BOARD/"
    measure "$n" "GET /api/boards/{id}/columns/ ($cards cards)" "$BASE/api/boards/$BOARD/columns/"
    measure "$n" "POST /api/boards/columns/{id}/tasks/" -s "$OUT/create.lua" "$BASE/api/boards/columns/$COL0/tasks/"
    measure "$n" "PATCH /api/boards/tasks/{id}/ (move)" -s "$OUT/move.lua" "$BASE/api/boards/tasks/$CARD/"
    # Keep the orgs at their sizes for the next runs.
    psql "$DATABASE_URL" -q -c "DELETE FROM board_task WHERE title = 'Bench card'" \
        -c "UPDATE board_task t SET \"order\" = r.pos FROM (SELECT id, row_number() OVER (PARTITION BY column_id ORDER BY \"order\", created_at, id) - 1 AS pos FROM board_task) r WHERE r.id = t.id AND t.\"order\" <> r.pos"
done
halt
