#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-13-multi: three cojamd processes on one external redis-server serve one jam (issue 13,
points 1 and 3). Clients are spread over the three and make every kind of write from every process;
apply is the judge of conflicting writes (the same citizen voting from two processes, the last
budget point spent twice, joins at once on every process); at the end the digest is equal on all
three and equal to a fresh process's replay, and the ranking is the same everywhere. Then kill -9 of
one process while its citizens write: they resume on another with nothing lost or doubled."""

import asyncio
import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SLOW, Client, Servers, Suite, caught_up, check, check_eq, closing,  # noqa: E402
                     digests_converge, eid, fresh_snapshot, jam_digest, start_node)

suite = Suite("80-issue-13-multi", file_timeout=120)
N_NODES = 3


class S:
    nodes = []      # the Servers of each process; nodes[0] owns the redis-server
    jam = None
    code = None
    clients = []    # every client still open
    tokens = {}     # name -> token
    acked = {}      # op -> ack, over every client


async def client(i, name):
    c = Client(S.nodes[i], name)
    await c.connect()
    S.clients.append(c)
    return c


@suite.test(timeout=60)
async def every_write_from_every_process(srv):
    S.nodes = [srv] + [start_node(srv.redis_port) for _ in range(1, N_NODES)]
    S.jam = srv.create_jam(title="Three processes", question="One jam?",
                           agenda=[{"phase": "explore", "duration_s": 600},
                                   {"phase": "ideate", "duration_s": 2},
                                   {"phase": "results", "duration_s": 0}],
                           settings={"votes_per_phase": 2})
    S.code = S.jam["code"]
    # The creation reaches the other processes through their tails (they list the set of jams
    # every 200 ms).
    for n in S.nodes:
        for _ in range(int(40 * SLOW)):
            if n.http("GET", "/api/jams/%s" % S.code)[0] == 200:
                break
            await asyncio.sleep(0.05)
        check_eq(n.http("GET", "/api/jams/%s" % S.code)[0], 200, "the jam on :%d" % n.port)
    M = await client(1, "M")
    await M.join(S.code, "moderator", nickname="Mod", secret=S.jam["moderator_secret"])
    cits = []
    for i in range(N_NODES):
        c = await client(i, "C%d" % i)
        await c.join(S.code, "citizen", nickname="Cit%d" % i)
        cits.append(c)
    # Joins at once on every process: the same next pid handed out three times, judged by apply.
    storm = [await client(i % N_NODES, "J%d" % i) for i in range(6)]
    await asyncio.gather(*(c.join(S.code, "citizen", anonymous=True) for c in storm))
    pids = [c.welcome["you"]["id"] for c in cits + storm] + [M.welcome["you"]["id"]]
    check_eq(len(set(pids)), len(pids), "every participant has its own pid")
    screens = []
    for i in range(N_NODES):
        s = await client(i, "S%d" % i)
        await s.join(S.code, "screen")
        screens.append(s)

    await M.must_ack({"type": "start"})
    # The ack says the start is stored and applied by M's process; the others apply it when
    # their tails read it, and a post checked before that is refused with not_running.
    for n in S.nodes:
        for _ in range(int(40 * SLOW)):
            st, summary, _ = n.http_json("GET", "/api/jams/%s" % S.code)
            if st == 200 and summary["clock"]["state"] == "running":
                break
            await asyncio.sleep(0.05)
        check_eq(n.http_json("GET", "/api/jams/%s" % S.code)[1]["clock"]["state"], "running",
                 "the start applied on :%d" % n.port)
    items = []
    for k, c in enumerate(cits + [M]):
        a = await c.must_ack({"type": "post", "kind": "problem", "text": "Problem %d here" % k})
        items.append(a["item"])
    check_eq(sorted(items), list(range(1, len(items) + 1)), "item ids in stream order")
    for k, c in enumerate(cits):
        await c.must_ack({"type": "vote", "item": items[(k + 1) % len(items)]})
    await cits[0].must_ack({"type": "unvote", "item": items[1]})
    await M.must_ack({"type": "hide", "item": items[3], "reason": "duplicate"})
    await M.must_ack({"type": "unhide", "item": items[3]})
    await M.must_ack({"type": "pause"})
    await M.must_ack({"type": "resume"})
    await M.must_ack({"type": "extend", "seconds": 60})

    # The same citizen in two tabs on two processes votes for the same item at once: one ack.
    tab = await client(2, "C0b")
    await tab.join(token=cits[0].welcome["token"])
    r = await asyncio.gather(cits[0].write({"type": "vote", "item": items[2]}, retry=False),
                             tab.write({"type": "vote", "item": items[2]}, retry=False))
    kinds = sorted(x["type"] if x["type"] == "ack" else x.get("code") for x in r)
    check_eq(kinds, ["ack", "already_voted"], "one vote from two tabs on two processes")
    # The last budget point (2 per phase; C1 has used 1) spent twice, from two processes.
    tab1 = await client(0, "C1b")
    await tab1.join(token=cits[1].welcome["token"])
    r = await asyncio.gather(cits[1].write({"type": "vote", "item": items[0]}, retry=False),
                             tab1.write({"type": "vote", "item": items[3]}, retry=False))
    kinds = sorted(x["type"] if x["type"] == "ack" else x.get("code") for x in r)
    check_eq(kinds, ["ack", "budget_exhausted"], "the last budget point spent twice")

    # The clock: the moderator jumps to ideate (2 s); its deadline is stored once, by the lease
    # holder, whichever process that is.
    await M.must_ack({"type": "set_phase", "phase": "ideate"})
    await screens[0].wait_model(lambda c: c.clock and c.clock.get("index") == 2, 6,
                                "the deadline of ideate ended it")
    ended = [e for _, e in srv.xrange(S.code) if e.get("t") == "phase_ended"]
    check_eq(len(ended), 1, "phase_ended entries (one lease holder)")

    everyone = cits + storm + screens + [M, tab, tab1]
    await caught_up(S.nodes[0], S.code, everyone, timeout=5.0)
    for c in everyone:
        check(not c.gaps, "%s saw gaps: %r", c.name, c.gaps)
    ds = await digests_converge(S.nodes, S.code)
    for d in ds[1:]:
        check_eq(d, ds[0], "digest on every process")
    snaps = [await fresh_snapshot(s) for s in screens]
    for s in snaps[1:]:
        check_eq(s["ranking"], snaps[0]["ranking"], "ranking on every process")
        check_eq(s["items"], snaps[0]["items"], "items on every process")
    for c in everyone:
        check_eq(c.model()["ranking"], screens[0].model()["ranking"], "%s's ranking" % c.name)
    S.tokens = {c.name: c.welcome["token"] for c in cits}

    # A fresh process replays the stream from scratch and reaches the same digest.
    fresh = start_node(srv.redis_port)
    try:
        check_eq(jam_digest(fresh, S.code), ds[0], "a fresh replay's digest")
    finally:
        fresh.stop()


@suite.test(timeout=60)
async def kill_9_of_one_process_while_its_clients_write(srv):
    victim = S.nodes[2]
    C = [c for c in S.clients if c.srv is victim and not c.name.startswith("S")]
    others = [c for c in S.clients if c.srv is not victim]
    writers = [c for c in C if c.name.startswith("J")]
    check(writers, "writers on the victim")
    ops = {}

    async def write_loop(c, n):
        for k in range(n):
            op = "%s-x%d" % (c.name, k)
            ops[op] = c
            try:
                await c.write({"type": "post", "op": op, "kind": "problem",
                               "text": "Problem %s %d" % (c.name, k)}, retry=False, timeout=1.0)
            except Exception:
                return op  # the connection went with the process: this op is in doubt
            await asyncio.sleep(0.02)
        return None

    # The jam is in results now: back to explore for posts.
    M = next(c for c in S.clients if c.name == "M")
    await M.must_ack({"type": "set_phase", "phase": "explore"})
    await M.must_ack({"type": "extend", "seconds": 600})
    tasks = [asyncio.ensure_future(write_loop(c, 1000)) for c in writers]
    await asyncio.sleep(0.5 * SLOW)
    os.kill(victim.cojamd.pid, signal.SIGKILL)
    victim.cojamd.wait(timeout=5)
    in_doubt = [op for op in await asyncio.gather(*tasks) if op]
    # Its clients resume on another process, with their token and the last id they saw, and
    # retry what was in doubt with the same op.
    for k, c in enumerate(C):
        c.srv = S.nodes[k % 2]
        last = c.last
        await c.reconnect()
        w, _ = await c.join(token=c.welcome["token"], last_event_id=last)
        check(w.get("resumed") is True or w.get("resync") is not None, "%s resumed" % c.name)
    for op in in_doubt:
        c = ops[op]
        await c.must_ack({"type": "post", "op": op, "kind": "problem", "text": "again"})
    live = [c for c in S.clients if not c.closed]
    await caught_up(S.nodes[0], S.code, live, timeout=5.0)
    stream = S.nodes[0].xrange(S.code)
    effective = {}
    for i, e in stream:
        if e.get("op"):
            effective.setdefault((e["by"], e["op"]), []).append(i)
    acked = {}
    for c in live:
        for op, a in c.acks.items():
            acked[op] = a
            check(any(i == a["event_id"] for i, _ in stream), "%s's ack %s is in the stream",
                  c.name, op)
    items = {}
    for c in live:
        for op, a in c.acks.items():
            if a.get("item"):
                check(items.setdefault(a["item"], op) == op, "item %s acked for %s and %s",
                      a["item"], items.get(a["item"]), op)
    # Nothing doubled: one item per post op, however often it reached the stream.
    post_ops = {(e["by"], e["op"]) for _, e in stream if e.get("t") == "posted"}
    snap = await fresh_snapshot(live[0])
    check_eq(len(snap["items"]), len(post_ops), "items vs distinct post ops in the stream")
    for op in in_doubt:
        check(op in acked, "the op in doubt %s was acked on retry", op)
    ds = await digests_converge(S.nodes, S.code)
    for d in ds[1:]:
        check_eq(d, ds[0], "digest on the surviving processes")
    for c in live:
        if c.name == "M":
            continue  # the moderator also sees hidden items' text
        check_eq(c.model(), live[-1].model(), "%s's model" % c.name)
    await closing(*S.clients)
    problems = S.nodes[1].stop_cojamd_checked()
    check(not problems, "process 1 stops cleanly: %s", problems)


@suite.test(timeout=60)
async def two_moderators_on_two_processes_decide_the_same_items(srv):
    """Pre-moderation across processes: two moderators, each on its own process, claim, approve
    and reject the same items at the same moment. Apply judges in stream order: one wins, the
    other gets the error apply gave, and every process ends with the same state."""
    b = start_node(srv.redis_port)
    S.nodes.append(b)  # stopped by the teardown
    jam = srv.create_jam(agenda=[{"phase": "explore", "duration_s": 0}],
                         settings={"premoderation": True})
    code = jam["code"]
    for _ in range(int(40 * SLOW)):
        if b.http("GET", "/api/jams/%s" % code)[0] == 200:
            break
        await asyncio.sleep(0.05)
    MA, MB = Client(srv, "MA"), Client(b, "MB")
    C, W = Client(srv, "C"), Client(b, "W")
    for c in (MA, MB, C, W):
        await c.connect()
    try:
        await MA.join(code, "moderator", nickname="Ana", secret=jam["moderator_secret"])
        await MB.join(code, "moderator", nickname="Bo", secret=jam["moderator_secret"])
        await C.join(code, "citizen", nickname="Cy")
        await W.join(code, "screen")
        await MA.must_ack({"type": "start"})
        ids = [(await C.must_ack({"type": "post", "kind": "problem", "text": "Item %d" % k}))["item"]
               for k in range(4)]
        # Both consoles have the queue (MB's through the other process's queued frames).
        for m in (MA, MB):
            await m.wait_model(lambda c: all(c.items.get(i, {}).get("pending") for i in ids), 5,
                               "%s has the queue" % m.name)
        results = {}
        for race, (wa, wb) in {
                "claim": ({"type": "claim", "items": [ids[0]]}, {"type": "claim", "items": [ids[0]]}),
                "approve": ({"type": "approve", "items": [ids[1]]},
                            {"type": "approve", "items": [ids[1]]}),
                "bulk": ({"type": "approve", "items": [ids[2], ids[3]]},
                         {"type": "reject", "items": [ids[3]], "reason": "dup"})}.items():
            ra, rb = await asyncio.gather(MA.write(wa, retry=True), MB.write(wb, retry=True))
            results[race] = (ra, rb)
            acks = [r for r in (ra, rb) if r["type"] == "ack"]
            check_eq(len(acks), 1, "%s: exactly one of two wins (%r)" % (race, (ra, rb)))
        ra, rb = results["claim"]
        loser = rb if ra["type"] == "ack" else ra
        check_eq(loser.get("code"), "claimed", "the later claim")
        ra, rb = results["approve"]
        check_eq((rb if ra["type"] == "ack" else ra).get("code"), "not_pending", "the later approve")
        # The claimant's rival cannot approve the claimed item; the claimant can.
        claimant, rival = (MA, MB) if results["claim"][0]["type"] == "ack" else (MB, MA)
        await rival.must_fail({"type": "approve", "items": [ids[0]]}, "claimed")
        await claimant.must_ack({"type": "approve", "items": [ids[0]]})
        # The bulk: all or nothing whichever won.
        ra, rb = results["bulk"]
        last = srv.xrange(code)[-1][0]
        for c in (MA, MB, C, W):
            await c.wait_model(lambda c: c.last is not None and eid(c.last) >= eid(last), 5,
                               "%s caught up" % c.name)
        pend = {i: W.items[i].get("pending", False) for i in ids}
        hidden = {i: W.items[i].get("hidden", False) for i in ids}
        if ra["type"] == "ack":
            check_eq((pend[ids[2]], hidden[ids[2]], hidden[ids[3]]), (False, False, False),
                     "approve of both won")
        else:
            check_eq((pend[ids[2]], hidden[ids[3]]), (True, True),
                     "the reject won: the bulk approve took no effect at all")
        dig = []
        for n in (srv, b):
            for _ in range(100):
                st, d, _ = n.http_json("GET", "/api/jams/%s/digest" % code)
                if st == 200 and d["event_id"] == last:
                    break
                await asyncio.sleep(0.05)
            dig.append(d)
        check_eq(dig[0], dig[1], "both processes hold the same state")
        check_eq(C.model(), W.model(), "a phone and a screen on two processes agree")
        check_eq(MA.model(), MB.model(), "the two consoles agree")
    finally:
        await closing(MA, MB, C, W)


def teardown(srv):
    for n in S.nodes[1:]:
        n.stop()
    srv.stop()


sys.exit(suite.run(lambda: Servers().start(), teardown))
