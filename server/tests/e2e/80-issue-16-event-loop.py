#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-16-event-loop: cojamd on either event loop (--event-loop libev, the default: lws on a
libev loop cojamd owns, epoll underneath; --event-loop poll: lws's own poll loop). Every other e2e
file runs on the default; here each loop runs a small jam end to end (a moderator and two citizens,
a post, a vote, the other citizen's screen shows it, an HTTP request beside the sessions), says in
its log which loop it runs on, and stops cleanly on SIGTERM. 80-issue-10-connections cuts off a
screen that reads nothing on both loops (the write pump's back-pressure is the loop's business).
A broadcast wider than one slice (net.c writes NET_PUSH_SLICE frames between two turns of the
loop): hundreds of screens see every vote while a third of them drop their connections without a
close, many while a slice of the frame they were due is still to come; on both loops, and on the
embedded default."""

import asyncio
import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, EmbeddedServers, Servers, Suite, check, check_eq, closing,  # noqa: E402
                     moderator_and_citizens)

suite = Suite("80-issue-16-event-loop", file_timeout=240)
LOG_LINE = {"libev": "event loop libev (epoll)", "poll": "event loop poll"}


async def a_jam_on(loop):
    srv = Servers(extra_args=["--event-loop", loop]).start()
    try:
        check(LOG_LINE[loop] in srv.tail("cojamd.log"), "the log names the loop: %s", loop)
        jam = srv.create_jam(title="Loop " + loop)
        m, a, b = await moderator_and_citizens(srv, jam, "Ana", "Ben")
        try:
            await m.must_ack({"type": "start"})
            p = await a.must_ack({"type": "post", "kind": "problem", "text": "No shade at stops"})
            await b.must_ack({"type": "vote", "item": p["item"]})
            await a.wait_model(lambda c: c.items.get(p["item"], {}).get("votes") == 1, 3,
                               "the vote on the other citizen's screen")
            st, _, body = srv.http("GET", "/healthz")
            check_eq(st, 200, "/healthz beside three sessions")
            await a.expect_error("{not json", "bad_json")
        finally:
            await closing(m, a, b)
        srv.stop_cojamd_checked()
    finally:
        srv.stop()


@suite.test(timeout=25)
async def a_jam_on_libev(_):
    await a_jam_on("libev")


@suite.test(timeout=25)
async def a_jam_on_poll(_):
    await a_jam_on("poll")


SCREENS = 600  # more than two slices of NET_PUSH_SLICE (256)
VOTES = 12


async def a_wide_broadcast_on(loop, servers=Servers):
    srv = servers(extra_args=["--event-loop", loop, "--admission-scale", "0"]).start()
    screens = []
    try:
        jam = srv.create_jam(title="Wide " + loop)
        m, a, *voters = await moderator_and_citizens(srv, jam, "Ana", "Ben", "Cai", "Dee", "Eve")
        try:
            await m.must_ack({"type": "start"})
            items = []
            for i in range(VOTES):
                p = await a.must_ack({"type": "post", "kind": "problem", "text": "Problem number %d" % i})
                items.append(p["item"])
            screens = [Client(srv, "s%d" % i) for i in range(SCREENS)]
            for k in range(0, SCREENS, 100):
                await asyncio.gather(*(c.connect() for c in screens[k:k + 100]))
                await asyncio.gather(*(c.join(jam["code"], "screen", timeout=10) for c in screens[k:k + 100]))
            rng = random.Random(16)
            leaving = rng.sample(screens, SCREENS // 3)
            staying = [c for c in screens if c not in leaving]

            async def drop_all():
                for c in leaving:  # no close frame: the server finds out when it reads
                    c.ws.transport.abort()
                    await asyncio.sleep(rng.uniform(0, 0.006))

            async def vote_all():
                for i, it in enumerate(items):  # three each: within a citizen's votes per phase
                    await voters[i % len(voters)].must_ack({"type": "vote", "item": it})
                    await asyncio.sleep(0.03)

            await asyncio.gather(drop_all(), vote_all())
            want = {it: 1 for it in items}
            late = []
            for c in staying:
                try:
                    await c.wait_model(lambda c=c: all(c.items.get(it, {}).get("votes") == 1 for it in items), 10,
                                       "every vote on the screen")
                except AssertionError:
                    late.append(c.name)
            check(not late, "%d of %d screens missed a vote: %s", len(late), len(staying), late[:5])
            check(all(not c.anomalies for c in staying), "anomalies: %s",
                  [c.anomalies[:2] for c in staying if c.anomalies][:3])
            check(srv.cojamd_alive(), "cojamd alive after the drops")
            st, _, body = srv.http("GET", "/healthz")
            check_eq(st, 200, "/healthz after the drops")
            check_eq(want, {it: a.items[it]["votes"] for it in items}, "the voter's own model")
        finally:
            await closing(m, a, *voters)
        srv.stop_cojamd_checked()
    finally:
        await closing(*screens)
        srv.stop()


@suite.test(timeout=90)
async def a_wide_broadcast_on_libev(_):
    await a_wide_broadcast_on("libev")


@suite.test(timeout=90)
async def a_wide_broadcast_on_poll(_):
    await a_wide_broadcast_on("poll")


@suite.test(timeout=90)
async def a_wide_broadcast_embedded(_):
    """The same on the embedded default (cojamd's own redis-server), on the default loop."""
    await a_wide_broadcast_on("libev", EmbeddedServers)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: None))
