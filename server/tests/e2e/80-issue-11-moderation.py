#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-11-moderation: the moderation messages of issue 11 against the real binary. Every role
(a citizen or a screen cannot spotlight, pin, announce, mute, remove or reinstate), the spotlight,
pins and a timed announcement on phones and the screen, a mute (reads, cannot post or vote, told
in a notice), a ban (told why, then 4004; its token refused) and its reversal, a hide reason the
author sees, op-id idempotence, the public log with reasons and presets, and all of that rebuilt
after kill -9 of cojamd. Two storage modes (MOD_REDIS): "external" (this file: cojamd --redis
against a redis-server the test owns) and "embedded" (80-issue-11-moderation-embedded.py: cojamd
with its own redis-server)."""

import asyncio
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, EmbeddedServers, JoinError, Servers, Suite, check,  # noqa: E402
                     check_eq, closing)

MODE = os.environ.get("MOD_REDIS") or "external"
if MODE not in ("external", "embedded"):
    sys.exit("MOD_REDIS must be external or embedded, not %r" % MODE)

suite = Suite("80-issue-11-moderation-" + MODE, file_timeout=120)


async def running_jam(srv):
    jam = srv.create_jam(agenda=[{"phase": "explore", "duration_s": 0}])
    mod = await Client(srv, "M").connect()
    await mod.join(jam["code"], "moderator", secret=jam["moderator_secret"], nickname="Mira")
    await mod.must_ack({"type": "start"})
    return jam, mod


async def citizen(srv, code, name):
    c = await Client(srv, name).connect()
    await c.join(code, "citizen", nickname=name)
    return c


def pid_of(c):
    return c.welcome["you"]["id"]


@suite.test(timeout=30)
async def only_moderators_may_moderate(srv):
    jam, M = await running_jam(srv)
    A = await citizen(srv, jam["code"], "A")
    S = await Client(srv, "S").connect()
    try:
        await S.join(jam["code"], "screen")
        item = (await A.must_ack({"type": "post", "kind": "problem", "text": "Hot bus stops"}))
        item = item["item"]
        writes = [{"type": "spotlight", "item": item}, {"type": "unspotlight"},
                  {"type": "pin", "item": item}, {"type": "unpin", "item": item},
                  {"type": "announce", "text": "Hello"}, {"type": "unannounce"},
                  {"type": "mute", "pid": pid_of(A)}, {"type": "unmute", "pid": pid_of(A)},
                  {"type": "remove", "pid": pid_of(A)}, {"type": "reinstate", "pid": pid_of(A)},
                  {"type": "hide", "item": item, "preset": "off_topic"}]
        for w in writes:
            await A.must_fail(w, "forbidden")
            await S.must_fail(w, "forbidden")
        await M.must_fail({"type": "mute", "pid": pid_of(M)}, "forbidden")
        await M.must_fail({"type": "mute", "pid": 9999}, "no_such_participant")
        await M.must_fail({"type": "unspotlight"}, "no_spotlight")
        await M.must_fail({"type": "unannounce"}, "no_announcement")
        await M.must_fail({"type": "unpin", "item": item}, "not_pinned")
        await M.must_fail({"type": "reinstate", "pid": pid_of(A)}, "not_removed")
        await A.expect_error({"type": "announce", "op": "x1", "text": "a" * 281}, "too_long")
        await A.expect_error({"type": "hide", "op": "x2", "item": 1, "preset": "rude"},
                             "bad_value")
    finally:
        await closing(M, A, S)


@suite.test(timeout=30)
async def spotlight_pins_and_announcement_reach_phones_and_screen(srv):
    jam, M = await running_jam(srv)
    A = await citizen(srv, jam["code"], "A")
    S = await Client(srv, "S").connect()
    try:
        await S.join(jam["code"], "screen")
        ids = [(await A.must_ack({"type": "post", "kind": "problem", "text": t}))["item"]
               for t in ("Heat", "Noise", "Dust")]
        await M.must_ack({"type": "spotlight", "item": ids[1]})
        await M.must_fail({"type": "spotlight", "item": ids[1]}, "already_spotlighted")
        u = await M.wait_for("update", lambda m: any(e["action"] == "spotlighted"
                                                     for e in m.get("log", [])), 5)
        check_eq([e.get("item") for e in u["log"] if e["action"] == "spotlighted"], [ids[1]],
                 "the log entry live in the update")
        await M.must_ack({"type": "pin", "item": ids[2]})
        await M.must_ack({"type": "pin", "item": ids[0]})
        ann = {"type": "announce", "op": "ann-1", "text": "Five minutes left", "duration_s": 600}
        first = await M.must_ack(ann)
        again = await M.must_ack(ann)  # the same op: the same ack, no second effect
        check_eq(again["event_id"], first["event_id"], "retried announce's event_id")
        for c in (A, S):
            u = await c.wait_for("update", lambda m: (m.get("announcement") or {}).get("text") ==
                                 "Five minutes left", 5)
            check_eq(u["spotlight"], ids[1], "spotlight in the update")
            check_eq(u["pinned"], [ids[2], ids[0]], "pins in pin order")
            check(0 < u["announcement"]["remaining_ms"] <= 600000, "remaining_ms %r",
                  u["announcement"])
        P = await Client(srv, "P").connect()
        try:
            _, snap = await P.join(jam["code"], "screen")
            check_eq(snap["spotlight"], ids[1], "spotlight in a new screen's snapshot")
            check_eq(snap["announcement"]["text"], "Five minutes left", "announcement in it")
        finally:
            await closing(P)
        # Hiding the spotlighted item takes it off the stage in the same event.
        await M.must_ack({"type": "hide", "item": ids[1], "reason": "duplicate of Heat",
                          "preset": "duplicate"})
        u = await A.wait_for("update", lambda m: "spotlight" in m and m["spotlight"] is None, 5)
        hidden = [it for it in u.get("items", []) if it["id"] == ids[1]]
        check(hidden and hidden[0] == {"id": ids[1], "hidden": True,
                                       "reason": "duplicate of Heat", "preset": "duplicate"},
              "the author sees the hide reason: %r", hidden)
        await M.must_ack({"type": "unannounce"})
        await A.wait_for("update", lambda m: "announcement" in m and m["announcement"] is None, 5)
        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % jam["code"])
        check_eq(st, 200, "log status")
        actions = [e["action"] for e in log]
        for a in ("spotlighted", "pinned", "announced", "hidden", "unannounced"):
            check(a in actions, "%s in the log %r", a, actions)
        check_eq(actions.count("announced"), 1, "one announced entry for a retried op")
        h = [e for e in log if e["action"] == "hidden"][0]
        check_eq((h.get("reason"), h.get("preset"), h.get("moderator")),
                 ("duplicate of Heat", "duplicate", "Mira"), "hide log entry")
    finally:
        await closing(M, A, S)


@suite.test(timeout=30)
async def mute_keeps_reading_and_unmute_lifts_it(srv):
    jam, M = await running_jam(srv)
    A = await citizen(srv, jam["code"], "A")
    B = await citizen(srv, jam["code"], "B")
    try:
        item = (await B.must_ack({"type": "post", "kind": "problem", "text": "Shade"}))["item"]
        await M.must_ack({"type": "mute", "pid": pid_of(A), "reason": "shouting",
                          "preset": "abusive"})
        n = await A.wait_for("notice", None, 5)
        check_eq(n, {"type": "notice", "notice": "muted", "reason": "shouting",
                     "preset": "abusive"}, "A's notice")
        await A.must_fail({"type": "post", "kind": "problem", "text": "LOUD"}, "muted")
        await A.must_fail({"type": "vote", "item": item}, "muted")
        await M.must_fail({"type": "mute", "pid": pid_of(A)}, "already_muted")
        other = (await B.must_ack({"type": "post", "kind": "problem", "text": "Trees"}))["item"]
        await A.wait_model(lambda c: other in c.items, 5, "A still reads B's new post")
        _, snap = await (await Client(srv, "A2").connect()).join(token=A.welcome["token"])
        check(snap["you"].get("muted") is True and
              snap["you"].get("moderation") == {"reason": "shouting", "preset": "abusive"},
              "a rejoin's you: %r", snap["you"])
        await M.must_ack({"type": "unmute", "pid": pid_of(A)})
        n = await A.wait_for("notice", None, 5)
        check_eq(n["notice"], "unmuted", "A's second notice")
        await A.must_ack({"type": "vote", "item": item})
    finally:
        await closing(M, A, B)


@suite.test(timeout=30)
async def sanctions_may_name_an_item_instead_of_a_pid(srv):
    """The console knows items, not pids: mute and remove by one of the author's items."""
    jam, M = await running_jam(srv)
    A = await citizen(srv, jam["code"], "A")
    try:
        item = (await A.must_ack({"type": "post", "kind": "problem", "text": "LOUD"}))["item"]
        own = (await M.must_ack({"type": "post", "kind": "problem", "text": "Welcome"}))["item"]
        await M.must_fail({"type": "mute", "item": own}, "forbidden")
        await M.must_fail({"type": "mute", "item": 999}, "no_such_item")
        await M.must_fail({"type": "mute", "item": item, "pid": pid_of(A)}, "bad_message")
        await M.must_ack({"type": "mute", "item": item, "reason": "shouting"})
        n = await A.wait_for("notice", None, 5)
        check_eq(n["notice"], "muted", "A's notice")
        await A.must_fail({"type": "post", "kind": "problem", "text": "LOUDER"}, "muted")
        await M.must_ack({"type": "remove", "item": item, "hide_posts": True})
        check_eq(await A.wait_closed(5), 4004, "A's close code")
        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % jam["code"])
        check(any(e.get("action") == "removed" and e.get("pid") == pid_of(A) for e in log),
              "the log names the pid: %r", log[-3:])
    finally:
        await closing(M, A)


@suite.test(timeout=30)
async def ban_tells_why_closes_and_reinstate_lets_back(srv):
    jam, M = await running_jam(srv)
    A = await citizen(srv, jam["code"], "A")
    try:
        await A.must_ack({"type": "post", "kind": "problem", "text": "Spam"})
        await M.must_ack({"type": "remove", "pid": pid_of(A), "reason": "third warning",
                          "preset": "abusive", "hide_posts": True})
        n = await A.wait_for("notice", None, 5)
        check_eq(n, {"type": "notice", "notice": "removed", "reason": "third warning",
                     "preset": "abusive"}, "A's notice before the close")
        check_eq(await A.wait_closed(5), 4004, "A's close code")
        again = await Client(srv, "A2").connect()
        try:
            await again.join(token=A.welcome["token"])
            check(False, "a banned token rejoined")
        except JoinError as e:
            check_eq(e.frame.get("code"), "removed", "rejoin error")
        finally:
            await closing(again)
        await M.must_ack({"type": "reinstate", "pid": pid_of(A)})
        back = await Client(srv, "A3").connect()
        try:
            _, snap = await back.join(token=A.welcome["token"])
            check("removed" not in snap["you"], "reinstated: %r", snap["you"])
            await back.must_ack({"type": "post", "kind": "problem", "text": "Sorry"})
        finally:
            await closing(back)
    finally:
        await closing(M, A)


@suite.test(timeout=30)
async def scribe_entries_carry_their_provenance(srv):
    jam, M = await running_jam(srv)
    A = await citizen(srv, jam["code"], "A")
    try:
        await A.must_fail({"type": "post", "kind": "problem", "text": "for a friend",
                           "on_behalf": "Bea"}, "forbidden")
        named = (await M.must_ack({"type": "post", "kind": "problem", "text": "No benches",
                                   "on_behalf": "Mrs Okafor"}))["item"]
        floor = (await M.must_ack({"type": "post", "kind": "problem", "text": "Too few bins",
                                   "on_behalf": ""}))["item"]
        await A.wait_model(lambda c: named in c.items and floor in c.items, 5, "scribe entries")
        got = [(A.items[i]["by"], A.items[i]["author"], A.items[i]["scribe"]) for i in (named, floor)]
        check_eq(got, [("scribe", "Mrs Okafor", "Mira"), ("scribe", None, "Mira")],
                 "scribe provenance on a phone")
        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % jam["code"])
        posted = [(e["item"], e["on_behalf"]) for e in log if e["action"] == "posted"]
        check_eq(posted, [(named, "Mrs Okafor"), (floor, None)], "scribe entries in the log")
        st, exp, _ = srv.http_json("GET", "/api/jams/%s/export" % jam["code"],
                                   headers={"Authorization": "Bearer " + jam["moderator_secret"]})
        check_eq(st, 200, "export status")
        ex = {it["id"]: (it["by"], it.get("scribe")) for it in exp["items"]}
        check_eq(ex[named], ("scribe", "Mira"), "scribe provenance in the export")
    finally:
        await closing(M, A)


@suite.test(timeout=60)
async def kill_9_replay_restores_moderation(srv):
    jam, M = await running_jam(srv)
    code = jam["code"]
    A = await citizen(srv, code, "A")
    B = await citizen(srv, code, "B")
    try:
        ids = [(await A.must_ack({"type": "post", "kind": "problem", "text": t}))["item"]
               for t in ("Heat", "Noise")]
        await M.must_ack({"type": "spotlight", "item": ids[0]})
        await M.must_ack({"type": "pin", "item": ids[1]})
        await M.must_ack({"type": "announce", "text": "Vote for your top three"})
        await M.must_ack({"type": "mute", "pid": pid_of(A), "reason": "flooding"})
        await M.must_ack({"type": "remove", "pid": pid_of(B), "preset": "personal_data"})
        tok_a, tok_b = A.welcome["token"], B.welcome["token"]
        before = srv.http_json("GET", "/api/jams/%s/digest" % code)[1]
    finally:
        await closing(M, A, B)

    os.kill(srv.cojamd.pid, signal.SIGKILL)
    srv.cojamd.wait(timeout=5)
    srv.start_cojamd()

    S = await Client(srv, "S").connect()
    A = await Client(srv, "A2").connect()
    B = await Client(srv, "B2").connect()
    try:
        _, snap = await S.join(code, "screen")
        check_eq((snap["spotlight"], snap["pinned"], (snap["announcement"] or {}).get("text")),
                 (ids[0], [ids[1]], "Vote for your top three"), "stage after the restart")
        _, snap = await A.join(token=tok_a)
        check(snap["you"].get("muted") is True, "A still muted: %r", snap["you"])
        await A.must_fail({"type": "post", "kind": "problem", "text": "more"}, "muted")
        try:
            await B.join(token=tok_b)
            check(False, "the banned token rejoined after the restart")
        except JoinError as e:
            check_eq(e.frame.get("code"), "removed", "B's rejoin after the restart")
        after = srv.http_json("GET", "/api/jams/%s/digest" % code)[1]
        check_eq(after["sha256"], before["sha256"], "state digest across kill -9")
    finally:
        await closing(S, A, B)


# ---- pre-moderation: the review queue, claims, bulk decisions ------------------------------------

async def premod_jam(srv, names=("Mira",)):
    jam = srv.create_jam(agenda=[{"phase": "explore", "duration_s": 0}],
                         settings={"premoderation": True})
    mods = []
    for n in names:
        m = await Client(srv, "M-" + n).connect()
        await m.join(jam["code"], "moderator", secret=jam["moderator_secret"], nickname=n)
        mods.append(m)
    await mods[0].must_ack({"type": "start"})
    return jam, mods


async def post_pending(c, text):
    return (await c.must_ack({"type": "post", "kind": "problem", "text": text}))["item"]


async def log_of(srv, code):
    st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % code)
    check_eq(st, 200, "log status")
    return log


@suite.test(timeout=40)
async def premoderation_queue_roles_and_bulk(srv):
    jam, (A, B) = await premod_jam(srv, ("Mira", "Bo"))
    code = jam["code"]
    C = await citizen(srv, code, "C")
    D = await citizen(srv, code, "D")
    S = await Client(srv, "S").connect()
    try:
        await S.join(code, "screen")
        i1 = await post_pending(C, "Shade at the bus stops")
        # The author and every moderator get it in full, privately; others see a stub.
        for c in (C, A, B):
            q = await c.wait_for("queued", lambda m: m["items"][0]["id"] == i1, 5)
            it = q["items"][0]
            check(it["pending"] is True and it["text"] == "Shade at the bus stops" and
                  isinstance(it.get("at"), int), "%s's queued item: %r", c.name, it)
        for c in (D, S):
            await c.wait_model(lambda c: i1 in c.items, 5, "the pending stub")
            check_eq(c.items[i1], {"id": i1, "pending": True}, "%s sees a stub" % c.name)
            check(not any(m["type"] == "queued" for m in c.pending), "%s got a queued frame" %
                  c.name)
        check_eq(D.stats["items"], 0, "a pending item is not counted as visible")
        await D.must_fail({"type": "vote", "item": i1}, "item_pending")
        await A.must_fail({"type": "spotlight", "item": i1}, "item_pending")
        await A.must_fail({"type": "hide", "item": i1}, "item_pending")
        # Citizens and screens may not decide.
        for w in ({"type": "approve", "items": [i1]}, {"type": "reject", "items": [i1]},
                  {"type": "claim", "items": [i1]}, {"type": "release", "items": [i1]}):
            await C.must_fail(w, "forbidden")
            await S.must_fail(w, "forbidden")
        # A claims it: B's decisions are refused while it runs, and every client sees the claim.
        await A.must_ack({"type": "claim", "items": [i1]})
        u = await D.wait_for("update", lambda m: str(i1) in (m.get("claims") or {}), 5)
        claim = u["claims"][str(i1)]
        check_eq((claim["by"], claim["name"]), (pid_of(A), "Mira"), "the claim in the update")
        await B.must_fail({"type": "approve", "items": [i1]}, "claimed")
        await B.must_fail({"type": "claim", "items": [i1]}, "claimed")
        await B.must_fail({"type": "release", "items": [i1]}, "not_claimed")
        _, snap = await (await Client(srv, "S2").connect()).join(code, "screen")
        check_eq(snap["claims"].get(str(i1), {}).get("name"), "Mira", "claims in a snapshot")
        await A.must_ack({"type": "approve", "items": [i1]})
        await D.wait_model(lambda c: c.items.get(i1, {}).get("text") == "Shade at the bus stops",
                           5, "the approved item in full")
        await S.wait_model(lambda c: i1 in c.ranking.get("problem", []), 5, "approved: ranked")
        u = await D.wait_for("update", lambda m: (m.get("claims") or {}).get(str(i1), 0) is None,
                             5)
        await D.must_ack({"type": "vote", "item": i1})
        await A.must_fail({"type": "approve", "items": [i1]}, "not_pending")
        # Bulk: all or nothing, one event per op.
        more = [await post_pending(C, "Idea %d here" % k) for k in range(3)]
        n_before = len(srv.xrange(code))
        await A.must_fail({"type": "approve", "items": more + [9999]}, "no_such_item")
        await B.must_ack({"type": "claim", "items": [more[2]]})
        await A.must_fail({"type": "approve", "items": more}, "claimed")  # stored, refused
        await D.wait_model(lambda c: all(i in c.items for i in more), 5, "the stubs")
        check(all(D.items[i] == {"id": i, "pending": True} for i in more), "none approved")
        await B.must_ack({"type": "approve", "items": more})
        ev = [(e["by"], e["items"]) for _, e in srv.xrange(code)[n_before:]
              if e["t"] == "approved"]
        # A's approve was stored and refused by apply (the check has no clock for claims); B's
        # is one event for the three items.
        check_eq(ev, [(pid_of(A), more), (pid_of(B), more)], "the approved entries")
        await D.wait_model(lambda c: all(c.items[i].get("kind") for i in more), 5, "bulk shown")
        # Reject with a reason the author sees next to its own item.
        r1 = await post_pending(C, "Mr Smith at number 4 is loud")
        await B.must_ack({"type": "reject", "items": [r1], "reason": "names a neighbour",
                          "preset": "personal_data"})
        u = await C.wait_for("update", lambda m: any(it["id"] == r1 and it.get("hidden")
                                                     for it in m.get("items", [])), 5)
        stub = [it for it in u["items"] if it["id"] == r1][0]
        check_eq(stub, {"id": r1, "hidden": True, "reason": "names a neighbour",
                        "preset": "personal_data", "rejected": True}, "the rejected stub")
        # A bulk hide of visible items: one event, every item hidden.
        await A.must_ack({"type": "hide", "items": more[:2], "preset": "duplicate"})
        await D.wait_model(lambda c: all(c.items[i].get("hidden") for i in more[:2]), 5,
                           "bulk hide")
        await A.must_fail({"type": "hide", "items": [more[2], more[0]]}, "item_hidden")
        log = await log_of(srv, code)
        got = [(e["action"], e.get("items"), e.get("moderator"), e.get("reason"), e.get("preset"))
               for e in log if e["action"] in ("approved", "rejected", "claimed", "hidden")]
        check_eq(got, [("claimed", [i1], "Mira", None, None),
                       ("approved", [i1], "Mira", None, None),
                       ("claimed", [more[2]], "Bo", None, None),
                       ("approved", more, "Bo", None, None),
                       ("rejected", [r1], "Bo", "names a neighbour", "personal_data"),
                       ("hidden", more[:2], "Mira", None, "duplicate")], "the public log")
        # A moderator without a name is refused.
        X = await Client(srv, "X").connect()
        await X.expect_error({"type": "join", "code": code, "as": "moderator",
                              "secret": jam["moderator_secret"]}, "nickname_required")
        await closing(X)
    finally:
        await closing(A, B, C, D, S)


@suite.test(timeout=30)
async def claims_are_judged_by_the_stored_events_at(srv):
    """A claim stored with an at 119 s ago still holds for an approve stored now; one stored 121 s
    ago no longer does. The entries are written straight into the stream (as another process
    would), so the 120 s are the events' own times, not a wait."""
    jam, (A, B) = await premod_jam(srv, ("Mira", "Bo"))
    code = jam["code"]
    C = await citizen(srv, code, "C")
    try:
        item = await post_pending(C, "Trees on Main Street")
        now_ms = int(time.time() * 1000)
        for op, ago in (("inj-119", 119000), ("inj-121", 121000)):
            ev = {"t": "claimed", "at": now_ms - ago, "by": pid_of(A), "op": op, "items": [item]}
            srv.rcli("XADD", "cojam:jam:%s:events" % code, "*", "e",
                     json.dumps(ev, separators=(",", ":")))
            for _ in range(100):
                if any(e["action"] == "claimed" and e["at"] == now_ms - ago
                       for e in await log_of(srv, code)):
                    break
                await asyncio.sleep(0.05)
            else:
                check(False, "the injected claim %s was not applied" % op)
            r = await B.write({"type": "approve", "items": [item]}, retry=False)
            if ago < 120000:
                check_eq(r.get("code"), "claimed", "approve against a claim made %d s ago" %
                         (ago // 1000))
            else:
                check_eq(r["type"], "ack", "approve after a claim made %d s ago" % (ago // 1000))
    finally:
        await closing(A, B, C)


@suite.test(timeout=60)
async def kill_9_replay_restores_the_queue_and_claims(srv):
    jam, (A,) = await premod_jam(srv)
    code = jam["code"]
    C = await citizen(srv, code, "C")
    try:
        ids = [await post_pending(C, t) for t in ("Heat", "Noise", "Dust", "Bins")]
        await A.must_ack({"type": "claim", "items": [ids[0], ids[1]]})
        await A.must_ack({"type": "approve", "items": [ids[1]]})
        await A.must_ack({"type": "reject", "items": [ids[2]], "preset": "off_topic"})
        before = srv.http_json("GET", "/api/jams/%s/digest" % code)[1]
        tok_a, tok_c, last_a = A.welcome["token"], C.welcome["token"], A.last
    finally:
        await closing(A, C)

    os.kill(srv.cojamd.pid, signal.SIGKILL)
    srv.cojamd.wait(timeout=5)
    srv.start_cojamd()

    A = await Client(srv, "A2").connect()
    C = await Client(srv, "C2").connect()
    try:
        w, snap = await A.join(token=tok_a, last_event_id=last_a)
        check_eq(w["resumed"], False, "a moderator's rejoin gets the queue in a snapshot")
        by_id = {it["id"]: it for it in snap["items"]}
        check_eq([i for i in ids if by_id[i].get("pending")], [ids[0], ids[3]], "still pending")
        check_eq(by_id[ids[0]]["text"], "Heat", "the moderator has it in full")
        check(by_id[ids[2]].get("rejected") is True, "the reject survived: %r", by_id[ids[2]])
        check_eq(list(snap["claims"]), [str(ids[0])], "the running claim survived")
        check_eq(snap["claims"][str(ids[0])]["name"], "Mira", "the claim's moderator")
        _, snap = await C.join(token=tok_c)
        check_eq([it["id"] for it in snap["you"].get("queued", [])], [ids[0], ids[3]],
                 "the author's own pending items, in full")
        check(all(it["text"] for it in snap["you"]["queued"]), "with their text")
        after = srv.http_json("GET", "/api/jams/%s/digest" % code)[1]
        check_eq(after["sha256"], before["sha256"], "state digest across kill -9")
        await A.must_ack({"type": "approve", "items": [ids[0], ids[3]]})
    finally:
        await closing(A, C)


if __name__ == "__main__":
    cls = EmbeddedServers if MODE == "embedded" else Servers
    sys.exit(suite.run(lambda: cls().start(), lambda s: s.stop()))
