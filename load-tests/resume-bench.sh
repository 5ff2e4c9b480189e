#!/usr/bin/env bash
# Resume-storm benchmark: what a mass reconnect costs. N clients join one jam, all drop at once, writer
# sessions write E events while they are away, then all N rejoin at once with token + last_event_id
# (loadgen --scenario resume-storm). Two cojamd configurations are measured ALTERNATELY in one run, each
# round on a fresh private redis-server (appendonly yes, appendfsync always) and a fresh release cojamd:
#
#   A  --ring-frames R                          the ring cannot cover the absence: catch-up read back
#                                               from the Redis stream (256 events per update)
#   B  --ring-frames R --resume-max-events 0    the same absence answered with a snapshot (resync)
#
# The same small ring (R = 16 frames, 0.8 s of 50 ms ticks) is given to both: with the default 256 frames
# (12.8 s) an absence of a few seconds is served from the ring in both configurations, and A and B would
# not differ. Then (RESUME_RESTART=1) one more A/B pair in which cojamd is killed with SIGKILL and
# restarted while the clients are away (empty ring: A must read the stream), and (RESUME_RING_REF=1) one
# reference round "R" with cojamd's defaults, where the ring covers the absence.
# Prints a table with the ratios A/B of rounds run back to back and writes load-tests/results/resume.json.
#
#   bash load-tests/resume-bench.sh                 (about 3-4 minutes on 2 cores)
#   RESUME_CLIENTS=500 RESUME_ROUNDS=1 RESUME_RESTART=0 RESUME_RING_REF=0 bash load-tests/resume-bench.sh
#
# Environment: RESUME_CLIENTS (2000), RESUME_ITEMS (300 seed ideas), RESUME_AWAY_EVENTS (2000),
# RESUME_AWAY_SECONDS (4), RESUME_ROUNDS (3 A/B pairs), RESUME_RESTART (1), RESUME_RING_REF (1),
# RESUME_RING_FRAMES (16), RESUME_CATCHUP_TIMEOUT (60 s), RESUME_NICE (0), RESUME_OUT (load-tests/results),
# COJAMD (build/release/cojamd), COJAMD_PREBUILT (set: do not build).
# Loopback only; every loop is bounded; only PIDs started here are killed (trap).
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
. load-tests/lib/common.sh

CLIENTS=${RESUME_CLIENTS:-2000}
ITEMS=${RESUME_ITEMS:-300}
AWAY=${RESUME_AWAY_EVENTS:-2000}
AWAY_S=${RESUME_AWAY_SECONDS:-4}
ROUNDS=${RESUME_ROUNDS:-3}
RESTART=${RESUME_RESTART:-1}
RING_REF=${RESUME_RING_REF:-1}
RING=${RESUME_RING_FRAMES:-16}
CATCHUP_TIMEOUT=${RESUME_CATCHUP_TIMEOUT:-60}
NICE=${RESUME_NICE:-0}
OUT=${RESUME_OUT:-$TOP/load-tests/results}
COJAMD=${COJAMD:-$TOP/build/release/cojamd}
LOADGEN=$TOP/build/loadgen
export LT_NICE=$NICE

WORK=$(mktemp -d /tmp/cojam-resume.XXXXXX)
trap lt_cleanup EXIT
trap 'echo "resume-bench: interrupted" >&2; exit 130' INT TERM
T_START=$(date +%s)

echo "== work directory $WORK" >&2
lt_build resume-bench "$WORK/build.log"
mkdir -p "$OUT"

# The machine may be shared: before each round wait up to RESUME_QUIET_WAIT s for a 1-s sample with at
# least RESUME_QUIET_IDLE % idle, and record what was found (as bench.sh does).
QUIET_WAIT=${RESUME_QUIET_WAIT:-10}
QUIET_IDLE=${RESUME_QUIET_IDLE:-80}
idle_pct() {
    local a b
    a=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
    sleep 1
    b=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); d=y[1]-x[1]; print (d>0)?int(100*(y[2]-x[2])/d):0}'
}
wait_quiet() {
    local i idle=0
    for i in $(seq 1 "$QUIET_WAIT"); do
        idle=$(idle_pct)
        [ "$idle" -ge "$QUIET_IDLE" ] && break
    done
    echo "$idle"
}

cfg_args() {  # cfg_args A|B|R -> cojamd options
    case $1 in
    A) echo "--ring-frames $RING" ;;
    B) echo "--ring-frames $RING --resume-max-events 0" ;;
    R) echo "" ;;
    esac
}

# run_round NAME CONFIG RESTART(0|1)
run_round() {
    local name=$1 cfg=$2 restart=$3
    local dir=$WORK/$name extra idle_before
    extra=$(cfg_args "$cfg")
    mkdir -p "$dir"
    idle_before=$(wait_quiet)
    echo "== round $name: config $cfg (cojamd ${extra:-defaults})$([ "$restart" = 1 ] && echo ', cojamd killed -9 and restarted while the clients are away'); machine idle before: $idle_before%" >&2
    if ! lt_start_redis "$dir/redis" || ! COJAM_EXTRA_ARGS="$extra" lt_start_cojamd "$COJAMD" "$dir/cojamd"; then
        echo "{\"label\":\"$name\",\"config\":\"$cfg\",\"failed\":\"server did not start\"}" >"$dir/result.json"
        lt_cleanup
        return
    fi
    : >"$dir/mark"
    local gate_args=()
    [ "$restart" = 1 ] && gate_args=(--resume-gate "$dir/gate" --gate-timeout 60)
    local budget=$((90 + CATCHUP_TIMEOUT + CLIENTS / 200))
    nice -n "$NICE" timeout -k 5 "$budget" "$LOADGEN" --url "ws://127.0.0.1:$COJAM_PORT/ws" --admin-token "$ADMIN_TOKEN" \
        --scenario resume-storm --clients "$CLIENTS" --items "$ITEMS" --away-events "$AWAY" --away-seconds "$AWAY_S" \
        --catchup-timeout "$CATCHUP_TIMEOUT" --server-pid "$COJAM_PID" --redis-pid "$REDIS_PID" --redis "127.0.0.1:$REDIS_PORT" \
        --label "$name" --json "$dir/result.json" --mark "$dir/mark" --deadline $((budget - 5)) "${gate_args[@]}" \
        >"$dir/loadgen.out" 2>"$dir/loadgen.err" &
    local lg=$! restart_ready_ms=-1
    if [ "$restart" = 1 ]; then
        local i
        for i in $(seq 1 $((budget * 20))); do
            grep -q away_done "$dir/mark" 2>/dev/null && break
            kill -0 "$lg" 2>/dev/null || break
            sleep 0.05
        done
        if grep -q away_done "$dir/mark" 2>/dev/null; then
            local old=$COJAM_PID t0 t1 keep=() q
            kill -9 "$old" 2>/dev/null
            wait "$old" 2>/dev/null
            for q in "${LT_PIDS[@]}"; do [ "$q" = "$old" ] || keep+=("$q"); done
            LT_PIDS=("${keep[@]}")
            cp "$dir/cojamd/cojamd.log" "$dir/cojamd/cojamd-before-kill.log" 2>/dev/null
            t0=$(date +%s%N)
            if COJAM_EXTRA_ARGS="$extra" lt_start_cojamd "$COJAMD" "$dir/cojamd"; then
                t1=$(date +%s%N)
                restart_ready_ms=$(((t1 - t0) / 1000000))
                echo "   cojamd $old killed -9; restarted as $COJAM_PID, ready in $restart_ready_ms ms" >&2
                echo "$COJAM_PORT $COJAM_PID" >"$dir/gate.tmp" && mv "$dir/gate.tmp" "$dir/gate"
            else
                echo "resume-bench: cojamd did not come back after the kill" >&2
            fi
        fi
    fi
    wait "$lg"
    local rc=$?
    grep -v '^\[' "$dir/loadgen.out" | sed -n '/^== /,$p' >&2
    if [ $rc != 0 ]; then
        echo "resume-bench: loadgen exited with $rc for $name; last lines:" >&2
        tail -5 "$dir/loadgen.err" >&2
    fi
    local alive=true
    kill -0 "$COJAM_PID" 2>/dev/null || alive=false
    [ -s "$dir/result.json" ] || echo "{\"label\":\"$name\",\"failed\":\"loadgen rc $rc\"}" >"$dir/result.json"
    /usr/bin/python3 - "$dir" "$cfg" "$extra" "$restart" "$restart_ready_ms" "$alive" "$rc" "$idle_before" "$NICE" <<'EOF'
import json, os, sys
d, cfg, extra, restart, ready_ms, alive, rc, idle, nice = sys.argv[1:10]
p = os.path.join(d, "result.json")
r = json.load(open(p))
r.update({"config": cfg, "cojamd_args": extra, "restart": restart == "1", "restart_ready_ms": int(ready_ms),
          "server_alive_after": alive == "true", "loadgen_rc": int(rc), "machine_idle_before_pct": int(idle), "nice": int(nice)})
# cojamd runs at --log-level warn: anything it logged is worth a look
lines = []
for f in ("cojamd-before-kill.log", "cojamd.log"):
    try:
        lines += [l.rstrip("\n") for l in open(os.path.join(d, "cojamd", f), errors="replace") if l.strip()]
    except OSError:
        pass
r["cojamd_log_lines"] = len(lines)
r["cojamd_log_tail"] = lines[-8:]
json.dump(r, open(p, "w"), indent=1)
EOF
    if [ "$alive" = false ]; then echo "resume-bench: cojamd died during $name; log tail:" >&2; tail -5 "$dir/cojamd/cojamd.log" >&2; fi
    lt_stop_pid "$COJAM_PID"
    lt_stop_pid "$REDIS_PID"
}

# A/B pairs, the order swapped every other round so that a drift of the machine's load favours neither.
names=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
    for c in $order; do
        run_round "$c$r" "$c" 0
        names+=("$c$r")
    done
done
if [ "$RESTART" = 1 ]; then
    for c in A B; do
        run_round "${c}k" "$c" 1
        names+=("${c}k")
    done
fi
if [ "$RING_REF" = 1 ]; then
    run_round R1 R 0
    names+=(R1)
fi

results=()
for n in "${names[@]}"; do results+=("$WORK/$n/result.json"); done
/usr/bin/python3 - "$OUT/resume.json" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(git status --porcelain -- server 2>/dev/null | wc -l)" "$(($(date +%s) - T_START))" \
    "$CLIENTS" "$ITEMS" "$AWAY" "$AWAY_S" "$RING" "$ROUNDS" "$WORK" "${results[@]}" <<'EOF'
import json, os, statistics, sys, time
out, git, dirty, elapsed, clients, items, away, away_s, ring, rounds, work = sys.argv[1:12]
runs = [json.load(open(p)) for p in sys.argv[12:]]
by = {r.get("label"): r for r in runs}

def g(r, *path, default=None):
    for k in path:
        if not isinstance(r, dict) or k not in r:
            return default
        r = r[k]
    return r

def fmt(v, f="%.2f"):
    return "-" if v is None else f % v

metrics = [  # name, getter, format
    ("all caught up (s)", lambda r: g(r, "all_caught_up_s") if g(r, "all_caught_up") else None, "%.2f"),
    ("catch-up p50 (ms)", lambda r: g(r, "catchup_ms", "p50_ms"), "%.0f"),
    ("catch-up p99 (ms)", lambda r: g(r, "catchup_ms", "p99_ms"), "%.0f"),
    ("welcome p99 (ms)", lambda r: g(r, "welcome_ms", "p99_ms"), "%.0f"),
    ("KB per client", lambda r: g(r, "bytes_per_client", "mean_b") / 1e3 if g(r, "bytes_per_client", "count") else None, "%.1f"),
    ("frames per client", lambda r: g(r, "frames_per_client", "mean_n") if g(r, "frames_per_client", "count") else None, "%.1f"),
    ("cojamd CPU (s)", lambda r: g(r, "server_cpu_s"), "%.2f"),
    ("redis CPU (s)", lambda r: g(r, "redis_cpu_s"), "%.2f"),
    ("cojamd+redis CPU (s)", lambda r: (g(r, "server_cpu_s") or 0) + (g(r, "redis_cpu_s") or 0) if g(r, "server_cpu_s") is not None else None, "%.2f"),
]

print()
print("resume-storm: %s clients, %s seed items, %s events while away (%s s), ring %s frames in A and B" % (clients, items, away, away_s, ring))
hdr = "%-7s %-3s %-7s %8s %8s %7s %7s %6s %6s %6s %6s %9s %9s %7s %7s %7s %7s %5s %6s" % (
    "round", "cfg", "restart", "resumed", "snapshot", "snapAft", "gaps", "lost", "errors", "verify", "caught",
    "all(s)", "p50(ms)", "p99(ms)", "KB/cl", "fr/cl", "cpu(s)", "redis", "other")
print(hdr)
for r in runs:
    if "failed" in r:
        print("%-7s failed: %s" % (r.get("label"), r["failed"]))
        continue
    print("%-7s %-3s %-7s %8d %8d %7d %7d %6d %6d %6s %6d %9s %9s %7s %7s %7s %7s %5s %6s" % (
        r["label"], r["config"], "yes" if r["restart"] else "no", r["resumed_true"], r["snapshot_clients"],
        r["snapshot_after_resumed_clients"], r["gap_clients"], r["not_caught_lost"], r["errors_total"],
        "%d/%d" % (r["verify_differ"], r["verify_checked"]), r["caught_up"],
        fmt(metrics[0][1](r)), fmt(metrics[1][1](r), "%.0f"), fmt(metrics[2][1](r), "%.0f"), fmt(metrics[4][1](r), "%.1f"),
        fmt(metrics[5][1](r), "%.1f"), fmt(r["server_cpu_s"]), fmt(r["redis_cpu_s"]), fmt(r.get("other_cpu_s"), "%.1f")))

def pair_ratios(pairs):
    res = {}
    for name, get, f in metrics:
        rs = []
        for a, b in pairs:
            va, vb = get(a), get(b)
            if va is not None and vb not in (None, 0):
                rs.append(va / vb)
        res[name] = {"ratios": [round(x, 3) for x in rs], "median": round(statistics.median(rs), 3) if rs else None,
                     "min": round(min(rs), 3) if rs else None, "max": round(max(rs), 3) if rs else None,
                     "A_median": statistics.median([get(a) for a, _ in pairs if get(a) is not None]) if pairs else None,
                     "B_median": statistics.median([get(b) for _, b in pairs if get(b) is not None]) if pairs else None}
    return res

ok = lambda r: r is not None and "failed" not in r
pairs = [(by.get("A%d" % i), by.get("B%d" % i)) for i in range(1, int(rounds) + 1)]
pairs = [(a, b) for a, b in pairs if ok(a) and ok(b)]
kpairs = [(by.get("Ak"), by.get("Bk"))] if ok(by.get("Ak")) and ok(by.get("Bk")) else []
ratios = {"live": pair_ratios(pairs), "after_restart": pair_ratios(kpairs)}

print()
print("A = stream catch-up, B = snapshot (--resume-max-events 0); ratio A/B per pair run back to back")
print("%-22s %12s %12s %10s %16s   %12s %12s %10s" % ("", "A (median)", "B (median)", "A/B", "A/B range", "A restart", "B restart", "A/B"))
for name, _, f in metrics:
    lv, kv = ratios["live"][name], ratios["after_restart"][name]
    rng = "%.2f-%.2f" % (lv["min"], lv["max"]) if lv["min"] is not None else "-"
    print("%-22s %12s %12s %10s %16s   %12s %12s %10s" % (
        name, fmt(lv["A_median"], f), fmt(lv["B_median"], f), fmt(lv["median"], "%.2f"), rng,
        fmt(kv["A_median"], f), fmt(kv["B_median"], f), fmt(kv["median"], "%.2f")))
if ok(by.get("R1")):
    r = by["R1"]
    print("reference R1 (defaults, ring covers the absence): resumed %d, snapshots %d, all caught up in %s s, %s KB and %s frames per client, cojamd %.2f CPU-s" % (
        r["resumed_true"], r["snapshot_clients"], fmt(metrics[0][1](r)), fmt(metrics[4][1](r), "%.1f"), fmt(metrics[5][1](r), "%.1f"), r["server_cpu_s"]))
notes = []
for r in runs:
    if "failed" in r:
        notes.append("%s: failed (%s)" % (r.get("label"), r["failed"]))
        continue
    exp_resume = r["config"] in ("A", "R")
    if exp_resume and r["resumed_false"]:
        notes.append("%s: %d clients got resumed:false although the config should resume them" % (r["label"], r["resumed_false"]))
    if r["snapshot_after_resumed_clients"]:
        notes.append("%s: %d clients got a snapshot after resumed:true" % (r["label"], r["snapshot_after_resumed_clients"]))
    for k in ("gap_clients", "first_prev_after_gap", "prev_beyond_previous_to_clients", "not_caught_lost", "not_caught_connected",
              "verify_differ", "refused", "snapshot_older_than_client_clients"):
        if r.get(k):
            notes.append("%s: %s = %s" % (r["label"], k, r[k]))
    if r["errors_total"] or r["close_codes"]:
        notes.append("%s: errors %s, close codes %s" % (r["label"], r["errors"], r["close_codes"]))
    if r["errors_setup_total"]:
        notes.append("%s: setup/away errors %s" % (r["label"], r["errors_setup"]))
    if r.get("cojamd_log_lines"):
        notes.append("%s: cojamd logged %d warning/error lines, last: %s" % (r["label"], r["cojamd_log_lines"], r["cojamd_log_tail"][-1][:200]))
    if not r.get("server_alive_after"):
        notes.append("%s: cojamd was not alive at the end" % r["label"])
print()
print("anomalies:" if notes else "anomalies: none (no gaps, no lost clients, no errors, every sampled client equal to a fresh snapshot)")
for n in notes:
    print("  - " + n)
doc = {"benchmark": "resume-storm", "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git": git,
       "server_uncommitted_files": int(dirty), "elapsed_s": int(elapsed),
       "machine": {"cpus": os.cpu_count()},
       "params": {"clients": int(clients), "seed_items": int(items), "away_events": int(away), "away_seconds": float(away_s),
                  "ring_frames_A_B": int(ring), "rounds": int(rounds),
                  "configs": {"A": "--ring-frames %s" % ring, "B": "--ring-frames %s --resume-max-events 0" % ring, "R": "defaults"}},
       "ratios_A_over_B": ratios, "anomalies": notes, "rounds": runs}
json.dump(doc, open(out, "w"), indent=1)
print("\nwritten: %s  (raw loadgen output in %s; %s s)" % (out, work, elapsed))
EOF
