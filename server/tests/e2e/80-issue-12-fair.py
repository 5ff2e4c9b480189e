#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-12-fair: the fair order (issue 12, point 1), against the real cojamd and Redis.
`discover` offers each participant the least-shown items, spread over participants; the offers
reach the stream as batched `showings` events (at most one per jam every 2 s) and survive a
SIGKILL and the replay; a citizen cannot `set_order`, a moderator can (in the log, on the screen);
the results and the CSV keep both ranks and the showings."""

import asyncio
import csv
import io
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ADMIN_TOKEN, Client, Suite, check, check_eq, closing,  # noqa: E402
                     storage_mode)

MODE, make = storage_mode("FAIR_REDIS")
suite = Suite("80-issue-12-fair" + ("-embedded" if MODE == "embedded" else ""), file_timeout=120)


def showings(srv, code):
    """The jam's showings events, and the sum of their counts per item id."""
    evs = [e for _, e in srv.xrange(code) if e["t"] == "showings"]
    per = {}
    for e in evs:
        for i, n in zip(e["items"], e["counts"]):
            per[i] = per.get(i, 0) + n
    return evs, per


async def discover(c):
    await c.send({"type": "discover"})
    return (await c.wait_for("discover", None, timeout=3))["items"]


@suite.test(timeout=100)
async def discover_spreads_items_and_showings_survive_a_kill(srv):
    jam = srv.create_jam(title="Fair", agenda=[{"phase": "explore", "duration_s": 600}])
    code, secret = jam["code"], jam["moderator_secret"]
    m, s = Client(srv, "mod"), Client(srv, "screen")
    cits = [Client(srv, "c%d" % i) for i in range(4)]
    try:
        for x in [m, s] + cits:
            await x.connect()
        await m.join(code, "moderator", nickname="Mod", secret=secret)
        await m.must_ack({"type": "start"})
        for i in range(20):
            await m.must_ack({"type": "post", "kind": "problem", "text": "Problem number %d" % i})
        await s.join(code, "screen")
        for c in cits:
            await c.join(code, "citizen", nickname=c.name)
        await cits[0].wait_model(lambda cl: len(cl.items) == 20, what="the items")

        # Each citizen gets five items; together they see most of the twenty (one process: its
        # offers not yet stored count too, and ties go by a hash of the participant).
        got = [await discover(c) for c in cits]
        for g in got:
            check_eq(len(g), 5, "a discover view has five items")
            check_eq(len(set(g)), 5, "five distinct items")
        union = set(i for g in got for i in g)
        check(len(union) >= 15, "four views cover %d items, want >= 15: %r", len(union), got)
        # The author (the moderator posted them all) is offered none of its own.
        check_eq(await discover(m), [], "the author's discover view")
        # At most one per second per session; a screen may not ask.
        await cits[0].send({"type": "discover"})
        err = await cits[0].wait_for("error", None, timeout=3)
        check_eq(err["code"], "rate_limited", "a second discover within 1 s")
        await s.expect_error({"type": "discover"}, "forbidden")

        # The offers reach the stream in one batched showings event within ~2 s, and a
        # participant's update carries the new `shown` counts.
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and sum(showings(srv, code)[1].values()) < 20:
            time.sleep(0.2)
        evs, per = showings(srv, code)
        check_eq(sum(per.values()), 20, "showings stored: 4 views of 5")
        check_eq(per, {i: sum(g.count(i) for g in got) for i in union}, "showings per item")
        check(len(evs) <= 2, "batched: %d showings events for 4 views", len(evs))
        check(all("by" not in e and "op" not in e for e in evs), "server events: %r", evs)
        upd = await cits[1].wait_for("update", lambda f: f.get("shown"), timeout=5)
        check(set(int(k) for k in upd["shown"]) <= union, "update.shown names offered items")

        # A citizen cannot set the order; a moderator can, and the screen follows.
        await cits[0].must_fail({"type": "set_order", "order": "fair"}, "forbidden")
        await m.must_ack({"type": "set_order", "order": "fair"})
        await s.wait_for("update", lambda f: f.get("order") == "fair", timeout=5)
        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % code)
        check([e for e in log if e["action"] == "order_set" and e["order"] == "fair"],
              "order_set in the public log: %r", log[-3:])

        # Enough events after them for a snapshot (--snapshot-every 100): the restart then
        # starts from a CJS13 snapshot that holds the showings and the order.
        for i in range(100):  # paced: a session may send 20 messages a second
            await m.must_ack({"type": "post", "kind": "problem", "text": "Later problem %d" % i})
            await asyncio.sleep(0.055)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                srv.rcli("EXISTS", "cojam:jam:%s:snapshot" % code).strip() != "1":
            time.sleep(0.2)
        snap_bytes = srv.rcli("GET", "cojam:jam:%s:snapshot" % code)
        check(snap_bytes.startswith("CJS13"), "a CJS13 snapshot was stored: %r", snap_bytes[:8])

        # SIGKILL, restart: the showings and the order come back from the snapshot.
        await closing(m, s, *cits)
        os.kill(srv.cojamd.pid, signal.SIGKILL)
        srv.cojamd.wait(timeout=5)
        srv.start_cojamd()
        again = Client(srv, "again")
        await again.connect()
        _, snap = await again.join(code, "screen")
        check_eq({it["id"]: it["shown"] for it in snap["items"] if it["shown"]}, per,
                 "shown per item after SIGKILL + replay")
        check_eq(snap.get("order"), "fair", "the order after the restart")
        check_eq(showings(srv, code)[1], per, "no showing stored twice")
        await closing(again)
    finally:
        await closing(m, s, *cits)


@suite.test(timeout=60)
async def results_and_csv_keep_both_ranks(srv):
    jam = srv.create_jam(title="Ranks", agenda=[{"phase": "explore", "duration_s": 600}])
    code, secret = jam["code"], jam["moderator_secret"]
    m = Client(srv, "mod")
    cits = [Client(srv, "v%d" % i) for i in range(3)]
    try:
        await m.connect()
        await m.join(code, "moderator", nickname="Mod", secret=secret)
        await m.must_ack({"type": "start"})
        for t in ("Old and seen", "New and liked", "Nobody cares"):
            await m.must_ack({"type": "post", "kind": "problem", "text": t})
        for c in cits:
            await c.connect()
            await c.join(code, "citizen", nickname=c.name)
        # Item 1 gets two votes, item 2 one; the order by votes is 1, 2, 3.
        await cits[0].must_ack({"type": "vote", "item": 1})
        await cits[1].must_ack({"type": "vote", "item": 1})
        await cits[2].must_ack({"type": "vote", "item": 2})
        # Each citizen's discover view shows items 1 and 3 to those who voted for 2, and so on:
        # the showings pile up on item 1 (shown often, voted twice) and item 3.
        for c in cits:
            await discover(c)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and sum(showings(srv, code)[1].values()) < 6:
            time.sleep(0.2)
        _, per = showings(srv, code)
        st, res, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
        check_eq(st, 200, "results")
        by_id = {it["id"]: it for it in res["items"]}
        for i in (1, 2, 3):
            it = by_id[i]
            for k in ("rank", "fair_rank", "fair_score", "shown"):
                check(k in it, "results item %d has %s: %r", i, k, it)
            check_eq(it["shown"], per.get(i, 0), "item %d shown" % i)
        check_eq([by_id[i]["rank"] for i in (1, 2, 3)], [1, 2, 3], "rank by votes")
        check_eq(sorted(by_id[i]["fair_rank"] for i in (1, 2, 3)), [1, 2, 3], "fair ranks")
        want = sorted((1, 2, 3), key=lambda i: (-by_id[i]["fair_score"], i))
        check_eq(res["fair_ranking"]["problem"], want, "fair_ranking by fair_score")
        check_eq(res["ranking"]["problem"], [1, 2, 3], "ranking by votes")
        check_eq(res["order"], "top", "the jam's order")
        st, _, data = srv.http("GET", "/api/jams/%s/export.csv" % code,
                               headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        check_eq(st, 200, "CSV")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        head = rows[0]
        for k in ("rank", "fair_rank", "shown", "fair_score"):
            check(k in head, "CSV has %s: %r", k, head)
        csv_by = {row[0]: dict(zip(head, row)) for row in rows[1:]}
        check_eq(csv_by["1"]["shown"], str(per.get(1, 0)), "CSV shown of item 1")
        check_eq(csv_by["1"]["fair_rank"], str(by_id[1]["fair_rank"]), "CSV fair_rank of item 1")
        await closing(m, *cits)
    finally:
        await closing(m, *cits)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: make(extra_args=["--snapshot-every", "100"]).start(),
                       lambda s: s.stop()))
