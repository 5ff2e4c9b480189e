#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-10-quotas: one participant with the join code cannot exhaust a jam. Its posts stop at
its item quota (quota_exceeded) while others still post; a moderator removes it in one action: its
token no longer rejoins, its open sessions are closed with 4004, everything it posted is hidden, and
all of that survives kill -9 and a replay of the stream. Resyncs are bounded per session."""

import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, JoinError, Servers, Suite, check, check_eq, closing  # noqa: E402

QUOTA = 5

suite = Suite("80-issue-10-quotas", file_timeout=90)


async def running_jam(srv):
    jam = srv.create_jam(agenda=[{"phase": "explore", "duration_s": 0}])
    mod = await Client(srv, "M").connect()
    await mod.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
    await mod.must_ack({"type": "start"})
    return jam, mod


async def citizen(srv, code, name):
    c = await Client(srv, name).connect()
    await c.join(code, "citizen", nickname=name)
    return c


@suite.test(timeout=40)
async def quota_then_removal_survives_a_restart(srv):
    jam, M = await running_jam(srv)
    code = jam["code"]
    A = await citizen(srv, code, "A")
    A2 = await Client(srv, "A2").connect()
    B = await citizen(srv, code, "B")
    try:
        await A2.join(token=A.welcome["token"])  # the same participant on a second connection
        mine = []
        for i in range(QUOTA):
            c = A if i % 2 else A2  # the quota is the participant's, whatever the session
            mine.append((await c.must_ack({"type": "post", "kind": "problem",
                                           "text": "spam %d" % i}))["item"])
        await A.must_fail({"type": "post", "kind": "problem", "text": "one more"},
                          "quota_exceeded")
        await A2.must_fail({"type": "post", "kind": "problem", "text": "and more"},
                           "quota_exceeded")
        theirs = (await B.must_ack({"type": "post", "kind": "problem", "text": "real"}))["item"]

        await B.must_fail({"type": "remove", "pid": A.welcome["you"]["id"]}, "forbidden")
        await M.must_ack({"type": "remove", "pid": A.welcome["you"]["id"], "hide_posts": True,
                          "reason": "flooding"})
        check_eq(await A.wait_closed(5), 4004, "A's close code")
        check_eq(await A2.wait_closed(5), 4004, "A2's close code")
        await B.wait_model(lambda c: all(c.items.get(i, {}).get("hidden") for i in mine), 5,
                           "A's posts hidden for B")
        check(not B.items[theirs].get("hidden"), "B's own post stays visible")
        await M.must_fail({"type": "remove", "pid": A.welcome["you"]["id"]}, "already_removed")
        await M.must_fail({"type": "remove", "pid": 9999}, "no_such_participant")
        token = A.welcome["token"]
        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % code)
        check_eq(st, 200, "log status")
        removed = [e for e in log if e.get("action") == "removed"]
        check(len(removed) == 1 and removed[0].get("pid") == A.welcome["you"]["id"] and
              removed[0].get("reason") == "flooding" and removed[0].get("hide_posts") is True,
              "log: %r", removed)
    finally:
        await closing(M, A, A2, B)

    os.kill(srv.cojamd.pid, signal.SIGKILL)
    srv.cojamd.wait(timeout=5)
    srv.start_cojamd()

    again = await Client(srv, "A3").connect()
    S = await Client(srv, "S").connect()
    try:
        try:
            await again.join(token=token)
            check(False, "the removed participant's token rejoined after the restart")
        except JoinError as e:
            check_eq(e.frame.get("code"), "removed", "rejoin error after the restart")
        _, snap = await S.join(code, "screen")
        hidden = {it["id"] for it in snap["items"] if it.get("hidden")}
        check_eq(sorted(hidden & set(mine)), sorted(mine), "A's posts hidden after the replay")
        check(theirs not in hidden, "B's post visible after the replay")
    finally:
        await closing(again, S)


@suite.test(timeout=20)
async def resyncs_are_bounded_per_session(srv):
    jam, M = await running_jam(srv)
    S = await Client(srv, "S").connect()
    try:
        await S.join(jam["code"], "screen")
        before = S.snapshots
        for _ in range(10):
            await S.send({"type": "sync"})
        pong = await S.ping(t=1)
        check(pong is not None, "ping answered")
        await S.ping(t=2)
        got = S.snapshots - before
        check(got <= 1, "%d snapshots for 10 syncs within a second", got)
        errs = [m for m in S.received if m.get("type") == "error" and
                m.get("code") == "rate_limited"]
        check(len(errs) >= 9, "%d rate_limited replies for 10 syncs", len(errs))
    finally:
        await closing(M, S)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers(extra_args=["--max-items-per-participant",
                                                    str(QUOTA)]).start(),
                       lambda s: s.stop()))
