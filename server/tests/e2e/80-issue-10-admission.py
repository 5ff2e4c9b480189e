#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-10-admission: admission per source address (issue 10, point 3). Join codes guessed as
fast as possible from one address over many WebSocket connections, GET /api/jams/<code> and the
admin token: after 60 failures the address gets rate_limited / 429 with Retry-After for every
attempt, the right code too; a phone on another address joins and a phone that rejoins with its
token from the guessing address is let in meanwhile; the failures are logged, a line per 10 s at
most. Before: 6,000-8,500 WebSocket and ~3,900 HTTP guesses/s, nothing logged above debug."""

import asyncio
import http.client
import json
import os
import sys
import time

import websockets

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, Client, Servers, Suite, check, check_eq, closing  # noqa: E402

suite = Suite("80-issue-10-admission", file_timeout=120)
ATTACKER, BYSTANDER = "127.0.0.2", "127.0.0.3"


def http_from(srv, addr, method, path, headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5 * SLOW,
                                   source_address=(addr, 0))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


async def guess_over_ws(srv, codes, conns=20):
    """Every code guessed once as a citizen join, spread over 'conns' connections from ATTACKER
    (each under the per-session rate and error limits); returns the error codes answered."""
    answers = []

    async def one(part):
        ws = await websockets.connect(srv.ws_url(), local_addr=(ATTACKER, 0), ping_interval=None,
                                      open_timeout=10 * SLOW)
        try:
            for code in part:
                await ws.send(json.dumps({"type": "join", "code": code, "as": "citizen"}))
                m = json.loads(await asyncio.wait_for(ws.recv(), 5 * SLOW))
                answers.append((m.get("code"), m.get("message", "")))
                await asyncio.sleep(0.06)  # 16/s: under the per-session 20/s
        finally:
            await ws.close()
    await asyncio.gather(*(one(codes[i::conns]) for i in range(conns)))
    return answers


@suite.test(timeout=60)
async def join_code_guessing_stops_at_the_address(srv):
    jam = srv.create_jam(title="Guarded")
    code = jam["code"]
    ana = Client(srv, "ana")
    try:
        await ana.connect()
        welcome, _ = await ana.join(code, "citizen", nickname="Ana")
        token = welcome["token"]
        await ana.close()
        wrong = ["%06d" % ((int(code) + 1 + i) % 1000000) for i in range(300)]
        t0 = time.monotonic()
        answers = await guess_over_ws(srv, wrong)
        took = time.monotonic() - t0
        misses = sum(1 for c, _ in answers if c == "no_such_jam")
        limited = sum(1 for c, m in answers if c == "rate_limited" and "this address" in m)
        check(60 <= misses <= 60 + took * 1.5 + 2, "%d no_such_jam answers in %.1f s (60 + 1/s "
              "expected)", misses, took)
        check_eq(misses + limited, len(wrong), "every other guess was refused by the address limit")

        # The right code from the guessing address, right after a refused guess: refused like
        # the wrong ones (no oracle). A second passes between two tries at most on a slow box,
        # and with it one guess's worth of budget: a few tries, one must show the refusal.
        seen = []
        ws = await websockets.connect(srv.ws_url(), local_addr=(ATTACKER, 0), ping_interval=None)
        try:
            for k in range(4):
                for guess in ("%06d" % ((int(code) + 500 + 4 * k + j) % 1000000) for j in range(4)):
                    await ws.send(json.dumps({"type": "join", "code": guess, "as": "citizen"}))
                    if json.loads(await asyncio.wait_for(ws.recv(), 5 * SLOW)).get("code") == \
                            "rate_limited":
                        break
                await ws.send(json.dumps({"type": "join", "code": code, "as": "citizen"}))
                m = json.loads(await asyncio.wait_for(ws.recv(), 5 * SLOW))
                seen.append(m.get("code") or m["type"])
                if m["type"] != "error":
                    break  # joined: this connection can try no more
                if seen[-1] == "rate_limited":
                    break
        finally:
            await ws.close()
        check("rate_limited" in seen, "the right code from the guessing address: %r", seen)

        # A bystander on another address joins; Ana rejoins with her token from the guesser's.
        bob = Client(srv, "bob")
        await bob.connect()
        await bob.join(code, "citizen", nickname="Bob")
        await bob.close()
        ws = await websockets.connect(srv.ws_url(), local_addr=(ATTACKER, 0), ping_interval=None)
        try:
            await ws.send(json.dumps({"type": "join", "token": token}))
            m = json.loads(await asyncio.wait_for(ws.recv(), 5 * SLOW))
            check_eq(m["type"], "welcome", "a token rejoin from the guessing address: %r" % m)
        finally:
            await ws.close()
        log = srv.tail("cojamd.log", 10 ** 6)
        check("failed guess(es)" in log and "127.0.0.2" in log and "refused by the per-address" in log,
              "the guessing is not logged: %s", log[-800:])
        check(log.count("failed guess(es)") <= 3 + took / 10,
              "more than one log line per 10 s about guesses: %d", log.count("failed guess(es)"))
    finally:
        await closing(ana)


@suite.test(timeout=40)
async def http_guessing_gets_429_with_retry_after(srv):
    jam = srv.create_jam(title="Looked up")
    statuses = []
    for i in range(120):
        st, h, _ = http_from(srv, BYSTANDER, "GET", "/api/jams/%06d" % ((int(jam["code"]) + 7 + i)
                                                                    % 1000000))
        statuses.append((st, h.get("retry-after")))
    misses = sum(1 for st, _ in statuses if st == 404)
    check(60 <= misses <= 70, "%d of 120 guesses answered 404", misses)
    refused = [ra for st, ra in statuses if st == 429]
    check(refused and all(ra and ra.isdigit() and 1 <= int(ra) <= 60 for ra in refused),
          "429 without a sane Retry-After: %r", refused[:3])
    st, _, _ = http_from(srv, BYSTANDER, "GET", "/api/jams/" + jam["code"])
    check_eq(st, 429, "the right code from the guessing address")
    st, _, _ = srv.http("GET", "/api/jams/" + jam["code"])
    check_eq(st, 200, "the right code from another address")
    # The admin token from a fresh address: 60 wrong ones, then 429 before the body is read.
    codes = []
    for i in range(70):
        st, h, _ = http_from(srv, "127.0.0.4", "POST", "/api/jams",
                             {"Authorization": "Bearer wrong-%d" % i,
                              "Content-Type": "application/json"}, "{}")
        codes.append(st)
    check_eq(codes.count(401), 60, "401s before the address is limited")
    check_eq(codes[-1], 429, "the 70th admin-token guess")


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers().start()))
