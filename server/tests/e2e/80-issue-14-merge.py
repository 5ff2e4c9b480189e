#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-14-merge: duplicates merged fairly and reversibly (issue 14, point 2), against the
real cojamd and Redis. Three problems; Ana votes for 1 and 2, Ben for 2, Cy for 3. The moderator
merges 2 and 3 into 1: item 1 counts 3 distinct voters (Ana once), Ana gets a point back, the
duplicates carry merged_into on every client (the screen too), in the results, the JSON and CSV
exports and the public log with its reason; a vote on a duplicate gets item_merged. After a
restart (replay or snapshot) the merge is still there, and an unmerge gives back the counts and
budgets from before the merge.
Two storage modes (MERGE_REDIS): "external" (this file: cojamd --redis against a redis-server the
test owns) and "embedded" (80-issue-14-merge-embedded.py: cojamd with its own redis-server)."""

import csv
import io
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Suite, check, check_eq, closing, cojamd_path,  # noqa: E402
                     storage_mode)

MODE, make = storage_mode("MERGE_REDIS")
suite = Suite("80-issue-14-merge" + ("-embedded" if MODE == "embedded" else ""), file_timeout=120)


def counts(items):
    return {i: items[i].get("votes") for i in sorted(items)}


@suite.test(timeout=90)
async def merge_counts_each_voter_once_and_unmerge_restores(srv):
    jam = srv.create_jam(title="Merges", settings={"votes_per_phase": 3})
    code, secret = jam["code"], jam["moderator_secret"]
    m, a, b, c, s = (Client(srv, n) for n in ("mod", "ana", "ben", "cy", "screen"))
    try:
        for x in (m, a, b, c, s):
            await x.connect()
        await m.join(code, "moderator", nickname="Mod", secret=secret)
        await a.join(code, "citizen", nickname="Ana")
        await b.join(code, "citizen", nickname="Ben")
        await c.join(code, "citizen", nickname="Cy")
        await s.join(code, "screen")
        await m.must_ack({"type": "start"})
        for t in ("Bus stops have no shade", "No shade at the bus stops", "Shadeless bus stops"):
            await m.must_ack({"type": "post", "kind": "problem", "text": t})
        for who, item in ((a, 1), (a, 2), (b, 2), (c, 3)):
            await who.must_ack({"type": "vote", "item": item})
        await s.wait_model(lambda cl: counts(cl.items) == {1: 1, 2: 2, 3: 1}, what="votes on screen")
        before = counts(s.items)

        # Citizens may not merge; the moderator may, not across kinds.
        await a.must_fail({"type": "merge", "items": [2], "into": 1}, "forbidden")
        await m.must_fail({"type": "merge", "items": [2], "into": 2}, "bad_value")
        await m.must_ack({"type": "merge", "items": [2, 3], "into": 1, "reason": "same problem"})
        want = lambda cl: (cl.items.get(2, {}).get("merged_into") == 1 and  # noqa: E731
                           cl.items.get(3, {}).get("merged_into") == 1 and
                           cl.items.get(1, {}).get("votes") == 3 and
                           cl.ranking.get("problem") == [1])
        for cl in (s, a, m):
            await cl.wait_model(want, what="%s sees the merge" % cl.name)
        check_eq(s.stats["votes"], 3, "stats count each voter once")
        check_eq(s.stats["items"], 1, "duplicates leave the visible items")
        # Ana's vote for 2 collapsed at the merge (a point back); retracting through the target
        # takes both her votes of the group, and the counted one's point comes back too.
        r = await a.must_ack({"type": "unvote", "item": 1})
        check_eq(r["budget_left"], 3, "Ana's retraction through the target frees both points")
        await a.must_ack({"type": "vote", "item": 1})
        await c.must_fail({"type": "vote", "item": 2}, "item_merged")
        await b.must_fail({"type": "unvote", "item": 2}, "item_merged")
        await b.must_fail({"type": "vote", "item": 1}, "already_voted")  # its vote for 2 counts
    finally:
        await closing(m, a, b, c, s)

    st, res, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
    items = {it["id"]: it for it in res["items"]}
    check_eq((items[2].get("merged_into"), items[3].get("merged_into"), items[2]["rank"]),
             (1, 1, None), "results: duplicates merged into 1, unranked")
    check_eq((items[1]["votes"], items[1]["rank"]), (3, 1), "results: the target's distinct voters")
    check_eq(sum(items[1]["votes_by_phase"].values()), 3, "results: its votes by phase, the same")
    merged = [e for e in res["moderation"] if e["action"] == "merged"]
    check_eq([(e["into"], e["items"], e["reason"]) for e in merged], [(1, [2, 3], "same problem")],
             "the public log has the merge with its reason")
    auth = {"Authorization": "Bearer " + secret}
    st, ex, _ = srv.http_json("GET", "/api/jams/%s/export" % code, headers=auth)
    check_eq(st, 200, "export status")
    check_eq([it.get("merged_into") for it in ex["items"]], [None, 1, 1], "export merged_into")
    check_eq([sum(it["votes_by_phase"].values()) for it in ex["items"]], [3, 1, 1],
             "export: votes by phase sum to each item's votes")
    # The verifier re-applies the stream, merges included, and finds the export's tallies.
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ex, f)
    try:
        p = subprocess.run([cojamd_path(), "verify", f.name], capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        check_eq(p.returncode, 0, "cojamd verify of an export with a merge: %s" % p.stdout[-300:])
    finally:
        os.unlink(f.name)
    st, hdr, data = srv.http("GET", "/api/jams/%s/export.csv" % code, headers=auth)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    check_eq([(row["id"], row["merged_into"], row["votes"]) for row in rows],
             [("1", "", "3"), ("2", "1", "1"), ("3", "1", "1")], "CSV merged_into and votes")
    check_eq([sum(int(v) for k, v in row.items() if k.startswith("votes_")) for row in rows],
             [3, 1, 1], "CSV: the votes_<n>_<phase> cells sum to the votes")

    # The merge survives a restart (replayed from the stream, or restored from a snapshot).
    srv.stop_cojamd()
    srv.start_cojamd()
    st, again, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
    check_eq([(it["id"], it["votes"], it.get("merged_into")) for it in again["items"]],
             [(1, 3, None), (2, 1, 1), (3, 1, 1)], "after a restart")

    m2, s2, b2 = Client(srv, "mod2"), Client(srv, "screen2"), Client(srv, "ben2")
    try:
        for x in (m2, s2, b2):
            await x.connect()
        await m2.join(code, "moderator", nickname="Mod", secret=secret)
        await s2.join(code, "screen")
        await b2.join(code, "citizen", nickname="Ben2")
        await m2.must_fail({"type": "unmerge", "item": 99}, "no_such_item")
        await m2.must_ack({"type": "unmerge", "item": 1})
        # Each vote counts for the item it was cast on again: 1 has Ana's vote cast after the
        # merge (it stays on the target), 2 Ben's, 3 Cy's; Ana's vote for 2 went with her
        # retraction through the target.
        await s2.wait_model(lambda cl: all("merged_into" not in cl.items.get(i, {}) for i in (2, 3))
                            and counts(cl.items) == {1: 1, 2: 1, 3: 1}, what="unmerged")
        check_eq(s2.ranking.get("problem"), [1, 2, 3], "the ranking of three items again")
        await m2.must_fail({"type": "unmerge", "item": 1}, "not_merged")
        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % code)
        check_eq([e.get("item") for e in log if e["action"] == "unmerged"], [1], "log: unmerged")
    finally:
        await closing(m2, s2, b2)
    check_eq(before, {1: 1, 2: 2, 3: 1}, "votes before the merge")


@suite.test(timeout=60)
async def unmerge_right_after_merge_is_exact(srv):
    jam = srv.create_jam(title="Exact", settings={"votes_per_phase": 2})
    code, secret = jam["code"], jam["moderator_secret"]
    m, a = Client(srv, "mod"), Client(srv, "ana")
    try:
        await m.connect()
        await a.connect()
        await m.join(code, "moderator", nickname="Mod", secret=secret)
        await a.join(code, "citizen", nickname="Ana")
        await m.must_ack({"type": "start"})
        for t in ("Hot playgrounds", "Playgrounds are too hot"):
            await m.must_ack({"type": "post", "kind": "problem", "text": t})
        await a.must_ack({"type": "vote", "item": 1})
        r = await a.must_ack({"type": "vote", "item": 2})
        check_eq(r["budget_left"], 0, "both points spent")
        st, d0, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
        await m.must_ack({"type": "merge", "items": [2], "into": 1})
        st, dm, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
        check_eq((dm["items"][0]["votes"], dm["stats"]["votes"]), (1, 1), "Ana counts once")
        await a.must_fail({"type": "vote", "item": 1}, "already_voted")
        await m.must_ack({"type": "unmerge", "item": 2})
        st, d1, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
        strip = lambda r: [(it["id"], it["votes"], it["rank"]) for it in r["items"]]  # noqa: E731
        check_eq(strip(d1), strip(d0), "items, votes and ranks as before the merge")
        check_eq(d1["stats"]["votes"], d0["stats"]["votes"], "total votes as before")
        await a.must_fail({"type": "vote", "item": 1}, "already_voted")
        await m.must_ack({"type": "post", "kind": "problem", "text": "Third one"})
        await a.must_fail({"type": "vote", "item": 3}, "budget_exhausted")  # both points spent again
    finally:
        await closing(m, a)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: make().start(), lambda s: s.stop()))
