#!/usr/bin/env bash
# multi-bench: the figures of one jam on several cojamd processes (issue 13, point 6).  A benchmark,
# not a test: it prints figures and fails only when something could not run.
#   1+2. "split" cells: one redis-server, two cojamd A and B; the votes (and the moderator) enter on
#        A (loadgen --write-url), the citizens that only watch are spread over A and B (--url A,B).
#        CPU-seconds per applied event of A (takes the votes itself) and of B (only applies A's
#        writes from the stream), from /proc/PID/stat and each process's /metrics counters sampled
#        together at the window's edges; vote-to-screen of the readers on A against those on B,
#        the same votes in the same window.
#   3.   "cap" cells: the same clients x votes/s on K = 1, 2, 3 processes (clients and writers
#        spread over them), each K on a fresh Redis and fresh processes, one after another.
#   5.   The Redis stream rates the capacity model in README rests on: XADD (pipelined, appendfsync
#        always, entries copied from a stored vote) and XREAD pages to 1..3 readers, with
#        redis-server's CPU per entry.
# Writes load-tests/results/multi.json (MB_OUT) and prints the tables, the machine's load average
# with each.  Every process is started here on free loopback ports and stopped by its PID (trap).
#
#   bash load-tests/multi-bench.sh           (make multi-bench; about 8 minutes)
#   MB_SPLIT_CELLS="2000x300" MB_CAP_CELLS="" MB_REDIS=0 bash load-tests/multi-bench.sh
#
# Environment: MB_SPLIT_CELLS ("300x300 3000x300": clients x votes/s), MB_CAP_CELLS ("4000x400"),
# MB_CAP_PROCS ("1 2 3"), MB_ROUNDS (2: every cell twice, K in the other order), MB_DURATION (10), MB_WARMUP (2), MB_REDIS (1: the Redis rates; 0 skip),
# MB_OUT (load-tests/results), COJAMD (build/release/cojamd), COJAMD_PREBUILT (skip the build),
# COJAM_EXTRA_ARGS (given to every cojamd), MB_NICE (nice level of everything started here).
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
. load-tests/lib/common.sh

SPLIT_CELLS=${MB_SPLIT_CELLS-"300x300 3000x300"}
CAP_CELLS=${MB_CAP_CELLS-"4000x400"}
CAP_PROCS=${MB_CAP_PROCS:-"1 2 3"}
DURATION=${MB_DURATION:-10}
WARMUP=${MB_WARMUP:-2}
ROUNDS=${MB_ROUNDS:-2}
DO_REDIS=${MB_REDIS:-1}
OUT=${MB_OUT:-$TOP/load-tests/results}
COJAMD=${COJAMD:-$TOP/build/release/cojamd}
LOADGEN=$TOP/build/loadgen
export LT_NICE=${MB_NICE:-0}
MULTI=$TOP/load-tests/lib/multi.py

WORK=$(mktemp -d /tmp/cojam-multi-bench.XXXXXX)
WATCH_PID=""
cleanup() {
    [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
    lt_cleanup
}
trap cleanup EXIT
trap 'echo "multi-bench: interrupted" >&2; exit 130' INT TERM

lt_build multi-bench "$WORK/build.log"
mkdir -p "$OUT"

# start_procs DIR K: a fresh redis-server and K cojamd on it -> PORTS[] PIDS[] (and REDIS_*)
start_procs() {
    local dir=$1 k=$2 i
    PORTS=() PIDS=()
    lt_start_redis "$dir/redis" || return 1
    for i in $(seq 1 "$k"); do
        lt_start_cojamd "$COJAMD" "$dir/cojamd-$i" || return 1
        PORTS+=("$COJAM_PORT")
        PIDS+=("$COJAM_PID")
    done
}

stop_procs() {
    local p
    for p in "${PIDS[@]}"; do lt_stop_pid "$p"; done
    lt_stop_pid "$REDIS_PID"
    PORTS=() PIDS=()
}

# run_loadgen DIR CLIENTS RATE WATCH_SPECS LOADGEN_ARGS...: loadgen with the watcher beside it
run_loadgen() {
    local dir=$1 n=$2 r=$3 specs=$4
    shift 4
    : >"$dir/mark"
    # shellcheck disable=SC2086  # the specs are words
    nice -n "$LT_NICE" /usr/bin/python3 "$MULTI" watch "$dir/mark" "$dir/watch.json" "$ADMIN_TOKEN" $specs &
    WATCH_PID=$!
    local budget=$(( 60 + DURATION + WARMUP + n / 500 ))
    nice -n "$LT_NICE" timeout -k 5 "$budget" "$LOADGEN" "$@" --admin-token "$ADMIN_TOKEN" \
        --clients "$n" --rate "$r" --duration "$DURATION" --warmup "$WARMUP" --quiet \
        --server-pid "${PIDS[0]}" --redis-pid "$REDIS_PID" --redis "127.0.0.1:$REDIS_PORT" \
        --json "$dir/result.json" --mark "$dir/mark" --deadline $(( budget - 5 )) \
        >"$dir/loadgen.out" 2>"$dir/loadgen.err"
    local rc=$?
    cat "$dir/loadgen.out" >&2
    [ $rc = 0 ] || { echo "multi-bench: loadgen exited with $rc; last lines:" >&2; tail -5 "$dir/loadgen.err" >&2; }
    for _ in $(seq 1 100); do kill -0 "$WATCH_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null
    WATCH_PID=""
    JAM_CODE=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jam"])' "$dir/result.json" 2>/dev/null || true)
}

url() { echo "ws://127.0.0.1:$1/ws"; }

# split cell, round: votes on A, readers on A and B
run_split() {
    local cell=$1 round=$2 n=${1%x*} r=${1#*x}
    local dir=$WORK/split-$cell-r$round
    mkdir -p "$dir"
    echo "== split $cell round $round: votes enter on A, readers on A and B (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    echo "{\"kind\":\"split\",\"label\":\"$cell r$round\",\"clients\":$n,\"rate\":$r,\"processes\":2}" >"$dir/run.json"
    start_procs "$dir" 2 || { stop_procs; return; }
    run_loadgen "$dir" "$n" "$r" "A=${PORTS[0]}:${PIDS[0]} B=${PORTS[1]}:${PIDS[1]}" \
        --url "$(url "${PORTS[0]}"),$(url "${PORTS[1]}")" --write-url "$(url "${PORTS[0]}")" --label "split-$cell-r$round"
    # one stored vote, for the Redis rates below
    if [ -n "${JAM_CODE:-}" ] && [ ! -s "$WORK/vote-entry" ]; then
        redis-cli -p "$REDIS_PORT" --raw XREVRANGE "cojam:jam:$JAM_CODE:events" + - COUNT 50 >"$WORK/last-entries" 2>/dev/null
        /usr/bin/python3 - "$WORK/last-entries" "$WORK/vote-entry" <<'EOF'
import sys
lines = open(sys.argv[1]).read().split("\n")
# --raw XREVRANGE: id, then field and value lines, per entry; the entries are told apart by ids
import re
entries, cur = [], None
for ln in lines:
    if re.fullmatch(r"\d+-\d+", ln):
        cur = []
        entries.append(cur)
    elif cur is not None and ln != "":
        cur.append(ln)
for e in entries:
    if any('"vote"' in v or v == "vote" for v in e):
        open(sys.argv[2], "w").write("\n".join(e) + "\n")
        break
EOF
    fi
    stop_procs
}

# capacity cell, K, round: K processes, everything spread
run_cap() {
    local cell=$1 k=$2 round=$3 n=${1%x*} r=${1#*x} i urls=""
    local dir=$WORK/cap-$cell-r$round-k$k
    mkdir -p "$dir"
    echo "== capacity $cell on $k process(es), round $round (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    echo "{\"kind\":\"cap\",\"label\":\"$cell r$round\",\"clients\":$n,\"rate\":$r,\"processes\":$k}" >"$dir/run.json"
    start_procs "$dir" "$k" || { stop_procs; return; }
    local specs=""
    for i in $(seq 0 $(( k - 1 ))); do
        urls+="${urls:+,}$(url "${PORTS[$i]}")"
        specs+=" P$(( i + 1 ))=${PORTS[$i]}:${PIDS[$i]}"
    done
    run_loadgen "$dir" "$n" "$r" "$specs" --url "$urls" --label "cap-$cell-r$round-k$k"
    stop_procs
}

# The Redis rates: XADD of a stored vote's fields, pipelined, and XREAD pages, with redis-server's CPU
run_redis() {
    local dir=$WORK/redis-rates
    mkdir -p "$dir"
    echo "{\"kind\":\"redis\",\"label\":\"redis\"}" >"$dir/run.json"
    echo "== Redis stream rates (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    lt_start_redis "$dir/redis" || return
    local fields=()
    if [ -s "$WORK/vote-entry" ]; then mapfile -t fields <"$WORK/vote-entry"; fi
    [ ${#fields[@]} -ge 2 ] || fields=(e '{"type":"vote","op":"w123","participant":42,"item":17,"at":1764600000000}')
    local key=cojam:bench:events rows="" bytes
    bytes=$(printf '%s' "${fields[@]}" | wc -c)
    cpu() { awk '{print $14+$15}' "/proc/$REDIS_PID/stat"; }
    # measure OP CLIENTS PIPELINE N ENTRIES_PER_CALL ARGS...
    measure() {
        local op=$1 c=$2 p=$3 n=$4 per=$5 t0 t1 c0 c1 rps
        shift 5
        c0=$(cpu); t0=$(date +%s.%N)
        rps=$(nice -n "$LT_NICE" timeout 120 redis-benchmark -p "$REDIS_PORT" -c "$c" -P "$p" -n "$n" -q "$@" 2>/dev/null \
              | tr '\r' '\n' | grep -Eo '[0-9.]+ requests per second' | tail -1 | cut -d' ' -f1)
        t1=$(date +%s.%N); c1=$(cpu)
        rows+="${rows:+,}{\"op\":\"$op\",\"clients\":$c,\"pipeline\":$p,\"calls\":$n,\"per_call\":$per,\"calls_per_s\":${rps:-0},\"redis_cpu_ticks\":$(( c1 - c0 )),\"seconds\":$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')}"
        echo "   $op -c $c -P $p: ${rps:-?} calls/s" >&2
    }
    # cojamd appends through a script (store.c SCRIPT_XADD: EVALSHA, one key): that is what is timed,
    # with a plain XADD beside it; 1 connection = one process's store thread, 3 = three processes
    local sha
    sha=$(redis-cli -p "$REDIS_PORT" SCRIPT LOAD "return redis.call('XADD', KEYS[1], '*', 'e', ARGV[1])")
    measure "XADD" 1 64 100000 1 XADD "$key" '*' "${fields[@]}"
    measure "EVALSHA XADD" 1 64 100000 1 EVALSHA "$sha" 1 "$key" "${fields[1]}"
    measure "EVALSHA XADD" 3 64 100000 1 EVALSHA "$sha" 1 "$key" "${fields[1]}"
    redis-cli -p "$REDIS_PORT" CONFIG SET appendfsync everysec >/dev/null
    measure "EVALSHA XADD (everysec)" 1 64 200000 1 EVALSHA "$sha" 1 "$key" "${fields[1]}"
    redis-cli -p "$REDIS_PORT" CONFIG SET appendfsync always >/dev/null
    # a tail's XREAD returns what is new: pages of 1000 when behind, a few entries when keeping up
    measure "XREAD COUNT 1000" 1 1 2000 1000 XREAD COUNT 1000 STREAMS "$key" 0
    measure "XREAD COUNT 10" 1 16 200000 10 XREAD COUNT 10 STREAMS "$key" 0
    measure "XREAD COUNT 10" 3 16 200000 10 XREAD COUNT 10 STREAMS "$key" 0
    measure "XREAD COUNT 1" 1 16 300000 1 XREAD COUNT 1 STREAMS "$key" 0
    /usr/bin/python3 - "$dir/redis.json" "$bytes" "$(getconf CLK_TCK)" "[$rows]" <<'EOF'
import json, sys
out, nbytes, tck, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
for r in rows:
    r["entries_per_s"] = r["calls_per_s"] * r["per_call"]
    entries = r["calls"] * r["per_call"]
    r["redis_us_per_entry"] = round(r["redis_cpu_ticks"] / tck / entries * 1e6, 3) if entries else None
json.dump({"appendfsync": "always (one row everysec)", "entry_bytes": nbytes, "rows": rows}, open(out, "w"), indent=1)
EOF
    lt_stop_pid "$REDIS_PID"
}

echo "multi-bench: $(nproc) CPUs, load average at start $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# Rounds alternate the order (K ascending, then descending), so a drift of the machine's load
# does not favour one side.
for round in $(seq 1 "$ROUNDS"); do
    for cell in $SPLIT_CELLS; do run_split "$cell" "$round"; done
done
for round in $(seq 1 "$ROUNDS"); do
    order=$CAP_PROCS
    [ $(( round % 2 )) = 0 ] && order=$(echo "$CAP_PROCS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for cell in $CAP_CELLS; do
        for k in $order; do run_cap "$cell" "$k" "$round"; done
    done
done
[ "$DO_REDIS" = 1 ] && run_redis
echo "multi-bench: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)" >&2
/usr/bin/python3 "$MULTI" report "$OUT/multi.json" "$WORK"/*/
