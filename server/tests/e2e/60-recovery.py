#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""60-recovery: the durability guarantees with real processes. cojamd killed with SIGKILL and
started again on the same Redis rebuilds the same state (items, votes, ranking, clock, budgets),
tokens still work, and an op acknowledged before the crash gets its original ack (exactly once after
replay). A stalled Redis (SIGSTOP) makes writes fail fast and retryably while pings go on; after
SIGCONT the same op is retried and takes effect exactly once. Limits: --max-items and
--max-participants give jam_full."""

import asyncio
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SLOW, Client, Servers, Suite, check, check_eq, closing, eid)  # noqa: E402

suite = Suite("60-recovery", file_timeout=100)
REDIS_TIMEOUT_MS = 500


async def caught_up(srv, code, clients, timeout=3.0):
    last = srv.xrange(code)[-1][0]
    await asyncio.gather(*(c.wait_model(lambda c: c.last is not None and eid(c.last) >= eid(last),
                                        timeout, "caught up") for c in clients))
    return last


async def fresh_snapshot(c):
    c.drain("snapshot")
    await c.send({"type": "sync"})
    return await c.wait_for("snapshot")


def comparable(s):
    clock = dict(s["clock"])
    return {"items": sorted(s["items"], key=lambda it: it["id"]), "ranking": s["ranking"],
            "clock": clock, "jam": s["jam"], "you": s.get("you"),
            "participants": s["stats"]["participants"], "stat_items": s["stats"]["items"],
            "votes": s["stats"]["votes"]}


@suite.test(timeout=40)
async def crash_and_replay_same_state(srv):
    jam = srv.create_jam(title="Crash", agenda=[{"phase": "explore", "duration_s": 600},
                                                {"phase": "ideate", "duration_s": 600}],
                         settings={"votes_per_phase": 2})
    code = jam["code"]
    M, A, B, S = (Client(srv, n) for n in ("M", "A", "B", "S"))
    for c in (M, A, B, S):
        await c.connect()
    await M.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
    await A.join(code, "citizen", nickname="Ana")
    await B.join(code, "citizen", anonymous=True)
    await S.join(code, "screen")
    await M.must_ack({"type": "start"})
    p1 = (await A.must_ack({"type": "post", "kind": "problem", "text": "Hot squares"}))["item"]
    p2 = (await B.must_ack({"type": "post", "kind": "problem", "text": "No shade"}))["item"]
    p3 = (await M.must_ack({"type": "post", "kind": "problem", "text": "Dark roofs"}))["item"]
    keep = await A.must_ack({"type": "vote", "op": "A-keep", "item": p1})
    await A.must_ack({"type": "vote", "item": p3})
    await A.must_ack({"type": "unvote", "item": p3})
    await B.must_ack({"type": "vote", "item": p1})
    hide = await M.must_ack({"type": "hide", "op": "M-hide", "item": p2, "reason": "dup"})
    await M.must_ack({"type": "extend", "seconds": 100})
    await M.must_ack({"type": "pause"})
    await caught_up(srv, code, (M, A, B, S))
    before = {c.name: comparable(await fresh_snapshot(c)) for c in (M, A, B, S)}
    tokens = {c.name: c.welcome["token"] for c in (M, A, B, S)}
    events_before = srv.xrange(code)
    await closing(M, A, B, S)

    check_eq(srv.rcli("EXISTS", "cojam:token-key").strip(), "1", "token key kept in Redis")
    os.kill(srv.cojamd.pid, signal.SIGKILL)
    srv.cojamd.wait(timeout=5)
    srv.start_cojamd()

    after = {}
    again = {}
    for n in ("M", "A", "B", "S"):
        c = await Client(srv, n + "2").connect()
        again[n] = c
        if n == "S":
            _, s = await c.join(code, "screen")
        else:
            w, s = await c.join(token=tokens[n])
        after[n] = comparable(s)
    try:
        for n in ("M", "A", "B", "S"):
            check_eq(after[n], before[n], "%s: state after SIGKILL + replay" % n)
        check_eq(after["A"]["you"]["budget_left"], 1, "A's budget after replay")
        # Exactly once after replay: acked ops get their original ack and no second effect.
        A2, M2 = again["A"], again["M"]
        await A2.send({"type": "vote", "op": "A-keep", "item": p1})
        r = await A2.wait_for(("ack", "error"), lambda m: m.get("op") == "A-keep")
        check_eq(r, keep, "A's acked vote retried after the restart")
        await M2.send({"type": "hide", "op": "M-hide", "item": p2, "reason": "dup"})
        r = await M2.wait_for(("ack", "error"), lambda m: m.get("op") == "M-hide")
        check_eq(r, hide, "M's acked hide retried after the restart")
        await asyncio.sleep(0.2 * SLOW)
        check_eq(srv.xrange(code), events_before, "the stream after retries of acked ops")
        # And the jam goes on.
        await M2.must_ack({"type": "resume"})
        await A2.must_fail({"type": "vote", "item": p2}, "item_hidden")
        await A2.must_ack({"type": "vote", "item": p3})
        await A2.must_fail({"type": "vote", "item": p3}, "already_voted")
        await asyncio.gather(*(c.wait_model(lambda c: c.items.get(p3, {}).get("votes") == 1, 3,
                                            "vote after restart") for c in again.values()))
    finally:
        await closing(*again.values())


@suite.test(timeout=40)
async def redis_stall_fails_fast_then_exactly_once(srv):
    jam = srv.create_jam(title="Stall")
    code = jam["code"]
    M, A, S = Client(srv, "M"), Client(srv, "A"), Client(srv, "S")
    for c in (M, A, S):
        await c.connect()
    stopped = False
    try:
        await M.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await A.join(code, "citizen", nickname="Ana")
        await S.join(code, "screen")
        await M.must_ack({"type": "start"})
        p1 = (await A.must_ack({"type": "post", "kind": "problem", "text": "Hot squares"}))["item"]
        await caught_up(srv, code, (M, A, S))

        os.kill(srv.redis.pid, signal.SIGSTOP)
        stopped = True
        t0 = time.monotonic()
        await A.send({"type": "vote", "op": "A-stall", "item": p1})
        r = await A.wait_for(("ack", "error"), lambda m: m.get("op") == "A-stall", timeout=6)
        took = time.monotonic() - t0
        check_eq(r["type"], "error", "a write while Redis is stopped")
        check(r.get("code") in ("storage_timeout", "storage_unavailable"), "error %r", r)
        check_eq(r.get("retryable"), True, "retryable")
        check(took < (REDIS_TIMEOUT_MS / 1000.0 + 1.5) * SLOW, "the write failed after %.2f s "
              "(--redis-timeout-ms %d)", took, REDIS_TIMEOUT_MS)
        # Reads and pings continue.
        await A.ping(t=1, timeout=2)
        await S.ping(t=2, timeout=2)
        st, _, _ = srv.http("GET", "/healthz", timeout=2)
        check_eq(st, 200, "healthz while Redis is stalled")
        # The server noticed: every client is told, and healthz says so.
        await A.wait_for("status", lambda m: m.get("storage") == "degraded", timeout=4)
        await S.wait_for("status", lambda m: m.get("storage") == "degraded", timeout=2)
        st, h, _ = srv.http_json("GET", "/healthz")
        check_eq((st, (h or {}).get("redis")), (200, "down"), "healthz while Redis is stalled")
        # Meanwhile another write: also refused (or busy), never acked without Redis.
        r2 = await A.write({"type": "post", "op": "A-stall-post", "kind": "problem",
                            "text": "while stalled"}, retry=False)
        check_eq(r2["type"], "error", "a post while Redis is stopped")
        check_eq(r2.get("retryable"), True, "retryable %r" % r2)

        os.kill(srv.redis.pid, signal.SIGCONT)
        stopped = False
        await A.wait_for("status", lambda m: m.get("storage") == "ok", timeout=6)
        st, h, _ = srv.http_json("GET", "/healthz")
        check_eq((st, (h or {}).get("redis")), (200, "up"), "healthz after Redis is back")
        a = await A.write({"type": "vote", "op": "A-stall", "item": p1}, timeout=10)
        check_eq(a["type"], "ack", "the retried vote after Redis is back: %r" % a)
        b = await A.write({"type": "post", "op": "A-stall-post", "kind": "problem",
                           "text": "while stalled"}, timeout=10)
        check_eq(b["type"], "ack", "the retried post after Redis is back: %r" % b)
        await caught_up(srv, code, (M, A, S), timeout=5)
        ev = srv.xrange(code)
        check_eq(len([e for _, e in ev if e.get("op") == "A-stall"]), 1, "stored votes A-stall")
        check_eq(len([e for _, e in ev if e.get("op") == "A-stall-post"]), 1, "stored posts")
        check_eq([i for i, e in ev if e.get("op") == "A-stall"], [a["event_id"]], "ack event_id")
        for c in (M, A, S):
            s = await fresh_snapshot(c)
            check_eq([it["votes"] for it in s["items"] if it["id"] == p1], [1], "votes on P1")
            check_eq(len([it for it in s["items"] if it.get("text") == "while stalled"]), 1,
                     "copies of the stalled post")
            check_eq(c.items.get(p1, {}).get("votes"), 1, "%s's model" % c.name)
        statuses = [m.get("storage") for m in S.received if m["type"] == "status"]
        check_eq(statuses[-1:], ["ok"], "the screen's last status frame")
    finally:
        if stopped:
            os.kill(srv.redis.pid, signal.SIGCONT)
        await closing(M, A, S)


@suite.test(timeout=30)
async def jam_full_limits(srv):
    other = Servers(extra_args=["--max-items", "2", "--max-participants", "2"])
    try:
        other.start()
        jam = other.create_jam(title="Small")
        M, A, C = Client(other, "M"), Client(other, "A"), Client(other, "C")
        for c in (M, A, C):
            await c.connect()
        try:
            await M.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
            await A.join(jam["code"], "citizen", nickname="Ana")
            await C.expect_error({"type": "join", "code": jam["code"], "as": "citizen",
                                  "nickname": "Cy"}, "jam_full")
            scr = await Client(other, "S").connect()
            await scr.join(jam["code"], "screen")  # screens are no participants
            await scr.close()
            tok = A.welcome["token"]
            await M.must_ack({"type": "start"})
            await A.must_ack({"type": "post", "kind": "problem", "text": "one"})
            await M.must_ack({"type": "post", "kind": "problem", "text": "two"})
            await A.must_fail({"type": "post", "kind": "problem", "text": "three"}, "jam_full")
            await A.close()
            A2 = await Client(other, "A2").connect()  # a rejoin creates nobody: not refused
            await A2.join(token=tok)
            await A2.close()
        finally:
            await closing(M, A, C)
        problems = other.stop_cojamd_checked()
        check(not problems, "second server: %s", "; ".join(problems))
    finally:
        other.stop()


@suite.test(timeout=30)
async def resume_too_far_behind_gets_flagged_snapshot(srv):
    other = Servers(extra_args=["--ring-frames", "8"])
    try:
        other.start()
        jam = other.create_jam(title="Ring")
        M, A = Client(other, "M"), Client(other, "A")
        await M.connect()
        await A.connect()
        try:
            await M.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
            w, _ = await A.join(jam["code"], "citizen", nickname="Ana")
            await M.must_ack({"type": "start"})
            await A.wait_model(lambda c: (c.clock or {}).get("state") == "running", 3, "running")
            await A.close()
            ids = []
            for i in range(20):  # one post per tick or more: more frames than the ring keeps
                ids.append((await M.must_ack({"type": "post", "kind": "problem",
                                              "text": "ring %d" % i}))["item"])
                await asyncio.sleep(0.06)
            await A.reconnect()
            w2, snap = await A.join(token=w["token"], last_event_id=A.last)
            check(not w2.get("resumed"), "resumed although 20 frames were missed (ring 8)")
            check(snap is not None and snap.get("resync") is True,
                  "the snapshot after a too-old last_event_id: resync %r",
                  None if snap is None else snap.get("resync"))
            check(all(i in A.items for i in ids), "items missing after the snapshot")
        finally:
            await closing(M, A)
        problems = other.stop_cojamd_checked()
        check(not problems, "second server: %s", "; ".join(problems))
    finally:
        other.stop()


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers(extra_args=["--redis-timeout-ms",
                                                    str(REDIS_TIMEOUT_MS)]).start(),
                       lambda s: s.stop()))
