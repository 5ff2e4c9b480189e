#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-12-words: the word cloud and live themes (issue 12, point 2). Screens and moderators
get a `words` frame, at most once a second, when the visible items change or when they join;
phones never do. Stop words of the four languages are left out, hidden items stop counting, and
the same words come back after a restart (rebuilt by replaying the stream), against an external
Redis and against the embedded default."""

import asyncio
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, EmbeddedServers, Servers, Suite, Timeout, check, closing  # noqa: E402

MODE = os.environ.get("WORDS_REDIS", "external")
suite = Suite("80-issue-12-words" + ("-embedded" if MODE == "embedded" else ""), file_timeout=120)

TEXTS = ["Bus stops have no shade", "No shade at the bus stops", "Shade sails for the square",
         "Mehr Bäume für die Innenstadt", "Des arbres pour la place", "Más árboles en las paradas"]


def counts(frame):
    return {w: n for w, n in frame["words"]}


async def words_until(c, pred, timeout=5.0):
    """The newest words frame satisfying pred (older ones are dropped)."""
    return await c.wait_for("words", pred, timeout)


@suite.test(timeout=60)
async def screens_and_moderators_get_the_words_phones_do_not(srv):
    jam = srv.create_jam(title="Words")
    code = jam["code"]
    m = await Client(srv, "mod").connect()
    s = await Client(srv, "screen").connect()
    a = await Client(srv, "ana").connect()
    try:
        await m.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await s.join(code, "screen")
        await a.join(code, "citizen", nickname="Ana")
        # Joining owes a first frame, even for an empty jam.
        first = await s.wait_for("words", timeout=3.0)
        check(first["words"] == [] and first["themes"] == [], "empty jam: %r", first)
        await m.must_ack({"type": "start"})
        ids = []
        for t in TEXTS:
            ack = await a.must_ack({"type": "post", "kind": "problem", "text": t})
            ids.append(ack["item"])
        f = await words_until(s, lambda f: counts(f).get("shade") == 3)
        c = counts(f)
        check(c.get("bus") == 2 and c.get("stops") == 2, "bus/stops: %r", c)
        check(c.get("bäume") == 1 and c.get("árboles") == 1 and c.get("arbres") == 1,
              "accented words of de/es/fr kept and folded: %r", c)
        for stop in ("the", "have", "die", "für", "des", "pour", "las", "en", "no"):
            check(stop not in c, "stop word %r counted: %r", stop, c)
        check(f["words"][0] == ["shade", 3], "most used first: %r", f["words"][:3])
        th = f["themes"]
        check(th and th[0]["word"] == "shade" and th[0]["items"] == 3 and th[0]["top"] in ids[:3],
              "first theme is shade with 3 items: %r", th)
        await m.wait_for("words", lambda f: counts(f).get("shade") == 3, timeout=5.0)
        # At most once a second: frames to the screen are spaced by >= ~1 s.
        s.drain("words")
        t0 = time.monotonic()
        await a.must_ack({"type": "post", "kind": "problem", "text": "Shade for playgrounds"})
        await words_until(s, lambda f: counts(f).get("shade") == 4)
        await a.must_ack({"type": "post", "kind": "problem", "text": "More shade by the river"})
        await words_until(s, lambda f: counts(f).get("shade") == 5)
        check(time.monotonic() - t0 >= 0.9, "two words frames within %.2f s",
              time.monotonic() - t0)
        # Hiding an item uncounts its words.
        await m.must_ack({"type": "hide", "item": ids[0], "reason": "duplicate"})
        f = await words_until(s, lambda f: counts(f).get("shade") == 4)
        check(counts(f).get("bus") == 1, "hidden item still counted: %r", counts(f))
        # The phone never got one.
        await asyncio.sleep(1.2)
        check(not [x for x in a.pending if x["type"] == "words"], "a citizen got a words frame")
    finally:
        await closing(m, s, a)
    # Rebuilt by replay: a restarted server gives the same words to a new screen.
    srv.stop_cojamd()
    srv.start_cojamd()
    s2 = await Client(srv, "screen2").connect()
    try:
        await s2.join(code, "screen")
        f = await s2.wait_for("words", timeout=5.0)
        check(counts(f).get("shade") == 4 and counts(f).get("bus") == 1,
              "after a restart: %r", counts(f))
    finally:
        await closing(s2)


@suite.test(timeout=30)
async def a_quiet_jam_sends_nothing_more(srv):
    jam = srv.create_jam(title="Quiet")
    s = await Client(srv, "screen").connect()
    try:
        await s.join(jam["code"], "screen")
        await s.wait_for("words", timeout=3.0)
        try:
            extra = await s.wait_for("words", timeout=2.5)
        except Timeout:
            extra = None
        check(extra is None, "an unchanged jam sent another words frame: %r", extra)
    finally:
        await closing(s)


if __name__ == "__main__":
    make = EmbeddedServers if MODE == "embedded" else Servers
    sys.exit(suite.run(lambda: make().start(), lambda s: s.stop()))
