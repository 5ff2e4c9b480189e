#!/usr/bin/python3
"""Aggregate loadgen JSON results into bench.json, an SVG latency plot and a table (stdlib only).

usage: report.py OUT_DIR result.json...
"""
import json
import math
import os
import platform
import subprocess
import sys
import time

out_dir, files = sys.argv[1], sys.argv[2:]
cells, storms = [], []
for f in files:
    try:
        d = json.load(open(f))
    except (OSError, ValueError) as e:
        print(f"report: skipping {f}: {e}", file=sys.stderr)
        continue
    (storms if d.get("scenario") == "join-storm" else cells).append(d)
# the peers' rows (load-tests/peers, BENCH_PEERS) follow cojam's in each cell
PEER_ORDER = {"cojam": 0, "ws": 1, "socketio": 2, "ws-tick50": 3, "socketio-tick50": 4}
cells.sort(key=lambda d: (d.get("clients", 0), d.get("rate", 0), PEER_ORDER.get(d.get("server", "cojam"), 9)))


def g(d, *path, default=None):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def git_rev():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        return ""


def cell(n, r):
    for d in cells:
        if d.get("server", "cojam") == "cojam" and d.get("clients") == n and round(d.get("rate", 0)) == r:
            return d
    return None


def sustained(d):
    return (d is not None and "failed" not in d and d.get("delivery_exact") is True and d.get("errors_total", 1) == 0
            and d.get("acked_per_s", 0) >= 0.98 * d.get("rate", 0) and d.get("writes_unacked", 1) == 0)


targets = []


def target(name, ok, figure):
    targets.append({"target": name, "met": bool(ok), "figure": figure})


c5 = cell(5000, 1000)
if c5:
    p99 = g(c5, "vote_to_screen_ms", "p99_ms")
    cpu = c5.get("server_cpu_pct")
    target("5000 x 1000 votes/s sustained (all acked, ratio 1.0, no errors)", sustained(c5),
           f"acked {c5.get('acked_per_s', 0):.1f}/s, ratio {c5.get('delivery_ratio')}, errors {c5.get('errors_total')}")
    target("5000 x 1000: p99 vote-to-screen <= 120 ms", p99 is not None and p99 <= 120, f"p99 {p99} ms")
    target("5000 x 1000: server CPU <= 80% of one core", cpu is not None and 0 <= cpu <= 80, f"{cpu}%")
c10 = cell(10000, 1000)
if c10:
    p99 = g(c10, "vote_to_screen_ms", "p99_ms")
    target("10000 x 1000: p99 vote-to-screen <= 200 ms (sustained)", sustained(c10) and p99 is not None and p99 <= 200,
           f"p99 {p99} ms, acked {c10.get('acked_per_s', 0):.1f}/s, ratio {c10.get('delivery_ratio')}")
rss = [d.get("rss_per_idle_conn_bytes") for d in cells if d.get("server", "cojam") == "cojam" and d.get("clients", 0) >= 5000 and d.get("rss_per_idle_conn_bytes", -1) > 0]
if rss:
    target("<= 4 KiB RSS per idle connection", max(rss) <= 4096, f"{max(rss):.0f} B/conn (max over cells >= 5000 clients)")
# issue 16: the raw ceiling, the period, memory at 10,000
for n in (5000, 10000):
    d = cell(n, 1000)
    if d and d.get("ratio_to_raw") is not None:
        rr = [x for x in g(d, "rounds", "ratio_to_raw") or [] if x is not None]
        of = f" (the median of {len(rr)} rounds: {min(rr)}-{max(rr)})" if len(rr) > 1 else ""
        target(f"{n} x 1000: deliveries per CPU-second >= 0.85 of the raw fan-out ceiling", d["ratio_to_raw"] >= 0.85,
               f"{d.get('deliveries_per_cpu_s'):.0f} against {g(d, 'raw_probe', 'sends_per_cpu_s'):.0f} = {d['ratio_to_raw']}{of}")
for d in cells:
    if d.get("server", "cojam") != "cojam":
        continue
    per = g(d, "server_mid", "broadcast_period_ms")
    p99 = g(d, "vote_to_screen_ms", "p99_ms")
    if per and p99 is not None:
        target(f"{d.get('label')}: p99 vote-to-screen <= 2 x the chosen period", p99 <= 2 * per, f"p99 {p99} ms, period {per} ms")
d = cell(10000, 1000)
if d and d.get("rss_per_idle_conn_bytes", -1) > 0:
    target("10000 clients: <= 2.5 KiB RSS per idle joined connection", d["rss_per_idle_conn_bytes"] <= 2560,
           f"{d['rss_per_idle_conn_bytes']:.0f} B/conn")
for s in storms:  # the BRIEF's 5,000 and issue 16's 10,000, whichever the storm had
    n = s.get("clients")
    if n in (5000, 10000):
        t = s.get("all_joined_s")
        target(f"{n} clients connected in <= 1 s", s.get("joined") == n and t is not None and t <= 1.0,
               f"{s.get('joined')} joined in {t} s")
# Replay is measured by load-tests/replay-bench.sh (make bench runs it just before this script):
# its latest figures, with the commit and time they were made at.
replay_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results", "replay.json")
try:
    rp = json.load(open(replay_file))
except (OSError, ValueError):
    rp = None
if rp and rp.get("full_replay_ms") and rp.get("snapshot_ms"):
    where = f"load-tests/replay-bench.sh at {rp.get('git', '?')}, {rp.get('generated', '?')}"
    full_s, snap_s = rp["full_replay_ms"] / 1000, rp["snapshot_ms"] / 1000
    target(f"replay of {rp.get('events', 0):,} events <= 2 s by full replay (the BRIEF: < 10 s)",
           rp.get("events") == 1000000 and full_s <= 2 and rp.get("digest_equal") == "yes",
           f"{full_s:.2f} s, digest equal: {rp.get('digest_equal')} ({where})")
    target(f"replay of {rp.get('events', 0):,} events <= 1 s from a snapshot", snap_s <= 1,
           f"{snap_s:.2f} s ({where})")
else:
    target("replay of 1,000,000 events < 10 s", False, "not measured: run bash load-tests/replay-bench.sh")

bench = {
    "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "git": git_rev(),
    "server_binary": os.environ.get("COJAMD", ""),
    "server_rev": os.environ.get("COJAMD_REV", git_rev()),
    "nice": (cells or storms or [{}])[0].get("nice", 0),
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
    "method": ("jam-vote: 1 jam, 50 ideas, 10% of the clients vote at the fixed total rate for duration_s after warmup_s; "
               "every vote acked after Redis (appendfsync always); vote-to-screen = receive time of the first update with "
               "to >= the vote's event id minus the vote's send time, for every connected client; server CPU = "
               "utime+stime of cojamd over the measured window; RSS per idle conn = (RSS after N idle joins - before)/N"),
    "cells": cells,
    "join_storm": storms,
    "targets": targets,
}
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "bench.json"), "w") as f:
    json.dump(bench, f, indent=1)


# ---------------------------------------------------------------- SVG
def svg_plot(path):
    W, H, L, R, T, B = 860, 460, 70, 190, 40, 70
    ok = [d for d in cells if d.get("server", "cojam") == "cojam" and g(d, "vote_to_screen_ms", "count")]
    series = [("p50_ms", "p50", "#1b9e77"), ("p90_ms", "p90", "#7570b3"), ("p99_ms", "p99", "#d95f02"),
              ("p999_ms", "p99.9", "#e7298a"), ("max_ms", "max", "#666666")]
    vals = [g(d, "vote_to_screen_ms", k) for d in ok for k, _, _ in series]
    vals = [v for v in vals if v and v > 0] + [120, 200]
    lo = 10 ** math.floor(math.log10(max(min(vals), 0.1)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    pw, ph = W - L - R, H - T - B

    def y(v):
        v = max(v, lo)
        return T + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

    def x(i):
        return L + (pw * (i + 0.5) / max(len(ok), 1))

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2 - 90}" y="22" font-size="15">cojam vote-to-screen latency against load</text>']
    d = lo
    while d <= hi * 1.0001:
        for m in (1, 2, 5):
            v = d * m
            if lo <= v <= hi:
                o.append(f'<line x1="{L}" x2="{L + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e5e5"/>')
                o.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        d *= 10
    for v, lab in ((120, "target p99 5k"), (200, "target p99 10k")):
        o.append(f'<line x1="{L}" x2="{L + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#c00" stroke-dasharray="5,4"/>')
        o.append(f'<text x="{L + pw + 4}" y="{y(v) + 4:.1f}" fill="#c00">{lab} ({v} ms)</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    o.append(f'<text transform="translate(18,{T + ph / 2}) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>')
    for i, c in enumerate(ok):
        o.append(f'<text x="{x(i):.1f}" y="{T + ph + 18}" text-anchor="middle">{c["clients"]} x {c["rate"]:g}/s</text>')
        o.append(f'<text x="{x(i):.1f}" y="{T + ph + 34}" text-anchor="middle" fill="#555">cpu {c.get("server_cpu_pct", -1):.0f}%</text>')
    o.append(f'<text x="{L + pw / 2}" y="{H - 12}" text-anchor="middle">clients x votes/s (server CPU % of one core)</text>')
    for k, (key, lab, col) in enumerate(series):
        pts = [(x(i), y(g(c, "vote_to_screen_ms", key))) for i, c in enumerate(ok)]
        if len(pts) > 1:
            o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                     % (col, " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)))
        for a, b in pts:
            o.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{col}"/>')
        ly = T + 70 + 18 * k
        o.append(f'<line x1="{L + pw + 10}" x2="{L + pw + 34}" y1="{ly}" y2="{ly}" stroke="{col}" stroke-width="2"/>')
        o.append(f'<text x="{L + pw + 40}" y="{ly + 4}">{lab}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


if cells:
    svg_plot(os.path.join(out_dir, "latency.svg"))


# ---------------------------------------------------------------- table
def f1(v, nd=1):
    return "-" if v is None or (isinstance(v, (int, float)) and v < 0) else f"{v:.{nd}f}"


def sc_sum(d, *names):
    s = d.get("server_syscalls_per_s")
    return sum(s.get(n, 0) for n in names) if s else None


def span(h):
    """min-max of a histogram's values, or "-"."""
    if not h or h.get("min_ms") is None or h.get("max_ms") is None:
        return "-"
    return f'{h["min_ms"]:.1f}-{h["max_ms"]:.1f}'


hdr = ("cell", "joined", "acked/s", "ratio", "err", "ack p99", "v2s p50", "p90", "p99", "p99.9", "max",
       "client means", "cpu%", "deliv/cpu-s", "raw/cpu-s", "x raw", "paced/cpu-s", "x paced", "period", "rss/conn", "ev/s", "join s", "lg cpu%", "irq%", "other%",
       "poll/s", "send/s", "cs/s")
rows = []
for d in cells:
    if "failed" in d:
        rows.append((d.get("label", "?"), "FAILED: " + d["failed"]) + ("",) * (len(hdr) - 2))
        continue
    v = d.get("vote_to_screen_ms", {})
    rows.append((d.get("label") or f'{d["clients"]}x{d["rate"]:g}', f'{d.get("joined")}/{d.get("clients")}',
                 f1(d.get("acked_per_s")), f'{d.get("delivery_ratio", 0):.6f}', str(d.get("errors_total")),
                 f1(g(d, "ack_ms", "p99_ms")), f1(v.get("p50_ms")), f1(v.get("p90_ms")), f1(v.get("p99_ms")),
                 f1(v.get("p999_ms")), f1(v.get("max_ms")), span(d.get("vote_to_screen_client_mean_ms")),
                 f1(d.get("server_cpu_pct")),
                 f1(d.get("deliveries_per_cpu_s"), 0), f1(g(d, "raw_probe", "sends_per_cpu_s"), 0), f1(d.get("ratio_to_raw"), 2),
                 f1(g(d, "paced_probe", "sends_per_cpu_s"), 0), f1(d.get("ratio_to_paced"), 2),
                 f1(g(d, "server_mid", "broadcast_period_ms"), 0),
                 f1(d.get("rss_per_idle_conn_bytes"), 0), f1(d.get("redis_events_per_s")), f1(d.get("all_joined_s"), 2),
                 f1(d.get("loadgen_cpu_pct")), f1(d.get("irq_softirq_cpu_pct")), f1(d.get("other_cpu_pct")),
                 f1(sc_sum(d, "poll", "ppoll", "epoll_wait"), 0), f1(sc_sum(d, "sendto", "write", "writev"), 0),
                 f1(sc_sum(d, "context_switches"), 0)))
w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
print("\nvote-to-screen and ack latencies in ms; a cell's rows /ws and /socketio are the Node peers (load-tests/peers:"
      " state in memory only, no Redis; cpu% and rss/conn are then node's); cpu% = cojamd utime+stime over the measured window, % of one core;"
      " lg = loadgen; irq% = machine-wide irq+softirq time (loopback TCP receive work, charged to no process);"
      " other% = CPU of all other processes on the machine in that window; poll/s, send/s = cojamd syscalls;"
      " deliv/cpu-s = frames the clients received in the window per cojamd CPU-second; raw/cpu-s = the raw probe's"
      " sends per CPU-second at the same N (plain TCP, 60-byte records back to back, right after the cell); x raw = their ratio;"
      " paced/cpu-s, x paced = the same probe paced as the cell ran (one round per chosen period, records of the cell's"
      " average frame size);"
      " period = the broadcast period cojamd had chosen in mid-window (ms, /healthz);"
      " client means = the lowest and highest of the clients' own mean vote-to-screen (a fair fan-out keeps them close);"
      " cs/s = context switches of cojamd's threads (BENCH_SYSCOUNT=1)")
print("  ".join(str(h).rjust(w[i]) for i, h in enumerate(hdr)))
for r in rows:
    print("  ".join(str(c).rjust(w[i]) for i, c in enumerate(r)))
for d in cells:
    rd = d.get("rounds")
    if rd and rd.get("n", 1) > 1:
        def row(k, nd):
            return " ".join(f1(x, nd) for x in rd.get(k) or [])
        print(f"\n{d.get('label')}: {rd['n']} rounds, the table has round {rd.get('kept')} (the median x raw);"
              f" x raw {row('ratio_to_raw', 2)}; x paced {row('ratio_to_paced', 2)};"
              f" deliv/cpu-s {row('deliveries_per_cpu_s', 0)}; raw/cpu-s {row('raw_sends_per_cpu_s', 0)};"
              f" period {row('period_ms', 0)} ms; p99 {row('p99_ms', 1)} ms")
for s in storms:
    c = s.get("connect_ms", {})
    print(f"\njoin storm {s.get('clients')}: {s.get('joined')} joined in {f1(s.get('all_joined_s'), 3)} s; connect time p50 "
          f"{f1(c.get('p50_ms'))} p90 {f1(c.get('p90_ms'))} p99 {f1(c.get('p99_ms'))} max {f1(c.get('max_ms'))} ms; "
          f"rss/conn {f1(s.get('rss_per_idle_conn_bytes'), 0)} B; errors {s.get('errors_total')}")
busy = [d.get("label") for d in cells if (d.get("other_cpu_pct") or 0) > 20]
if busy:
    print(f"\nWARNING: other processes used > 20% CPU during the measured window of {', '.join(map(str, busy))}: "
          "those figures include interference (other% column).")
print("\ntargets (BRIEF):")
for t in targets:
    print(f"  [{'MET' if t['met'] else 'NOT MET'}] {t['target']}: {t['figure']}")
print(f"\nwritten: {os.path.join(out_dir, 'bench.json')}, {os.path.join(out_dir, 'latency.svg')}")
