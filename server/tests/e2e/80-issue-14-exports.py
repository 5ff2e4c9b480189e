#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-14-exports: exports public per jam (issue 14, point 6), against the real cojamd and
Redis. A jam created with settings.public_exports serves its JSON and CSV exports without a
secret while another jam of the same server still needs one; a moderator's set_exports opens
(or closes) one jam's exports, a reveal mode that hides counts closes them for the public again,
the results say which (exports_public), the log lists it, and a restart keeps it.
Two storage modes (EXPORTS_REDIS): "external" (this file: cojamd --redis against a redis-server the
test owns) and "embedded" (80-issue-14-exports-embedded.py: cojamd with its own redis-server)."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Suite, check_eq, closing, storage_mode  # noqa: E402

MODE, make = storage_mode("EXPORTS_REDIS")
suite = Suite("80-issue-14-exports" + ("-embedded" if MODE == "embedded" else ""), file_timeout=90)


def public(srv, code):
    """(JSON export status, CSV export status, results' exports_public) without a secret."""
    st_j, _, _ = srv.http_json("GET", "/api/jams/%s/export" % code)
    st_c, _, _ = srv.http("GET", "/api/jams/%s/export.csv" % code)
    _, res, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
    return st_j, st_c, res["exports_public"]


@suite.test(timeout=60)
async def one_jam_published_the_others_not(srv):
    open_jam = srv.create_jam(title="Open", settings={"public_exports": True})
    closed = srv.create_jam(title="Closed")
    check_eq(public(srv, open_jam["code"]), (200, 200, True), "created with public_exports")
    check_eq(public(srv, closed["code"]), (401, 401, False), "the other jam still needs a secret")
    st, summary, _ = srv.http_json("GET", "/api/jams/%s" % open_jam["code"])
    check_eq(summary["settings"]["public_exports"], True, "the summary's settings")

    m = Client(srv, "mod")
    a = Client(srv, "ana")
    try:
        await m.connect()
        await a.connect()
        await m.join(closed["code"], "moderator", nickname="Mod", secret=closed["moderator_secret"])
        await a.join(closed["code"], "citizen", nickname="Ana")
        await a.must_fail({"type": "set_exports", "public": True}, "forbidden")
        await m.must_ack({"type": "set_exports", "public": True})
        check_eq(public(srv, closed["code"]), (200, 200, True), "opened by the moderator")
        await m.must_ack({"type": "set_reveal", "mode": "hidden"})
        check_eq(public(srv, closed["code"]), (401, 401, False), "closed while counts are hidden")
        auth = {"Authorization": "Bearer " + closed["moderator_secret"]}
        st, _, _ = srv.http("GET", "/api/jams/%s/export.csv" % closed["code"], headers=auth)
        check_eq(st, 200, "the moderator still exports")
        await m.must_ack({"type": "set_reveal", "mode": "live"})
        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % closed["code"])
        check_eq([e["public"] for e in log if e["action"] == "exports_set"], [True], "the log")
    finally:
        await closing(m, a)

    srv.stop_cojamd()
    srv.start_cojamd()
    check_eq(public(srv, closed["code"]), (200, 200, True), "after a restart")
    check_eq(public(srv, open_jam["code"])[2], True, "the created setting after a restart")

    m = Client(srv, "mod2")
    try:
        await m.connect()
        await m.join(open_jam["code"], "moderator", nickname="Mod", secret=open_jam["moderator_secret"])
        await m.must_ack({"type": "set_exports", "public": False})
        check_eq(public(srv, open_jam["code"]), (401, 401, False), "closed again")
    finally:
        await closing(m)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: make().start(), lambda s: s.stop()))
