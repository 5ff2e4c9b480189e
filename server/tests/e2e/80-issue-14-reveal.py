#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-14-reveal: reveal control (issue 14, point 4), against the real cojamd and Redis. With
`set_reveal` hidden, every frame a screen or a citizen gets (snapshot, updates, words) and the
public results carry no vote count, ranking, total or theme top, while the moderator's snapshot and
its private `counts` frames have them (the themes' tops too); `live` reveals them to everyone
without a reload (the words frame's theme tops too); `per_phase` hides the counts of what the
running phase votes on and reveals them when it ends. The mode survives a restart.
Two storage modes (REVEAL_REDIS): "external" (this file: cojamd --redis against a redis-server the
test owns) and "embedded" (80-issue-14-reveal-embedded.py: cojamd with its own redis-server)."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Suite, check, check_eq, closing, storage_mode  # noqa: E402

MODE, make = storage_mode("REVEAL_REDIS")
suite = Suite("80-issue-14-reveal" + ("-embedded" if MODE == "embedded" else ""), file_timeout=120)


def counts_in(frame):
    """What of the counts a frame shows: item votes, the votes map, ranking lists, stats.votes,
    and an update's `shown` map (nobody here discovers, so one would only say which items got a
    vote)."""
    out = []
    for k, v in (frame.get("shown") or {}).items():
        out.append(("shown", k, v))
    for it in frame.get("items", []) or []:
        if "votes" in it:
            out.append(("item", it["id"], it["votes"]))
    for k, v in (frame.get("votes") or {}).items():
        out.append(("votes", k, v))
    for k, v in (frame.get("ranking") or {}).items():
        if v:
            out.append(("ranking", k, v))
    st = frame.get("stats") or {}
    if st.get("votes") is not None:
        out.append(("total", st["votes"]))
    for th in frame.get("themes", []) or []:
        if th.get("top") is not None:
            out.append(("theme top", th["word"], th["top"]))
    return out


def theme_tops(frame):
    """{word: top} of a frame's themes."""
    return {th["word"]: th["top"] for th in frame.get("themes") or []}


@suite.test(timeout=90)
async def hidden_counts_never_reach_screens_or_citizens(srv):
    jam = srv.create_jam(title="Reveal", agenda=[{"phase": "explore", "duration_s": 600},
                                                 {"phase": "ideate", "duration_s": 600}])
    code, secret = jam["code"], jam["moderator_secret"]
    m, a, s = Client(srv, "mod"), Client(srv, "ana"), Client(srv, "screen")
    try:
        for x in (m, a, s):
            await x.connect()
        await m.join(code, "moderator", nickname="Mod", secret=secret)
        await m.must_ack({"type": "start"})
        await m.must_ack({"type": "set_reveal", "mode": "hidden"})
        await a.join(code, "citizen", nickname="Ana")
        await s.join(code, "screen")
        for t in ("Bus stops have no shade", "Hot bus stops everywhere", "Shade at bus stops now"):
            await m.must_ack({"type": "post", "kind": "problem", "text": t})
        await a.must_ack({"type": "vote", "item": 1})
        await m.must_ack({"type": "vote", "item": 1})
        await m.must_ack({"type": "vote", "item": 2})
        # The moderator sees the counts (its private counts frames), the themes' tops too.
        cf = await m.wait_for("counts", lambda f: (f.get("votes") or {}).get("1") == 2, timeout=5)
        check_eq(theme_tops(cf), {"bus": 1}, "the moderator's counts frame: the theme's top")
        await s.wait_for("words", None, timeout=5)
        await s.wait_model(lambda cl: len(cl.items) == 3, what="the screen has the items")
        for cl in (a, s):
            frames = cl.received[:]
            leaks = [(f.get("type"), c) for f in frames for c in counts_in(f)]
            check(not leaks, "%s got counts while hidden: %r", cl.name, leaks[:5])
            check(all(f.get("type") != "counts" for f in frames), "%s got a counts frame", cl.name)
        st, res, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
        check_eq(counts_in(res), [], "the public results while hidden")
        check_eq(res["reveal"], {"mode": "hidden", "hidden": ["problem", "idea", "refinement",
                                                             "pledge"]}, "the results say so")
        st, summary, _ = srv.http_json("GET", "/api/jams/%s" % code)
        check(summary["stats"]["votes"] is None, "the summary's total: %r", summary["stats"])

        # A restart keeps the mode.
        srv.stop_cojamd()
        srv.start_cojamd()
        s2, m2 = Client(srv, "screen2"), Client(srv, "mod2")
        await s2.connect()
        await m2.connect()
        _, snap = await s2.join(code, "screen")
        check_eq(counts_in(snap), [], "a screen's snapshot after a restart")
        _, msnap = await m2.join(code, "moderator", nickname="Mod", secret=secret)
        check_eq({it["id"]: it["votes"] for it in msnap["items"]}, {1: 2, 2: 1, 3: 0},
                 "the moderator's snapshot has the counts")
        check_eq(theme_tops(msnap), {"bus": 1}, "and the theme's top")

        # live: revealed to the screen without a reload.
        await m2.must_ack({"type": "set_reveal", "mode": "live"})
        await s2.wait_model(lambda cl: {i: it.get("votes") for i, it in cl.items.items()} ==
                            {1: 2, 2: 1, 3: 0} and cl.ranking.get("problem") == [1, 2, 3],
                            what="the counts revealed on the screen")
        await s2.wait_for("words", lambda f: theme_tops(f) == {"bus": 1}, timeout=5)

        # per_phase: explore's counts hidden while it runs, revealed when ideate starts.
        await m2.must_ack({"type": "set_reveal", "mode": "per_phase"})
        n = len(s2.received)
        await m2.must_ack({"type": "vote", "item": 3})
        await m2.wait_for("counts", lambda f: (f.get("votes") or {}).get("3") == 1, timeout=5)
        await s2.wait_for("update", lambda f: (f.get("reveal") or {}).get("mode") == "per_phase",
                          timeout=5, take=False)
        leaks = [c for f in s2.received[n:] for c in counts_in(f)]
        check_eq(leaks, [], "per_phase: no counts of explore's problems while it runs")
        await m2.must_ack({"type": "set_phase", "phase": "ideate"})
        await s2.wait_model(lambda cl: cl.items.get(3, {}).get("votes") == 1,
                            what="explore's counts revealed when it ends")
        await closing(s2, m2)
    finally:
        await closing(m, a, s)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: make().start(), lambda s: s.stop()))
