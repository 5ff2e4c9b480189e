#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-13-metrics: GET /metrics (issue 13, point 5) in the Prometheus text exposition format
0.0.4. A small jam is run (a moderator, two citizens, a post, a vote, a vote refused with
already_voted, a bad message) and the scrape before and after shows the counters move by what was
done: joins and votes received, the error codes sent, events appended and applied, the store and
apply histograms, connections by role. The body is parsed strictly here (every sample belongs to a
family announced by HELP and TYPE, histogram buckets cumulative up to +Inf = _count) and checked
with `promtool check metrics` when promtool is installed. Access: the admin token, or anyone with
--metrics-public 1."""

import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ADMIN_TOKEN, Servers, SkipTest, Suite, check, check_eq, closing,  # noqa: E402
                     moderator_and_citizens)

suite = Suite("80-issue-13-metrics", file_timeout=90)
AUTH = {"Authorization": "Bearer " + ADMIN_TOKEN}
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(%s)(\{(.*)\})? (\S+)$" % NAME)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse(body):
    """{(name, frozenset of labels): value}, after checking the format strictly."""
    text = body.decode("utf-8")
    check(text.endswith("\n"), "the body ends with a newline")
    families, samples, current = {}, {}, None
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            check(name not in families, "family %s announced once", name)
            families[name] = None
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            check(name == current and families[name] is None, "TYPE right after HELP: %s", line)
            check(kind in ("counter", "gauge", "histogram"), "known type: %s", line)
            families[name] = kind
        else:
            m = SAMPLE.match(line)
            check(m is not None, "a sample line: %r", line)
            name, labels = m.group(1), {}
            rest = m.group(3) or ""
            while rest:
                lm = LABEL.match(rest)
                check(lm is not None, "labels of %r", line)
                labels[lm.group(1)] = lm.group(2)
                rest = rest[lm.end():]
            base = re.sub(r"_(bucket|sum|count)$", "", name) if families.get(current) == "histogram" \
                else name
            check(base == current, "sample %s belongs to the family above it (%s)", name, current)
            if families[current] == "counter":
                check(name.endswith("_total"), "a counter is named *_total: %s", name)
            value = float(m.group(4))
            check(value >= 0, "no negative value: %r", line)
            key = (name, frozenset(labels.items()))
            check(key not in samples, "sample given once: %r", line)
            samples[key] = value
    for name, kind in families.items():
        if kind != "histogram":
            continue
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items()
                          if k[0] == name + "_bucket"))
        check(buckets and buckets[-1][0] == float("inf"), "%s ends at +Inf", name)
        check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "%s cumulative", name)
        check_eq(buckets[-1][1], samples[(name + "_count", frozenset())], name + " +Inf = _count")
    return samples


def scrape(srv):
    st, h, body = srv.http("GET", "/metrics", headers=AUTH)
    check_eq(st, 200, "GET /metrics with the admin token")
    check(h.get("content-type", "").startswith("text/plain; version=0.0.4"),
          "content type: %s", h.get("content-type"))
    return parse(body), body


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


@suite.test(timeout=40)
async def counters_move_with_a_jam(srv):
    before, _ = scrape(srv)
    jam = srv.create_jam(title="Metrics")
    m, a, b = await moderator_and_citizens(srv, jam, "Ana", "Ben")
    try:
        await m.must_ack({"type": "start"})
        await a.must_ack({"type": "post", "kind": "problem", "text": "No shade at the stops"})
        await b.must_ack({"type": "vote", "item": 1})
        await b.must_fail({"type": "vote", "item": 1}, "already_voted")
        await a.expect_error("{not json", "bad_json")
        after, body = scrape(srv)
        d = lambda name, **lb: val(after, name, **lb) - val(before, name, **lb)  # noqa: E731
        check_eq(d("cojam_messages_received_total", type="join"), 3, "joins received")
        check_eq(d("cojam_messages_received_total", type="vote"), 2, "votes received")
        check_eq(d("cojam_errors_sent_total", code="already_voted"), 1, "already_voted sent")
        check_eq(d("cojam_errors_sent_total", code="bad_json"), 1, "bad_json sent")
        # jam_created, 3 joins, start, post, vote: 7 appends, each applied from the tail; all but
        # jam_created (the HTTP API's) are writes of a session, matched to their apply
        check_eq(d("cojam_events_appended_total"), 7, "appends")
        check_eq(d("cojam_events_applied_total"), 7, "applies")
        check_eq(d("cojam_own_events_applied_total"), 6, "own writes applied")
        check_eq(d("cojam_store_latency_seconds_count"), 6, "store latency observed")
        check_eq(d("cojam_apply_latency_seconds_count"), 6, "apply latency observed")
        check(val(after, "cojam_tick_duration_seconds_count") > 0, "ticks observed")
        check_eq(val(after, "cojam_connections", role="citizen"), 2, "citizens connected")
        check_eq(val(after, "cojam_connections", role="moderator"), 1, "moderators connected")
        check(val(after, "cojam_jams") >= 1, "jams")
        check_eq(val(after, "cojam_redis_up"), 1, "redis up")
        check(d("cojam_deliveries_total") > 0 and d("cojam_sent_bytes_total") > 0,
              "deliveries and bytes counted")
    finally:
        await closing(m, a, b)
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                           timeout=20)
        check_eq((r.returncode, r.stdout + r.stderr), (0, b""), "promtool check metrics")
    closed, _ = scrape(srv)
    check(val(closed, "cojam_closes_total", code="peer") - val(before, "cojam_closes_total",
          code="peer") >= 3, "closes by the peer counted")


@suite.test(timeout=20)
async def promtool_accepts_the_body(srv):
    promtool = shutil.which("promtool")
    if not promtool:
        raise SkipTest("promtool not installed (Debian package prometheus); the body is parsed "
                       "strictly by this file instead")
    _, body = scrape(srv)
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=20)
    check_eq((r.returncode, r.stdout + r.stderr), (0, b""), "promtool check metrics")


@suite.test(timeout=30)
async def admin_token_or_metrics_public(srv):
    st, _, _ = srv.http("GET", "/metrics")
    check_eq(st, 401, "no token")
    st, _, _ = srv.http("GET", "/metrics", headers={"Authorization": "Bearer nope"})
    check_eq(st, 401, "a wrong token")
    st, _, _ = srv.http("POST", "/metrics", body="", headers=AUTH)
    check_eq(st, 405, "POST")
    srv.stop_cojamd()
    srv.extra_args = list(srv.extra_args) + ["--metrics-public", "1"]
    try:
        srv.start_cojamd()
        st, _, body = srv.http("GET", "/metrics")
        check_eq(st, 200, "public metrics without a token")
        parse(body)
    finally:
        srv.stop_cojamd()
        srv.extra_args = srv.extra_args[:-2]
        srv.start_cojamd()


if __name__ == "__main__":
    sys.exit(suite.run(lambda: Servers().start(), lambda s: s.stop()))
