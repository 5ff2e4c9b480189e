#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-15-resume-close: a clean close from the client while the server is sending a resumed
session its missed updates gets the close frame back after whole frames only (issue 15, part 4).
lws 4.1.6 sends a frame longer than about 2 KB in two writes; a peer's close read in between used
to end the TCP connection mid-frame with no close frame (the client saw 1006)."""

import asyncio
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Servers, Suite, check, closing  # noqa: E402

suite = Suite("80-issue-15-resume-close", file_timeout=120)
UPDATES = 60   # ring frames of one large item each, all missed by the resuming client
CYCLES = 200   # before the fix about 2-3 in 100 of these closes ended mid-frame


@suite.test(timeout=90)
async def close_during_resume_gets_its_close_frame(srv):
    jam = srv.create_jam(title="Half frames", settings={"max_text": 2000})
    m = await Client(srv, "mod").connect()
    a = await Client(srv, "ana").connect()
    try:
        await m.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        w, _ = await a.join(jam["code"], "citizen", nickname="Ana")
        await m.must_ack({"type": "start"})
        await a.wait_model(lambda c: c.clock and c.clock.get("state") == "running", 3, "running")
        away_from = a.last
        await a.close()
        # One item of ~2 KB per tick: every missed update is longer than one lws write.
        for i in range(UPDATES):
            await m.must_ack({"type": "post", "kind": "problem",
                              "text": ("%03d " % i) + "x" * 1990})
            await asyncio.sleep(0.06)  # a tick (50 ms) apart, under the rate limit
        await m.wait_model(lambda c: len(c.items) == UPDATES, 5, "every item broadcast")
        bad = []
        for n in range(CYCLES):
            c = await Client(srv, "c%d" % n).connect()
            try:
                await c.send({"type": "join", "token": w["token"], "last_event_id": away_from})
                welcome = await c.wait_for("welcome", None, 3)
                check(welcome.get("resumed") is True, "not resumed: %r", welcome)
                if n % 2:
                    await asyncio.sleep(0.002)  # some closes a little later into the updates
            finally:
                await c.close()
            check(not c.anomalies, "cycle %d: %s", n, c.anomalies[:3])
            if c.close_code != 1000:
                bad.append((n, c.close_code, len(c.received)))
        check(not bad, "%d of %d clean closes got no close frame back (cycle, code, frames "
              "received): %s", len(bad), CYCLES, bad[:10])
    finally:
        await closing(m, a)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers().start(), lambda s: s.stop()))
