#!/usr/bin/env bash
# Recovery benchmark: how long cojamd takes from start to "ready" for a jam of N events (default
# 1,000,000), first with no snapshot (every event replayed), then after cojamd stored a snapshot
# (snapshot + tail). Target (BRIEF.md): under 10 s for 1,000,000 events. Prints a table and writes
# load-tests/results/replay.json. Loopback only; kills only the processes it started.
# Usage: bash load-tests/replay-bench.sh [EVENTS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. load-tests/lib/common.sh
trap lt_cleanup EXIT
events=${1:-${REPLAY_EVENTS:-1000000}}
make -s -C server FLAVOUR=release all >/dev/null
bin=$top/build/release/cojamd
work=$(mktemp -d /tmp/cojam-replay-XXXXXX)
code=424242

# No AOF for this Redis: the benchmark times cojamd, and the 1M-entry load is faster without fsync.
REDIS_PORT=$(lt_free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$work" --save '' --appendonly no \
    --daemonize no --logfile "$work/redis.log" >/dev/null 2>&1 &
LT_PIDS+=("$!")
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
echo "writing $events events into a jam stream..."
/usr/bin/python3 load-tests/gen-stream.py "$code" "$events" 5000 | redis-cli -p "$REDIS_PORT" --pipe >/dev/null
echo "stream length: $(redis-cli -p "$REDIS_PORT" xlen cojam:jam:$code:events)"

# start_and_time -> sets READY_MS (exec to /healthz "ready"), COJAM_PID, COJAM_URL
start_and_time() {
    local port t0 t1
    port=$(lt_free_port)
    t0=$(date +%s%N)
    COJAM_ADMIN_TOKEN=x "$bin" --listen "127.0.0.1:$port" --redis "127.0.0.1:$REDIS_PORT" \
        --data-dir "$work/data" --log-level info >>"$work/cojamd.log" 2>&1 &
    COJAM_PID=$!
    LT_PIDS+=("$COJAM_PID")
    for _ in $(seq 1 1200); do
        if curl -s -m 1 "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q '"ready"'; then break; fi
        sleep 0.05
    done
    t1=$(date +%s%N)
    COJAM_URL="http://127.0.0.1:$port"
    READY_MS=$(( (t1 - t0) / 1000000 ))
}

start_and_time
full_ms=$READY_MS
rss_kib=$(awk '/VmRSS/{print $2}' /proc/$COJAM_PID/status)
digest1=$(curl -s "$COJAM_URL/api/jams/$code/digest")
# cojamd stores a snapshot at its next tick once the jam has enough unsnapshotted events.
for _ in $(seq 1 600); do
    [ "$(redis-cli -p "$REDIS_PORT" exists cojam:jam:$code:snapshot)" = 1 ] && break; sleep 0.1
done
sleep 1
snap_bytes=$(redis-cli -p "$REDIS_PORT" strlen cojam:jam:$code:snapshot)
lt_stop_pid "$COJAM_PID"
start_and_time
snap_ms=$READY_MS
digest2=$(curl -s "$COJAM_URL/api/jams/$code/digest")
lt_stop_pid "$COJAM_PID"
same=no
[ "$digest1" = "$digest2" ] && same=yes

printf '\n%-36s %12s\n' "recovery of $events events" "to ready"
printf '%-36s %10s ms\n' "no snapshot (full replay)" "$full_ms"
printf '%-36s %10s ms\n' "snapshot ($snap_bytes bytes) + tail" "$snap_ms"
printf '%-36s %10s\n' "state digest equal after restart" "$same"
printf '%-36s %10s KiB\n' "cojamd RSS after recovery" "$rss_kib"
grep -E "recovered|snapshot" "$work/cojamd.log" | sed 's/^/  log: /'
mkdir -p load-tests/results
cat > load-tests/results/replay.json <<JSON
{"events": $events, "full_replay_ms": $full_ms, "snapshot_ms": $snap_ms, "snapshot_bytes": $snap_bytes,
 "digest_equal": "$same", "rss_kib": $rss_kib, "machine": {"cpus": $(nproc)},
 "generated": "$(date -u +%FT%TZ)", "git": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"}
JSON
rm -rf "$work"
[ "$same" = yes ]
