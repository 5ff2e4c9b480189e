#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-15-outage: outage behaviour must not cut off well-behaved clients (issue 15, part 3).
Retryable errors (rate_limited, busy, storage_*) do not count toward the error limit, while errors
the client caused still close it with 4003; refused WebSocket handshakes (a wrong path, a foreign
Origin) leave the count of connected clients alone; a repeated op id gets exactly the original
ack (event id, item, budget_left as it was then), live and after a restart."""

import asyncio
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, Client, Servers, Suite, check, check_eq, closing  # noqa: E402

suite = Suite("80-issue-15-outage", file_timeout=120)
REDIS_TIMEOUT_MS = 500


def healthz_clients(srv):
    st, j, data = srv.http_json("GET", "/healthz")
    check(st == 200 and isinstance(j, dict), "GET /healthz -> %s %r", st, data[:200])
    return j["clients"]


async def errors_with(c, code):
    return [m for m in c.received if m["type"] == "error" and m.get("code") == code]


@suite.test(timeout=40)
async def retryable_errors_do_not_close(srv):
    """Over 50 rate_limited errors within a minute: still connected. Then over 50 errors the client
    caused: closed with 4003, so the limit itself still works."""
    jam = srv.create_jam(title="Rate")
    c = await Client(srv, "rate").connect()
    try:
        await c.join(jam["code"], "citizen", nickname="Rate")
        # 130 pings in batches of 26 (a batch's replies stay under the queue's 64 frames): the
        # bucket lets about 40 through, the rest are rate_limited.
        for b in range(5):
            for i in range(26):
                await c.send({"type": "ping", "t": b * 26 + i})
            await c.wait_model(lambda cl: len([m for m in cl.received
                                               if m["type"] in ("pong", "error")]) >= (b + 1) * 26,
                               5, "a reply to every ping")
        limited = await errors_with(c, "rate_limited")
        check(len(limited) > 50, "only %d rate_limited errors: the test needs more than 50",
              len(limited))
        await asyncio.sleep(2.5)  # the bucket refills at 20/s
        check(not c.closed, "closed with %s after %d rate_limited errors", c.close_code,
              len(limited))
        c.drain()
        await c.ping(t=424242)
        # Errors the client caused, paced under the rate limit: the 51st closes with 4003.
        sent = 0
        while not c.closed and sent < 70:
            try:
                await c.send_raw('{"type":"nope"}')
            except Exception:
                break
            sent += 1
            await asyncio.sleep(0.06)
        check_eq(await c.wait_closed(5), 4003, "close code after more than 50 client errors")
        check(len(await errors_with(c, "unknown_type")) in (50, 51), "%d unknown_type errors",
              len(await errors_with(c, "unknown_type")))
    finally:
        await closing(c)


@suite.test(timeout=60)
async def storage_outage_retries_stay_connected(srv):
    """Redis paused (SIGSTOP): a phone that retries its vote as told (busy while in flight,
    storage_timeout after --redis-timeout-ms) gets more than 50 retryable errors and stays
    connected; its vote is acknowledged once Redis is back."""
    jam = srv.create_jam(title="Outage", settings={"votes_per_phase": 5})
    m = await Client(srv, "mod").connect()
    c = await Client(srv, "phone").connect()
    paused = False
    try:
        await m.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await c.join(jam["code"], "citizen", nickname="Phone")
        await m.must_ack({"type": "start"})
        item = (await m.must_ack({"type": "post", "kind": "problem", "text": "Hot bus stops"}))["item"]
        os.kill(srv.redis.pid, signal.SIGSTOP)
        paused = True
        vote = {"type": "vote", "op": "phone-v1", "item": item}
        retryable = 0
        deadline = time.monotonic() + 20 * SLOW
        while retryable <= 60 and time.monotonic() < deadline and not c.closed:
            await c.send(vote)
            try:
                r = await c.wait_for(("ack", "error"), lambda f: f.get("op") == "phone-v1", 3)
            except Exception:
                break
            check(r["type"] == "error" and r.get("retryable") is True,
                  "with Redis paused: %s", json.dumps(r))
            retryable += 1
            await asyncio.sleep(0.07)  # about 14/s: under the rate limit
        check(not c.closed, "closed with %s after %d retryable errors", c.close_code, retryable)
        check(retryable > 50, "only %d retryable errors", retryable)
        os.kill(srv.redis.pid, signal.SIGCONT)
        paused = False
        r = await c.write(vote, timeout=15)
        check_eq(r["type"], "ack", "the retried vote once Redis is back")
        check(not c.closed, "closed after the outage")
    finally:
        if paused:
            os.kill(srv.redis.pid, signal.SIGCONT)
        await closing(m, c)


@suite.test(timeout=40)
async def refused_handshakes_leave_clients_alone(srv):
    """Refused handshakes (a wrong path: 404; a foreign Origin: 403) are not clients: /healthz
    stays at 0, and a real connection counts 1, then 0 again when it leaves."""
    deadline = time.monotonic() + 5 * SLOW
    while healthz_clients(srv) != 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # earlier tests' connections are being closed
    check_eq(healthz_clients(srv), 0, "clients before")
    for _ in range(40):
        code, line, _ = srv.raw_handshake(path="/nope")
        check_eq(code, 404, "a handshake on /nope (%s)" % line)
        code, line, _ = srv.raw_handshake(origin="http://evil.example")
        check_eq(code, 403, "a handshake from a foreign Origin (%s)" % line)
    await asyncio.sleep(0.3)
    check_eq(healthz_clients(srv), 0, "clients after 80 refused handshakes")
    c = await Client(srv, "real").connect()
    try:
        await c.ping()
        check_eq(healthz_clients(srv), 1, "clients with one real connection")
    finally:
        await closing(c)
    deadline = time.monotonic() + 5 * SLOW
    while healthz_clients(srv) != 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    check_eq(healthz_clients(srv), 0, "clients after it left")


async def restart(srv):
    os.kill(srv.cojamd.pid, signal.SIGKILL)
    srv.cojamd.wait(timeout=5)
    srv.start_cojamd()


async def retry_gets(c, msg, want, what):
    """Send 'msg' again (an op already acknowledged) and expect exactly the ack 'want'."""
    r = await c.write(msg, timeout=10)
    check_eq(r, want, what)


@suite.test(timeout=60)
async def repeated_op_gets_the_original_ack(srv):
    """The original ack for a repeated op: same event_id, same item, and budget_left as it was
    then, not as it is now; live, after a restart that replays the stream, and after one that
    starts from a stored snapshot."""
    deadline = time.monotonic() + 10 * SLOW
    while srv.http_json("GET", "/healthz")[1].get("redis") != "up" and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # back from an earlier test's outage
    jam = srv.create_jam(title="Acks", settings={"votes_per_phase": 5})
    code = jam["code"]
    m = await Client(srv, "mod").connect()
    c = await Client(srv, "ana").connect()
    try:
        await m.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        w, _ = await c.join(code, "citizen", nickname="Ana")
        await m.must_ack({"type": "start"})
        p1 = {"type": "post", "op": "ana-p1", "kind": "problem", "text": "Hot squares"}
        ack_p1 = await c.must_ack(p1)
        p2 = {"type": "post", "op": "ana-p2", "kind": "problem", "text": "No shade"}
        ack_p2 = await c.must_ack(p2)
        v1 = {"type": "vote", "op": "ana-v1", "item": ack_p1["item"]}
        ack_v1 = await c.must_ack(v1)
        v2 = {"type": "vote", "op": "ana-v2", "item": ack_p2["item"]}
        ack_v2 = await c.must_ack(v2)
        check_eq((ack_v1["budget_left"], ack_v2["budget_left"]), (4, 3), "budgets of the acks")
        u1 = {"type": "unvote", "op": "ana-u1", "item": ack_p1["item"]}
        ack_u1 = await c.must_ack(u1)
        check_eq(ack_u1["budget_left"], 4, "budget after the unvote")
        originals = [(p1, ack_p1), (v1, ack_v1), (v2, ack_v2), (u1, ack_u1)]
        for msg, ack in originals:
            await retry_gets(c, msg, ack, "live retry of %s" % msg["op"])

        token = w["token"]
        await closing(m, c)
        await restart(srv)  # no snapshot yet: every op is rebuilt from the stream
        c = await Client(srv, "ana").connect()
        await c.join(token=token)
        for msg, ack in originals:
            await retry_gets(c, msg, ack, "retry of %s after a restart (stream)" % msg["op"])

        # Enough events for a snapshot (--snapshot-every 100), then start from it.
        m = await Client(srv, "mod").connect()
        await m.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        for i in range(105):
            await m.must_ack({"type": "post", "kind": "problem", "text": "filler %d" % i})
            await asyncio.sleep(0.055)  # under 20 messages/s: rate_limited errors carry no op
        deadline = time.monotonic() + 10 * SLOW
        while (srv.rcli("EXISTS", "cojam:jam:%s:snapshot" % code).strip() != "1" and
               time.monotonic() < deadline):
            await asyncio.sleep(0.1)
        check_eq(srv.rcli("EXISTS", "cojam:jam:%s:snapshot" % code).strip(), "1",
                 "a snapshot stored")
        await closing(m, c)
        await restart(srv)
        check("from snapshots" in srv.tail("cojamd.log", 5000) and
              "(1 from snapshots)" in srv.tail("cojamd.log", 5000).split("recovered")[-1],
              "the restart did not start from the snapshot: %s", srv.tail("cojamd.log", 400))
        c = await Client(srv, "ana").connect()
        await c.join(token=token)
        for msg, ack in originals:
            await retry_gets(c, msg, ack, "retry of %s after a restart (snapshot)" % msg["op"])
    finally:
        await closing(m, c)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers(extra_args=["--redis-timeout-ms", str(REDIS_TIMEOUT_MS),
                                                    "--snapshot-every", "100"]).start(),
                       lambda s: s.stop()))
