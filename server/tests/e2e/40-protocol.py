#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""40-protocol: every proto/invalid/*.json vector over a real socket (joined and not joined) gets an
error frame with exactly its code and leaves the connection usable; join refusals; not_joined before
join; forbidden for the wrong role (screens never write); unknown types; the rate limit; the error
limit (close 4003); and one client's barrage of bad input does not disturb another's updates."""

import asyncio
import glob
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PROTO, Client, Closed, JoinError, Servers, Suite, check, check_eq,  # noqa: E402
                     closing, token_payload)

suite = Suite("40-protocol", file_timeout=100)
CHUNK = 15  # vectors per connection: stays under the 40-message burst and the 50-error limit

ERROR_KEYS = {"type", "code", "message", "retryable"}


def load_vectors():
    out = []
    for path in sorted(glob.glob(os.path.join(PROTO, "invalid", "*.json"))):
        with open(path, "rb") as f:
            v = json.loads(f.read().decode("utf-8"))
        if "raw_hex" in v:
            data = bytes.fromhex(v["raw_hex"])
        else:
            data = v["raw"].encode("utf-8")
        out.append((os.path.basename(path), data, v["expect"]))
    return out


def check_error_shape(r, what):
    check(ERROR_KEYS <= set(r) <= ERROR_KEYS | {"op"}, "%s: error frame keys %s", what, sorted(r))
    check(isinstance(r["message"], str), "%s: error message not a string", what)
    check(isinstance(r["retryable"], bool), "%s: retryable not a bool", what)


async def fresh(srv, name, jam, joined):
    c = await Client(srv, name).connect()
    if joined:
        await c.join(jam["code"], "moderator", nickname="Vec", secret=jam["moderator_secret"])
    return c


async def run_vectors(srv, joined):
    jam = srv.create_jam(title="Vectors")
    vectors = load_vectors()
    check(len(vectors) > 0, "no vectors in proto/invalid")
    ctx = "joined" if joined else "not joined"
    c = None
    n_in_conn = 0
    try:
        for i, (name, data, expect) in enumerate(vectors):
            label = "invalid/%s -> %s (%s)" % (name, expect, ctx)
            if c is None or c.closed or n_in_conn >= CHUNK:
                if c is not None:
                    await c.close()
                c = await fresh(srv, "v%d" % i, jam, joined)
                n_in_conn = 0
            n_in_conn += 1
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                # Not UTF-8: a protocol violation over a socket (RFC 6455), closed with 1007; the
                # codec's own answer (bad_json) is checked by the unit tests.
                label = "invalid/%s -> close 1007 (%s)" % (name, ctx)
                try:
                    await c.send_text_bytes(data)
                    code = await c.wait_closed(3)
                    check_eq(code, 1007, "close code for a text frame that is not UTF-8")
                    suite.ok(label)
                except Exception as e:
                    suite.not_ok(label, "%s: %s" % (type(e).__name__, e))
                continue
            try:
                await c.send_text_bytes(data)
                r = await c.wait_for(("error", "ack", "pong", "welcome", "snapshot"), None, 3)
                if r["type"] != "error" or r.get("code") != expect:
                    raise AssertionError("sent %r -> %s" % (data[:120], json.dumps(r)[:300]))
                check_error_shape(r, name)
                check(r["retryable"] is False, "retryable is true")
                # The connection stays open and usable.
                await c.ping(t=1000 + i)
                suite.ok(label)
            except Closed as e:
                suite.not_ok(label, "sent %r -> connection closed with %s" % (data[:120], e.code))
            except Exception as e:
                suite.not_ok(label, "%s: %s" % (type(e).__name__, e))
                c.drain()
        if c is not None and not c.closed and joined:
            await c.send({"type": "sync"})
            s = await c.wait_for("snapshot")
            check_eq(s["jam"]["code"], jam["code"], "sync -> snapshot of the jam")
    finally:
        if c is not None:
            await c.close()


@suite.test(timeout=40)
async def invalid_vectors_joined(srv):
    await run_vectors(srv, joined=True)


@suite.test(timeout=40)
async def invalid_vectors_before_join(srv):
    await run_vectors(srv, joined=False)


@suite.test()
async def writes_before_join_not_joined(srv):
    c = await Client(srv, "early").connect()
    try:
        for m in ({"type": "post", "op": "e1", "kind": "problem", "text": "hello"},
                  {"type": "vote", "op": "e2", "item": 1},
                  {"type": "unvote", "op": "e3", "item": 1},
                  {"type": "start", "op": "e4"},
                  {"type": "hide", "op": "e5", "item": 1},
                  {"type": "sync"}):
            r = await c.expect_error(m, "not_joined")
            if "op" in m:
                check_eq(r.get("op"), m["op"], "op echoed in not_joined")
            check_error_shape(r, "not_joined")
        await c.ping(t=5)
        check(not c.closed, "closed")
    finally:
        await c.close()


@suite.test()
async def join_refusals_keep_connection(srv):
    open_jam = srv.create_jam(title="Open")
    strict = srv.create_jam(title="Strict", settings={"anonymous_allowed": False})
    missing = "000000"
    for code in ("000000", "999999", "123456", "654321"):
        if srv.rcli("SISMEMBER", "cojam:jams", code).strip() == "0":
            missing = code
            break
    c = await Client(srv, "joiner").connect()
    try:
        await c.expect_error({"type": "join", "code": missing, "as": "citizen", "nickname": "A"},
                             "no_such_jam")
        await c.expect_error({"type": "join", "code": open_jam["code"], "as": "moderator",
                              "secret": "not-the-secret"}, "bad_secret")
        await c.expect_error({"type": "join", "code": open_jam["code"], "as": "moderator",
                              "secret": strict["moderator_secret"]}, "bad_secret")
        await c.expect_error({"type": "join", "token": "abc.def"}, "bad_token")
        await c.expect_error({"type": "join", "code": strict["code"], "as": "citizen"},
                             "nickname_required")
        await c.expect_error({"type": "join", "code": strict["code"], "as": "citizen",
                              "anonymous": True}, "anonymous_not_allowed")
        # Team moderation: a moderator always joins with a name (the consoles and the log show
        # it), in any jam; the connection stays usable after the refusal.
        mod = await Client(srv, "strict-mod").connect()
        try:
            for jam in (open_jam, strict):
                await mod.expect_error({"type": "join", "code": jam["code"], "as": "moderator",
                                        "secret": jam["moderator_secret"]}, "nickname_required")
                await mod.expect_error({"type": "join", "code": jam["code"], "as": "moderator",
                                        "nickname": "Bea", "anonymous": True,
                                        "secret": jam["moderator_secret"]}, "nickname_required")
            w, _ = await mod.join(strict["code"], "moderator", nickname="Bea",
                                  secret=strict["moderator_secret"])
            check_eq(w["you"]["nickname"], "Bea", "moderator's name")
        finally:
            await mod.close()
        # Still usable: a correct join (code with a dash and a space) succeeds, a second is refused.
        code = strict["code"]
        w, s = await c.join(code[:3] + "-" + code[3:] if len(code) == 6 else code, "citizen",
                            nickname="  Ana  ")
        check_eq(w["you"].get("nickname"), "Ana", "nickname trimmed")
        check_eq(w["you"].get("role"), "citizen", "role")
        check_eq(s["jam"]["code"], code, "snapshot jam code")
        await c.expect_error({"type": "join", "code": open_jam["code"], "as": "citizen",
                              "nickname": "B"}, "already_joined")
        await c.ping(t=6)
    finally:
        await c.close()


@suite.test()
async def tampered_and_foreign_tokens_refused(srv):
    a = srv.create_jam(title="Tokens A")
    c = await Client(srv, "tok").connect()
    try:
        w, _ = await c.join(a["code"], "citizen", nickname="Tok")
        token = w["token"]
        fields = token_payload(token)
        check_eq(fields[0], "v1", "token version")
        check_eq(fields[1], a["code"], "token jam code")
        check_eq(fields[2], str(w["you"]["id"]), "token participant id")
        check_eq(fields[3], "citizen", "token role")
        check(int(fields[4]) > time.time() + 3600, "token expiry %s not ~24 h ahead", fields[4])
    finally:
        await c.close()
    payload, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    import base64
    forged_payload = base64.urlsafe_b64encode(
        ("v1|%s|%s|moderator|%s" % (fields[1], fields[2], fields[4])).encode()).decode().rstrip("=")
    for bad in (payload + "." + flipped, forged_payload + "." + sig, payload, payload + "."):
        c = await Client(srv, "tok2").connect()
        try:
            await c.expect_error({"type": "join", "token": bad}, "bad_token")
            await c.ping(t=7)
        finally:
            await c.close()
    # The real token still works and restores the same participant.
    c = await Client(srv, "tok3").connect()
    try:
        w2, _ = await c.join(token=token)
        check_eq(w2["you"]["id"], w["you"]["id"], "participant id after rejoin")
        check_eq(w2["you"]["role"], "citizen", "role after rejoin")
    finally:
        await c.close()


@suite.test()
async def wrong_role_forbidden(srv):
    jam = srv.create_jam(title="Roles", agenda=[{"phase": "explore", "duration_s": 600},
                                                {"phase": "ideate", "duration_s": 600}])
    cit = await Client(srv, "cit").connect()
    mod = await Client(srv, "mod").connect()
    try:
        await cit.join(jam["code"], "citizen", nickname="Cit")
        await mod.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        # In the lobby a citizen's start is forbidden (not already_started/..., role first).
        for m in ({"type": "start"}, {"type": "set_phase", "phase": "ideate"}, {"type": "pause"},
                  {"type": "resume"}, {"type": "extend", "seconds": 60},
                  {"type": "hide", "item": 1}, {"type": "unhide", "item": 1}):
            r = await cit.must_fail(m, "forbidden")
            check_error_shape(r, "forbidden")
            check("op" in r, "forbidden without op: %r", r)
        await mod.must_ack({"type": "start"})
        p = await cit.must_ack({"type": "post", "kind": "problem", "text": "Too hot"})
        item = p["item"]
        for m in ({"type": "pause"}, {"type": "hide", "item": item}):
            await cit.must_fail(m, "forbidden")
        await cit.ping(t=8)
        # Nothing the citizen was refused reached the state: still running, item visible.
        await cit.send({"type": "sync"})
        s = await cit.wait_for("snapshot")
        check_eq(s["clock"]["state"], "running", "clock state")
        check_eq(s["clock"]["phase"], "explore", "clock phase")
        check_eq([it.get("hidden") for it in s["items"] if it["id"] == item], [False], "item")
    finally:
        await closing(cit, mod)


@suite.test()
async def screen_never_writes(srv):
    jam = srv.create_jam(title="Screen")
    mod = await Client(srv, "mod").connect()
    scr = await Client(srv, "scr").connect()
    try:
        await mod.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        w, s = await scr.join(jam["code"], "screen")
        check("you" not in w or w["you"].get("role") == "screen", "screen welcome %r", w)
        check("you" not in s, "screen snapshot carries 'you': %r", s.get("you"))
        check_eq(token_payload(w["token"])[2:4], ["0", "screen"], "screen token pid and role")
        await mod.must_ack({"type": "start"})
        p = await mod.must_ack({"type": "post", "kind": "problem", "text": "Hot squares"})
        for m in ({"type": "post", "kind": "problem", "text": "screen post"},
                  {"type": "vote", "item": p["item"]}, {"type": "unvote", "item": p["item"]},
                  {"type": "start"}, {"type": "pause"}, {"type": "extend", "seconds": 5},
                  {"type": "hide", "item": p["item"]}, {"type": "set_phase", "phase": "ideate"}):
            await scr.must_fail(m, "forbidden")
        await scr.ping(t=9)
        await scr.send({"type": "sync"})
        s = await scr.wait_for("snapshot")
        check_eq([(it["id"], it["votes"]) for it in s["items"]], [(p["item"], 0)],
                 "items seen by the screen after its refused writes")
        check_eq(s["clock"]["state"], "running", "clock after the screen's refused pause")
        # A screen's token rejoins as a screen, still read-only.
        scr2 = await Client(srv, "scr2").connect()
        try:
            w2, _ = await scr2.join(token=w["token"])
            check("you" not in w2 or w2["you"].get("role") == "screen", "rejoin welcome %r", w2)
            await scr2.must_fail({"type": "vote", "item": p["item"]}, "forbidden")
        finally:
            await scr2.close()
        # Nothing from the screen reached Redis.
        by = {e.get("by") for _, e in srv.xrange(jam["code"]) if "op" in e}
        check(by <= {mod.you["id"]}, "stream holds writes by %r", by)
    finally:
        await closing(mod, scr)


@suite.test()
async def unknown_types(srv):
    jam = srv.create_jam(title="Unknown")
    c = await Client(srv, "unk").connect()
    try:
        await c.expect_error({"type": "dance"}, "unknown_type")
        await c.join(jam["code"], "citizen", nickname="Unk")
        for t in ("dance", "update", "snapshot", "ack", "pong", "error", "fuse", "JOIN", ""):
            await c.expect_error({"type": t}, "unknown_type")
        await c.ping(t=10)
    finally:
        await c.close()


@suite.test()
async def rate_limit_burst(srv):
    c = await Client(srv, "burst").connect()
    try:
        for i in range(60):
            await c.send({"type": "ping", "t": i})
        pongs, limited = 0, 0
        deadline = time.monotonic() + 5
        while pongs + limited < 60 and time.monotonic() < deadline:
            r = await c.wait_for(("pong", "error"), timeout=3)
            if r["type"] == "pong":
                pongs += 1
            else:
                check_eq(r.get("code"), "rate_limited", "error during a burst")
                check_eq(r.get("retryable"), True, "rate_limited retryable")
                limited += 1
        check(40 <= pongs <= 45, "%d of 60 pings answered at once (burst 40)", pongs)
        check_eq(pongs + limited, 60, "replies to 60 pings")
        await asyncio.sleep(1.0)
        await c.ping(t=999)  # refilled: answered again
    finally:
        await c.close()


@suite.test(timeout=30)
async def barrage_isolated_and_4003(srv):
    jam = srv.create_jam(title="Barrage")
    mod = await Client(srv, "mod").connect()
    good = await Client(srv, "good").connect()
    scr = await Client(srv, "scr").connect()
    bad = await Client(srv, "bad").connect()
    try:
        await mod.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await good.join(jam["code"], "citizen", nickname="Good")
        await scr.join(jam["code"], "screen")
        await bad.join(jam["code"], "citizen", nickname="Bad")
        await mod.must_ack({"type": "start"})

        async def barrage():
            garbage = ['{"type":', "[]", '{"type":"vote","op":"x","item":0}', '{"type":"nope"}',
                       '{"type":"start","op":"b1"}', '{"a":{"b":{"c":{"d":{"e":1}}}}}']
            n = 0
            while not bad.closed and n < 70:
                try:
                    await bad.send_raw(garbage[n % len(garbage)])
                except Exception:
                    break
                n += 1
                await asyncio.sleep(0.06)  # ~16/s: under the rate limit, so every reply is an error
            return n

        async def good_work():
            items = []
            for i in range(5):
                a = await good.must_ack({"type": "post", "kind": "problem",
                                         "text": "good problem %d" % i})
                items.append(a["item"])
                await asyncio.sleep(0.3)
            await good.must_ack({"type": "vote", "item": items[0]})
            return items

        t0 = time.monotonic()
        sent, items = await asyncio.gather(barrage(), good_work())
        code = await bad.wait_closed(5)
        errors = [m for m in bad.received if m["type"] == "error"]
        check_eq(code, 4003, "close code after more than 50 errors")
        check(50 <= len(errors) <= 51, "%d error frames before the close (limit 50)", len(errors))
        check(sent >= 51, "closed after only %d bad messages", sent)
        check(time.monotonic() - t0 < 15, "took too long")
        # The screen saw all of the good client's work.
        await scr.wait_model(lambda c: all(i in c.items for i in items) and
                             c.items[items[0]].get("votes") == 1, 3, "good client's items")
        await good.ping(t=11)
        check(not scr.gaps and not good.gaps, "gaps: %r %r", scr.gaps, good.gaps)
        # No write of the bad client got stored.
        bad_id = bad.you["id"]
        check(not [e for _, e in srv.xrange(jam["code"]) if e.get("by") == bad_id],
              "events by the bad client in the stream")
    finally:
        await closing(mod, good, scr, bad)


@suite.test()
async def jams_are_isolated(srv):
    j1 = srv.create_jam(title="Jam one")
    j2 = srv.create_jam(title="Jam two")
    m1, c1, c2 = Client(srv, "m1"), Client(srv, "c1"), Client(srv, "c2")
    try:
        for c in (m1, c1, c2):
            await c.connect()
        await m1.join(j1["code"], "moderator", nickname="M1", secret=j1["moderator_secret"])
        await c1.join(j1["code"], "citizen", nickname="One")
        await c2.join(j2["code"], "citizen", nickname="Two")
        await c2.wait_model(lambda c: (c.stats or {}).get("participants") == 1, 3, "own join")
        await asyncio.sleep(0.15)
        c2.drain()
        await m1.must_ack({"type": "start"})
        p = await c1.must_ack({"type": "post", "kind": "problem", "text": "only in jam one"})
        await c1.must_ack({"type": "vote", "item": p["item"]})
        await c1.wait_model(lambda c: c.items.get(p["item"], {}).get("votes") == 1, 3, "vote")
        await asyncio.sleep(0.2)
        # Jam two's own stats may still arrive (joins alone go out once a second); anything of
        # jam one would carry its clock, items, votes or ranking.
        leaked = [m for m in c2.pending
                  if m["type"] != "pong" and (m["type"] != "update" or
                                              {"clock", "items", "votes", "ranking"} & set(m))]
        check(not leaked, "a client of another jam received %r", leaked[:3])
        check_eq(c2.items, {}, "items seen in the other jam")
        check_eq((c2.clock or {}).get("state"), "lobby", "the other jam's clock")
        await c2.must_fail({"type": "vote", "item": p["item"]}, "not_running")
    finally:
        await closing(m1, c1, c2)


@suite.test()
async def unlimited_budget_is_null(srv):
    jam = srv.create_jam(title="Unlimited", settings={"votes_per_phase": 0})
    m, c = Client(srv, "m"), Client(srv, "c")
    try:
        await m.connect()
        await c.connect()
        await m.join(jam["code"], "moderator", nickname="M", secret=jam["moderator_secret"])
        await c.join(jam["code"], "citizen", nickname="C")
        # set_phase works from the lobby too (no start needed).
        await m.must_ack({"type": "set_phase", "phase": "explore"})
        await c.wait_model(lambda c: (c.clock or {}).get("state") == "running", 3, "running")
        ids = [(await m.must_ack({"type": "post", "kind": "problem", "text": "p%d" % i}))["item"]
               for i in range(3)]
        for i in ids:
            a = await c.must_ack({"type": "vote", "item": i})
            check("budget_left" in a and a["budget_left"] is None, "ack %r", a)
        a = await c.must_ack({"type": "unvote", "item": ids[0]})
        check("budget_left" in a and a["budget_left"] is None, "unvote ack %r", a)
        await c.send({"type": "sync"})
        s = await c.wait_for("snapshot")
        check("budget_left" in s["you"] and s["you"]["budget_left"] is None, "you %r", s["you"])
        check_eq(sorted(s["you"]["votes"]), sorted(ids[1:]), "you.votes")
    finally:
        await closing(m, c)


@suite.test()
async def last_deadline_ends_jam_and_set_phase_reopens(srv):
    jam = srv.create_jam(title="Short", agenda=[{"phase": "explore", "duration_s": 1}])
    m, c = Client(srv, "m"), Client(srv, "c")
    try:
        await m.connect()
        await c.connect()
        await m.join(jam["code"], "moderator", nickname="M", secret=jam["moderator_secret"])
        await c.join(jam["code"], "citizen", nickname="C")
        await m.must_ack({"type": "start"})
        await c.wait_model(lambda c: (c.clock or {}).get("state") == "ended", 4, "ended")
        check_eq(c.clock.get("remaining_ms"), None, "remaining_ms when ended")
        await c.must_fail({"type": "post", "kind": "problem", "text": "late"}, "not_running")
        await m.must_fail({"type": "pause"}, "not_running")
        await m.must_fail({"type": "start"}, "already_started")
        # One phase_ended for the deadline, counted before the reopen: the reopened phase has a
        # deadline of its own a second later, which a loaded machine may reach before we look.
        ended = [e for _, e in srv.xrange(jam["code"]) if e.get("t") == "phase_ended"]
        check_eq([e.get("index") for e in ended], [0], "phase_ended events")
        await m.must_ack({"type": "set_phase", "phase": "explore"})
        await c.wait_model(lambda c: (c.clock or {}).get("state") == "running", 3, "reopened")
        await c.must_ack({"type": "post", "kind": "problem", "text": "reopened"})
    finally:
        await closing(m, c)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers().start(), lambda s: s.stop()))
