#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""conn-flood-bench: what a flood of hostile connections costs the real clients (issue 10, point 5).

A victim citizen measures its application ping round trip and its post->ack latency, first on a
quiet server, then while attacker processes hold HOSTILE connections (default 20,000) from 20
loopback addresses (127.0.0.2..21, so the per-address cap alone does not stop them): each sends a
WebSocket handshake and a screen join and then never reads; connections the server closes are
reopened. /healthz latency is sampled too. Prints the ratios attack/quiet (p50, p99) and how many
hostile connections got in. Figures, never assertions: the box is shared.

usage: conn-flood-bench.py [HOSTILE] [SECONDS] [ADDRESSES]
       (COJAMD: the binary, default build/release; ADDRESSES: 20 by default; the cojamd
       environment applies, e.g. COJAM_ADMISSION_SCALE=0 for a run without per-address limits)
"""

import asyncio
import json
import multiprocessing
import os
import selectors
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server", "tests", "e2e"))
sys.dont_write_bytecode = True
os.environ.setdefault("COJAMD", os.path.join(HERE, "..", "build", "release", "cojamd"))
from harness import Client, Servers  # noqa: E402

ADDRS = 20


def attacker(port, code, addr, n, seconds, out):
    """Hold n hostile connections from 'addr' for 'seconds'; report (opened, refused)."""
    join = json.dumps({"type": "join", "code": code, "as": "screen"}).encode()
    frame = bytes([0x81, 0x80 | len(join)]) + b"\0\0\0\0" + join
    hs = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
          % port).encode()
    sel = selectors.DefaultSelector()
    opened = refused = 0
    live = 0
    held = []  # the sockets that got in: kept referenced, or Python closes them
    end = time.monotonic() + seconds

    def open_one():
        nonlocal opened, live
        k = socket.socket()
        k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        k.bind((addr, 0))
        k.setblocking(False)
        try:
            k.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            k.close()
            return
        sel.register(k, selectors.EVENT_WRITE, "connecting")
        opened += 1
        live += 1

    for _ in range(n):
        open_one()
    while time.monotonic() < end:
        for key, ev in sel.select(0.2):
            k = key.fileobj
            if key.data == "connecting":
                try:
                    k.send(hs + frame)
                    sel.modify(k, selectors.EVENT_READ, "peek")
                except OSError:
                    sel.unregister(k)
                    k.close()
                    live -= 1
            else:  # only the status line: the rest is never read
                try:
                    d = k.recv(16, socket.MSG_PEEK)
                except OSError:
                    d = b""
                if d.startswith(b"HTTP/1.1 101"):
                    sel.unregister(k)  # in: held, never read again
                    held.append(k)
                    continue
                if d.startswith(b"HTTP/1.1 503"):
                    refused += 1
                sel.unregister(k)
                k.close()
                live -= 1
        while live < n and time.monotonic() < end:
            open_one()
            if opened % 200 == 0:
                break
    out.put((opened, refused))


async def victim(srv, c, seconds):
    pings, acks, health = [], [], []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            await c.send({"type": "ping"})
            await c.wait_for("pong", None, 10)
            pings.append(time.monotonic() - t0)
            t0 = time.monotonic()
            await c.must_ack({"type": "post", "kind": "problem", "text": "victim post %d" % n},
                             timeout=10)
            acks.append(time.monotonic() - t0)
        except AssertionError:  # no answer within 10 s: counted as 10 s
            pings.append(10.0)
            acks.append(10.0)
        n += 1
        t0 = time.monotonic()
        try:
            st = srv.http("GET", "/healthz", timeout=5)[0]
        except (OSError, ValueError):
            st = None
        health.append((time.monotonic() - t0, st))
        await asyncio.sleep(0.25)
    return pings, acks, health


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000 if xs else float("nan")


async def main():
    hostile = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 15
    global ADDRS
    ADDRS = int(sys.argv[3]) if len(sys.argv) > 3 else ADDRS
    srv = Servers(["--log-level", "warn"]).start()
    try:
        jam = srv.create_jam(title="Flood")
        m = await Client(srv, "mod").connect()
        await m.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await m.must_ack({"type": "start"})
        c = await Client(srv, "victim").connect()  # joined before the attack, as the real ones
        await c.join(jam["code"], "citizen", nickname="Victim")
        quiet = await victim(srv, c, seconds)
        outq = multiprocessing.Queue()
        per = hostile // ADDRS
        procs = [multiprocessing.Process(target=attacker, args=(
            srv.port, jam["code"], "127.0.0.%d" % (2 + i), per, seconds + 12, outq))
            for i in range(ADDRS)]
        for p in procs:
            p.start()
        await asyncio.sleep(10)  # let the flood build up
        during = await victim(srv, c, seconds)
        try:
            sessions = json.loads(srv.http("GET", "/healthz", timeout=10)[2])["clients"]
        except (OSError, ValueError):
            sessions = -1
        for p in procs:
            p.join(60)
        opened = refused = 0
        while not outq.empty():
            o, r = outq.get()
            opened += o
            refused += r
        await c.close()
        await m.close()
        print("hostile connections: %d held from %d addresses; %d attempts, %d answered 503; "
              "WebSocket sessions open during the attack: %d" % (hostile, ADDRS, opened, refused,
                                                                  sessions))
        for name, i in (("ping", 0), ("ack", 1)):
            a, b = quiet[i], during[i]
            print("%-5s p50 %.1f ms -> %.1f ms (x%.2f), p99 %.1f ms -> %.1f ms (x%.2f), n=%d/%d"
                  % (name, q(a, .5), q(b, .5), q(b, .5) / q(a, .5), q(a, .99), q(b, .99),
                     q(b, .99) / q(a, .99), len(a), len(b)))
        hq = [t for t, _ in quiet[2]]
        hd = [t for t, _ in during[2]]
        bad = sum(1 for _, st in during[2] if st != 200)
        print("healthz p50 %.1f ms -> %.1f ms, max %.1f ms -> %.1f ms; not 200 during the "
              "attack: %d of %d" % (q(hq, .5), q(hd, .5), max(hq) * 1000, max(hd) * 1000, bad,
                                    len(hd)))
    finally:
        srv.stop()


if __name__ == "__main__":
    asyncio.run(main())
