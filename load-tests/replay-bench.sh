#!/usr/bin/env bash
# Recovery benchmark: how long cojamd takes from start to "ready" for a jam of N events (default
# 1,000,000), first with no snapshot (every event replayed), then after cojamd stored a snapshot
# (snapshot + tail). Goal (issue 16): full replay <= 2 s, snapshot <= 1 s. Prints a table and writes
# load-tests/results/replay.json (figures of the first binary). Loopback only; kills only the
# processes it started.
# Usage: bash load-tests/replay-bench.sh [EVENTS]
#   REPLAY_COJAMD="OLD NEW"  the binaries to time (default: build/release/cojamd, built first);
#                            with several, each round runs them one after the other on the same
#                            generated stream, and the table shows each one's median.
#   REPLAY_ROUNDS=N          rounds (default 1; 3 when REPLAY_COJAMD names more than one binary).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. load-tests/lib/common.sh
trap lt_cleanup EXIT
events=${1:-${REPLAY_EVENTS:-1000000}}
if [ -z "${REPLAY_COJAMD:-}" ]; then
    make -s -C server FLAVOUR=release all >/dev/null
    bins=("$top/build/release/cojamd")
else
    read -r -a bins <<<"$REPLAY_COJAMD"
fi
for b in "${bins[@]}"; do [ -x "$b" ] || { echo "replay-bench: $b is not an executable" >&2; exit 1; }; done
default_rounds=1
[ "${#bins[@]}" -gt 1 ] && default_rounds=3
rounds=${REPLAY_ROUNDS:-$default_rounds}
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

# start_and_time BIN -> sets READY_MS (exec to /healthz "ready"), COJAM_PID, COJAM_URL
start_and_time() {
    local bin=$1 port t0 t1
    port=$(lt_free_port)
    t0=$(date +%s%N)
    COJAM_ADMIN_TOKEN=x "$bin" --listen "127.0.0.1:$port" --redis "127.0.0.1:$REDIS_PORT" \
        --data-dir "$work/data" --log-level info >>"$work/cojamd.log" 2>&1 &
    COJAM_PID=$!
    LT_PIDS+=("$COJAM_PID")
    for _ in $(seq 1 2400); do
        if curl -s -m 1 "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q '"ready"'; then break; fi
        sleep 0.01
    done
    t1=$(date +%s%N)
    COJAM_URL="http://127.0.0.1:$port"
    READY_MS=$(( (t1 - t0) / 1000000 ))
}

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# One round of one binary: no snapshot (full replay), wait for its snapshot, restart from it.
declare -A full snap bytes rss
digest_ref=""
same=yes
for r in $(seq 1 "$rounds"); do
    for i in "${!bins[@]}"; do
        bin=${bins[$i]}
        redis-cli -p "$REDIS_PORT" del cojam:jam:$code:snapshot >/dev/null
        echo "== round $r: $bin" >>"$work/cojamd.log"
        start_and_time "$bin"
        f=$READY_MS
        full[$i]="${full[$i]:-} $f"
        d1=$(curl -s "$COJAM_URL/api/jams/$code/digest")
        [ -n "$digest_ref" ] || digest_ref=$d1
        [ "$d1" = "$digest_ref" ] || same=no
        # cojamd stores a snapshot at its next tick once the jam has enough unsnapshotted events.
        for _ in $(seq 1 600); do
            [ "$(redis-cli -p "$REDIS_PORT" exists cojam:jam:$code:snapshot)" = 1 ] && break; sleep 0.1
        done
        sleep 1
        # Read once the snapshot is stored: read at "ready", it raced the snapshot's encoding (a
        # buffer the size of the snapshot, and its copy on the way to Redis) and varied by 90 MB.
        rss[$i]=$(awk '/VmRSS/{print $2}' /proc/$COJAM_PID/status)
        bytes[$i]=$(redis-cli -p "$REDIS_PORT" strlen cojam:jam:$code:snapshot)
        lt_stop_pid "$COJAM_PID"
        start_and_time "$bin"
        snap[$i]="${snap[$i]:-} $READY_MS"
        d2=$(curl -s "$COJAM_URL/api/jams/$code/digest")
        [ "$d2" = "$digest_ref" ] || same=no
        lt_stop_pid "$COJAM_PID"
        echo "round $r $bin: full $f ms, snapshot $READY_MS ms"
    done
done

printf '\n%s events, %s round(s); medians (all runs in brackets)\n' "$events" "$rounds"
for i in "${!bins[@]}"; do
    # shellcheck disable=SC2086
    fm=$(median ${full[$i]}); sm=$(median ${snap[$i]})
    printf '%s\n' "${bins[$i]}"
    printf '  %-34s %8s ms  [%s ]\n' "no snapshot (full replay)" "$fm" "${full[$i]}"
    printf '  %-34s %8s ms  [%s ]\n' "snapshot (${bytes[$i]} bytes) + tail" "$sm" "${snap[$i]}"
    printf '  %-34s %8s KiB\n' "cojamd RSS, snapshot stored" "${rss[$i]}"
    if [ "$i" = 0 ]; then full_ms=$fm snap_ms=$sm snap_bytes=${bytes[0]} rss_kib=${rss[0]}; fi
done
printf '%-36s %10s\n' "state digest equal after restarts" "$same"
grep -E "recovered|snapshot" "$work/cojamd.log" | tail -4 | sed 's/^/  log: /'
if [ -z "${REPLAY_COJAMD:-}" ]; then
    mkdir -p load-tests/results
    cat > load-tests/results/replay.json <<JSON
{"events": $events, "full_replay_ms": $full_ms, "snapshot_ms": $snap_ms, "snapshot_bytes": $snap_bytes,
 "digest_equal": "$same", "rss_kib": $rss_kib, "rounds": $rounds, "machine": {"cpus": $(nproc)},
 "generated": "$(date -u +%FT%TZ)", "git": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"}
JSON
fi
rm -rf "$work"
[ "$same" = yes ]
