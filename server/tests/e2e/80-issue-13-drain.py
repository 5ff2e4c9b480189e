#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-13-drain: SIGTERM drains a cojamd (issue 13, point 5). Two processes on one Redis serve
one jam; citizens on the process that holds the jam's lease write without pause; it gets SIGTERM:
its clients are closed with 1012 (after the acks of their writes in flight), it exits 0 within the
bound, its lease is released at once (not left to lapse in 10 s), and its clients reconnect to the
other process, resume from their last event id and retry what they had not got an ack for with
the same op: every ack is in the stream, every op took effect once, every client's view is equal,
and the other process takes the jam's deadline over."""

import asyncio
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SLOW, Client, Servers, Suite, check, check_eq, closing, eid,  # noqa: E402
                     start_node)

suite = Suite("80-issue-13-drain", file_timeout=90)


class S:
    nodes = []
    clients = []


def instance_of(n):
    with open(os.path.join(n.tmp, "data", "instance-id")) as f:
        return f.read().strip()


async def client(n, name):
    c = Client(n, name)
    await c.connect()
    S.clients.append(c)
    return c


@suite.test(timeout=60)
async def sigterm_drains_and_clients_resume_elsewhere(srv):
    other = start_node(srv.redis_port)
    S.nodes = [srv, other]
    jam = srv.create_jam(title="Drain", question="Nothing lost?",
                         agenda=[{"phase": "explore", "duration_s": 1},
                                 {"phase": "ideate", "duration_s": 600},
                                 {"phase": "results", "duration_s": 0}])
    code = jam["code"]
    for _ in range(int(40 * SLOW)):
        if other.http("GET", "/api/jams/%s" % code)[0] == 200:
            break
        await asyncio.sleep(0.05)
    M = await client(other, "M")
    await M.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
    await M.must_ack({"type": "start"})
    # The explore phase's deadline is stored by the lease holder: then we know which one it is.
    await M.wait_model(lambda c: c.clock and c.clock.get("index") == 1, 6, "ideate began")
    lease = srv.rcli("GET", "cojam:jam:%s:lease" % code).strip()
    holder = next((n for n in S.nodes if instance_of(n) == lease), None)
    check(holder is not None, "the lease names one of the two processes: %r", lease)
    rest = other if holder is srv else srv
    writers = []
    for k in range(4):
        w = await client(holder, "W%d" % k)
        await w.join(code, "citizen", nickname="Writer%d" % k)
        writers.append(w)
    screen = await client(rest, "S")
    await screen.join(code, "screen")
    stop = asyncio.Event()
    unacked = {}  # writer -> the op it sent and got no ack for before its close

    async def load(w):
        k = 0
        while not stop.is_set():
            k += 1
            msg = {"type": "post", "op": "%s-p%d" % (w.name, k), "kind": "idea",
                   "text": "Idea %d from %s" % (k, w.name)}
            try:
                r = await w.write(msg, retry=True, timeout=3.0)
            except Exception:
                unacked[w] = msg
                return
            if w.closed:
                if r.get("type") != "ack":
                    unacked[w] = msg
                return
            await asyncio.sleep(0.03)

    tasks = [asyncio.ensure_future(load(w)) for w in writers]
    await asyncio.sleep(0.8 * SLOW)
    t0 = time.monotonic()
    os.kill(holder.cojamd.pid, signal.SIGTERM)
    await asyncio.gather(*(w.wait_closed(5) for w in writers))
    for w in writers:
        check_eq(w.close_code, 1012, "%s's close code" % w.name)
    holder.cojamd.wait(timeout=5 * SLOW)
    drained_s = time.monotonic() - t0
    check_eq(holder.cojamd.returncode, 0, "the drained process's exit code")
    # Released at its exit, not lapsing 10 s later.
    after = srv.rcli("GET", "cojam:jam:%s:lease" % code).strip()
    check(after != lease, "the lease still names the drained process: %r", after)
    stop.set()
    await asyncio.gather(*tasks)
    print("# drained and exited in %.2f s; %d writes had no ack at the close" % (drained_s,
                                                                              len(unacked)))
    for w in writers:
        w.srv = rest
        last = w.last
        await w.reconnect()
        r, _ = await w.join(token=w.welcome["token"], last_event_id=last)
        check(r.get("resumed") is True, "%s resumed on the other process", w.name)
        if w in unacked:
            await w.must_ack(unacked[w])
        await w.must_ack({"type": "post", "kind": "idea", "text": "After the drain, %s" % w.name})
    if M.srv is holder:  # drained too: it comes back on the process left
        await M.wait_closed(5)
        M.srv = rest
        last = M.last
        await M.reconnect()
        await M.join(token=M.welcome["token"], last_event_id=last)
    # The other process took the lease over: the moderator's next deadline is stored there.
    await M.must_ack({"type": "set_phase", "phase": "explore"})
    await M.wait_model(lambda c: c.clock and c.clock.get("index") == 1, 6 * SLOW,
                       "the deadline handled by the process left")
    stream = rest.xrange(code)
    ids = {i for i, _ in stream}
    live = [c for c in S.clients if not c.closed]
    for c in live:
        for op, a in c.acks.items():
            check(a["event_id"] in ids, "%s's ack of %s is in the stream", c.name, op)
    posts = {(e["by"], e["op"]) for _, e in stream if e.get("t") == "posted"}
    check_eq(len(posts), len([1 for _, e in stream if e.get("t") == "posted"]),
             "posted entries vs distinct post ops (a retry stored twice)")
    last = stream[-1][0]
    await asyncio.gather(*(c.wait_model(lambda c: c.last is not None and eid(c.last) >= eid(last),
                                        5, "caught up") for c in live))
    for c in live:
        if c.name != "M":
            check_eq(c.model(), screen.model(), "%s's view" % c.name)
    await closing(*S.clients)
    if holder is srv:
        srv.start_cojamd()  # the harness checks its own process's clean stop at the end


def teardown(srv):
    for n in S.nodes[1:]:
        n.stop()
    srv.stop()


sys.exit(suite.run(lambda: Servers().start(), teardown))
