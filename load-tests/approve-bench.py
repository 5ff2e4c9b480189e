#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""approve-bench: approval-to-phone latency of pre-moderation (issue 11).

A fresh cojamd with its embedded redis-server (AOF on, appendfsync always: the default set-up);
a premoderated jam; PHONES citizens connected as bare WebSocket
clients that only read; one citizen posts ITEMS items (each waits for review), and a moderator
approves them one at a time, ITEMS_PER_S a second. For each approval the time from the moment the
moderator's `approve` is sent to the moment each phone has the item in full (the update that
carries it with its text) is one sample; the moderator's ack latency is printed beside it. Every
approval is stored in Redis, fsynced, before its ack.
Prints p50/p99/max; figures, never assertions: the machine is shared.

usage: approve-bench.py [PHONES] [ITEMS]   (COJAMD: the binary, default build/release)
"""

import asyncio
import multiprocessing
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
from harness import Client, EmbeddedServers  # noqa: E402

ITEMS_PER_S = 5  # a moderator working through a busy queue by keyboard: a decision every 200 ms
WORKERS = 4      # processes the phones are spread over: one Python loop for hundreds of sockets
                 # measured its own backlog (p50 128 ms at 200 phones against 26 ms at 10)


class Phone(BareClient):
    """A bare citizen phone: notes when each watched item first arrives in full (a substring test
    on the raw update)."""

    def __init__(self, url, code, name):
        super().__init__(url, code, "citizen", name)
        self.watch = {}  # needle -> item id
        self.seen = {}   # item id -> time.monotonic() when it arrived in full

    def on_update(self, raw, now):
        for needle, item in list(self.watch.items()):
            if needle in raw:
                self.seen.setdefault(item, now)
                del self.watch[needle]


async def phones_main(url, code, first, n, pipe):
    """One worker process: n phones; 'ready' once joined, then the items to watch, then their
    arrival times (CLOCK_MONOTONIC, the same clock in every process) once all came or 10 s
    after the last approval."""
    phones = [Phone(url, code, "P%d" % (first + i)) for i in range(n)]
    await open_all(phones)
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    items = await loop.run_in_executor(None, pipe.recv)
    for p in phones:
        p.watch = {'{"id":%d,"kind"' % item: item for item in items}
    pipe.send("watching")
    await loop.run_in_executor(None, pipe.recv)  # the last approval was sent
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(len(p.seen) < len(items) for p in phones):
        await asyncio.sleep(0.05)
    pipe.send([p.seen for p in phones])
    for p in phones:
        await p.close()


def phones_worker(url, code, first, n, pipe):
    asyncio.run(phones_main(url, code, first, n, pipe))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


async def run(n_phones, n_items):
    srv = EmbeddedServers(["--log-level", "warn", "--max-conns-per-address", str(n_phones + 100),
                   "--admission-scale", "0"])  # every client is 127.0.0.1
    srv.start()
    try:
        jam = srv.create_jam(title="Approve bench", agenda=[{"phase": "explore", "duration_s": 0}],
                             settings={"premoderation": True})
        code = jam["code"]
        mod = await Client(srv, "mod").connect()
        await mod.join(code, "moderator", nickname="Mira", secret=jam["moderator_secret"])
        await mod.must_ack({"type": "start"})
        author = await Client(srv, "author").connect()
        await author.join(code, "citizen", nickname="Author")
        workers = []
        per = (n_phones + WORKERS - 1) // WORKERS
        for w in range(WORKERS):
            n = min(per, n_phones - w * per)
            if n <= 0:
                break
            mine, theirs = multiprocessing.Pipe()
            proc = multiprocessing.Process(target=phones_worker,
                                           args=(srv.ws_url(), code, w * per, n, theirs))
            proc.start()
            workers.append((proc, mine))
        for _, pipe in workers:
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        items = []
        for k in range(n_items):  # posted first: the queue the moderator then works through
            a = await author.must_ack({"type": "post", "kind": "problem",
                                       "text": "Waiting item %d for the bench" % k})
            items.append(a["item"])
            await asyncio.sleep(0.06)  # under the 20 messages/s of a session
        for _, pipe in workers:
            pipe.send(items)
        for _, pipe in workers:
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await asyncio.sleep(0.5)
        samples, acks, sent = [], [], {}
        t_start = time.monotonic()
        for k, item in enumerate(items):
            await asyncio.sleep(max(0.0, t_start + k / ITEMS_PER_S - time.monotonic()))
            sent[item] = time.monotonic()
            ack = await mod.write({"type": "approve", "items": [item]}, retry=False)
            if ack["type"] != "ack":
                raise SystemExit("approve %d: %r" % (item, ack))
            acks.append((time.monotonic() - sent[item]) * 1000)
        seen = []
        for _, pipe in workers:
            pipe.send("done")
        for proc, pipe in workers:
            seen += await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
            proc.join(15)
        missing = 0
        for got in seen:
            for item in items:
                if item in got:
                    samples.append((got[item] - sent[item]) * 1000)
                else:
                    missing += 1
        await author.close()
        await mod.close()
        return samples, acks, missing
    finally:
        srv.stop()


async def main():
    n_phones = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    n_items = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    samples, acks, missing = await run(n_phones, n_items)
    print("approve-bench: %d phones in %d processes, %d approvals at %d/s, tick 50 ms (%s)" % (
        n_phones, WORKERS, n_items, ITEMS_PER_S, os.environ["COJAMD"]))
    print("  approve sent -> moderator's ack:   p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms" % (
        pct(acks, 50), pct(acks, 99), max(acks)))
    if samples:
        print("  approve sent -> item on a phone:   p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms"
              "  (%d samples, mean %.1f ms)" % (pct(samples, 50), pct(samples, 99), max(samples),
                                                len(samples), statistics.mean(samples)))
    print("  deliveries missing after 10 s: %d" % missing)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
