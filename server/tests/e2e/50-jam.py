#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""50-jam: one whole jam, step by step, with a moderator, three citizens and a screen: create over
HTTP, the summary, lobby refusals, start, posts and votes per phase (wrong_phase, bad_parent, the
vote rules and the budget of 2), hide/unhide, pause/resume/extend, a phase ending by its deadline,
retried ops, reconnect with the token, convergence of every client's model with a fresh snapshot,
the Redis stream against the acknowledgements, and the public moderator log.

The steps share one jam and run in order; each names what it checks."""

import asyncio
import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PROTO, SLOW, Client, Servers, Suite, check, check_eq, closing,  # noqa: E402
                     eid, expected_ranking, sha256_hex)

suite = Suite("50-jam", file_timeout=100)

AGENDA = [{"phase": "explore", "duration_s": 600}, {"phase": "ideate", "duration_s": 600},
          {"phase": "design", "duration_s": 600}, {"phase": "diffuse", "duration_s": 2},
          {"phase": "results", "duration_s": 0}]
SETTINGS = {"anonymous_allowed": True, "votes_per_phase": 2, "min_text": 2, "max_text": 500,
            "premoderation": False, "public_exports": False}
MOD_ACTIONS = {"start", "set_phase", "pause", "resume", "extend", "hide", "unhide"}
EVENT_OF = {"post": "posted", "vote": "voted", "unvote": "unvoted", "start": "started",
            "pause": "paused", "resume": "resumed", "set_phase": "phase_set", "extend": "extended",
            "hide": "hidden", "unhide": "unhidden"}
TOL_MS = 1500 * SLOW


class S:
    """State shared by the steps."""
    jam = None
    code = None
    M = A = B = C = SCR = None
    items = {}     # label -> item id
    retired = []   # clients closed by a reconnect, whose acks still count

    @classmethod
    def clients(cls):
        return [c for c in (cls.M, cls.A, cls.B, cls.C, cls.SCR) if c is not None]

    @classmethod
    def citizens_view(cls):
        return [c for c in (cls.A, cls.B, cls.C, cls.SCR) if c is not None]


async def everyone(pred, what, timeout=3.0, clients=None):
    await asyncio.gather(*(c.wait_model(pred, timeout, what) for c in (clients or S.clients())))


def clock_is(state, phase=None, index=None):
    def pred(c):
        k = c.clock or {}
        return (k.get("state") == state and (phase is None or k.get("phase") == phase)
                and (index is None or k.get("index") == index))
    return pred


def has_items(*ids):
    return lambda c: all(i in c.items and "kind" in c.items[i] for i in ids)


async def caught_up(srv, clients=None, timeout=3.0):
    last = srv.xrange(S.code)[-1][0]
    await everyone(lambda c: c.last is not None and eid(c.last) >= eid(last),
                   "caught up to " + last, timeout, clients)


async def ensure_phase(phase):
    """Recovery for a failed earlier step: jump to 'phase' if the jam is elsewhere."""
    if (S.M.clock or {}).get("phase") != phase or (S.M.clock or {}).get("state") != "running":
        if (S.M.clock or {}).get("state") == "paused":
            await S.M.write({"type": "resume"})
        await S.M.must_ack({"type": "set_phase", "phase": phase})
        await everyone(clock_is("running", phase), "phase " + phase)


async def post(c, kind, text, parent=None, label=None):
    m = {"type": "post", "kind": kind, "text": text}
    if parent is not None:
        m["parent"] = parent
    a = await c.must_ack(m)
    check(isinstance(a.get("item"), int) and a["item"] >= 1, "post ack without item: %r", a)
    check(isinstance(a.get("event_id"), str), "ack without event_id: %r", a)
    if label:
        S.items[label] = a["item"]
    return a["item"]


async def vote(c, item, budget_left, kind="vote"):
    a = await c.must_ack({"type": kind, "item": item})
    check_eq(a.get("budget_left"), budget_left, "%s %s on %s: budget_left" % (c.name, kind, item))
    return a


# ------------------------------------------------------------------------------------------------


@suite.test()
async def create_over_http_and_summary(srv):
    j = srv.create_jam(title="Cooler streets", question="How do we keep our streets cool?",
                       agenda=AGENDA, settings={"votes_per_phase": 2})
    S.jam, S.code = j, j["code"]
    check(re.fullmatch(r"[0-9]{6}", S.code), "join code %r is not 6 digits", S.code)
    secret = j["moderator_secret"]
    check(isinstance(secret, str) and 1 <= len(secret) <= 64, "moderator_secret %r", secret)
    links = j["links"]
    check_eq(links.get("join"), "%s/#%s" % (srv.origin, S.code), "join link")
    check_eq(links.get("moderate"), "%s/moderate.html#%s.%s" % (srv.origin, S.code, secret),
             "moderate link")
    check_eq(links.get("screen"), "%s/screen.html#%s" % (srv.origin, S.code), "screen link")

    st, summary, raw = srv.http_json("GET", "/api/jams/%s" % S.code)
    check_eq(st, 200, "GET /api/jams/<code>")
    for k in ("code", "title", "question", "agenda", "settings", "clock", "stats"):
        check(k in summary, "summary lacks %s: %r", k, summary)
    check(secret.encode() not in raw, "the summary leaks the moderator secret")
    check_eq(summary["code"], S.code, "summary code")
    check_eq(summary["title"], "Cooler streets", "summary title")
    check_eq(summary["agenda"], AGENDA, "summary agenda")
    check_eq(summary["settings"], SETTINGS, "summary settings (defaults filled in)")
    check_eq(summary["clock"].get("state"), "lobby", "summary clock state")
    check_eq(summary["clock"].get("index"), -1, "summary clock index")
    check_eq(summary["clock"].get("remaining_ms"), None, "summary clock remaining_ms")

    check_eq(srv.rcli("SISMEMBER", "cojam:jams", S.code).strip(), "1", "code in cojam:jams")
    ev = srv.xrange(S.code)
    check(len(ev) >= 1, "empty stream")
    first = ev[0][1]
    check_eq(first.get("t"), "jam_created", "first event")
    check_eq(first.get("code"), S.code, "jam_created code")
    check_eq(first.get("secret_sha256"), sha256_hex(secret), "jam_created secret_sha256")
    check_eq(first.get("agenda"), AGENDA, "jam_created agenda")
    check(all(secret not in json.dumps(e) for _, e in ev), "the stream holds the plain secret")


@suite.test()
async def everyone_joins(srv):
    S.M = await Client(srv, "M").connect(origin=srv.origin)
    S.A = await Client(srv, "A").connect(origin=srv.origin)
    S.B = await Client(srv, "B").connect()
    S.C = await Client(srv, "C").connect()
    S.SCR = await Client(srv, "S").connect()
    wm, sm = await S.M.join(S.code[:3] + " " + S.code[3:], "moderator", nickname="Mod",
                            secret=S.jam["moderator_secret"])
    wa, sa = await S.A.join(S.code, "citizen", nickname="Ana")
    wb, sb = await S.B.join(S.code, "citizen", nickname="Ben")
    wc, sc = await S.C.join(S.code, "citizen", anonymous=True)
    ws, ss = await S.SCR.join(S.code, "screen")
    ids = [w["you"]["id"] for w in (wm, wa, wb, wc)]
    check(len(set(ids)) == 4 and all(isinstance(i, int) and i >= 1 for i in ids),
          "participant ids %r", ids)
    check_eq([w["you"]["role"] for w in (wm, wa, wb, wc)],
             ["moderator", "citizen", "citizen", "citizen"], "roles")
    check_eq(wa["you"].get("nickname"), "Ana", "nickname")
    check_eq(wc["you"].get("nickname"), None, "anonymous nickname")
    for s in (sm, sa, sb, sc, ss):
        check_eq(s["jam"]["code"], S.code, "snapshot jam code")
        check_eq(s["jam"]["agenda"], AGENDA, "snapshot agenda")
        check_eq(s["jam"]["settings"], SETTINGS, "snapshot settings")
        check_eq(s["clock"].get("state"), "lobby", "clock state in lobby")
        check_eq(s["clock"].get("index"), -1, "clock index in lobby")
        check_eq(s["clock"].get("remaining_ms"), None, "clock remaining_ms in lobby")
        check_eq(s["items"], [], "items in lobby")
        check_eq(s["ranking"], {"problem": [], "idea": [], "refinement": [], "pledge": []},
                 "ranking in lobby")
        check(s.get("resync") is False, "join snapshot resync %r", s.get("resync"))
    check("you" not in ss, "screen snapshot has 'you'")
    later = []  # spec points checked at the end of the step, so that the rest runs first
    for w, s in ((wa, sa), (wm, sm), (wc, sc)):
        if s["you"].get("budget_left") != 2:
            later.append("%s: you.budget_left in the lobby %r, want 2 (the first phase's)" % (
                w["you"]["id"], s["you"].get("budget_left")))
    for w, s in ((wa, sa), (wm, sm)):
        check_eq(s["you"]["id"], w["you"]["id"], "snapshot you.id")
        check_eq(s["you"]["votes"], [], "snapshot you.votes")
        check_eq(s["you"]["items"], [], "snapshot you.items")
    await everyone(lambda c: (c.stats or {}).get("participants") == 3, "3 participants (not Mod)")
    await asyncio.sleep(0.15)
    for c in S.clients():
        if c.stats.get("online") != 3:
            later.append("%s: stats.online %r, want 3 (moderators and screens are not counted)" % (
                c.name, c.stats.get("online")))
    check(not later, "; ".join(later))


@suite.test()
async def lobby_refusals(srv):
    await S.A.must_fail({"type": "post", "kind": "problem", "text": "Too early"}, "not_running")
    await S.M.must_fail({"type": "pause"}, "not_running")
    await S.M.must_fail({"type": "resume"}, "not_paused")
    await S.M.must_fail({"type": "extend", "seconds": 10}, "not_running")
    other = srv.create_jam(title="Short agenda", agenda=[{"phase": "explore", "duration_s": 60}])
    m2 = await Client(srv, "M2").connect()
    try:
        await m2.join(other["code"], "moderator", nickname="M2", secret=other["moderator_secret"])
        await m2.must_fail({"type": "set_phase", "phase": "design"}, "bad_phase")
    finally:
        await m2.close()


@suite.test()
async def start_runs_the_clock(srv):
    a = await S.M.must_ack({"type": "start"})
    check(S.M.ack_before_update.get(a["op"]), "M's ack came after the update covering it")
    await everyone(clock_is("running", "explore", 0), "running explore")
    for c in S.clients():
        check_eq(c.clock.get("duration_ms"), 600000, "%s duration_ms" % c.name)
        r = c.remaining_ms()
        check(r is not None and 600000 - 3000 * SLOW < r <= 600000, "%s remaining %r", c.name, r)
    await S.M.must_fail({"type": "start"}, "already_started")


@suite.test()
async def explore_posts(srv):
    await ensure_phase("explore")
    p1 = await post(S.A, "problem", "Asphalt squares are too hot", label="P1")
    p2 = await post(S.B, "problem", "No shade at bus stops", label="P2")
    p3 = await post(S.C, "problem", "Schoolyards without trees", label="P3")
    p4 = await post(S.M, "problem", "Dark roofs everywhere", label="P4")
    p5 = await post(S.A, "problem", "é" * 500, label="P5")  # 500 code points, 1000 bytes
    check(p1 < p2 < p3 < p4 < p5, "item ids not increasing: %r", [p1, p2, p3, p4, p5])
    for kind in ("idea", "refinement", "pledge"):
        m = {"type": "post", "kind": kind, "text": "not now"}
        if kind != "idea":
            m["parent"] = p1
        await S.A.must_fail(m, "wrong_phase")
    await S.A.must_fail({"type": "post", "kind": "problem", "text": "a"}, "too_short")
    await S.A.must_fail({"type": "post", "kind": "problem", "text": "x" * 501}, "too_long")
    await S.A.must_fail({"type": "post", "kind": "problem", "text": "é" * 501}, "too_long")
    await everyone(has_items(p1, p2, p3, p4, p5), "five problems")
    want = {p1: ("Ana", "citizen"), p2: ("Ben", "citizen"), p3: (None, "citizen"),
            p4: ("Mod", "moderator"), p5: ("Ana", "citizen")}
    for c in S.clients():
        for i, (author, by) in want.items():
            it = c.items[i]
            check_eq((it.get("kind"), it.get("role"), it.get("author"), it.get("by"),
                      it.get("parent"), it.get("votes"), it.get("hidden"), it.get("phase")),
                     ("problem", "explorer", author, by, None, 0, False, "explore"),
                     "%s sees item %d" % (c.name, i))
        check_eq(c.items[p1]["text"], "Asphalt squares are too hot", "text")
        check_eq(c.items[p5]["text"], "é" * 500, "non-ASCII text")


@suite.test()
async def explore_votes_and_budget(srv):
    await ensure_phase("explore")
    P = S.items
    A, B, C, M = S.A, S.B, S.C, S.M
    await vote(A, P["P1"], 1)
    await A.must_fail({"type": "vote", "item": P["P1"]}, "already_voted")
    await vote(A, P["P2"], 0)
    await A.must_fail({"type": "vote", "item": P["P3"]}, "budget_exhausted")
    await vote(A, P["P2"], 1, "unvote")  # refund: cast in this phase
    await A.must_fail({"type": "unvote", "item": P["P2"]}, "not_voted")
    await A.must_fail({"type": "vote", "item": 99999}, "no_such_item")
    await A.must_fail({"type": "unvote", "item": 99999}, "no_such_item")
    await vote(A, P["P3"], 0)
    await vote(B, P["P1"], 1)
    await vote(C, P["P4"], 1)
    await vote(M, P["P1"], 1)
    votes = {"P1": 3, "P2": 0, "P3": 1, "P4": 1, "P5": 0}

    def ok(c):
        return all(c.items.get(P[k], {}).get("votes") == v for k, v in votes.items())
    await everyone(ok, "explore votes")
    want = [P["P1"], P["P3"], P["P4"], P["P2"], P["P5"]]
    await everyone(lambda c: c.ranking.get("problem") == want, "problem ranking %r" % want)


@suite.test()
async def retried_ops_take_effect_once(srv):
    await ensure_phase("explore")
    P = S.items
    B = S.B
    # A vote retried after its ack: the original ack again, one vote.
    msg = {"type": "vote", "op": "B-retry-vote", "item": P["P4"]}
    a1 = await B.must_ack(msg)
    check_eq(a1.get("budget_left"), 0, "budget_left")
    await B.send(msg)
    a2 = await B.wait_for(("ack", "error"), lambda m: m.get("op") == "B-retry-vote")
    check_eq(a2, a1, "the retried vote's reply (the original ack)")
    # A post retried: same item, no second item.
    pm = {"type": "post", "op": "B-retry-post", "kind": "problem", "text": "Hot playgrounds"}
    b1 = await B.must_ack(pm)
    S.items["P6"] = b1["item"]
    await B.send(pm)
    b2 = await B.wait_for(("ack", "error"), lambda m: m.get("op") == "B-retry-post")
    check_eq(b2, b1, "the retried post's reply (the original ack)")
    # The same op twice back to back: the second is busy (first in flight) or the original ack.
    dm = {"type": "post", "op": "B-double", "kind": "problem", "text": "Sticky benches"}
    B.sent_ops.add("B-double")
    B.op_types["B-double"] = "post"
    await B.send(dm)
    await B.send(dm)
    r1 = await B.wait_for(("ack", "error"), lambda m: m.get("op") == "B-double")
    r2 = await B.wait_for(("ack", "error"), lambda m: m.get("op") == "B-double")
    # Replies in either order: the ack, and for the copy either busy (first still in flight,
    # answered at once) or the original ack again.
    acks = [r for r in (r1, r2) if r["type"] == "ack"]
    check(len(acks) >= 1, "no ack for a doubled post: %r %r", r1, r2)
    d1 = acks[0]
    B.acks["B-double"] = d1
    other = r2 if r1 is d1 else r1
    check(other == d1 or (other["type"] == "error" and other.get("code") == "busy"
                          and other.get("retryable") is True),
          "the copy of a doubled post got %r (want busy or the original ack %r)", other, d1)
    S.items["P7"] = d1["item"]
    # A write refused with an error may be sent again with the same op.
    rm = {"type": "vote", "op": "B-after-error", "item": P["P2"]}
    await B.send(rm)
    e = await B.wait_for(("ack", "error"), lambda m: m.get("op") == "B-after-error")
    check_eq(e.get("code"), "budget_exhausted", "B's third vote")
    B.sent_ops.add("B-after-error")
    B.op_types["B-after-error"] = "vote"
    await vote(B, P["P4"], 1, "unvote")
    a3 = await B.must_ack(rm)
    check_eq(a3.get("budget_left"), 0, "the refused op, sent again after a refund")
    await asyncio.sleep(0.2 * SLOW)  # a few ticks: any double effect would show up now

    def ok(c):
        it = c.items
        return (it.get(P["P4"], {}).get("votes") == 1 and it.get(P["P2"], {}).get("votes") == 1
                and it.get(S.items["P6"], {}).get("kind") == "problem")
    await everyone(ok, "votes after retries")
    await everyone(has_items(S.items["P7"]), "the doubled post")
    for c in S.clients():
        texts = [it.get("text") for it in c.items.values()]
        check_eq(texts.count("Hot playgrounds"), 1, "%s: copies of the retried post" % c.name)
        check_eq(texts.count("Sticky benches"), 1, "%s: copies of the doubled post" % c.name)


@suite.test()
async def hide_and_unhide(srv):
    await ensure_phase("explore")
    P = S.items
    p2 = P["P2"]
    await S.M.must_ack({"type": "hide", "item": p2, "reason": "duplicate of P1"})
    await everyone(lambda c: c.items.get(p2, {}).get("hidden") is True, "P2 hidden")
    for c in S.clients():
        sent = [it for m in c.received if m["type"] == "update" for it in m.get("items", [])
                if it["id"] == p2 and it.get("hidden")]
        check_eq(sent, [{"id": p2, "hidden": True, "reason": "duplicate of P1"}],
                 "%s: the hidden item in updates" % c.name)
        check(p2 not in c.ranking.get("problem", []), "%s: hidden item ranked" % c.name)
    for c in S.citizens_view():
        check_eq(c.view()[p2], {"id": p2, "hidden": True, "reason": "duplicate of P1"},
                 "%s sees the hidden item and the reason" % c.name)
    # Checked last, so that a failure here does not leave the item hidden for the later steps.
    full = S.M.items[p2]
    mod_view = (full.get("kind"), full.get("text"), full.get("votes"), full.get("hidden"))
    await S.M.send({"type": "sync"})
    msnap = await S.M.wait_for("snapshot")
    mfull = [it for it in msnap["items"] if it["id"] == p2][0]
    visible = len([it for it in S.M.items.values() if not it.get("hidden")])
    await everyone(lambda c: (c.stats or {}).get("items") == visible,
                   "stats.items counts visible items (%d)" % visible)
    await S.C.must_fail({"type": "vote", "item": p2}, "item_hidden")
    await S.B.must_fail({"type": "unvote", "item": p2}, "item_hidden")
    await S.M.must_fail({"type": "hide", "item": p2}, "item_hidden")
    await S.M.must_fail({"type": "hide", "item": 99999}, "no_such_item")
    await S.M.must_fail({"type": "unhide", "item": 99999}, "no_such_item")
    await S.M.must_fail({"type": "unhide", "item": P["P5"]}, "not_hidden")
    # A citizen's fresh snapshot agrees.
    await S.C.send({"type": "sync"})
    snap = await S.C.wait_for("snapshot")
    check_eq([it for it in snap["items"] if it["id"] == p2],
             [{"id": p2, "hidden": True, "reason": "duplicate of P1"}],
             "hidden item in a citizen's snapshot")
    await S.M.must_ack({"type": "unhide", "item": p2})
    await everyone(lambda c: c.items.get(p2, {}).get("hidden") is False
                   and c.items[p2].get("votes") == 1, "P2 back, votes kept")
    want = expected_ranking(S.M.items)["problem"]
    await everyone(lambda c: c.ranking.get("problem") == want, "ranking with P2 again")
    check_eq(mod_view, ("problem", "No shade at bus stops", 1, True),
             "the moderator's model (update merged into what it knew) of the hidden item")
    check_eq((mfull.get("kind"), mfull.get("text"), mfull.get("votes"), mfull.get("hidden")),
             ("problem", "No shade at bus stops", 1, True),
             "the hidden item in the moderator's snapshot (in full)")


@suite.test()
async def pause_resume_extend(srv):
    await ensure_phase("explore")
    await S.M.must_ack({"type": "pause"})
    await everyone(clock_is("paused", "explore", 0), "paused")
    frozen = S.M.clock["remaining_ms"]
    for c in S.clients():
        check_eq(c.clock, S.M.clock, "%s's clock (same update for all)" % c.name)
    check(frozen is not None and 590000 - 10000 * SLOW < frozen < 600000,
          "remaining_ms %r when paused", frozen)
    await S.A.must_fail({"type": "post", "kind": "problem", "text": "while paused"}, "not_running")
    await S.C.must_fail({"type": "vote", "item": S.items["P5"]}, "not_running")
    await S.M.must_fail({"type": "pause"}, "not_running")
    await asyncio.sleep(0.3)
    await S.B.send({"type": "sync"})
    s = await S.B.wait_for("snapshot")
    check_eq(s["clock"]["remaining_ms"], frozen, "remaining_ms stays frozen while paused")
    check_eq(s["clock"]["state"], "paused", "snapshot clock state")
    await S.M.must_ack({"type": "extend", "seconds": 60})
    await everyone(lambda c: (c.clock or {}).get("remaining_ms") == frozen + 60000,
                   "paused + 60 s")
    await S.M.must_ack({"type": "resume"})
    await everyone(clock_is("running", "explore", 0), "resumed")
    for c in S.clients():
        r = c.remaining_ms()
        check(abs(r - (frozen + 60000)) < TOL_MS, "%s remaining %r after resume, want ~%d",
              c.name, r, frozen + 60000)
    await S.M.must_fail({"type": "resume"}, "not_paused")
    before = S.M.remaining_ms()
    await S.M.must_ack({"type": "extend", "seconds": 30})
    await everyone(lambda c: c.remaining_ms() is not None
                   and abs(c.remaining_ms() - (before + 30000)) < TOL_MS, "running + 30 s")
    await S.A.must_ack({"type": "post", "kind": "problem", "text": "after the pause"})


@suite.test()
async def ideate_posts_links_votes(srv):
    await S.M.must_ack({"type": "set_phase", "phase": "ideate"})
    await everyone(clock_is("running", "ideate", 1), "ideate")
    for c in S.clients():
        check_eq(c.clock.get("duration_ms"), 600000, "ideate duration_ms")
        check(abs(c.remaining_ms() - 600000) < TOL_MS, "ideate remaining %r", c.remaining_ms())
    P = S.items
    i1 = await post(S.A, "idea", "Plant trees on the squares", parent=P["P1"], label="I1")
    i2 = await post(S.B, "idea", "Cool bus stop roofs", label="I2")
    await S.C.must_fail({"type": "post", "kind": "idea", "text": "idea on idea", "parent": i1},
                        "bad_parent")
    await S.C.must_fail({"type": "post", "kind": "idea", "text": "no such", "parent": 99999},
                        "bad_parent")
    await S.M.must_ack({"type": "hide", "item": P["P5"]})
    await S.C.must_fail({"type": "post", "kind": "idea", "text": "on a hidden problem",
                         "parent": P["P5"]}, "bad_parent")
    await S.M.must_ack({"type": "unhide", "item": P["P5"]})
    await S.A.must_fail({"type": "post", "kind": "problem", "text": "late problem"}, "wrong_phase")
    await S.A.must_fail({"type": "vote", "item": P["P5"]}, "wrong_phase")
    await S.A.must_fail({"type": "unvote", "item": P["P1"]}, "wrong_phase")
    await vote(S.A, i1, 1)  # a new phase, a new budget
    await vote(S.B, i1, 1)
    await vote(S.C, i2, 1)
    await everyone(has_items(i1, i2), "two ideas")
    for c in S.clients():
        check_eq((c.items[i1]["kind"], c.items[i1]["role"], c.items[i1]["parent"],
                  c.items[i1]["phase"]), ("idea", "ideator", P["P1"], "ideate"), "idea I1")
        check_eq(c.items[i2]["parent"], None, "idea without parent")
    await everyone(lambda c: c.ranking.get("idea") == [i1, i2], "idea ranking")


@suite.test()
async def reconnect_with_token_keeps_identity(srv):
    await ensure_phase("ideate")
    A = S.A
    old_id = A.you["id"]
    token = A.welcome["token"]
    voted_i1_op = [op for op, t in A.op_types.items() if t == "vote" and op in A.acks][-1]
    old_ack = A.acks[voted_i1_op]
    await A.close()
    i3 = await post(S.B, "idea", "Water fountains", label="I3")  # while A is away
    await caught_up(srv, [c for c in S.clients() if c is not A])
    await A.reconnect(origin=srv.origin)
    w, snap = await A.join(token=token, last_event_id=A.last)
    check_eq(w["you"]["id"], old_id, "participant id after reconnect")
    check_eq(w["you"]["role"], "citizen", "role after reconnect")
    check_eq(w["you"].get("nickname"), "Ana", "nickname after reconnect")
    # Either resumed (the missed updates follow) or a snapshot: nothing is missed.
    await A.wait_model(has_items(i3), 3, "the idea posted while A was away")
    check(not A.gaps, "gaps after reconnect: %r", A.gaps)
    A.drain("snapshot")
    await A.send({"type": "sync"})
    snap = await A.wait_for("snapshot")
    you = snap["you"]
    P = S.items
    check_eq(you["id"], old_id, "snapshot you.id after reconnect")
    check_eq(sorted(you["votes"]), sorted([P["P1"], P["P3"], P["I1"]]), "votes after reconnect")
    check_eq(you["budget_left"], 1, "budget_left after reconnect")
    mine = [S.items[k] for k in ("P1", "P5", "I1")]
    check(set(mine) <= set(you["items"]), "you.items %r lacks %r", you["items"], mine)
    # An op acked on the old connection gets its original ack on the new one.
    await A.send({"type": "vote", "op": voted_i1_op, "item": P["I1"]})
    again = await A.wait_for(("ack", "error"), lambda m: m.get("op") == voted_i1_op)
    check_eq(again, old_ack, "an op retried after reconnect")
    # The budget carried over: one vote left.
    await vote(A, P["I2"], 0)
    await A.must_fail({"type": "vote", "item": i3}, "budget_exhausted")
    await everyone(lambda c: c.items.get(P["I1"], {}).get("votes") == 2, "I1 has two votes")


@suite.test()
async def design_refinements_and_carryover(srv):
    await S.M.must_ack({"type": "set_phase", "phase": "design"})
    await everyone(clock_is("running", "design", 2), "design")
    P = S.items
    r1 = await post(S.A, "refinement", "Use climbing plants 🌿", parent=P["I1"], label="R1")
    await S.B.must_fail({"type": "post", "kind": "refinement", "text": "on a problem",
                         "parent": P["P1"]}, "bad_parent")
    await S.B.must_fail({"type": "post", "kind": "refinement", "text": "no parent"}, "bad_parent")
    await S.B.must_fail({"type": "post", "kind": "idea", "text": "late idea"}, "wrong_phase")
    await S.B.must_fail({"type": "vote", "item": P["P1"]}, "wrong_phase")
    # A vote cast in ideate can be retracted while ideas are votable, without refund.
    await vote(S.A, P["I1"], 2, "unvote")
    await vote(S.A, r1, 1)
    await vote(S.B, P["I2"], 1)
    await vote(S.C, r1, 1)
    await everyone(has_items(r1), "refinement")
    for c in S.clients():
        check_eq((c.items[r1]["kind"], c.items[r1]["role"], c.items[r1]["parent"],
                  c.items[r1]["votes"]), ("refinement", "designer", P["I1"], 2), "refinement R1")
    await everyone(lambda c: c.items.get(P["I1"], {}).get("votes") == 1
                   and c.items.get(P["I2"], {}).get("votes") == 3, "idea votes in design")


@suite.test(timeout=30)
async def deadline_ends_phase_for_everyone(srv):
    await S.M.must_ack({"type": "set_phase", "phase": "diffuse"})
    t0 = time.monotonic()
    await everyone(clock_is("running", "diffuse", 3), "diffuse")
    P = S.items
    await post(S.B, "pledge", "I will water the trees", parent=P["I1"], label="D1")
    await S.C.must_fail({"type": "post", "kind": "pledge", "text": "on a refinement",
                         "parent": P["R1"]}, "bad_parent")
    await S.C.must_fail({"type": "vote", "item": S.items["D1"]}, "wrong_phase")
    await everyone(clock_is("running", "results", 4), "results after the 2 s deadline",
                   timeout=6)
    took = time.monotonic() - t0
    check(took >= 1.5, "diffuse (2 s) ended after %.2f s", took)
    for c in S.clients():
        check_eq(c.clock.get("remaining_ms"), None, "%s: results has no deadline" % c.name)
    ended = [e for _, e in srv.xrange(S.code) if e.get("t") == "phase_ended"]
    check_eq([e.get("index") for e in ended], [3], "phase_ended events")
    r = await S.A.write({"type": "post", "kind": "idea", "text": "too late"}, retry=False)
    check(r.get("code") in ("wrong_phase", "not_running"), "post in results -> %r", r)
    r = await S.A.write({"type": "vote", "item": P["I1"]}, retry=False)
    check(r.get("code") in ("wrong_phase", "not_running"), "vote in results -> %r", r)
    await S.M.must_fail({"type": "extend", "seconds": 10}, "not_running")


@suite.test()
async def models_converge_with_fresh_snapshots(srv):
    await caught_up(srv)
    await asyncio.sleep(3 * 0.05 * SLOW)
    views = {}
    for c in S.clients():
        check(not c.gaps, "%s saw gaps: %r", c.name, c.gaps)
        check(not c.anomalies, "%s: %r", c.name, c.anomalies[:5])
        before = c.model()
        views[c.name] = before
        check_eq(before["ranking"], expected_ranking(c.view()), "%s: ranking vs the rule" % c.name)
        last_seen = c.last
        c.drain("snapshot")
        await c.send({"type": "sync"})
        snap = await c.wait_for("snapshot")
        check_eq(snap["event_id"], last_seen, "%s: snapshot event_id" % c.name)
        fresh = {"items": {it["id"]: it for it in snap["items"]},
                 "ranking": {k: snap["ranking"].get(k) for k in before["ranking"]}}
        check_eq(before, fresh, "%s: model from snapshot + updates vs a fresh snapshot" % c.name)
        total = sum(it.get("votes", 0) for it in fresh["items"].values())
        check_eq((snap["stats"]["items"], snap["stats"]["votes"], snap["stats"]["participants"]),
                 (len(fresh["items"]), total, 3), "%s: stats" % c.name)
    names = list(views)
    for n in names[1:]:
        check_eq(views[n], views[names[0]], "%s and %s converge" % (n, names[0]))
    # One update per tick per jam, the same for every client: the citizens and the screen, who
    # were connected throughout, received identical update sequences.
    seqs = {c.name: [m for m in c.received if m["type"] == "update"] for c in (S.B, S.C, S.SCR)}
    # From the first update that every one of them got: a client that joined while an earlier
    # stats-only update was going out never saw that one (joins are pushed at most once a second,
    # so under load the joins of B and C can fall into two updates).
    firsts = [s[0]["to"] for s in seqs.values() if s]
    common = max(firsts, key=lambda i: tuple(int(x) for x in i.split("-")))
    seqs = {n: [m for m in s if tuple(int(x) for x in m["to"].split("-")) >=
                tuple(int(x) for x in common.split("-"))] for n, s in seqs.items()}
    check(len(seqs["B"]) > 10, "only %d updates", len(seqs["B"]))
    check_eq(seqs["C"], seqs["B"], "C's updates vs B's")
    check_eq(seqs["S"], seqs["B"], "the screen's updates vs B's")
    for c in S.clients() + S.retired:
        late = [op for op, before in c.ack_before_update.items() if not before and op in c.acks]
        check(not late, "%s: acks that came after their update: %r", c.name, late)


def load_example_keys():
    keys = {}
    for name in os.listdir(os.path.join(PROTO, "examples")):
        if name.startswith("server-"):
            with open(os.path.join(PROTO, "examples", name)) as f:
                m = json.load(f)
            keys.setdefault(m["type"], set()).update(m)
    return keys


@suite.test()
async def server_frames_have_the_documented_keys(srv):
    keys = load_example_keys()
    with open(os.path.join(PROTO, "examples", "server-snapshot.json")) as f:
        ex = json.load(f)
    item_keys, clock_keys = set(ex["items"][0]), set(ex["clock"])
    required = {"update": {"type", "prev", "from", "to"}, "ack": {"type", "op", "event_id"},
                "error": {"type", "code", "message", "retryable"}, "welcome": {"type", "token"},
                "snapshot": set(ex) - {"you"}, "pong": {"type"}}
    bad = []
    for c in S.clients() + S.retired:
        for m in c.received:
            t = m["type"]
            if t not in keys:
                bad.append("%s: undocumented frame type %r" % (c.name, t))
                continue
            extra = set(m) - keys[t]
            missing = required.get(t, {"type"}) - set(m)
            if extra or missing:
                bad.append("%s: %s extra %s missing %s" % (c.name, t, sorted(extra),
                                                           sorted(missing)))
            for it in m.get("items", []) if t in ("snapshot", "update") else []:
                # A hidden item's reason and preset are there when its hide gave them.
                if set(it) - {"reason", "preset"} not in (item_keys, {"id", "hidden"}):
                    bad.append("%s: item keys %s" % (c.name, sorted(it)))
            if t in ("snapshot", "update") and "clock" in m and set(m["clock"]) != clock_keys:
                bad.append("%s: clock keys %s" % (c.name, sorted(m["clock"])))
    check(not bad, "%d frames differ from proto/examples: %s", len(bad), "; ".join(sorted(set(
        bad))[:8]))


@suite.test()
async def stream_holds_exactly_the_acknowledged_events(srv):
    ev = srv.xrange(S.code)
    ids = [e for e, _ in ev]
    check_eq(ids, sorted(ids, key=eid), "stream order")
    clients = S.clients() + S.retired
    pid_of = {}
    for c in clients:
        if c.you and c.you.get("id"):
            pid_of.setdefault(c.you["id"], []).append(c)
    acked = {}   # (pid, op) -> (event_id, message type)
    sent = set()
    for pid, cs in pid_of.items():
        for c in cs:
            for op, a in c.acks.items():
                acked[(pid, op)] = (a["event_id"], c.op_types.get(op))
            sent |= {(pid, op) for op in c.sent_ops}
    seen = {}
    problems = []
    for sid, e in ev:
        check(isinstance(e.get("at"), int), "event %s without integer at", sid)
        if "op" in e:
            key = (e.get("by"), e["op"])
            seen[key] = seen.get(key, 0) + 1
            if key not in acked:
                problems.append("event %s %s by %s op %s was never acknowledged (%s)" % (
                    sid, e.get("t"), key[0], key[1], "sent, refused" if key in sent else
                    "never sent"))
            elif acked[key][0] != sid:
                problems.append("op %s acked as %s but stored as %s" % (key, acked[key][0], sid))
            elif EVENT_OF.get(acked[key][1]) != e.get("t"):
                problems.append("op %s (%s) stored as %s" % (key, acked[key][1], e.get("t")))
        else:
            if e.get("t") not in ("jam_created", "joined", "phase_ended"):
                problems.append("event %s %s without op" % (sid, e.get("t")))
    for key in acked:
        if seen.get(key, 0) != 1:
            problems.append("acked op %s stored %d times" % (key, seen.get(key, 0)))
    check(not problems, "%d problems: %s", len(problems), "; ".join(problems[:8]))
    kinds = [e.get("t") for _, e in ev]
    check_eq(kinds.count("jam_created"), 1, "jam_created events")
    check_eq(kinds[0], "jam_created", "first event")
    joined = sorted(e["pid"] for _, e in ev if e.get("t") == "joined")
    check_eq(joined, sorted(pid_of), "joined events (one per participant; none for rejoin/screen)")
    roles = {e["pid"]: (e.get("role"), e.get("nickname"), e.get("anonymous"))
             for _, e in ev if e.get("t") == "joined"}
    check_eq(roles[S.C.you["id"]], ("citizen", None, True), "C's joined event")
    check_eq(roles[S.M.you["id"]], ("moderator", "Mod", False), "M's joined event")
    check_eq([e.get("index") for _, e in ev if e.get("t") == "phase_ended"], [3], "phase_ended")
    hid = [e for _, e in ev if e.get("t") == "hidden" and e.get("item") == S.items["P2"]]
    check_eq([e.get("reason") for e in hid], ["duplicate of P1"], "hidden event reason")


@suite.test()
async def public_moderator_log(srv):
    st, log, raw = srv.http_json("GET", "/api/jams/%s/log" % S.code)
    check_eq(st, 200, "GET /api/jams/<code>/log")
    check(isinstance(log, list), "log is not a list: %r", raw[:200])
    for entry in log:
        check({"event_id", "action", "at"} <= set(entry), "log entry %r", entry)
    logged = [entry["event_id"] for entry in log]
    check_eq(logged, sorted(logged, key=eid), "log order")
    mod_acks = sorted((a["event_id"] for op, a in S.M.acks.items()
                       if S.M.op_types.get(op) in MOD_ACTIONS), key=eid)
    check(len(mod_acks) >= 12, "only %d moderator actions acked in this jam", len(mod_acks))
    missing = [e for e in mod_acks if e not in logged]
    check(not missing, "moderator actions missing from the log: %r", missing)
    citizen_acks = {a["event_id"] for c in (S.B, S.C, S.A) + tuple(S.retired)
                    for a in c.acks.values()}
    check(not citizen_acks & set(logged), "citizen writes in the moderator log")
    check(S.jam["moderator_secret"].encode() not in raw, "the log leaks the secret")
    for entry in log:
        if entry["event_id"] in mod_acks:
            check(isinstance(entry["at"], int), "log entry 'at' %r", entry)
    st, _, _ = srv.http("GET", "/api/jams/%s/log" % ("000000" if S.code != "000000" else "000001"))
    check(st != 200, "log of an unknown jam -> %d", st)


@suite.test()
async def goodbye(srv):
    await closing(*S.clients())


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers().start(), lambda s: s.stop()))
