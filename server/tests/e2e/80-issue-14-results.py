#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-14-results: the outcome of a jam (issue 14, points 5 and 6). A jam is run through
explore, ideate, design, diffuse and results, with a pause, an extension and a hidden item. The
public GET /api/jams/<code>/results gives the final ranking of every kind with the lineage (each
item's parent), votes per phase, participation counts, the moderation log with its reasons and the
chain head. GET /api/jams/<code>/export.csv is one RFC 4180 row per item, formula cells guarded,
for the moderator or the admin only unless the server runs with --public-exports 1."""

import csv
import io
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ADMIN_TOKEN, Client, Servers, Suite, check, check_eq, closing  # noqa: E402

suite = Suite("80-issue-14-results", file_timeout=120)
AGENDA = [{"phase": p, "duration_s": 600} for p in ("explore", "ideate", "design", "diffuse")] + [
    {"phase": "results", "duration_s": 0}]


async def run_jam(srv):
    """Items: 1 problem (Ana), 2 problem '=1+2' hidden, 3 idea of 1 (Ben), 4 idea (Ana),
    5 refinement of 3, 6 pledge of 3. Votes: Ben for 1 (explore); Ana and Ben for 3, Ana for 4
    (ideate); Ana for 5 (design)."""
    jam = srv.create_jam(title="Outcomes", agenda=AGENDA)
    m, a, b = Client(srv, "mod"), Client(srv, "ana"), Client(srv, "ben")
    try:
        for c in (m, a, b):
            await c.connect()
        await m.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await a.join(jam["code"], "citizen", nickname="Ana")
        await b.join(jam["code"], "citizen", anonymous=True)
        await m.must_ack({"type": "start"})
        await a.must_ack({"type": "post", "kind": "problem", "text": "Bus stops have no shade"})
        await b.must_ack({"type": "post", "kind": "problem", "text": "=1+2"})
        await b.must_ack({"type": "vote", "item": 1})
        await m.must_ack({"type": "hide", "item": 2, "reason": "not a problem, a formula"})
        await m.must_ack({"type": "pause"})
        await m.must_ack({"type": "resume"})
        await m.must_ack({"type": "extend", "seconds": 120})
        await m.must_ack({"type": "set_phase", "phase": "ideate"})
        await b.must_ack({"type": "post", "kind": "idea", "text": "Trees, \"big\" ones, at stops",
                          "parent": 1})
        await a.must_ack({"type": "post", "kind": "idea", "text": "Water fountains"})
        for c, item in ((a, 3), (b, 3), (a, 4)):
            await c.must_ack({"type": "vote", "item": item})
        await m.must_ack({"type": "set_phase", "phase": "design"})
        await a.must_ack({"type": "post", "kind": "refinement", "text": "Start at schools",
                          "parent": 3})
        await a.must_ack({"type": "vote", "item": 5})
        await m.must_ack({"type": "set_phase", "phase": "diffuse"})
        await b.must_ack({"type": "post", "kind": "pledge", "text": "I water two trees",
                          "parent": 3})
        await m.must_ack({"type": "set_phase", "phase": "results"})
    finally:
        await closing(m, a, b)
    return jam


@suite.test(timeout=60)
async def results_are_public_with_lineage_and_record(srv):
    jam = await run_jam(srv)
    code = jam["code"]
    st, r, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
    check_eq(st, 200, "GET results status")
    check_eq((r["format"], r["final"], r["exports_public"]), ("cojam-results/1", True, False),
             "format, final, exports_public")
    items = {it["id"]: it for it in r["items"]}
    check_eq(sorted(items), [1, 3, 4, 5, 6], "visible items (2 is hidden)")
    check_eq([(items[i]["parent"], items[i]["kind"]) for i in (1, 3, 5, 6)],
             [(None, "problem"), (1, "idea"), (3, "refinement"), (3, "pledge")], "lineage")
    check_eq(r["ranking"], {"problem": [1], "idea": [3, 4], "refinement": [5], "pledge": [6]},
             "the whole ranking per kind")
    check_eq([items[i]["rank"] for i in (1, 3, 4)], [1, 1, 2], "ranks")
    check_eq(items[3]["votes_by_phase"], {"ideate": 2}, "idea 3 votes by phase")
    check_eq(items[1]["votes_by_phase"], {"explore": 1}, "problem 1 votes by phase")
    check_eq(items[3]["author"], None, "an anonymous author is null")
    st_ = r["stats"]
    check_eq((st_["participants"], st_["contributors"], st_["voters"], st_["items"], st_["votes"]),
             (2, 2, 2, 5, 5), "participants, contributors, voters, items, votes")
    actions = [e["action"] for e in r["moderation"]]
    for want in ("started", "hidden", "paused", "resumed", "extended", "phase_set"):
        check(want in actions, "the moderation log has %s: %r", want, actions)
    hidden = [e for e in r["moderation"] if e["action"] == "hidden"]
    check_eq((hidden[0]["item"], hidden[0]["reason"]), (2, "not a problem, a formula"),
             "the hide with its reason")
    check_eq([e["phase"] for e in r["moderation"] if e["action"] == "phase_set"],
             ["ideate", "design", "diffuse", "results"], "the agenda as run")
    st, summary, _ = srv.http_json("GET", "/api/jams/%s" % code)
    check_eq(r["chain"], summary["chain"], "the chain head is the summary's")
    check(all("=1+2" not in (it.get("text") or "") for it in r["items"]), "hidden text not public")


@suite.test(timeout=60)
async def results_not_final_while_running(srv):
    jam = srv.create_jam(title="Running")
    st, r, _ = srv.http_json("GET", "/api/jams/%s/results" % jam["code"])
    check_eq((st, r["final"], r["items"], r["clock"]["state"]), (200, False, [], "lobby"),
             "a jam in its lobby")
    st, r, _ = srv.http_json("GET", "/api/jams/000000x/results")
    check(st == 404, "a bad code: %s", st)


def csv_export(srv, code, auth):
    return srv.http("GET", "/api/jams/%s/export.csv" % code,
                    headers={"Authorization": "Bearer " + auth} if auth else {})


@suite.test(timeout=60)
async def csv_export_is_spreadsheet_ready(srv):
    jam = await run_jam(srv)
    code = jam["code"]
    for auth in (None, "wrong"):
        st, _, data = csv_export(srv, code, auth)
        check(st == 401 and b"unauthorized" in data, "auth %r: %s %r", auth, st, data[:200])
    for auth in (ADMIN_TOKEN, jam["moderator_secret"]):
        st, hdr, data = csv_export(srv, code, auth)
        check_eq(st, 200, "CSV status with %r" % auth[:4])
        check(hdr.get("content-type", "").startswith("text/csv"), "content type %r", hdr)
    text = data.decode("utf-8")
    check(text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "CRLF rows: %r", text)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    check_eq(rows[0], ["id", "kind", "role", "parent", "phase", "rank", "votes", "fair_rank",
                       "shown", "fair_score", "votes_1_explore",
                       "votes_2_ideate", "votes_3_design", "votes_4_diffuse", "votes_5_results",
                       "author", "by", "hidden", "hidden_reason", "merged_into", "text"], "header")
    check_eq(len(rows), 7, "a header and one row per item")
    by_id = {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
    two = by_id["2"]
    check_eq((two["text"], two["hidden"], two["hidden_reason"], two["rank"], two["author"]),
             ("'=1+2", "yes", "not a problem, a formula", "", "anonymous"),
             "the hidden formula item: guarded, with its reason")
    three = by_id["3"]
    check_eq((three["text"], three["parent"], three["rank"], three["votes"],
              three["votes_2_ideate"]), ('Trees, "big" ones, at stops', "1", "1", "2", "2"),
             "a quoted text, its parent, rank and votes")
    check_eq((by_id["5"]["parent"], by_id["6"]["kind"], by_id["1"]["author"]),
             ("3", "pledge", "Ana"), "lineage and display names")


@suite.test(timeout=60)
async def exports_public_when_the_organiser_allows(srv):
    jam = await run_jam(srv)
    code = jam["code"]
    srv.stop_cojamd()
    srv.extra_args = srv.extra_args + ["--public-exports", "1"]
    try:
        srv.start_cojamd()
        st, _, data = csv_export(srv, code, None)
        check(st == 200 and data.startswith(b"id,kind,"), "public CSV: %s %r", st, data[:80])
        st, j, _ = srv.http_json("GET", "/api/jams/%s/export" % code)
        check(st == 200 and j["format"] == "cojam-export/1", "public JSON export: %s", st)
        st, r, _ = srv.http_json("GET", "/api/jams/%s/results" % code)
        check_eq(r["exports_public"], True, "the results say exports are public")
    finally:
        srv.stop_cojamd()
        srv.extra_args = srv.extra_args[:-2]
        srv.start_cojamd()


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers().start(), lambda s: s.stop()))
