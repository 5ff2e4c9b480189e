# SPDX-License-Identifier: MIT
"""multi.py: the measuring and the report of load-tests/multi-bench.sh (python3 stdlib only).

  multi.py watch MARK OUT TOKEN NAME=PORT:PID ...
      Waits for loadgen's "measure_start" in MARK, samples every process (utime+stime of all its
      threads from /proc/PID/stat; events_applied_total, own_events_applied_total,
      events_appended_total and deliveries_total from its GET /metrics), the same at
      "measure_end", and writes the
      differences, the window and /proc/loadavg at both edges to OUT (JSON). CPU and events are
      read in the same sample, so their ratio holds however late the sample is.
  multi.py report OUT_JSON RUN_DIR ...
      Reads each RUN_DIR's run.json (what the script ran), result.json (loadgen) and watch.json,
      and redis.json (the Redis stream rates) when RUN_DIR is the Redis one; prints the tables
      and writes everything to OUT_JSON.
"""

import json
import os
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
COUNTERS = ("events_applied_total", "own_events_applied_total", "events_appended_total",
            "deliveries_total")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def counters(port, token):
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port,
                                 headers={"Authorization": "Bearer " + token})
    out = {}
    with urllib.request.urlopen(req, timeout=5) as r:
        for line in r.read().decode().splitlines():
            name, _, value = line.partition(" ")
            if name.startswith("cojam_") and name[6:] in COUNTERS:
                out[name[6:]] = float(value)
    return out


def healthz(port):
    """broadcast_period_ms and loop_cpu_pct from GET /healthz ({} when it does not answer)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
            h = json.loads(r.read().decode())
        return {k: h[k] for k in ("broadcast_period_ms", "loop_cpu_pct") if k in h}
    except (OSError, ValueError):
        return {}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def sample(procs, token):
    s = {"t": time.monotonic(), "loadavg": loadavg(), "procs": {}}
    for name, (port, pid) in procs.items():
        s["procs"][name] = dict(counters(port, token), cpu_s=cpu_s(pid))
    return s


def wait_mark(path, what, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                if what in f.read().split():
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def watch(mark, out, token, specs):
    procs = {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        port, _, pid = rest.partition(":")
        procs[name] = (int(port), int(pid))
    res = {"ok": False}
    if wait_mark(mark, "measure_start", 600):
        a = sample(procs, token)
        # the broadcast period each process chose, a second into the window
        time.sleep(1)
        for name, (port, _) in procs.items():
            a["procs"][name]["healthz_mid"] = healthz(port)
        if wait_mark(mark, "measure_end", 600):
            b = sample(procs, token)
            res = {"ok": True, "window_s": b["t"] - a["t"], "loadavg_start": a["loadavg"],
                   "loadavg_end": b["loadavg"], "procs": {}}
            for name in procs:
                pa, pb = a["procs"][name], b["procs"][name]
                res["procs"][name] = {k: pb[k] - pa[k] for k in pb if k in pa}
                res["procs"][name]["port"], res["procs"][name]["pid"] = procs[name]
                res["procs"][name]["healthz_mid"] = a["procs"][name].get("healthz_mid", {})
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


# ------------------------------------------------------------------------------------- report

def load(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def v2s(h, key):
    return h.get("vote_to_screen_ms", {}).get(key, float("nan")) if h else float("nan")


def fmt_us(x):
    return "%.1f" % (x * 1e6) if x == x else "-"


def other_cpu(res, procs, win):
    """Machine CPU used by processes not started here, in % of one core: loadgen's other_cpu_pct
    counts every cojamd but the one it was given (the first) as other."""
    if res.get("other_cpu_pct") is None or not win:
        return None
    rest = sorted(procs.items())[1:]
    return res["other_cpu_pct"] - sum(100 * p["cpu_s"] / win for _, p in rest)


def report_split(runs):
    """Points 1 and 2: votes enter on A, readers on A and B."""
    rows = []
    for run, res, w in runs:
        if not (res and w and w.get("ok")):
            print("  %s: no result (%s)" % (run["label"], "loadgen failed" if not res else "no window"))
            continue
        pa, pb = w["procs"]["A"], w["procs"]["B"]
        ca = pa["cpu_s"] / pa["events_applied_total"] if pa.get("events_applied_total") else float("nan")
        cb = pb["cpu_s"] / pb["events_applied_total"] if pb.get("events_applied_total") else float("nan")
        by = {t["writes_here"]: t for t in res.get("by_target", [])}
        ha, hb = by.get(True), by.get(False)
        row = {"label": run["label"], "clients": run["clients"], "rate": run["rate"],
               "acked_per_s": res.get("acked_per_s"), "delivery_ratio": res.get("delivery_ratio"),
               "delivery_exact": res.get("delivery_exact"), "errors": res.get("errors_total"),
               "window_s": w["window_s"], "loadavg": w["loadavg_end"],
               "other_cpu_pct": other_cpu(res, w["procs"], w["window_s"]),
               "periods_ms": [pa.get("healthz_mid", {}).get("broadcast_period_ms"),
                              pb.get("healthz_mid", {}).get("broadcast_period_ms")],
               "A": pa, "B": pb, "cpu_s_per_applied_A": ca, "cpu_s_per_applied_B": cb,
               "remote_over_own": cb / ca if ca == ca and ca else float("nan"),
               "readers_A": ha and ha["readers_joined"], "readers_B": hb and hb["readers_joined"],
               "v2s_A_p50": v2s(ha, "p50_ms"), "v2s_A_p99": v2s(ha, "p99_ms"),
               "v2s_B_p50": v2s(hb, "p50_ms"), "v2s_B_p99": v2s(hb, "p99_ms")}
        row["v2s_diff_p50"] = row["v2s_B_p50"] - row["v2s_A_p50"]
        row["v2s_diff_p99"] = row["v2s_B_p99"] - row["v2s_A_p99"]
        rows.append(row)
    print("\n== 1. CPU per applied event: votes enter on A; B has clients but only applies "
          "(CPU-seconds from /proc over the window / events_applied_total in it)")
    print("| cell | acked/s | applied A / B | A CPU | B CPU | A us/event (takes the votes) "
          "| B us/event (only applies) | B/A | period A / B | other | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.0f | %d / %d | %.2f s | %.2f s | %s | %s | %.2f | %s ms | %.0f%% | %.1f |" % (
            r["label"], r["acked_per_s"] or 0, r["A"]["events_applied_total"],
            r["B"]["events_applied_total"], r["A"]["cpu_s"], r["B"]["cpu_s"],
            fmt_us(r["cpu_s_per_applied_A"]), fmt_us(r["cpu_s_per_applied_B"]),
            r["remote_over_own"], " / ".join(str(p) for p in r["periods_ms"]),
            r["other_cpu_pct"] or 0, r["loadavg"][0]))
    for side, what in (("A", "takes the votes and applies them"), ("B", "only applies them")):
        f = fit(rows, side)
        if f:
            print("  fit over the cells, %s (%s): %.1f us per applied event + %.1f us per delivered "
                  "frame" % (side, what, f[0] * 1e6, f[1] * 1e6))
    print("  (deliveries per event, A / B: %s)" % ", ".join(
        "%.1f / %.1f" % (r["A"].get("deliveries_total", 0) / r["A"]["events_applied_total"],
                         r["B"].get("deliveries_total", 0) / r["B"]["events_applied_total"])
        for r in rows if r["A"]["events_applied_total"] and r["B"]["events_applied_total"]))
    print("\n== 2. Vote-to-screen: votes enter on A; readers on A (same process) and on B "
          "(across processes), same votes, same window")
    print("| cell | readers A / B | delivery | A p50 | A p99 | B p50 | B p99 | B-A p50 | B-A p99 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s / %s | %.6f%s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %+.1f ms | %+.1f ms |" % (
            r["label"], r["readers_A"], r["readers_B"], r["delivery_ratio"] or 0,
            "" if r["delivery_exact"] else " (not exact)", r["v2s_A_p50"], r["v2s_A_p99"],
            r["v2s_B_p50"], r["v2s_B_p99"], r["v2s_diff_p50"], r["v2s_diff_p99"]))
    fits = {side: fit(rows, side) for side in ("A", "B")}
    for r in rows:
        r["fit_us_per_event_and_delivery"] = {
            k: v and [round(v[0] * 1e6, 2), round(v[1] * 1e6, 2)] for k, v in fits.items()}
    return rows


def fit(rows, side):
    """Least squares of cpu_s = a x events + d x deliveries over the rows of one side (A or B):
    the CPU per applied event net of the fan-out, and per delivered frame. None when the rows do
    not tell the two apart (one cell only)."""
    pts = [(r[side]["events_applied_total"], r[side].get("deliveries_total", 0), r[side]["cpu_s"])
           for r in rows if r[side].get("deliveries_total")]
    see = sum(e * e for e, _, _ in pts)
    sdd = sum(d * d for _, d, _ in pts)
    sed = sum(e * d for e, d, _ in pts)
    sec = sum(e * c for e, _, c in pts)
    sdc = sum(d * c for _, d, c in pts)
    det = see * sdd - sed * sed
    if len(pts) < 2 or det <= 1e-9 * see * sdd:
        return None
    return ((sec * sdd - sdc * sed) / det, (see * sdc - sed * sec) / det)


def report_capacity(runs):
    """Point 3: one jam on K = 1, 2, 3 processes, clients and writers spread over them."""
    rows = []
    for run, res, w in runs:
        if not (res and w and w.get("ok")):
            print("  %s: no result" % run["label"])
            continue
        procs = w["procs"]
        cpu = sum(p["cpu_s"] for p in procs.values())
        win = w["window_s"]
        frames = res.get("frames_in_measured", 0)
        rows.append({"label": run["label"], "processes": run["processes"],
                     "clients": run["clients"], "rate": run["rate"],
                     "acked_per_s": res.get("acked_per_s"),
                     "delivery_ratio": res.get("delivery_ratio"),
                     "delivery_exact": res.get("delivery_exact"),
                     "errors": res.get("errors_total"),
                     "joined": res.get("joined"),
                     "v2s_p50": v2s(res, "p50_ms"), "v2s_p99": v2s(res, "p99_ms"),
                     "cpu_pct_per_process": [round(100 * p["cpu_s"] / win, 1)
                                             for _, p in sorted(procs.items())],
                     "cpu_pct_total": 100 * cpu / win,
                     "frames_per_s": frames / res["measure_window_s"] if res.get("measure_window_s") else 0,
                     "deliveries_per_cpu_s": frames / cpu if cpu else float("nan"),
                     "redis_cpu_pct": res.get("redis_cpu_pct"),
                     "loadgen_cpu_pct": res.get("loadgen_cpu_pct"),
                     "other_cpu_pct": other_cpu(res, procs, win),
                     "periods_ms": [p.get("healthz_mid", {}).get("broadcast_period_ms")
                                    for _, p in sorted(procs.items())],
                     "loadavg": w["loadavg_end"]})
    print("\n== 3. Capacity: one jam on K processes, clients and writers spread over them "
          "(the same clients x votes/s for every K, in one run)")
    print("| cell | K | joined | acked/s | delivery | v2s p50 | v2s p99 | cojamd CPU per process "
          "| cojamd total | deliveries/s | deliveries / cojamd CPU-s | period | redis CPU "
          "| loadgen CPU | other | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %d | %s | %.0f | %.6f%s | %.1f ms | %.1f ms | %s | %.0f%% | %.0f | %.0f "
              "| %s ms | %.0f%% | %.0f%% | %.0f%% | %.1f |" % (
                  r["label"], r["processes"], r["joined"], r["acked_per_s"] or 0,
                  r["delivery_ratio"] or 0, "" if r["delivery_exact"] else " (not exact)",
                  r["v2s_p50"], r["v2s_p99"],
                  " ".join("%.0f%%" % c for c in r["cpu_pct_per_process"]), r["cpu_pct_total"],
                  r["frames_per_s"], r["deliveries_per_cpu_s"],
                  " ".join(str(p) for p in r["periods_ms"]), r["redis_cpu_pct"] or 0,
                  r["loadgen_cpu_pct"] or 0, r["other_cpu_pct"] or 0, r["loadavg"][0]))
    return rows


def report_redis(r):
    print("\n== 5. This Redis's stream rates (redis-benchmark on a private redis-server, "
          "appendonly yes, appendfsync %s; entries of %d bytes like a stored vote)" % (
              r["appendfsync"], r["entry_bytes"]))
    print("| operation | clients | pipeline | calls/s | entries/s | redis CPU per entry |")
    print("|---|---|---|---|---|---|")
    for x in r["rows"]:
        print("| %s | %d | %d | %.0f | %.0f | %s us |" % (
            x["op"], x["clients"], x["pipeline"], x["calls_per_s"], x["entries_per_s"],
            "%.2f" % x["redis_us_per_entry"] if x.get("redis_us_per_entry") else "-"))


def report(out, dirs):
    split, cap, redis = [], [], None
    for d in dirs:
        run = load(d, "run.json")
        if run is None:
            continue
        if run["kind"] == "redis":
            redis = load(d, "redis.json")
            continue
        item = (run, load(d, "result.json"), load(d, "watch.json"))
        (split if run["kind"] == "split" else cap).append(item)
    split.sort(key=lambda x: (x[0]["clients"], x[0]["label"]))
    cap.sort(key=lambda x: (x[0]["clients"], x[0]["label"], x[0]["processes"]))
    res = {"split": report_split(split) if split else [],
           "capacity": report_capacity(cap) if cap else []}
    if redis:
        report_redis(redis)
        res["redis"] = redis
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print("\nmulti-bench: figures in %s" % out)


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "watch":
        watch(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
