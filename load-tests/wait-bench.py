#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""wait-bench: what acknowledging a write only once a replica has it (--replicas 1, one WAIT per
batch) costs per write. A primary (appendonly yes, appendfsync always) and one replica on loopback,
one cojamd on the primary; one client writes posts one after another (paced under a session's 20 messages/s) and times
each ack; then the
same with four clients writing at once (batches of several XADDs share a WAIT). Rounds alternate
--replicas 0 and 1 on the same Redis pair so that the host's noise falls on both. Prints p50/p99
per setting; never fails on a timing. Usage: python3 load-tests/wait-bench.py [writes per round]"""

import asyncio
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "server", "tests", "e2e"))
import harness  # noqa: E402
from harness import Client, Servers, free_port  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
ROUNDS = 3


def spawn(tmp, name, argv):
    log = open(os.path.join(tmp, name + ".log"), "a")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    harness._live_procs.append(p)
    return p


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                          timeout=3).stdout


def redis(tmp, port, replica_of=None):
    d = os.path.join(tmp, "r%d" % port)
    os.makedirs(d)
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--repl-diskless-sync-delay", "0"]
    if replica_of:
        argv += ["--replicaof", "127.0.0.1", str(replica_of)]
    spawn(tmp, "redis-%d" % port, argv)
    for _ in range(200):
        if cli(port, "PING").strip() == "PONG":
            return
        time.sleep(0.05)
    raise SystemExit("redis-server :%d did not start" % port)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


async def round_(srv, code, writers, n):
    clients = []
    for k in range(writers):
        c = Client(srv, "B%d" % k)
        await c.connect()
        await c.join(code, "citizen", anonymous=True)
        clients.append(c)
    lat = []

    async def go(c):
        for i in range(n // writers):
            t = time.monotonic()
            await c.must_ack({"type": "post", "kind": "idea", "text": "Idea %d of %s" % (i, c.name)})
            lat.append((time.monotonic() - t) * 1000.0)
            await asyncio.sleep(0.06)  # under the 20 messages/s of a session

    await asyncio.gather(*(go(c) for c in clients))
    for c in clients:
        await c.close()
    return lat


def main():
    base = Servers()
    tmp = base.tmp
    primary, replica = free_port(), free_port()
    redis(tmp, primary)
    redis(tmp, replica, replica_of=primary)
    while "master_link_status:up" not in cli(replica, "INFO", "replication"):
        time.sleep(0.05)
    results = {}
    try:
        for r in range(ROUNDS):
            for replicas in (0, 1):
                srv = Servers(extra_args=["--replicas", str(replicas),
                                          "--max-items-per-participant", "0"])
                srv.redis_port = primary
                srv.start_cojamd()
                try:
                    jam = srv.create_jam(agenda=[{"phase": "ideate", "duration_s": 3600}])
                    code = jam["code"]

                    async def run():
                        m = Client(srv, "M")
                        await m.connect()
                        await m.join(code, "moderator", nickname="M",
                                     secret=jam["moderator_secret"])
                        await m.must_ack({"type": "start"})
                        for writers in (1, 4):
                            results.setdefault((replicas, writers), []).extend(
                                await round_(srv, code, writers, N))
                        await m.close()
                    asyncio.run(run())
                finally:
                    srv.stop()
    finally:
        harness._stop_all()
        base.stop()
    print("ack latency per write, ms (%d rounds alternating, %d writes each):" % (ROUNDS, N))
    print("| WAIT | writers at once | writes | p50 | p90 | p99 | mean |")
    print("|---|---|---|---|---|---|---|")
    for (replicas, writers), lat in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print("| %s | %d | %d | %.2f | %.2f | %.2f | %.2f |" % (
            "WAIT 1" if replicas else "none", writers, len(lat), pct(lat, 50), pct(lat, 90),
            pct(lat, 99), statistics.mean(lat)))


main()
