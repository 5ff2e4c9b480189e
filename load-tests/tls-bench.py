#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tls-bench: what TLS in cojamd costs, side by side with plain (issue 10, TLS).

For each mode (plain, then TLS with a self-signed P-256 certificate; ROUNDS times, alternating)
a fresh redis-server and cojamd; IDLE screens join a jam and sit idle: cojamd's RSS growth per
connection (VmRSS from /proc, sampled before the connects and 1 s after the last join) and the
server CPU per connection set up (TCP + TLS handshake + WebSocket upgrade + join + snapshot).
Then a citizen posts at RATE posts/s for SECONDS (at most 10 s: 180 posts, under the 200-item
quota): each tick's update reaches every screen; the server CPU (utime+stime) in that window divided by the update frames the screens
received (the first FEED = 200 screens stay for that) is the CPU per delivered frame. Prints a table and the TLS/plain ratios. Figures, never
assertions: the machine is shared.

usage: tls-bench.py [IDLE] [SECONDS] [ROUNDS]   (COJAMD: the binary, default build/release)
"""

import asyncio
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.dont_write_bytecode = True
os.environ.setdefault("COJAMD", os.path.join(HERE, "..", "build", "release", "cojamd"))
from bareclient import BareClient, open_all  # noqa: E402
from harness import Client, Servers, make_self_signed, tls_client_context  # noqa: E402

RATE = 18  # writes/s: under the 20 messages/s a session may send (proto/messages.md)
FEED = 200  # screens fed during the delivery window
TICK_S = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK_S


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def one_round(tls, idle, seconds):
    srv = Servers(["--log-level", "warn", "--max-conns-per-address", str(idle + 100),
                   "--admission-scale", "0"])  # every client is 127.0.0.1
    if tls:
        cert, key = make_self_signed(srv.tmp, "bench")
        srv.extra_args += ["--tls-cert", cert, "--tls-key", key]
        srv.client_tls = tls_client_context()
    srv.start()
    try:
        pid = srv.cojamd.pid
        jam = srv.create_jam(title="TLS bench", settings={"votes_per_phase": 0})
        code = jam["code"]
        m = await Client(srv, "mod").connect()
        await m.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await m.must_ack({"type": "start"})
        voter = await Client(srv, "voter").connect()
        await voter.join(code, "citizen", nickname="Voter")
        await asyncio.sleep(1)
        rss0, cpu0 = proc_rss_kb(pid), proc_cpu_s(pid)
        # bare screens that only count update frames (the client's CPU must not be the limit)
        screens = await open_all([BareClient(srv.ws_url(), code, "screen", ssl=srv.client_tls)
                                  for _ in range(idle)])
        cpu1 = proc_cpu_s(pid)
        await asyncio.sleep(1)
        rss1 = proc_rss_kb(pid)

        # Deliveries to FEED of them only: a Python client is slower than cojamd, and a screen
        # that falls behind would be resynced (fewer, bigger frames) instead of fed.
        for s in screens[FEED:]:
            await s.close()
        screens = screens[:FEED]
        for s in screens:
            s.updates = 0
        cpu2, t0 = proc_cpu_s(pid), time.monotonic()
        k = 0
        while time.monotonic() - t0 < seconds:
            k += 1
            voter.pending.clear()
            await voter.send({"type": "post", "kind": "problem", "op": "p-%d" % k,
                              "text": "Shade at bus stop %d" % k})
            await asyncio.sleep(max(0.0, t0 + k / RATE - time.monotonic()))
        cpu3 = proc_cpu_s(pid)
        await asyncio.sleep(0.3)  # what was in flight arrives (counted, its CPU was too)
        frames = sum(s.updates for s in screens)
        for s in screens:
            await s.close()
        await voter.close()
        await m.close()
        return {"mode": "tls" if tls else "plain",
                "rss_per_conn_kb": (rss1 - rss0) / idle,
                "setup_cpu_us": (cpu1 - cpu0) / idle * 1e6,
                "frames": frames,
                "frame_cpu_us": (cpu3 - cpu2) / frames * 1e6 if frames else float("nan"),
                "frames_per_s": frames / seconds}
    finally:
        srv.stop()


async def main():
    idle = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seconds = min(10.0, float(sys.argv[2]) if len(sys.argv) > 2 else 10)
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    results = []
    for r in range(rounds):
        for tls in (False, True):
            res = await one_round(tls, idle, seconds)
            print("# round %d %-5s rss/conn %.1f KB, setup %.0f us/conn, %d frames (%.0f/s), "
                  "%.2f us/frame" % (r + 1, res["mode"], res["rss_per_conn_kb"],
                                     res["setup_cpu_us"], res["frames"], res["frames_per_s"],
                                     res["frame_cpu_us"]), flush=True)
            results.append(res)

    def med(mode, key):
        return statistics.median(x[key] for x in results if x["mode"] == mode)

    print("\n%d idle screens, %.0f s of posts at %d/s, %d rounds (medians)" % (idle, seconds,
                                                                             RATE, rounds))
    print("| | plain | TLS | TLS/plain |\n|---|---|---|---|")
    for key, label, fmt in (("rss_per_conn_kb", "RSS per idle connection (KB)", "%.1f"),
                            ("setup_cpu_us", "server CPU per connection set up (us)", "%.0f"),
                            ("frame_cpu_us", "server CPU per delivered frame (us)", "%.2f")):
        p, t = med("plain", key), med("tls", key)
        print("| %s | %s | %s | %.2f |" % (label, fmt % p, fmt % t, t / p if p else float("nan")))


if __name__ == "__main__":
    asyncio.run(main())
