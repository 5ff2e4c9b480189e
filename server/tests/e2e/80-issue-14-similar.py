#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-14-similar: similar ideas while typing (issue 14, point 1). A phone asks `similar` with
the text typed so far and gets up to three visible items of that kind that share its rarer words,
most alike first: not the asker's own, not hidden ones, not other kinds; at most one query per
500 ms per session."""

import asyncio
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Servers, Suite, check, check_eq, closing  # noqa: E402

suite = Suite("80-issue-14-similar", file_timeout=60)


async def ask(c, text, kind="problem"):
    await c.send({"type": "similar", "kind": kind, "text": text})
    return await c.wait_for(("similar", "error"), timeout=3.0)


@suite.test(timeout=30)
async def similar_items_of_the_kind_most_alike_first(srv):
    jam = srv.create_jam(title="Similar")
    m = await Client(srv, "mod").connect()
    a = await Client(srv, "ana").connect()
    b = await Client(srv, "ben").connect()
    try:
        await m.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await a.join(jam["code"], "citizen", nickname="Ana")
        await b.join(jam["code"], "citizen", nickname="Ben")
        await m.must_ack({"type": "start"})
        ids = {}
        for who, t in ((a, "No shade at the bus stops"), (a, "Bike lanes on Main Street"),
                       (a, "Bus stops without any shade"), (a, "Free water fountains"),
                       (b, "Shade at bus stops please")):
            ids[t] = (await who.must_ack({"type": "post", "kind": "problem", "text": t}))["item"]
        r = await ask(b, "Bus stops have no shade")
        check_eq(r["type"], "similar", "answer type")
        check_eq(r["items"][:2], [ids["No shade at the bus stops"], ids["Bus stops without any shade"]],
                 "most alike first")
        check(ids["Shade at bus stops please"] not in r["items"], "the asker's own item: %r", r)
        check(ids["Bike lanes on Main Street"] not in r["items"], "unrelated item: %r", r)
        check(len(r["items"]) <= 3, "at most three: %r", r)
        await asyncio.sleep(0.6)
        r = await ask(b, "Bus stops have no shade", kind="idea")
        check_eq(r["items"], [], "another kind")
        await asyncio.sleep(0.6)
        await m.must_ack({"type": "hide", "item": ids["No shade at the bus stops"]})
        r = await ask(b, "Bus stops have no shade")
        check(ids["No shade at the bus stops"] not in r["items"] and r["items"], "hidden: %r", r)
        r = await ask(b, "Bus stops have no shade")
        check(r["type"] == "error" and r["code"] == "rate_limited", "a second query at once: %r", r)
    finally:
        await closing(m, a, b)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers().start(), lambda s: s.stop()))
