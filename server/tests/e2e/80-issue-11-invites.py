#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-11-invites: named moderator invite links (issue 11, point 5) against the real cojamd and
Redis. The organiser (joined with the jam's secret) mints an invite and gets its secret once, in the
ack; a citizen cannot invite, nor can a moderator who joined with an invite; a join with the invite's
secret joins under the invite's name, which the public log shows for its actions; every moderator
gets the list in a private `invites` frame; revoking closes the invited console with 4005 after an
`invite_revoked` notice (also on another process, which learns it from the stream), and its
secret and its token are refused from then on; a kill -9 of cojamd
keeps the invites, the revocation and the op ids; the review item of issue 11: an approve or an
unhide never passes --max-items. Two storage modes (INV_REDIS): "external" (this file: cojamd
--redis against a redis-server the test owns) and "embedded" (80-issue-11-invites-embedded.py:
cojamd's own redis-server; the test through another process is skipped there, since an embedded
Redis belongs to one cojamd)."""

import asyncio
import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, JoinError, SkipTest, Suite, check, check_eq,  # noqa: E402
                     closing, sha256_hex, start_node, storage_mode)

MODE, SERVERS = storage_mode("INV_REDIS")
suite = Suite("80-issue-11-invites-" + MODE, file_timeout=120)


async def organiser(srv, jam, name="Ana"):
    m = await Client(srv, name).connect()
    await m.join(jam["code"], "moderator", secret=jam["moderator_secret"], nickname=name)
    return m


async def join_refused(c, code, **kw):
    try:
        await c.join(code, "moderator", **kw)
    except JoinError as e:
        return e.frame.get("code")
    return None


@suite.test(timeout=60)
async def invites_minted_used_and_revoked(srv):
    jam = srv.create_jam(agenda=[{"phase": "explore", "duration_s": 0}])
    code = jam["code"]
    org = await organiser(srv, jam)
    cit = await Client(srv, "cit").connect()
    bea = await Client(srv, "bea").connect()
    other = await Client(srv, "other").connect()
    try:
        await cit.join(code, "citizen", nickname="Cy")
        await cit.must_fail({"type": "invite", "name": "Eve"}, "forbidden")
        await cit.must_fail({"type": "revoke_invite", "invite": 1}, "forbidden")
        ack = await org.must_ack({"type": "invite", "name": "Bea (city council)"})
        check_eq(ack["invite"], 1, "the first invite's id")
        secret = ack["secret"]
        check(secret.startswith("i_") and len(secret) == 34, "invite secret form: %r", secret)
        check(secret != jam["moderator_secret"], "an invite's own secret")
        frame = await org.wait_for("invites", None, 5)
        check_eq([(i["id"], i["name"], i["by"], i["revoked"]) for i in frame["invites"]],
                 [(1, "Bea (city council)", "Ana", False)], "the organiser's invites frame")
        # The retry of the op: the same ack, the same secret, no second invite.
        again = await org.write({"type": "invite", "name": "Bea (city council)",
                                 "op": ack["op"]})
        check_eq((again["type"], again.get("invite"), again.get("secret")),
                 ("ack", 1, secret), "the retried op's ack")
        # The stream holds the secret's hash, never the secret.
        stream = json.dumps(srv.xrange(code))
        check(secret not in stream, "the secret is not in the stream")
        check(sha256_hex(secret) in stream, "the stream holds the secret's hash")

        # A join with it: the invite's name, whatever nickname the join gives.
        _, snap = await bea.join(code, "moderator", secret=secret, nickname="Someone else")
        check_eq(bea.welcome["you"]["nickname"], "Bea (city council)", "the invited name")
        check_eq(snap["you"].get("invite"), 1, "you.invite")
        check_eq([i["name"] for i in snap["invites"]], ["Bea (city council)"],
                 "a moderator's snapshot lists the invites")
        # An invited moderator moderates, but mints and revokes nothing.
        await bea.must_ack({"type": "start"})
        await bea.must_fail({"type": "invite", "name": "Cem"}, "organiser_only")
        await bea.must_fail({"type": "revoke_invite", "invite": 1}, "organiser_only")
        await bea.must_ack({"type": "announce", "text": "Welcome"})
        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % code)
        created = [e for e in log if e["action"] == "invite_created"]
        check_eq([(e["invite"], e["moderator"]) for e in created], [(1, "Ana")],
                 "the public log's invite_created")
        check("name" not in created[0] and "Bea" not in str(created[0]),
              "the public log keeps the invite's name out: %r", created[0])
        ann = [e for e in log if e["action"] == "announced"]
        check_eq(ann[-1]["moderator"], "Bea (city council)", "the log names the invited moderator")

        # A second invite, revoked at once; then the first one, with Bea connected.
        ack2 = await org.must_ack({"type": "invite", "name": "Cem"})
        await org.must_ack({"type": "revoke_invite", "invite": ack2["invite"]})
        check_eq(await join_refused(other, code, secret=ack2["secret"], nickname="Cem"),
                 "invite_revoked", "a join with a revoked invite's secret")
        await org.must_fail({"type": "revoke_invite", "invite": ack2["invite"]}, "already_revoked")
        await org.must_fail({"type": "revoke_invite", "invite": 9}, "no_such_invite")
        token = bea.welcome["token"]
        await org.must_ack({"type": "revoke_invite", "invite": 1})
        n = await bea.wait_for("notice", None, 5)
        check_eq(n, {"type": "notice", "notice": "invite_revoked", "invite": 1}, "Bea's notice")
        check_eq(await bea.wait_closed(5), 4005, "Bea's close code")
        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % code)
        check_eq([e["invite"] for e in log if e["action"] == "invite_revoked"], [2, 1],
                 "the public log's invite_revoked")
        # Neither the secret nor the session token gets back in.
        bea2 = await Client(srv, "bea2").connect()
        try:
            check_eq(await join_refused(bea2, code, secret=secret), "invite_revoked",
                     "the revoked secret")
            try:
                await bea2.join(token=token)
                check(False, "the revoked invite's token rejoined")
            except JoinError as e:
                check_eq(e.frame.get("code"), "invite_revoked", "the revoked invite's token")
        finally:
            await closing(bea2)
        # A wrong invite-shaped secret is a bad secret like any other.
        check_eq(await join_refused(other, code, secret="i_" + "0" * 32, nickname="X"),
                 "bad_secret", "an invented invite secret")
    finally:
        await closing(org, cit, bea, other)


@suite.test(timeout=60)
async def at_most_fifty_invites(srv):
    jam = srv.create_jam()
    org = await organiser(srv, jam)
    try:
        for i in range(50):  # paced under the 20 messages/s of a session
            await org.must_ack({"type": "invite", "name": "Mod %d" % (i + 1)})
            await asyncio.sleep(0.06)
        await org.must_fail({"type": "invite", "name": "One more"}, "too_many_invites")
        await org.must_fail({"type": "invite", "name": "  "}, "too_short")
    finally:
        await closing(org)


@suite.test(timeout=60)
async def kill_9_keeps_invites_and_revocations(srv):
    jam = srv.create_jam(agenda=[{"phase": "explore", "duration_s": 0}])
    code = jam["code"]
    org = await organiser(srv, jam)
    bea = await Client(srv, "bea").connect()
    try:
        kept = await org.must_ack({"type": "invite", "name": "Bea"})
        gone = await org.must_ack({"type": "invite", "name": "Cem"})
        await org.must_ack({"type": "revoke_invite", "invite": gone["invite"]})
        await bea.join(code, "moderator", secret=kept["secret"])
        await bea.must_ack({"type": "start"})
        # Enough events for a snapshot (--snapshot-every 100): the restart starts from it (CJS13).
        for i in range(53):
            await org.must_ack({"type": "announce", "text": "Filler %d" % i})
            await org.must_ack({"type": "unannounce"})
            await asyncio.sleep(0.1)  # under 20 messages/s: rate_limited errors carry no op
        deadline = time.monotonic() + 10
        while (srv.rcli("EXISTS", "cojam:jam:%s:snapshot" % code).strip() != "1" and
               time.monotonic() < deadline):
            await asyncio.sleep(0.1)
        check_eq(srv.rcli("EXISTS", "cojam:jam:%s:snapshot" % code).strip(), "1", "a snapshot")
        bea_token, org_token = bea.welcome["token"], org.welcome["token"]
        before = srv.http_json("GET", "/api/jams/%s/digest" % code)[1]
    finally:
        await closing(org, bea)

    srv.kill9_cojamd()
    recovered = srv.tail("cojamd.log", 5000).split("recovered")[-1]
    check(re.match(r" \d+ jams \([1-9]\d* from snapshots\)", recovered),
          "the restart did not start from a snapshot: %s", recovered[:200])

    org = await Client(srv, "ana2").connect()
    bea = await Client(srv, "bea2").connect()
    cem = await Client(srv, "cem").connect()
    try:
        after = srv.http_json("GET", "/api/jams/%s/digest" % code)[1]
        check_eq(after["sha256"], before["sha256"], "state digest across kill -9")
        _, snap = await org.join(token=org_token)
        check_eq([(i["id"], i["name"], i["revoked"]) for i in snap["invites"]],
                 [(1, "Bea", False), (2, "Cem", True)], "the invites after the restart")
        # The same secrets, derived again: the kept one joins (and rejoins with its token),
        # the revoked one does not.
        _, snap = await bea.join(token=bea_token)
        check_eq(snap["you"]["nickname"], "Bea", "Bea's token after the restart")
        check_eq(await join_refused(cem, code, secret=gone["secret"]), "invite_revoked",
                 "the revoked secret after the restart")
        cem2 = await Client(srv, "cem2").connect()
        try:
            await cem2.join(code, "moderator", secret=kept["secret"])
            check_eq(cem2.welcome["you"]["nickname"], "Bea", "the kept secret after the restart")
        finally:
            await closing(cem2)
        # The op id of the first invite is still known: its retry gets the original ack.
        again = await org.write({"type": "invite", "name": "Bea", "op": kept["op"]})
        check_eq((again["type"], again.get("invite"), again.get("secret")),
                 ("ack", 1, kept["secret"]), "an op of before the restart")
        await bea.must_fail({"type": "invite", "name": "Dee"}, "organiser_only")
    finally:
        await closing(org, bea, cem)


@suite.test(timeout=60)
async def a_revocation_through_another_process_closes_the_console(srv):
    """The invited console on process B, the organiser on process A: B learns the invite and its
    revocation from the stream (the tail), tells its session and closes it with 4005."""
    if MODE == "embedded":
        raise SkipTest("several processes share an external Redis; an embedded one is its cojamd's own")
    b = start_node(srv.redis_port)
    jam = srv.create_jam()
    code = jam["code"]
    deadline = time.monotonic() + 5
    while b.http("GET", "/api/jams/%s" % code)[0] != 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    org = await organiser(srv, jam)
    bea = await Client(b, "bea").connect()
    try:
        ack = await org.must_ack({"type": "invite", "name": "Bea"})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # B applies the invite from the stream
            try:
                await bea.join(code, "moderator", secret=ack["secret"])
                break
            except JoinError as e:
                check_eq(e.frame.get("code"), "bad_secret", "before B has applied the invite")
                await asyncio.sleep(0.05)
        check_eq(bea.welcome["you"]["nickname"], "Bea", "joined on B under the invite's name")
        await org.must_ack({"type": "revoke_invite", "invite": ack["invite"]})
        n = await bea.wait_for("notice", None, 5)
        check_eq(n.get("notice"), "invite_revoked", "B's session is told")
        check_eq(await bea.wait_closed(5), 4005, "and closed by B")
    finally:
        await closing(org, bea)
        b.stop()


@suite.test(timeout=60)
async def approve_and_unhide_keep_max_items(srv):
    jam = srv.create_jam(agenda=[{"phase": "explore", "duration_s": 0}],
                         settings={"premoderation": True})
    code = jam["code"]
    org = await organiser(srv, jam)
    cit = await Client(srv, "cit").connect()
    try:
        await cit.join(code, "citizen", nickname="Cy")
        await org.must_ack({"type": "start"})
        waiting = [(await cit.must_ack({"type": "post", "kind": "problem",
                                        "text": "Waiting %d" % i}))["item"] for i in range(3)]
        await org.must_ack({"type": "approve", "items": waiting[:2]})
        own = (await org.must_ack({"type": "post", "kind": "problem", "text": "Mine"}))["item"]
        await org.must_fail({"type": "approve", "items": waiting[2:]}, "jam_full")
        await org.must_ack({"type": "hide", "item": own})
        await org.must_ack({"type": "approve", "items": waiting[2:]})
        await org.must_fail({"type": "unhide", "item": own}, "jam_full")
        st, summary, _ = srv.http_json("GET", "/api/jams/%s" % code)
        check_eq(summary["stats"]["items"], 3, "visible items stay at --max-items")
    finally:
        await closing(org, cit)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: SERVERS(extra_args=("--max-items", "3", "--snapshot-every", "100")).start(),
                       lambda s: s.stop()))
