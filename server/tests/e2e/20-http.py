#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""20-http: the HTTP API of proto/messages.md: POST /api/jams (admin token, validation, defaults,
links), GET /api/jams/<code> and /log for unknown jams."""

import json
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ADMIN_TOKEN, PROTO, Servers, Suite, check, check_eq, sha256_hex  # noqa: E402

suite = Suite("20-http", file_timeout=60)
AUTH = {"Authorization": "Bearer " + ADMIN_TOKEN}
GOOD = {"title": "T", "question": "Q?", "agenda": [{"phase": "explore", "duration_s": 60}]}
DEFAULTS = {"anonymous_allowed": True, "votes_per_phase": 5, "min_text": 2, "max_text": 500,
            "premoderation": False, "public_exports": False}


def post(srv, body, headers=AUTH):
    return srv.http_json("POST", "/api/jams", body, dict(headers, **{"Content-Type":
                                                                      "application/json"}))


def with_(**kw):
    b = json.loads(json.dumps(GOOD))
    for k, v in kw.items():
        if v is None:
            b.pop(k, None)
        else:
            b[k] = v
    return b


@suite.test()
async def create_needs_admin_token(srv):
    for h in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN},
              {"Authorization": "Basic " + ADMIN_TOKEN}, {"Authorization": "Bearer "}):
        st, _, raw = post(srv, GOOD, h)
        check_eq(st, 401, "POST /api/jams with %r" % h)
    check_eq(srv.rcli("SCARD", "cojam:jams").strip(), "0", "jams created without a token")


@suite.test()
async def create_example_and_links(srv):
    with open(os.path.join(PROTO, "examples", "http-create-jam.json")) as f:
        body = f.read()
    st, j, raw = post(srv, body)
    check_eq(st, 201, "POST the example body")
    check(re.fullmatch(r"[0-9]{6}", j.get("code", "")), "code %r", j.get("code"))
    check_eq(sorted(j), ["code", "links", "moderator_secret"], "reply keys")
    check_eq(sorted(j["links"]), ["join", "moderate", "screen"], "link keys")
    check_eq(j["links"]["screen"], "%s/screen.html#%s" % (srv.origin, j["code"]), "screen link")
    st2, j2, _ = post(srv, body)
    check_eq(st2, 201, "second create")
    check(j2["code"] != j["code"], "two jams got the same code")
    check(j2["moderator_secret"] != j["moderator_secret"], "two jams got the same secret")
    st, s, _ = srv.http_json("GET", "/api/jams/%s" % j["code"])
    check_eq(st, 200, "summary")
    want = json.loads(body)
    want["settings"].setdefault("premoderation", False)
    want["settings"].setdefault("public_exports", False)
    check_eq((s["title"], s["question"], s["agenda"], s["settings"]),
             (want["title"], want["question"], want["agenda"], want["settings"]), "summary")
    ev = srv.xrange(j["code"])
    check_eq(ev[0][1].get("secret_sha256"), sha256_hex(j["moderator_secret"]), "secret hash")


@suite.test()
async def settings_default(srv):
    st, j, _ = post(srv, GOOD)
    check_eq(st, 201, "create without settings")
    st, s, _ = srv.http_json("GET", "/api/jams/%s" % j["code"])
    check_eq(s["settings"], DEFAULTS, "default settings")
    st, j, _ = post(srv, with_(settings={"votes_per_phase": 0}))
    check_eq(st, 201, "votes_per_phase 0 (unlimited)")
    st, s, _ = srv.http_json("GET", "/api/jams/%s" % j["code"])
    check_eq(s["settings"], dict(DEFAULTS, votes_per_phase=0), "partial settings")


BAD = [
    ("not JSON", "{title", "bad_json"),
    ("not an object", "[1]", "bad_message"),
    ("no title", with_(title=None), "bad_message"),
    ("no agenda", with_(agenda=None), "bad_message"),
    ("title a number", with_(title=5), "bad_message"),
    ("unknown field", with_(colour="red"), "bad_message"),
    ("unknown setting", with_(settings={"colour": "red"}), "bad_message"),
    ("title 121", with_(title="t" * 121), "too_long"),
    ("title empty", with_(title=""), "too_short"),
    ("question 501", with_(question="q" * 501), "too_long"),
    ("unknown phase", with_(agenda=[{"phase": "party", "duration_s": 1}]), "bad_value"),
    ("duration 86401", with_(agenda=[{"phase": "explore", "duration_s": 86401}]), "bad_value"),
    ("duration -1", with_(agenda=[{"phase": "explore", "duration_s": -1}]), "bad_value"),
    ("votes_per_phase 1001", with_(settings={"votes_per_phase": 1001}), "bad_value"),
    ("max_text 2001", with_(settings={"max_text": 2001}), "bad_value"),
    ("duplicate key", '{"title":"a","title":"b","question":"q","agenda":[]}', "duplicate_key"),
]


@suite.test()
async def create_validation_400(srv):
    bad = []
    for what, body, code in BAD:
        st, j, raw = post(srv, body)
        got = (j or {}).get("error", {}).get("code") if isinstance(j, dict) else None
        if st != 400 or got != code:
            bad.append("%s: %d %s (want 400 %s)" % (what, st, raw[:120], code))
        elif not isinstance(j["error"].get("message"), str):
            bad.append("%s: error without message" % what)
    # Sizes without a named code: still 400.
    for what, body in (("empty agenda", with_(agenda=[])),
                       ("6 phases", with_(agenda=[{"phase": p, "duration_s": 1} for p in
                                                  ("explore", "ideate", "design", "diffuse",
                                                   "results", "explore")])),
                       ("phase twice", with_(agenda=[{"phase": "explore", "duration_s": 1}] * 2))):
        st, _, raw = post(srv, body)
        if st != 400:
            bad.append("%s: %d %s (want 400)" % (what, st, raw[:120]))
    check(not bad, "%d refused wrongly: %s", len(bad), "; ".join(bad))


@suite.test()
async def create_body_over_16k_refused(srv):
    body = with_(question="q" * 17000)
    st, _, _ = post(srv, body)
    check(st in (400, 413), "a 17 KB body -> %d (want 400 or 413)", st)
    st, _, _ = srv.http("GET", "/healthz")
    check_eq(st, 200, "healthz afterwards")


@suite.test()
async def unknown_jams(srv):
    for path in ("/api/jams/000000", "/api/jams/abc", "/api/jams/000000/log", "/api/jams/"):
        if srv.rcli("SISMEMBER", "cojam:jams", "000000").strip() == "1":
            continue
        st, _, _ = srv.http("GET", path)
        check(st in (400, 404), "GET %s -> %d (want 404/400)", path, st)


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers().start(), lambda s: s.stop()))
