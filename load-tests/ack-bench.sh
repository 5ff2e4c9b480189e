#!/usr/bin/env bash
# Vote ack latency of two cojamd binaries, side by side (issue 13: an ack now waits for the tail to
# read the write back from the stream). Each round starts a fresh redis-server and one cojamd of
# each binary in turn (the order swapped every other round, so drift on this shared machine falls on
# both) and runs loadgen's jam-vote; it prints each run's ack p50/p99 and the ratio of the medians.
# A benchmark, not a test: no assertion.
#
#   bash load-tests/ack-bench.sh BEFORE_BIN AFTER_BIN
# Env: ACK_ROUNDS (3), ACK_CLIENTS (1000), ACK_RATE (500 writes/s), ACK_DURATION (5 s).
set -uo pipefail
cd "$(dirname "$0")/.."
. load-tests/lib/common.sh
trap lt_cleanup EXIT
trap 'exit 130' INT TERM

before=${1:?usage: ack-bench.sh BEFORE_BIN AFTER_BIN} after=${2:?usage: ack-bench.sh BEFORE_BIN AFTER_BIN}
ROUNDS=${ACK_ROUNDS:-3} N=${ACK_CLIENTS:-1000} RATE=${ACK_RATE:-500} DUR=${ACK_DURATION:-5}
WORK=$(mktemp -d /tmp/cojam-ack-bench.XXXXXX)
make -C load-tests >"$WORK/build.log" 2>&1 || { echo "loadgen build failed: $WORK/build.log" >&2; exit 1; }

run_one() {  # run_one LABEL BIN ROUND -> appends "LABEL p50 p99" to $WORK/results
    local label=$1 bin=$2 dir=$WORK/$1-$3
    lt_start_redis "$dir/redis" && lt_start_cojamd "$bin" "$dir/cojamd" || return 1
    timeout -k 5 120 build/loadgen --url "ws://127.0.0.1:$COJAM_PORT/ws" --admin-token "$ADMIN_TOKEN" \
        --scenario jam-vote --clients "$N" --rate "$RATE" --duration "$DUR" --warmup 1 --drain 5 \
        --json "$dir/r.json" --quiet --deadline 100 --server-pid "$COJAM_PID" >"$dir/out" 2>&1
    /usr/bin/python3 - "$dir/r.json" "$label" >>"$WORK/results" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a = d["ack_ms"]
print(sys.argv[2], a["p50_ms"], a["p99_ms"], d["writes_acked_measured"], d["errors_total"])
PY
    lt_stop_pid "$COJAM_PID"
    lt_stop_pid "$REDIS_PID"
}

for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="before after"; else order="after before"; fi
    for label in $order; do
        if [ "$label" = before ]; then bin=$before; else bin=$after; fi
        run_one "$label" "$bin" "$r" || echo "$label round $r failed (logs in $WORK)" >&2
    done
done
echo "# label ack_p50_ms ack_p99_ms acked errors  ($N clients, $RATE writes/s, $DUR s, $ROUNDS rounds)"
cat "$WORK/results"
/usr/bin/python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {k: (statistics.median(float(r[1]) for r in rows if r[0] == k),
           statistics.median(float(r[2]) for r in rows if r[0] == k)) for k in ("before", "after")}
print("median p50: before %.3f ms, after %.3f ms, ratio %.2f" % (med["before"][0], med["after"][0],
                                                                  med["after"][0] / med["before"][0]))
print("median p99: before %.3f ms, after %.3f ms, ratio %.2f" % (med["before"][1], med["after"][1],
                                                                  med["after"][1] / med["before"][1]))
PY
