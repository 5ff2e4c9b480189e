#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""60-recovery: the durability guarantees with real processes. cojamd killed with SIGKILL and
started again on the same Redis rebuilds the same state (items, votes, ranking, clock, budgets),
tokens still work, and an op acknowledged before the crash gets its original ack (exactly once after
replay). A stalled Redis (SIGSTOP) makes writes fail fast and retryably while pings go on; after
SIGCONT the same op is retried and takes effect exactly once. Limits: --max-items and
--max-participants give jam_full."""

import asyncio
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SLOW, Client, Servers, Suite, caught_up, check, check_eq,  # noqa: E402
                     closing, eid, fresh_snapshot)

suite = Suite("60-recovery", file_timeout=100)
REDIS_TIMEOUT_MS = 500


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


async def citizens_post(srv, code, citizens, posts, long_text=False, vote_for=(), tag="C"):
    """'citizens' new citizens post 'posts' problems each (concurrently, so in few ticks), then
    vote for two of their own and for the items in 'vote_for'."""
    cs = [Client(srv, "%s%d" % (tag, i)) for i in range(citizens)]
    try:
        for c in cs:
            await c.connect()
        await asyncio.gather(*(c.join(code, "citizen", anonymous=True) for c in cs))

        async def work(c):
            ids = []
            for k in range(posts):
                text = "%s says %d" % (c.name, k)
                if long_text:  # 2,000 code points of 4 UTF-8 bytes: 8 KB a post
                    text = (text + " " + "\U0001F333" * 2000)[:2000]
                ids.append((await c.must_ack({"type": "post", "kind": "problem",
                                              "text": text}))["item"])
                await asyncio.sleep(0.06)  # under the rate limit of 20 messages a second
            for i in ids[:2] + list(vote_for):
                await c.must_ack({"type": "vote", "item": i})
        await asyncio.gather(*(work(c) for c in cs))
    finally:
        await closing(*cs)


async def missed_while_away(srv, jam, M, known, citizens=8, posts=40):
    """While a client is away: citizens_post voting for 'known' (items it had seen), then M hides
    one of these and pauses. Returns the stream's last id once M has seen it all."""
    await citizens_post(srv, jam["code"], citizens, posts, vote_for=known)
    await M.must_ack({"type": "hide", "item": known[0], "reason": "duplicate"})
    await M.must_ack({"type": "pause"})
    return await caught_up(srv, jam["code"], [M])


async def away_while_busy(srv, M, A, citizens=8, posts=40):
    """M (moderator) and A (citizen) join a new jam; M starts it and posts three problems, which A
    sees; A leaves; then the jam is busy without A (missed_while_away). Returns A's token, the last
    id A saw, the stream's last id and the jam's code."""
    jam = srv.create_jam(title="Away", settings={"votes_per_phase": 0, "max_text": 2000})
    await M.connect()
    await A.connect()
    await M.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
    w, _ = await A.join(jam["code"], "citizen", nickname="Ana")
    await M.must_ack({"type": "start"})
    known = [(await M.must_ack({"type": "post", "kind": "problem", "text": "known %d" % i}))["item"]
             for i in range(3)]
    await A.wait_model(lambda c: all(i in c.items for i in known), 3, "known items")
    away_from = A.last
    await A.close()
    last = await missed_while_away(srv, jam, M, known, citizens, posts)
    return w["token"], away_from, last, jam["code"]


def updates_after(c, n_before):
    return [m for m in c.received[n_before:] if m["type"] in ("update", "snapshot")]


async def on_own_server(extra_args, body):
    """Run body(server, M, A) against a cojamd of its own (with extra_args) and check that it
    stops cleanly."""
    other = Servers(extra_args=extra_args)
    try:
        other.start()
        M, A = Client(other, "M"), Client(other, "A")
        try:
            await body(other, M, A)
        finally:
            await closing(M, A)
        problems = other.stop_cojamd_checked()
        check(not problems, "second server: %s", "; ".join(problems))
    finally:
        other.stop()


@suite.test(timeout=60)
async def resume_reads_missed_events_from_the_stream(srv):
    """A client away for far more frames than the ring keeps (8 here) and for more events than one
    page (256) resumes: the missed events come back from the stream as a chain of updates from its
    own id, then the ring's frames, and it ends in the state a fresh snapshot shows."""
    async def body(other, M, A):
        token, away_from, last, code = await away_while_busy(other, M, A)
        missed = [e for e, _ in other.xrange(code) if eid(e) > eid(away_from)]
        check(len(missed) > 300, "only %d events missed: not more than a page", len(missed))
        await A.reconnect()
        n0 = len(A.received)
        w2, snap = await A.join(token=token, last_event_id=away_from)
        check(w2.get("resumed") is True and snap is None,
              "resumed %r after %d missed events (ring 8)", w2.get("resumed"), len(missed))
        await A.wait_model(lambda c: c.last is not None and eid(c.last) >= eid(last), 5,
                           "caught up from the stream")
        got = updates_after(A, n0)
        check(all(m["type"] == "update" for m in got), "a snapshot came during the resume")
        check(len(got) >= 2, "%d updates for %d events: one page each", len(got), len(missed))
        check_eq(got[0]["prev"], away_from, "the first update's prev")
        for a, b in zip(got, got[1:]):
            check_eq(b["prev"], a["to"], "updates chain without gap or overlap")
        check(not A.gaps and not A.anomalies, "gaps %r anomalies %r", A.gaps, A.anomalies)
        resumed_model, resumed_stats = A.model(), dict(A.stats)
        resumed_clock = dict(A.clock)
        snap = await fresh_snapshot(A)
        check_eq(resumed_model, A.model(), "state after the resume = a fresh snapshot")
        check_eq(resumed_stats, snap["stats"], "stats after the resume")
        check_eq(resumed_clock["state"], "paused", "clock after the resume")
        # The ring takes over: the next change comes as a plain update.
        n1 = len(A.received)
        await M.must_ack({"type": "resume"})
        await A.wait_model(lambda c: c.clock["state"] == "running", 3, "resumed by M")
        check(not A.gaps, "a gap after the resume: %r", A.gaps)
        check(all(m["type"] == "update" for m in updates_after(A, n1)), "snapshot after resume")

    await on_own_server(["--ring-frames", "8"], body)


@suite.test(timeout=60)
async def resume_falls_back_to_a_flagged_snapshot(srv):
    """Beyond --resume-max-events, for an id the stream does not have, and for an id from the
    future, the client gets a snapshot marked resync instead, and still ends in the right state."""
    async def body(other, M, A):
        token, away_from, _, code = await away_while_busy(other, M, A, citizens=4)
        created = other.xrange(code)[0][0]
        ms, seq = created.split("-")
        unknown = "%s-%d" % (ms, int(seq) + 7)  # inside the stream's range, not an entry
        for why, last_id in (("too many missed events", away_from),
                             ("an id the stream does not have", unknown),
                             ("an id from the future", "99999999999999-0")):
            await A.reconnect()
            n0 = len(A.received)
            w2, snap = await A.join(token=token, last_event_id=last_id)
            if snap is None:  # resumed was promised: the snapshot follows the failed read
                snap = await A.wait_for("snapshot", timeout=5)
            check(snap.get("resync") is True, "%s: snapshot resync %r", why, snap.get("resync"))
            got = updates_after(A, n0)
            check(got and got[0]["type"] == "snapshot", "%s: %d updates before the snapshot",
                  why, len([m for m in got if m["type"] == "update"]))
            model = A.model()
            await fresh_snapshot(A)
            check_eq(model, A.model(), "%s: state after the snapshot" % why)

    await on_own_server(["--ring-frames", "8", "--resume-max-events", "100"], body)


@suite.test(timeout=60)
async def resume_pages_fit_the_session_queue(srv):
    """Half a megabyte of missed posts (8 KB each) in a jam of 1.5 MB come back in updates of at
    most 256 KB of stored events, under the 1 MiB bound of a session's queue, not in one frame
    that would overflow it; and a catch-up that would outweigh a snapshot becomes one."""
    async def body(other, M, A):
        jam = other.create_jam(title="Big", settings={"votes_per_phase": 0, "max_text": 2000})
        code = jam["code"]
        await M.connect()
        await A.connect()
        await M.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        w, _ = await A.join(code, "citizen", nickname="Ana")
        await M.must_ack({"type": "start"})
        await citizens_post(other, code, 8, 20, long_text=True, tag="B")
        await A.wait_model(lambda c: len(c.items) == 160, 5, "160 big items")
        away_from = A.last
        await A.close()
        await citizens_post(other, code, 8, 8, long_text=True, tag="C")
        last = await caught_up(other, code, [M])
        await A.reconnect()
        n0 = len(A.received)
        w2, snap = await A.join(token=w["token"], last_event_id=away_from)
        check(w2.get("resumed") is True and snap is None, "resumed %r", w2.get("resumed"))
        await A.wait_model(lambda c: c.last is not None and eid(c.last) >= eid(last), 10,
                           "caught up from the stream")
        got = updates_after(A, n0)
        sizes = [len(json.dumps(m, ensure_ascii=False).encode()) for m in got]
        check(all(m["type"] == "update" for m in got), "a snapshot came during the resume")
        check(len(got) >= 2 and max(sizes) < 400 * 1024, "%d updates, largest %d bytes",
              len(got), max(sizes))
        check(not A.gaps and not A.anomalies, "gaps %r anomalies %r", A.gaps, A.anomalies)
        model = A.model()
        await fresh_snapshot(A)
        check_eq(model, A.model(), "state after the resume = a fresh snapshot")
        # From the jam's first event the catch-up would outweigh a snapshot: a snapshot it is.
        created = other.xrange(code)[0][0]
        await A.reconnect()
        w3, snap = await A.join(token=w["token"], last_event_id=created)
        if snap is None:
            snap = await A.wait_for("snapshot", timeout=5)
        check(snap.get("resync") is True, "a resume from the jam's first event: resync %r",
              snap.get("resync"))

    await on_own_server(["--ring-frames", "8"], body)


@suite.test(timeout=40)
async def resume_after_a_restart_reads_the_stream(srv):
    """After SIGKILL and a restart the ring is empty: a client that missed events before the crash
    still resumes from its id (read back from the stream) instead of taking a snapshot."""
    jam = srv.create_jam(title="Restart resume")
    M, A = Client(srv, "M"), Client(srv, "A")
    await M.connect()
    await A.connect()
    try:
        await M.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        w, _ = await A.join(jam["code"], "citizen", nickname="Ana")
        await M.must_ack({"type": "start"})
        old = (await M.must_ack({"type": "post", "kind": "problem", "text": "old"}))["item"]
        await A.wait_model(lambda c: old in c.items, 3, "the old item")
        away_from = A.last
        await A.close()
        ids = [(await M.must_ack({"type": "post", "kind": "problem", "text": "p%d" % i}))["item"]
               for i in range(5)]
        await M.must_ack({"type": "vote", "item": old})
        last = await caught_up(srv, jam["code"], [M])
        await closing(M)
        os.kill(srv.cojamd.pid, signal.SIGKILL)
        srv.cojamd.wait(timeout=5)
        srv.start_cojamd()
        await A.reconnect()
        n0 = len(A.received)
        w2, snap = await A.join(token=w["token"], last_event_id=away_from)
        check(w2.get("resumed") is True and snap is None, "resumed %r after a restart",
              w2.get("resumed"))
        await A.wait_model(lambda c: c.last is not None and eid(c.last) >= eid(last), 5,
                           "caught up after the restart")
        got = updates_after(A, n0)
        check(got and got[0].get("prev") == away_from, "first frame %r", got[:1])
        check(all(i in A.items for i in ids), "items missing after the resume")
        check_eq(A.items[old].get("votes"), 1, "votes after the resume")
        check_eq(A.ranking.get("problem", [None])[0], old, "ranking after the resume")
        model = A.model()
        await fresh_snapshot(A)
        check_eq(model, A.model(), "state after the resume = a fresh snapshot")
    finally:
        await closing(M, A)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers(extra_args=["--redis-timeout-ms",
                                                    str(REDIS_TIMEOUT_MS)]).start(),
                       lambda s: s.stop()))
