#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-14-screen: what the projector shows (issue 14, point 8). The counters count the
citizens in the hall: stats.participants and stats.online leave out moderators and screens, in
snapshots, updates and the public summary. The summary's join_url is built from --public-url, so a
screen opened on another address (a laptop on the LAN, a proxy) still shows the public one."""

import asyncio
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Servers, Suite, check_eq, closing  # noqa: E402

suite = Suite("80-issue-14-screen")
PUBLIC = "https://jam.example.org/city"


@suite.test()
async def counts_leave_out_moderators_and_screens(srv):
    jam = srv.create_jam(title="Counted")
    code = jam["code"]
    m, s, a, b = (Client(srv, n) for n in ("mod", "screen", "ana", "ben"))
    try:
        for c in (m, s, a, b):
            await c.connect()
        await m.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await s.join(code, "screen")
        await a.join(code, "citizen", nickname="Ana")
        _, snap = await b.join(code, "citizen", anonymous=True)
        check_eq((snap["stats"]["participants"], snap["stats"]["online"]), (2, 2),
                 "ben's snapshot: (participants, online)")
        for c in (m, s, a):  # the update that carried ben's join
            await c.wait_model(lambda c: (c.stats or {}).get("participants") == 2, 3,
                               "%s sees two participants" % c.name)
            check_eq(c.stats.get("online"), 2, "%s: online" % c.name)
        await m.close()
        await a.wait_model(lambda c: (c.stats or {}).get("online") == 2, 3, "online stays 2")
        await b.close()
        await a.wait_model(lambda c: (c.stats or {}).get("online") == 1, 3, "online 1 after ben left")
        st, summary, _ = srv.http_json("GET", "/api/jams/" + code)
        check_eq(st, 200, "GET summary status")
        check_eq((summary["stats"]["participants"], summary["stats"]["online"]), (2, 1),
                 "summary: (participants, online)")
    finally:
        await closing(m, s, a, b)


@suite.test()
async def summary_join_url_is_the_public_url(srv):
    jam = srv.create_jam(title="Public")
    st, summary, _ = srv.http_json("GET", "/api/jams/" + jam["code"])
    check_eq(st, 200, "GET summary status")
    check_eq(summary.get("join_url"), PUBLIC + "/#" + jam["code"], "join_url")
    check_eq(summary.get("join_url"), jam["links"]["join"], "join_url vs the created join link")


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers(extra_args=["--public-url", PUBLIC]).start(),
                       lambda s: s.stop()))
