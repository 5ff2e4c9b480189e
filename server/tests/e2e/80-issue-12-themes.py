#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-12-themes: the moderators' control of the live themes (issue 12, point 2). A moderator
renames a theme (`rename_theme`), merges themes (`merge_themes`, `unmerge_theme`) and hides one
(`hide_theme`, `unhide_theme`); screens see each within a second of the ack; a citizen is refused
with `forbidden`; every action is in the public log; the rules survive SIGKILL, from a CJS13
snapshot and from the stream after it."""

import asyncio
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Suite, check, check_eq, closing, storage_mode  # noqa: E402

MODE, make = storage_mode("THEMES_REDIS")
suite = Suite("80-issue-12-themes" + ("-embedded" if MODE == "embedded" else ""), file_timeout=150)

TEXTS = ["Shade at the bus stops", "Trees for shade", "Shade sails on the square",
         "Bus lanes on main street", "Night bus", "More trees in the square", "Plant trees"]


def theme(frame, word):
    return next((t for t in frame["themes"] if t["word"] == word), None)


async def within_a_second(c, pred, what):
    """The first words frame after an ack satisfying pred, at most ~1 s (+ the tick) later."""
    t0 = time.monotonic()
    f = await c.wait_for("words", pred, timeout=3.0)
    check(time.monotonic() - t0 < 1.5, "%s: %.2f s after the ack", what, time.monotonic() - t0)
    return f


@suite.test(timeout=120)
async def moderators_rename_merge_and_hide_themes(srv):
    jam = srv.create_jam(title="Themes")
    code = jam["code"]
    m = await Client(srv, "mod").connect()
    s = await Client(srv, "screen").connect()
    a = await Client(srv, "ana").connect()
    try:
        await m.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await s.join(code, "screen")
        await a.join(code, "citizen", nickname="Ana")
        await m.must_ack({"type": "start"})
        for t in TEXTS:
            await a.must_ack({"type": "post", "kind": "problem", "text": t})
        f = await s.wait_for("words", lambda f: theme(f, "shade") and theme(f, "bus"), timeout=5)
        check_eq(theme(f, "shade")["label"], "shade", "the label is the word until renamed")

        # A citizen may not.
        for msg in ({"type": "rename_theme", "word": "shade", "label": "Cool"},
                    {"type": "merge_themes", "words": ["bus"], "into": "shade"},
                    {"type": "hide_theme", "word": "trees"}):
            await a.must_fail(msg, "forbidden")

        # Rename: the screen shows the label.
        s.drain("words")
        await m.must_ack({"type": "rename_theme", "word": "shade", "label": "Shade & cool"})
        f = await within_a_second(s, lambda f: (theme(f, "shade") or {}).get("label") ==
                                  "Shade & cool", "rename")
        check({"word": "shade", "label": "Shade & cool"} in f["theme_rules"], "rules: %r",
              f["theme_rules"])
        await m.must_fail({"type": "hide_theme", "word": "Shade"}, "not_a_word")

        # Merge bus into shade: items of either once, bus makes no theme of its own.
        s.drain("words")
        await m.must_ack({"type": "merge_themes", "words": ["bus"], "into": "shade"})
        f = await within_a_second(s, lambda f: (theme(f, "shade") or {}).get("items") == 5,
                                  "merge")
        check(theme(f, "bus") is None, "a merged word makes no theme: %r", f["themes"])
        check_eq(theme(f, "shade").get("merged"), ["bus"], "the merged words")
        await m.must_fail({"type": "merge_themes", "words": ["trees"], "into": "bus"},
                          "theme_merged")

        # Hide trees: no theme, not in the cloud.
        s.drain("words")
        await m.must_ack({"type": "hide_theme", "word": "trees"})
        f = await within_a_second(s, lambda f: theme(f, "trees") is None and f["theme_rules"] and
                                  any(r.get("hidden") for r in f["theme_rules"]), "hide")
        check("trees" not in [w for w, _ in f["words"]], "a hidden word left the cloud: %r",
              f["words"])

        # Undo a merge: bus is its own theme again; then merge it back for the restart.
        s.drain("words")
        await m.must_ack({"type": "unmerge_theme", "word": "bus"})
        await within_a_second(s, lambda f: theme(f, "bus") is not None, "unmerge")
        await m.must_ack({"type": "merge_themes", "words": ["bus"], "into": "shade"})
        await m.must_ack({"type": "hide_theme", "word": "square"})
        await m.must_ack({"type": "unhide_theme", "word": "square"})

        st, log, _ = srv.http_json("GET", "/api/jams/%s/log" % code)
        acts = [e["action"] for e in log]
        for act in ("theme_renamed", "themes_merged", "theme_unmerged", "theme_hidden",
                    "theme_unhidden"):
            check(act in acts, "%s in the public log: %r", act, acts[-8:])
        ren = next(e for e in log if e["action"] == "theme_renamed")
        check(ren["word"] == "shade" and ren["label"] == "Shade & cool", "log line: %r", ren)
        mer = next(e for e in log if e["action"] == "themes_merged")
        check(mer["words"] == ["bus"] and mer["into"] == "shade", "log line: %r", mer)

        # A snapshot (--snapshot-every 100), then a rule after it: the restart needs both.
        for i in range(100):  # paced: a session may send 20 messages a second
            await m.must_ack({"type": "post", "kind": "problem", "text": "Later note %d" % i})
            await asyncio.sleep(0.055)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                srv.rcli("EXISTS", "cojam:jam:%s:snapshot" % code).strip() != "1":
            time.sleep(0.2)
        check(srv.rcli("GET", "cojam:jam:%s:snapshot" % code).startswith("CJS13"),
              "a CJS13 snapshot was stored")
        await m.must_ack({"type": "rename_theme", "word": "later", "label": "Later ideas"})
    finally:
        await closing(m, s, a)

    os.kill(srv.cojamd.pid, signal.SIGKILL)
    srv.cojamd.wait(timeout=5)
    srv.start_cojamd()
    s2 = await Client(srv, "screen2").connect()
    try:
        await s2.join(code, "screen")
        f = await s2.wait_for("words", lambda f: theme(f, "shade"), timeout=5)
        sh = theme(f, "shade")
        check(sh["label"] == "Shade & cool" and sh.get("merged") == ["bus"],
              "after SIGKILL: %r", sh)
        check(theme(f, "bus") is None and theme(f, "trees") is None, "still merged and hidden: %r",
              f["themes"])
        check_eq((theme(f, "later") or {}).get("label"), "Later ideas",
                 "the rule stored after the snapshot, replayed from the stream")
        check("trees" not in [w for w, _ in f["words"]], "hidden after SIGKILL: %r", f["words"])
    finally:
        await closing(s2)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: make(extra_args=["--snapshot-every", "100"]).start(),
                       lambda s: s.stop()))
