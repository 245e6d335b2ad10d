# Shared by the module benchmarks (`source bench/lib.sh` after setting BIN, BASE, PORT, OUT,
# THREADS, CONNS, DURATION): start/stop the server, log in, write a create script for wrk, count
# the SQL statements of a request, and measure one request with wrk into $OUT/results.md.

PID=
serve() { # $1: RUST_LOG, $2: RESPONSE_CACHE_BYTES
    RUST_LOG="$1" RESPONSE_CACHE_BYTES="$2" "$BIN" serve --no-worker --no-migrate --bind "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
    PID=$!
    for _ in $(seq 50); do curl -fs "$BASE/healthz/" >/dev/null 2>&1 && return; sleep 0.2; done
    echo "server did not start"; cat "$OUT/server.log"; exit 1
}
halt() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap halt EXIT

token() { # $1: e-mail (password benchpass123)
    curl -fs "$BASE/api/auth/login/" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"benchpass123\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# A wrk script POSTing $2 (a JSON body with one %d: a counter unique per wrk thread, so names
# that must be unique per org never clash) into file $1.
create_lua() { # $1: file, $2: body format
    cat >"$1" <<LUA
-- Each wrk thread runs its own copy of this script: number them in setup() so two threads never
-- send the same name or e-mail (unique per org: a clash is a 400, not a create).
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
    return wrk.format(nil, nil, nil, string.format('$2', n))
end
LUA
}

# One table row: the statements sqlx logged for GET $1 (the server runs with
# RUST_LOG=warn,sqlx::query=trace); $2 is the path as shown.
count_statements() { # $1: path, $2: label
    local before
    before=$(grep -c summary "$OUT/server.log" || true)
    curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE$1"
    sleep 0.3
    echo "| GET $2 | $(( $(grep -c summary "$OUT/server.log" || true) - before )) |"
}

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
