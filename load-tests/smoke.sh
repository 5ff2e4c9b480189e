#!/usr/bin/env bash
# Smoke test: ~200 clients x 3 s of jam-vote; checks only that every acked vote reached every client
# (delivery ratio exactly 1.0) and that there were no errors.  With its own servers it then starts a
# second cojamd on the same Redis and runs the same load with the votes entering on the first
# (--write-url) and the watchers spread over both (--url A,B): every vote reaches every client on
# both processes, counted per process (multi-bench.sh's cross-process measuring).  No timing
# assertions.  Prints TAP.
#
#   bash load-tests/smoke.sh                       starts a private redis-server + cojamd (debug build if present)
#   COJAM_URL=ws://127.0.0.1:8080/ws COJAM_ADMIN_TOKEN=... bash load-tests/smoke.sh   uses a running server
# Env: SMOKE_CLIENTS (200), SMOKE_RATE (100), SMOKE_DURATION (3), COJAMD (binary to start).
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
. load-tests/lib/common.sh
trap lt_cleanup EXIT
trap 'exit 130' INT TERM

N=${SMOKE_CLIENTS:-200}
RATE=${SMOKE_RATE:-100}
DUR=${SMOKE_DURATION:-3}
WORK=$(mktemp -d /tmp/cojam-smoke.XXXXXX)
pass=0 fail=0 num=0
tap() {  # tap OK|NOT "description"
    num=$((num + 1))
    if [ "$1" = OK ]; then pass=$((pass + 1)); echo "ok $num - $2"; else fail=$((fail + 1)); echo "not ok $num - $2"; fi
}
finish() {
    echo "1..$num"
    echo "# $pass passed, $fail failed"
    [ "$fail" = 0 ]
    exit $?
}

echo "TAP version 13"
if ! make -C load-tests >"$WORK/build.log" 2>&1; then
    tap NOT "build loadgen (see $WORK/build.log)"
    finish
fi
tap OK "build loadgen"
if build/fairsim 3 200 150 >"$WORK/fairsim.txt" 2>&1; then
    tap OK "fairsim: the fair order finds good late ideas sooner than top, and more of the true top 10"
else
    tap NOT "fairsim: fair did not beat top (see $WORK/fairsim.txt)"
fi
sed 's/^/# /' "$WORK/fairsim.txt"

EXTRA=()
if [ -n "${COJAM_URL:-}" ]; then
    URL=$COJAM_URL
    ADMIN_TOKEN=${COJAM_ADMIN_TOKEN:-}
else
    BIN=${COJAMD:-}
    if [ -z "$BIN" ]; then
        if [ -x build/debug/cojamd ]; then BIN=build/debug/cojamd; else BIN=build/release/cojamd; fi
    fi
    if [ ! -x "$BIN" ]; then
        tap NOT "cojamd binary $BIN exists"
        finish
    fi
    if lt_start_redis "$WORK/redis" && lt_start_cojamd "$BIN" "$WORK/cojamd"; then
        tap OK "start redis-server and $BIN"
    else
        tap NOT "start redis-server and $BIN (logs in $WORK)"
        finish
    fi
    URL=ws://127.0.0.1:$COJAM_PORT/ws
    EXTRA=(--server-pid "$COJAM_PID")
fi

timeout -k 5 90 build/loadgen --url "$URL" --admin-token "$ADMIN_TOKEN" --scenario jam-vote --clients "$N" \
    --rate "$RATE" --duration "$DUR" --warmup 1 --drain 10 --json "$WORK/smoke.json" --quiet --deadline 80 \
    "${EXTRA[@]}" >"$WORK/loadgen.out" 2>"$WORK/loadgen.err"
rc=$?
if [ $rc = 0 ] && [ -s "$WORK/smoke.json" ]; then
    tap OK "loadgen jam-vote $N clients x $RATE votes/s x $DUR s ran"
else
    tap NOT "loadgen jam-vote ran (rc $rc): $(tail -1 "$WORK/loadgen.err" 2>/dev/null)"
    finish
fi
sed 's/^/# /' "$WORK/loadgen.out"

read -r joined acked ratio errors samples expected errlist < <(/usr/bin/python3 - "$WORK/smoke.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
errs = ",".join(f"{k}={v}" for k, v in d["errors"].items()) or "none"
print(d["joined"], d["writes_acked_measured"], "1.0" if d.get("delivery_exact") else repr(d["delivery_ratio"]), d["errors_total"], d["samples"],
      int(d["samples_expected"]), errs)
PY
)
[ "$joined" = "$N" ] && tap OK "all $N clients joined" || tap NOT "all $N clients joined (joined $joined)"
[ "${acked:-0}" -gt 0 ] && tap OK "votes acknowledged ($acked in the measured window)" || tap NOT "votes acknowledged (0)"
if [ "$ratio" = "1.0" ] && [ "$samples" = "$expected" ] && [ "$expected" -gt 0 ]; then
    tap OK "delivery ratio exactly 1.0 ($samples samples = acked votes x clients)"
else
    tap NOT "delivery ratio exactly 1.0 (got $ratio: $samples of $expected)"
fi
[ "$errors" = 0 ] && tap OK "no errors" || tap NOT "no errors (got $errors: $errlist)"

if [ -z "${COJAM_URL:-}" ]; then
    URL_A=$URL
    if lt_start_cojamd "$BIN" "$WORK/cojamd-b"; then
        tap OK "start a second $BIN on the same redis-server"
    else
        tap NOT "start a second $BIN on the same redis-server (logs in $WORK/cojamd-b)"
        finish
    fi
    URL_B=ws://127.0.0.1:$COJAM_PORT/ws
    timeout -k 5 90 build/loadgen --url "$URL_A,$URL_B" --write-url "$URL_A" --admin-token "$ADMIN_TOKEN" \
        --scenario jam-vote --clients "$N" --rate "$RATE" --duration "$DUR" --warmup 1 --drain 10 \
        --json "$WORK/smoke-ab.json" --quiet --deadline 80 >"$WORK/loadgen-ab.out" 2>"$WORK/loadgen-ab.err"
    rc=$?
    sed 's/^/# /' "$WORK/loadgen-ab.out"
    if [ $rc = 0 ] && [ -s "$WORK/smoke-ab.json" ]; then
        verdict=$(/usr/bin/python3 - "$WORK/smoke-ab.json" "$URL_A" "$URL_B" <<'PY'
import json, sys
d, a, b = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
by = {t["url"]: t for t in d.get("by_target", [])}
problems = []
if d["writes_acked_measured"] <= 0:
    problems.append("no vote acknowledged")
if not d.get("delivery_exact") or d["alive_at_end"] != d["joined"] or d["joined"] != d["clients"]:
    problems.append("delivery %r, %d of %d joined, %d alive" % (d["delivery_ratio"], d["joined"],
                                                                  d["clients"], d["alive_at_end"]))
for url, writes in ((a, True), (b, False)):
    t = by.get(url)
    if t is None:
        problems.append("no figures for " + url)
        continue
    want = d["writes_acked_measured"] * t["readers_joined"]
    if t["writes_here"] != writes or t["readers_joined"] <= 0 or t["vote_to_screen_ms"]["count"] != want:
        problems.append("%s: writes_here %s, %d readers, %d samples of %d" % (
            url, t["writes_here"], t["readers_joined"], t["vote_to_screen_ms"]["count"], want))
if d["errors_total"]:
    problems.append("errors %r" % d["errors"])
print("; ".join(problems) or "ok")
PY
)
        if [ "$verdict" = ok ]; then
            tap OK "votes on one process reach every watcher on both, each counted exactly"
        else
            tap NOT "votes on one process reach every watcher on both: $verdict"
        fi
    else
        tap NOT "loadgen with --url A,B --write-url A ran (rc $rc): $(tail -1 "$WORK/loadgen-ab.err" 2>/dev/null)"
    fi
    # attack-bench.py's quick mode (its own cojamd, a few seconds), so the script cannot rot.
    COJAMD=$BIN timeout -k 5 60 /usr/bin/python3 load-tests/attack-bench.py --quick \
        >"$WORK/attack.out" 2>"$WORK/attack.err"
    rc=$?
    sed 's/^/# /' "$WORK/attack.out"
    rounds=$(grep -c '^== ' "$WORK/attack.out")
    if [ $rc = 0 ] && [ "$rounds" = 5 ] && ! grep -q 'COJAMD DIED' "$WORK/attack.out"; then
        tap OK "attack-bench.py --quick: 5 attacks measured, cojamd alive after each"
    else
        tap NOT "attack-bench.py --quick (rc $rc, $rounds of 5 attacks): $(tail -1 "$WORK/attack.err" 2>/dev/null)"
    fi
fi

# The Node peers of load-tests/peers (bench.sh's BENCH_PEERS), each a short jam-vote cell: only when
# node and their node_modules are already there (`npm ci` in load-tests/peers); never installed here.
for peer in ws socketio; do
    if ! command -v node >/dev/null || [ ! -d load-tests/peers/node_modules/ws ] || [ ! -d load-tests/peers/node_modules/socket.io ]; then
        echo "ok $((num + 1)) - # SKIP the $peer peer: no node or no load-tests/peers/node_modules (npm ci there)"
        num=$((num + 1)) pass=$((pass + 1))
        continue
    fi
    port=$(lt_free_port) token=smoke-peer-$RANDOM framing=cojam path=/ws script=ws-server.js
    [ $peer = socketio ] && framing=socketio path='/socket.io/?EIO=4&transport=websocket' script=socketio-server.js
    ADMIN_TOKEN=$token node load-tests/peers/$script "127.0.0.1:$port" >"$WORK/peer-$peer.log" 2>&1 &
    PEER_PID=$!
    LT_PIDS+=("$PEER_PID")
    for _ in $(seq 1 100); do curl -s -m 1 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    timeout -k 5 60 build/loadgen --framing "$framing" --url "ws://127.0.0.1:$port$path" --http "127.0.0.1:$port" \
        --admin-token "$token" --scenario jam-vote --clients "$N" --rate 50 --duration "$DUR" --warmup 1 --json "$WORK/peer-$peer.json" \
        --quiet --deadline 50 >"$WORK/peer-$peer.out" 2>"$WORK/peer-$peer.err"
    rc=$?
    lt_stop_pid "$PEER_PID"
    sed 's/^/# /' "$WORK/peer-$peer.out"
    verdict=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("ok" if d["joined"]==d["clients"] and d["writes_acked_measured"]>0 and d.get("delivery_exact") and d["errors_total"]==0 else "delivery %r, errors %r" % (d["delivery_ratio"], d["errors"]))' "$WORK/peer-$peer.json" 2>/dev/null || echo "no result")
    if [ $rc = 0 ] && [ "$verdict" = ok ]; then
        tap OK "the $peer peer: every acked vote reached every client (loadgen --framing $framing)"
    else
        tap NOT "the $peer peer (rc $rc): $verdict; $(tail -1 "$WORK/peer-$peer.err" 2>/dev/null)"
    fi
done
finish
