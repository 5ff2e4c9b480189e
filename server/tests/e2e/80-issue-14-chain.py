#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-14-chain: the tamper-evident record (issue 14, point 7). A jam is run, exported
(GET /api/jams/<code>/export) and verified with `cojamd verify`; one vote edited in the export, or
one entry rewritten in Redis, is named by the verifier. The chain is also recomputed here from the
raw stream with hashlib alone, as someone who does not trust the server would, and must equal the
heads the server publishes (summary, moderation log, export), before and after a restart."""

import hashlib
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ADMIN_TOKEN, Client, Servers, Suite, check, closing, cojamd_path  # noqa: E402

suite = Suite("80-issue-14-chain", file_timeout=120)


def raw_stream(srv, code):
    """[(id, payload bytes as stored)]: XRANGE --raw prints id, field, value per line."""
    lines = srv.rcli("XRANGE", "cojam:jam:%s:events" % code, "-", "+").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(lines[i], lines[i + 2]) for i in range(0, len(lines), 3)]


def chain_of(entries):
    """proto/messages.md: head(n) = SHA-256(head(n-1) || id || "\\n" || payload), head(0) = 0^32."""
    h = bytes(32)
    heads = []
    for eid, payload in entries:
        h = hashlib.sha256(h + eid.encode() + b"\n" + payload.encode()).digest()
        heads.append(h.hex())
    return heads


def export(srv, code, auth):
    st, j, data = srv.http_json("GET", "/api/jams/%s/export" % code,
                                headers={"Authorization": "Bearer " + auth} if auth else {})
    return st, j, data


def verify(srv, path, *extra):
    p = subprocess.run([cojamd_path(), "verify", path] + list(extra), capture_output=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


async def run_jam(srv):
    jam = srv.create_jam(title="Chained", settings={"votes_per_phase": 3})
    m = await Client(srv, "mod").connect()
    a = await Client(srv, "ana").connect()
    try:
        await m.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await a.join(jam["code"], "citizen", nickname="Ana")
        await m.must_ack({"type": "start"})
        for t in ("Bus stops have no shade", "Hot playgrounds"):
            await a.must_ack({"type": "post", "kind": "problem", "text": t})
        await a.must_ack({"type": "vote", "item": 1})
        await m.must_ack({"type": "vote", "item": 1})
        await m.must_ack({"type": "vote", "item": 2})
        await m.must_ack({"type": "hide", "item": 2, "reason": "duplicate"})
        await m.must_ack({"type": "set_phase", "phase": "ideate"})
    finally:
        await closing(m, a)
    return jam


@suite.test(timeout=60)
async def published_heads_are_the_chain_of_the_raw_stream(srv):
    jam = await run_jam(srv)
    code = jam["code"]
    entries = raw_stream(srv, code)
    heads = chain_of(entries)
    st, summary, _ = srv.http_json("GET", "/api/jams/%s" % code)
    check(st == 200, "summary: %s", st)
    ch = summary["chain"]
    check(ch == {"head": heads[-1], "events": len(entries), "event_id": entries[-1][0]},
          "summary chain %r, the raw stream gives %s after %d entries", ch, heads[-1], len(entries))
    check(summary["stats"]["chain"] == heads[-1], "stats.chain %r", summary["stats"])
    st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % code)
    by_id = {eid: h for (eid, _), h in zip(entries, heads)}
    check(len(log) >= 3 and all(e["chain"] == by_id[e["event_id"]] for e in log),
          "moderation log heads %r", log)
    phase_set = [e for e in log if e["action"] == "phase_set"]
    check(len(phase_set) == 1, "a phase change is logged with its head: %r", log)
    # The same heads after a restart (the jam replayed, or restored from a snapshot).
    srv.stop_cojamd()
    srv.start_cojamd()
    st, again, _ = srv.http_json("GET", "/api/jams/%s" % code)
    check(again["chain"] == ch, "after a restart %r, before %r", again["chain"], ch)


@suite.test(timeout=60)
async def export_needs_the_moderator_or_the_admin(srv):
    jam = await run_jam(srv)
    code = jam["code"]
    for auth in (None, "wrong", "x" * 22):
        st, j, _ = export(srv, code, auth)
        check(st == 401 and j["error"]["code"] == "unauthorized", "auth %r: %s %r", auth, st, j)
    for auth in (ADMIN_TOKEN, jam["moderator_secret"]):
        st, j, _ = export(srv, code, auth)
        check(st == 200 and j["format"] == "cojam-export/1", "auth %r: %s", auth, st)
    import jsonschema  # the test set-up installs it (python3-jsonschema)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "proto",
                           "export.schema.json")) as f:
        jsonschema.validate(j, json.load(f))
    items = {it["id"]: it for it in j["items"]}
    check(items[1]["votes"] == 2 and items[1]["author"] == "Ana" and items[1]["parent"] is None,
          "item 1: %r", items[1])
    check(items[1]["votes_by_phase"] == {"explore": 2}, "item 1 votes by phase %r", items[1])
    check(items[2]["hidden"] is True, "item 2: %r", items[2])
    entries = raw_stream(srv, code)
    check([(e["id"], e["e"]) for e in j["events"]] == entries, "export events differ from stream")
    check([e["h"] for e in j["events"]] == chain_of(entries), "listed heads differ")
    st, j, _ = export(srv, "000000" if code != "000000" else "000001", ADMIN_TOKEN)
    check(st == 404, "no such jam: %s", st)


@suite.test(timeout=60)
async def verifier_names_the_edited_vote(srv):
    jam = await run_jam(srv)
    code = jam["code"]
    st, j, _ = export(srv, code, jam["moderator_secret"])
    check(st == 200, "export: %s", st)
    path = os.path.join(srv.tmp, "export.json")
    with open(path, "w") as f:
        json.dump(j, f)
    rc, out = verify(srv, path)
    check(rc == 0 and out.startswith("OK:"), "verify: %s %s", rc, out)
    # Against the live stream too.
    rc, out = verify(srv, path, "--redis-host", "127.0.0.1", "--redis-port", str(srv.redis_port))
    check(rc == 0 and "the export's %d events match" % len(j["events"]) in out, "live: %s %s",
          rc, out)
    # One vote edited: the one for item 1 by the moderator now counts for item 2.
    votes = [i for i, e in enumerate(j["events"]) if json.loads(e["e"])["t"] == "voted"]
    n = votes[1]
    ev = json.loads(j["events"][n]["e"])
    ev["item"] = 2
    j["events"][n]["e"] = json.dumps(ev, separators=(",", ":"))
    with open(path, "w") as f:
        json.dump(j, f)
    rc, out = verify(srv, path)
    want = "BROKEN at event %d (%s)" % (n + 1, j["events"][n]["id"])
    check(rc == 1 and want in out, "edited export: %s %s (want %r)", rc, out, want)
    # Listed heads rewritten to match: the published heads (moderation log, chain) still catch it.
    heads = chain_of([(e["id"], e["e"]) for e in j["events"]])
    for e, h in zip(j["events"], heads):
        e["h"] = h
    with open(path, "w") as f:
        json.dump(j, f)
    rc, out = verify(srv, path)
    check(rc == 1 and "BROKEN" in out and "moderation log published head" in out,
          "re-chained export: %s %s", rc, out)


@suite.test(timeout=60)
async def verifier_names_the_entry_rewritten_in_redis(srv):
    jam = await run_jam(srv)
    code = jam["code"]
    st, j, _ = export(srv, code, ADMIN_TOKEN)
    path = os.path.join(srv.tmp, "export-redis.json")
    with open(path, "w") as f:
        json.dump(j, f)
    srv.stop_cojamd()
    # Rewrite the stream with one vote changed, keeping every id (XADD with explicit ids).
    key = "cojam:jam:%s:events" % code
    entries = raw_stream(srv, code)
    n = [i for i, (_, p) in enumerate(entries) if json.loads(p)["t"] == "voted"][0]
    forged = json.loads(entries[n][1])
    forged["item"] = 2
    srv.rcli("DEL", key)
    for i, (eid, p) in enumerate(entries):
        srv.rcli("XADD", key, eid, "e", json.dumps(forged, separators=(",", ":")) if i == n else p)
    check(len(raw_stream(srv, code)) == len(entries), "stream rewritten")
    rc, out = verify(srv, path, "--redis-host", "127.0.0.1", "--redis-port", str(srv.redis_port))
    want = "BROKEN at stream entry %d (%s)" % (n + 1, entries[n][0])
    check(rc == 1 and want in out, "forged stream: %s %s (want %r)", rc, out, want)
    # Without an export: the published head is never reached.
    p = subprocess.run([cojamd_path(), "verify", "--jam", code, "--head", j["chain"]["head"],
                        "--redis-host", "127.0.0.1", "--redis-port", str(srv.redis_port)],
                       capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    check(p.returncode == 1 and b"never reach the published head" in p.stdout, "head: %s %r",
          p.returncode, p.stdout)
    # The server itself, replaying the forged stream, publishes another head.
    srv.start_cojamd()
    st, summary, _ = srv.http_json("GET", "/api/jams/%s" % code)
    check(summary["chain"]["head"] != j["chain"]["head"], "forged stream, same head %r", summary)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers().start(), lambda s: s.stop()))
