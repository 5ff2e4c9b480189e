#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""attack-bench: what each class of attack with a jam's join code costs the real clients (issue 10).

Per attack a fresh cojamd (embedded Redis) and a jam seeded with ITEMS items (100 citizens of
127.0.0.1 posting 20 each, under every limit). A victim citizen measures its application ping round
trip and its post->ack latency, a victim screen how long a victim's post takes to reach it
(post sent -> the item in an update), first quiet, then while attacker processes (127.0.0.2..,
ADDRESSES of them) run one attack for SECONDS:

  write  connections joining as fresh citizens and posting/voting at 19 messages/s each (under the
         20/s a session may send): how many items got in, the most one participant got in
  join   fresh citizens joining as fast as the connections allow (20 handshakes at once per
         address): how many got in
  sync   joined screens and citizens sending `sync` once a second each (the per-session limit)
  http   GET /api/jams/<code>, /digest and /results hammered over keep-alive connections
  guess  `join`s with wrong codes and moderator joins with wrong secrets over WebSockets

Prints per attack the victim's p50/p99 quiet -> attack with the ratio, the attackers' requests by
answer (ok, error code, close code, HTTP status) and cojamd's CPU (% of one core, its Redis child
beside it) in the attack window. Figures, never assertions: the box is shared. Every process it
starts it stops by PID; every loop is bounded by time.

usage: attack-bench.py [--quick] [--seconds S] [--items N] [--addresses K] [--attacks a,b,...]
                       [--cojamd BIN,BIN,...]
       (COJAMD or --cojamd: the binary, default build/release/cojamd; several: each attack runs on
       each in turn, so a shared host's load falls on all alike, then a table; --quick: tiny
       numbers, one cojamd for all attacks, a few seconds, for load-tests/smoke.sh)
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server", "tests", "e2e"))
sys.dont_write_bytecode = True
os.environ.setdefault("COJAMD", os.path.join(HERE, "..", "build", "release", "cojamd"))
import websockets  # noqa: E402
import websockets.exceptions  # noqa: E402
from harness import Client, EmbeddedServers  # noqa: E402

TICK_S = os.sysconf("SC_CLK_TCK")
ATTACKS = ("write", "join", "sync", "http", "guess")
# Attacker connections per process (one process per address); --quick divides them.
SIZES = {"write": 13, "join": 20, "sync": 50, "http": 8, "guess": 16}
WRITE_RATE = 19  # messages/s per session: under the 20/s token bucket (proto/messages.md)


# ------------------------------------------------------------------------------------------------
# The attacker side: one process per source address, started as "attack-bench.py --attacker ...",
# its counts printed as one JSON line on stdout.


class Tally:
    """Attacker requests by answer: 'ok', an error code, 'close:<code>', 'http:<status>'."""

    def __init__(self):
        self.by = {}
        self.extra = {}

    def add(self, what, n=1):
        self.by[what] = self.by.get(what, 0) + n


def answer_of(raw):
    """The tally key of a small server frame, or None for frames that answer nothing."""
    head = raw[:24] if isinstance(raw, str) else ""
    if head.startswith('{"type":"error"'):
        try:
            return json.loads(raw).get("code", "error")
        except ValueError:
            return "error"
    if head.startswith('{"type":"ack"'):
        return "ok"
    return None


async def ws_open(url, addr, t):
    try:
        return await websockets.connect(url, max_size=None, ping_interval=None, open_timeout=5,
                                        close_timeout=1, local_addr=(addr, 0))
    except websockets.exceptions.InvalidStatusCode as e:
        t.add("http:%d" % e.status_code)
    except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
        t.add("connect_failed")
    return None


async def ws_join(ws, msg, t, timeout=5):
    """Send a join; True once its welcome came (the answer counted in t)."""
    await ws.send(json.dumps(msg))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        raw = await asyncio.wait_for(ws.recv(), max(0.05, end - time.monotonic()))
        if raw.startswith('{"type":"welcome"'):
            t.add("joined")
            return True
        a = answer_of(raw)
        if a is not None:
            t.add(a)
            return False
    t.add("timeout")
    return False


async def ws_open_until(url, addr, t, end, pause):
    """A connection from addr, retried every pause seconds; None once end has passed."""
    while time.monotonic() < end:
        ws = await ws_open(url, addr, t)
        if ws is not None:
            return ws
        await asyncio.sleep(pause)
    return None


def closed(t, ws):
    t.add("close:%s" % ws.close_code)


async def read_all(ws, t, on_frame):
    """Every frame to on_frame until the connection closes (its close code counted)."""
    try:
        async for raw in ws:
            on_frame(raw)
    except websockets.exceptions.ConnectionClosed:
        closed(t, ws)


async def write_one(url, addr, code, end, t, n, items):
    """A fresh citizen posting and voting at WRITE_RATE; reopened when the server closes it."""
    while (ws := await ws_open_until(url, addr, t, end, 0.2)) is not None:
        posted = 0
        try:
            if not await ws_join(ws, {"type": "join", "code": code, "as": "citizen",
                                      "nickname": "w%s-%d" % (addr, n)}, t):
                await asyncio.sleep(0.2)
                continue

            def on_frame(raw):
                nonlocal posted
                if raw.startswith('{"type":"ack"'):
                    is_post = str(json.loads(raw).get("op", "")).startswith("p")
                    posted += is_post
                    t.add("post_ok" if is_post else "vote_ok")
                else:
                    a = answer_of(raw)
                    if a is not None:
                        t.add(a)
            rd = asyncio.ensure_future(read_all(ws, t, on_frame))
            k = 0
            while time.monotonic() < end and not rd.done():
                k += 1
                if k % 2:
                    m = {"type": "post", "op": "p%d" % k, "kind": "problem",
                         "text": "flood %s %d %d" % (addr, n, k)}
                else:
                    m = {"type": "vote", "op": "v%d" % k, "item": random.choice(items)}
                await ws.send(json.dumps(m))
                t.add("sent")
                await asyncio.sleep(1.0 / WRITE_RATE)
            rd.cancel()
        except (websockets.exceptions.ConnectionClosed, asyncio.TimeoutError, OSError):
            closed(t, ws)
        finally:
            t.extra["max_posts_per_participant"] = max(
                t.extra.get("max_posts_per_participant", 0), posted)
            ws.transport.abort()  # no closing handshake to wait for at the end


async def join_one(url, addr, code, end, t, n):
    """Fresh citizens, one connection each, as fast as the handshakes go."""
    k = 0
    while (ws := await ws_open_until(url, addr, t, end, 0.05)) is not None:
        k += 1
        t.add("sent")
        try:
            await ws_join(ws, {"type": "join", "code": code, "as": "citizen",
                               "nickname": "j%s-%d-%d" % (addr, n, k)}, t)
        except (websockets.exceptions.ConnectionClosed, asyncio.TimeoutError, OSError):
            closed(t, ws)
        ws.transport.abort()  # no closing handshake: the snapshot is not waited for


async def sync_one(url, addr, code, end, t, n):
    """A joined screen or citizen sending sync once a second, reading every snapshot."""
    while (ws := await ws_open_until(url, addr, t, end, 0.2)) is not None:
        try:
            join = {"type": "join", "code": code, "as": "screen" if n % 2 else "citizen"}
            if n % 2 == 0:
                join["nickname"] = "s%s-%d" % (addr, n)
            if not await ws_join(ws, join, t):
                await asyncio.sleep(0.5)
                continue

            def on_frame(raw):
                if raw.startswith('{"type":"snapshot"'):
                    t.add("snapshot")
                    t.add("snapshot_bytes", len(raw))
                else:
                    a = answer_of(raw)
                    if a is not None:
                        t.add(a)
            rd = asyncio.ensure_future(read_all(ws, t, on_frame))
            await asyncio.sleep(random.random())
            while time.monotonic() < end and not rd.done():
                await ws.send('{"type":"sync"}')
                t.add("sent")
                await asyncio.sleep(1.0)
            rd.cancel()
        except (websockets.exceptions.ConnectionClosed, asyncio.TimeoutError, OSError):
            closed(t, ws)
        finally:
            ws.transport.abort()


async def guess_one(url, addr, code, end, t, n):
    """Joins with wrong codes and moderator joins with wrong secrets, one after another."""
    k = 0
    while (ws := await ws_open_until(url, addr, t, end, 0.2)) is not None:
        try:
            while time.monotonic() < end:
                k += 1
                if k % 2:
                    wrong = code
                    while wrong == code:
                        wrong = "%06d" % random.randrange(1000000)
                    m = {"type": "join", "code": wrong, "as": "citizen", "nickname": "g"}
                else:
                    m = {"type": "join", "code": code, "as": "moderator", "nickname": "g",
                         "secret": "%032x" % random.getrandbits(128)}
                t.add("sent")
                if await ws_join(ws, m, t):
                    t.add("guessed")
                    break
        except (websockets.exceptions.ConnectionClosed, asyncio.TimeoutError, OSError):
            closed(t, ws)
        finally:
            ws.transport.abort()


def http_one(port, addr, code, end, t, lock):
    """GET the public endpoints of one jam over one keep-alive connection, reopened when closed."""
    paths = ["/api/jams/%s" % code, "/api/jams/%s/digest" % code, "/api/jams/%s/results" % code]
    c, k = None, 0
    while time.monotonic() < end:
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(addr, 0))
        k += 1
        try:
            c.request("GET", paths[k % 3])
            r = c.getresponse()
            r.read()
            what = "ok" if r.status == 200 else "http:%d" % r.status
            if r.will_close:
                c.close()
                c = None
        except (OSError, http.client.HTTPException):
            what = "connect_failed"
            c.close()
            c = None
            time.sleep(0.05)
        with lock:
            t.add(what)
            t.add("sent")
    if c is not None:
        c.close()


def attacker_main(kind, port, code, addr, n, seconds, items):
    t = Tally()
    end = time.monotonic() + seconds
    url = "ws://127.0.0.1:%d/ws" % port
    if kind == "http":
        lock = threading.Lock()
        ths = [threading.Thread(target=http_one, args=(port, addr, code, end, t, lock))
               for _ in range(n)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(seconds + 10)
    else:
        fn = {"write": write_one, "join": join_one, "sync": sync_one, "guess": guess_one}[kind]

        async def run():
            extra = (items,) if kind == "write" else ()
            tasks = [asyncio.ensure_future(fn(url, addr, code, end, t, i, *extra))
                     for i in range(n)]
            # A join or a handshake in flight at the end is not waited for (up to 5 s).
            await asyncio.wait(tasks, timeout=seconds + 1)
            for x in tasks:
                x.cancel()
        asyncio.run(run())
    print(json.dumps({"by": t.by, "extra": t.extra}), flush=True)


# ------------------------------------------------------------------------------------------------
# The victim side and the rounds.


def proc_cpu_s(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK_S
    except OSError:
        return 0.0


def machine_busy():
    """(busy, total) jiffies of the whole host, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000 if xs else float("nan")


async def seed(srv, code, items, conns):
    """items posts from conns citizens of 127.0.0.1 (pipelined, under the session and quota
    limits). Returns the item ids that got in."""
    per = (items + conns - 1) // conns
    ids = []

    async def one(i):
        ws = await websockets.connect(srv.ws_url(), max_size=None, ping_interval=None,
                                      open_timeout=10, close_timeout=1)
        try:
            await ws.send(json.dumps({"type": "join", "code": code, "as": "citizen",
                                      "nickname": "seed %d" % i}))
            while not (await asyncio.wait_for(ws.recv(), 10)).startswith('{"type":"snapshot"'):
                pass
            n = min(per, items - i * per)
            for k in range(n):
                await ws.send(json.dumps({"type": "post", "op": "s%d" % k, "kind": "problem",
                                          "text": "seed idea %d of participant %d" % (k, i)}))
            got = 0
            end = time.monotonic() + 20
            while got < n and time.monotonic() < end:
                raw = await asyncio.wait_for(ws.recv(), max(0.1, end - time.monotonic()))
                if raw.startswith('{"type":"ack"') or raw.startswith('{"type":"error"'):
                    got += 1
                    m = json.loads(raw)
                    if m["type"] == "ack" and "item" in m:
                        ids.append(m["item"])
        finally:
            await ws.close()

    for at in range(0, conns, 50):  # 50 handshakes at once, as bareclient.open_all
        await asyncio.gather(*(one(i) for i in range(at, min(conns, at + 50))
                               if i * per < items))
    return ids


async def victim(c, screen, seconds, interval):
    """Ping, post->ack and post->screen every interval for seconds; no answer in 10 s counts 10 s.
    Returns the three lists and the victim's refused posts by code."""
    pings, acks, seen, refused = [], [], [], {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            await c.send({"type": "ping"})
            await c.wait_for("pong", None, 10)
            pings.append(time.monotonic() - t0)
        except AssertionError:
            pings.append(10.0)
        t0 = time.monotonic()
        try:
            r = await c.write({"type": "post", "kind": "problem",
                               "text": "victim post %d" % len(acks)}, retry=False, timeout=10)
            if r["type"] == "ack":
                acks.append(time.monotonic() - t0)
                item = r.get("item")
                try:
                    await screen.wait_model(lambda s: item in s.items, timeout=10)
                    seen.append(time.monotonic() - t0)
                except AssertionError:
                    seen.append(10.0)
            else:
                refused[r.get("code")] = refused.get(r.get("code"), 0) + 1
        except AssertionError:
            acks.append(10.0)
        screen.drain()
        c.drain()
        await asyncio.sleep(interval)
    return pings, acks, seen, refused


def start_attackers(kind, srv, code, addrs, n, seconds, items):
    procs = []
    for i in range(addrs):
        a = "127.0.0.%d" % (2 + i)
        procs.append(subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--attacker", kind, str(srv.port), code,
             a, str(n), str(seconds), ",".join(map(str, items[:500]))],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL))
    return procs


def collect(procs, seconds):
    by, extra = {}, {}
    for p in procs:
        try:
            out, _ = p.communicate(timeout=seconds + 20)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate(timeout=5)
        for line in out.decode().splitlines()[-1:]:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            for k, v in d["by"].items():
                by[k] = by.get(k, 0) + v
            for k, v in d["extra"].items():
                extra[k] = max(extra.get(k, 0), v)
    return by, extra


async def one_round(kind, args, shared=None):
    """One attack: on a fresh cojamd, or on a new jam of shared (--quick)."""
    srv = shared or EmbeddedServers(["--log-level", "error"]).start()
    procs = []
    try:
        jam = srv.create_jam(title="Attack bench", settings={"votes_per_phase": 0})
        code = jam["code"]
        m = await Client(srv, "mod").connect()
        await m.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await m.must_ack({"type": "start"})
        items = await seed(srv, code, args.items, max(1, min(100, args.items // 20)))
        c = await Client(srv, "victim").connect()
        await c.join(code, "citizen", nickname="Victim")
        s = await Client(srv, "screen").connect()
        await s.join(code, "screen")
        quiet = await victim(c, s, args.seconds, args.interval)
        n = max(1, SIZES[kind] // (5 if args.quick else 1))
        procs = start_attackers(kind, srv, code, args.addresses, n,
                                args.warmup + args.seconds + (0 if args.quick else 0.5), items)
        await asyncio.sleep(args.warmup)  # let the attack build up
        pid = srv.cojamd.pid
        rpids = children(pid)
        apids = [p.pid for p in procs]
        cpu0, rcpu0, acpu0 = (proc_cpu_s(pid), sum(proc_cpu_s(r) for r in rpids),
                              sum(proc_cpu_s(a) for a in apids))
        m0, t0 = machine_busy(), time.monotonic()
        during = await victim(c, s, args.seconds, args.interval)
        dt = time.monotonic() - t0
        m1 = machine_busy()
        cpu = (proc_cpu_s(pid) - cpu0) / dt * 100
        rcpu = (sum(proc_cpu_s(r) for r in rpids) - rcpu0) / dt * 100
        acpu = (sum(proc_cpu_s(a) for a in apids) - acpu0) / dt * 100
        busy = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * 100
        by, extra = collect(procs, args.warmup + args.seconds)
        procs = []
        alive = srv.cojamd.poll() is None
        await c.close()
        await s.close()
        await m.close()
        return {"quiet": quiet, "during": during, "by": by, "extra": extra, "cpu": cpu,
                "redis_cpu": rcpu, "attacker_cpu": acpu, "busy": busy, "alive": alive,
                "seeded": len(items)}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        if shared is None:
            srv.stop()


def report(kind, r):
    print("== %s (cojamd %s, seeded %d items)%s" % (kind, os.environ["COJAMD"], r["seeded"],
                                                     "" if r["alive"] else "  COJAMD DIED"))
    for name, i in (("ping", 0), ("ack", 1), ("screen", 2)):
        a, b = r["quiet"][i], r["during"][i]
        print("  victim %-6s p50 %6.1f -> %7.1f ms (x%.1f), p99 %6.1f -> %7.1f ms (x%.1f), "
              "n=%d/%d" % (name, q(a, .5), q(b, .5), q(b, .5) / q(a, .5), q(a, .99), q(b, .99),
                           q(b, .99) / q(a, .99), len(a), len(b)))
    if r["during"][3] or r["quiet"][3]:
        print("  victim posts refused: quiet %r, attack %r" % (r["quiet"][3], r["during"][3]))
    by = dict(r["by"])
    sent = by.pop("sent", 0)
    snap_bytes = by.pop("snapshot_bytes", 0)
    print("  attackers: %d requests sent; answers: %s" % (
        sent, ", ".join("%s %d" % kv for kv in sorted(by.items(), key=lambda kv: -kv[1]))))
    if snap_bytes:
        print("  attackers received %.1f MB of snapshots" % (snap_bytes / 1e6))
    if kind == "write":
        print("  attacker items in: %d, most from one participant: %d" % (
            by.get("post_ok", 0), r["extra"].get("max_posts_per_participant", 0)))
    if kind == "join":
        print("  attacker participants in: %d" % by.get("joined", 0))
    print("  CPU in the attack window, %% of one core: cojamd %.0f, its Redis %.0f, the attackers "
          "%.0f; the host's %d cores %.0f%% busy" % (r["cpu"], r["redis_cpu"], r["attacker_cpu"],
                                                    os.cpu_count(), r["busy"]))


def summary(rows):
    """One line per attack and binary: the victim's p50/p99 quiet -> attack, the attackers'
    requests and how many were refused, cojamd's CPU."""
    print("\n| attack | cojamd | victim ping p50 | ping p99 | post->ack p50 | ack p99 | "
          "post->screen p50 | attacker requests: refused | cojamd CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, binary, r in rows:
        cells = []
        for i, p in ((0, .5), (0, .99), (1, .5), (1, .99), (2, .5)):
            a, b = q(r["quiet"][i], p), q(r["during"][i], p)
            cells.append("%.1f -> %.1f ms (x%.1f)" % (a, b, b / a))
        by = r["by"]
        refused = sum(v for k, v in by.items() if k not in (
            "sent", "ok", "joined", "post_ok", "vote_ok", "snapshot", "snapshot_bytes"))
        print("| %s | %s | %s | %d: %d | %.0f%% |" % (kind, binary, " | ".join(cells),
                                                    by.get("sent", 0), refused, r["cpu"]))


async def main(args):
    shared = EmbeddedServers(["--log-level", "error"]).start() if args.quick else None
    rows = []
    try:
        for kind in args.attacks:
            for binary in args.cojamd:  # interleaved: the host's load falls on each alike
                os.environ["COJAMD"] = binary
                r = await one_round(kind, args, shared)
                report(kind, r)
                rows.append((kind, binary, r))
                sys.stdout.flush()
    finally:
        if shared is not None:
            shared.stop()
    if len(rows) > 1 and not args.quick:
        summary(rows)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--attacker":
        k, port, code, addr, n, secs, items = sys.argv[2:9]
        attacker_main(k, int(port), code, addr, int(n), float(secs),
                      [int(x) for x in items.split(",") if x] or [1])
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--items", type=int)
    ap.add_argument("--addresses", type=int)
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    ap.add_argument("--cojamd", default=os.environ["COJAMD"],
                    help="binaries to compare, comma-separated: each attack runs on each in turn")
    a = ap.parse_args()
    a.attacks = [x for x in a.attacks.split(",") if x]
    a.cojamd = [x for x in a.cojamd.split(",") if x]
    for x in a.attacks:
        if x not in ATTACKS:
            ap.error("unknown attack %r (one of %s)" % (x, ", ".join(ATTACKS)))
    a.seconds = a.seconds or (0.3 if a.quick else 10.0)
    a.items = a.items or (40 if a.quick else 2000)
    a.addresses = a.addresses or (1 if a.quick else 4)
    a.warmup = 0.3 if a.quick else 3.0
    a.interval = 0.05 if a.quick else 0.2
    asyncio.run(main(a))
