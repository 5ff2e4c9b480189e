#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-16-event-loop: cojamd on either event loop (--event-loop libev, the default: lws on a
libev loop cojamd owns, epoll underneath; --event-loop poll: lws's own poll loop). Every other e2e
file runs on the default; here each loop runs a small jam end to end (a moderator and two citizens,
a post, a vote, the other citizen's screen shows it, an HTTP request beside the sessions), says in
its log which loop it runs on, and stops cleanly on SIGTERM. 80-issue-10-connections cuts off a
screen that reads nothing on both loops (the write pump's back-pressure is the loop's business)."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Servers, Suite, check, check_eq, closing, moderator_and_citizens  # noqa: E402

suite = Suite("80-issue-16-event-loop", file_timeout=60)
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


if __name__ == "__main__":
    sys.exit(suite.run(lambda: None))
