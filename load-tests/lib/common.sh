# Shared helpers for the load-test scripts (sourced): the release build, private redis-server/cojamd processes on
# free loopback ports and kills only the PIDs it started.
LT_PIDS=()

# lt_build NAME LOG: the release cojamd (unless COJAMD_PREBUILT is set) and build/loadgen; exits the
# script with the build's last lines when either fails, or when $COJAMD is not there after it.
lt_build() {
    local name=$1 log=$2
    echo "== building release cojamd and loadgen" >&2
    if [ -z "${COJAMD_PREBUILT:-}" ]; then
        make -C server FLAVOUR=release all >"$log" 2>&1 || { tail -20 "$log" >&2; echo "$name: server build failed" >&2; exit 1; }
    fi
    make -C load-tests >>"$log" 2>&1 || { tail -20 "$log" >&2; echo "$name: loadgen build failed" >&2; exit 1; }
    [ -x "$COJAMD" ] || { echo "$name: $COJAMD missing" >&2; exit 1; }
}

lt_free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

lt_cleanup() {
    local p
    for p in "${LT_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${LT_PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    LT_PIDS=()
}

lt_stop_pid() {  # lt_stop_pid PID: stop one of our processes (TERM, then KILL after 5 s)
    local p=$1 i
    kill "$p" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    local keep=() q
    for q in "${LT_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
    LT_PIDS=("${keep[@]}")
}

# lt_start_redis DIR -> sets REDIS_PORT REDIS_PID
lt_start_redis() {
    local dir=$1
    mkdir -p "$dir"
    REDIS_PORT=$(lt_free_port)
    nice -n "${LT_NICE:-0}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always \
        --maxmemory-policy noeviction --save '' --daemonize no --logfile "$dir/redis.log" >/dev/null 2>&1 &
    REDIS_PID=$!
    LT_PIDS+=("$REDIS_PID")
    local i
    for i in $(seq 1 100); do
        if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then return 0; fi
        sleep 0.05
    done
    echo "redis-server did not start (see $dir/redis.log)" >&2
    return 1
}

# lt_start_cojamd BIN DIR -> sets COJAM_PORT COJAM_PID ADMIN_TOKEN (needs REDIS_PORT); pinned to
# CPU $LT_PIN_SERVER when that is set.
# Every load client comes from 127.0.0.1..8: the per-address caps (1,000 connections, the join
# and other per-address buckets) are lifted. The admin token goes in the environment (never a
# flag: ps shows flags).
lt_start_cojamd() {
    local bin=$1 dir=$2
    mkdir -p "$dir"
    COJAM_PORT=$(lt_free_port)
    ADMIN_TOKEN=${ADMIN_TOKEN:-lt-admin-$RANDOM$RANDOM}
    local pin=()
    [ -n "${LT_PIN_SERVER:-}" ] && pin=(taskset -c "$LT_PIN_SERVER")
    COJAM_ADMIN_TOKEN=$ADMIN_TOKEN nice -n "${LT_NICE:-0}" "${pin[@]}" "$bin" --listen "127.0.0.1:$COJAM_PORT" --redis "127.0.0.1:$REDIS_PORT" \
        --allowed-origins '*' --max-conns-per-address 100000 --admission-scale 0 \
        --data-dir "$dir" --log-level "${COJAM_LOG_LEVEL:-warn}" ${COJAM_EXTRA_ARGS:-} \
        >"$dir/cojamd.log" 2>&1 &
    COJAM_PID=$!
    LT_PIDS+=("$COJAM_PID")
    local i
    for i in $(seq 1 200); do
        if ! kill -0 "$COJAM_PID" 2>/dev/null; then
            echo "cojamd exited at start-up (see $dir/cojamd.log):" >&2
            tail -5 "$dir/cojamd.log" >&2
            return 1
        fi
        if curl -s -m 1 "http://127.0.0.1:$COJAM_PORT/healthz" 2>/dev/null | grep -q '"ready"'; then return 0; fi
        sleep 0.05
    done
    echo "cojamd not ready after 10 s (see $dir/cojamd.log)" >&2
    return 1
}
