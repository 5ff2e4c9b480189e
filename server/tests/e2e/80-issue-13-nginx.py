#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-13-nginx: Debian's nginx in front of three cojamd processes on one redis-server (issue
13, point 2), with the site of deploy/nginx/cojam.conf rewritten only for loopback ports, a
self-signed certificate and the repository's web root. Clients connect through nginx only: round
robin spreads them over the three, they make every kind of write to one jam, and the digest ends
equal on the three. Then kill -9 of one process: its clients reconnect through nginx, land on a
live one and resume with nothing lost or doubled. Without /usr/sbin/nginx the tests SKIP."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (REPO, SLOW, WEB_ROOT, Client, Servers, SkipTest,  # noqa: E402
                     StartError, Suite, _live_procs, _stop_proc, caught_up, check, check_eq,
                     closing, digests_converge, free_port, make_self_signed, start_node,
                     tls_client_context)

suite = Suite("80-issue-13-nginx", file_timeout=120)
NGINX = "/usr/sbin/nginx"
SITE = os.path.join(REPO, "deploy", "nginx", "cojam.conf")
N_NODES = 3
# Every client comes from nginx's address: per-address admission off, as the site's header says.
BEHIND = ["--admission-scale", "0"]


class S:
    nodes = []
    front = None    # a Servers whose port is nginx's plain-HTTP one (Client and http() use it)
    tls = None      # the same with nginx's TLS port
    nginx = None
    code = None
    jam = None
    clients = []
    where = {}      # client name -> the upstream address nginx gave it


def site_for(ports, plain, tls, redirect, cert, key):
    """deploy/nginx/cojam.conf for this test: each rewrite must match exactly once, so a changed
    template fails here instead of being tested half."""
    with open(SITE) as f:
        text = f.read()

    def sub(pattern, repl, count=1):
        nonlocal text
        text, n = re.subn(pattern, repl, text, flags=re.M)
        check_eq(n, count, "rewrites of %r in cojam.conf" % pattern)

    ups = "".join("    server 127.0.0.1:%d max_fails=1 fail_timeout=5s;\n" % p for p in ports)
    sub(r"^\s*server 127\.0\.0\.1:\d+ .*;\n", "", count=2)
    sub(r"^(upstream cojam \{\n(?:\s*#.*\n)*)", lambda m: m.group(1) + ups)
    sub(r"^\s*listen \[::\]:\d+.*;\n", "", count=2)
    sub(r"^(\s*)listen 80;", r"\1listen 127.0.0.1:%d;" % redirect)
    sub(r"^(\s*)listen 443 ssl;",
        r"\1listen 127.0.0.1:%d ssl;\n\1listen 127.0.0.1:%d;" % (tls, plain))
    sub(r"^(\s*ssl_certificate) \S+;", r"\1 %s;" % cert)
    sub(r"^(\s*ssl_certificate_key) \S+;", r"\1 %s;" % key)
    sub(r"^(\s*root) \S+;", r"\1 %s;" % WEB_ROOT)
    return text


def start_nginx(tmp, ports):
    """nginx unprivileged-style on a prefix in tmp: daemon off, pid, logs and temp files there."""
    prefix = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    cert, key = make_self_signed(prefix, "nginx")
    plain, tls, redirect = free_port(), free_port(), free_port()
    with open(os.path.join(prefix, "cojam.conf"), "w") as f:
        f.write(site_for(ports, plain, tls, redirect, cert, key))
    # As root (a CI container) nginx's workers would become "nobody", who cannot read the
    # private temp directory: keep them as the user running the test.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "".join("    %s_temp_path %s;\n" % (t, os.path.join(prefix, t))
                    for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write("%sdaemon off;\nworker_processes 1;\npid %s;\nerror_log %s info;\n"
                "events { worker_connections 512; }\n"
                "http {\n    include /etc/nginx/mime.types;\n    access_log %s;\n%s"
                "    include %s;\n}\n"
                % (user, os.path.join(prefix, "nginx.pid"), os.path.join(prefix, "error.log"),
                   os.path.join(prefix, "access.log"), temps, os.path.join(prefix, "cojam.conf")))
    args = ["-p", prefix, "-c", conf, "-e", os.path.join(prefix, "error.log")]
    t = subprocess.run([NGINX, "-t"] + args, capture_output=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    check(t.returncode == 0, "nginx -t: %s", t.stderr.decode(errors="replace")[-800:])
    log = open(os.path.join(prefix, "nginx.out"), "w")
    p = subprocess.Popen([NGINX] + args, stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    _live_procs.append(p)
    front, tfront = Servers(), Servers()
    front.port, tfront.port, tfront.client_tls = plain, tls, tls_client_context()
    deadline = time.monotonic() + 10 * SLOW
    while time.monotonic() < deadline:
        if p.poll() is not None:
            with open(os.path.join(prefix, "error.log")) as f:
                raise StartError("nginx exited: " + f.read()[-800:])
        try:
            if front.http("GET", "/healthz", timeout=1.0)[0] == 200:
                return p, front, tfront, redirect
        except OSError:
            pass
        time.sleep(0.05)
    raise StartError("nginx did not answer /healthz within 10 s")


async def client(name, front=None):
    """A client through nginx; where records the process nginx picked (X-Cojam-Upstream)."""
    c = Client(front or S.front, name)
    await c.connect()
    S.where[name] = c.ws.response_headers.get("X-Cojam-Upstream")
    S.clients.append(c)
    return c


@suite.test(timeout=60)
async def through_nginx_spread_over_three(srv):
    if not os.access(NGINX, os.X_OK):
        raise SkipTest("no %s (apt-get install nginx-light)" % NGINX)
    S.nodes = [srv] + [start_node(srv.redis_port, BEHIND) for _ in range(1, N_NODES)]
    S.nginx, S.front, S.tls, redirect = start_nginx(srv.tmp, [n.port for n in S.nodes])
    # The site itself: the web client from nginx's root, HTTPS with HSTS, plain HTTP redirected.
    st, h, body = S.front.http("GET", "/")
    check_eq(st, 200, "GET / through nginx")
    with open(os.path.join(WEB_ROOT, "index.html"), "rb") as f:
        check_eq(body, f.read(), "index.html as in web-client/public")
    st, h, _ = S.tls.http("GET", "/healthz")
    check_eq((st, "max-age" in h.get("strict-transport-security", "")), (200, True),
             "HTTPS /healthz")
    redir = Servers()
    redir.port = redirect
    st, h, _ = redir.http("GET", "/x")
    check_eq(st, 301, "plain HTTP to HTTPS")

    S.jam = S.front.create_jam(title="Behind nginx", question="One jam?",
                               settings={"votes_per_phase": 2})
    S.code = S.jam["code"]
    for n in S.nodes:  # the other processes find the jam through their tails
        for _ in range(int(40 * SLOW)):
            if n.http("GET", "/api/jams/%s" % S.code)[0] == 200:
                break
            await asyncio.sleep(0.05)
        check_eq(n.http("GET", "/api/jams/%s" % S.code)[0], 200, "the jam on :%d" % n.port)
    M = await client("M")
    await M.join(S.code, "moderator", nickname="Mod", secret=S.jam["moderator_secret"])
    cits = [await client("C%d" % i) for i in range(6)]
    await asyncio.gather(*(c.join(S.code, "citizen", nickname="Cit%s" % c.name) for c in cits))
    screen = await client("S")
    await screen.join(S.code, "screen")
    wss = await client("T", S.tls)
    await wss.join(S.code, "citizen", anonymous=True)
    ups = {S.where[c.name] for c in [M, screen] + cits}
    check_eq(len(ups), N_NODES, "processes nginx spread the clients over (%s)" % sorted(ups))
    check(None not in ups, "every handshake names its upstream")

    await M.must_ack({"type": "start"})
    # The ack says M's process applied the start; the others apply it from their tails a moment
    # later, and until then their fast-path check says not_running. A client that saw the entry
    # is on a process that applied it.
    await caught_up(S.nodes[0], S.code, S.clients, timeout=5.0)
    items = []
    for c in cits + [M, wss]:
        items.append((await c.must_ack({"type": "post", "kind": "problem",
                                        "text": "Problem of %s" % c.name}))["item"])
    check_eq(sorted(items), list(range(1, len(items) + 1)), "item ids in stream order")
    for k, c in enumerate(cits):
        await c.must_ack({"type": "vote", "item": items[(k + 1) % len(items)]})
    await cits[0].must_ack({"type": "unvote", "item": items[1]})
    await M.must_ack({"type": "hide", "item": items[3], "reason": "duplicate"})
    await M.must_ack({"type": "unhide", "item": items[3]})
    await M.must_ack({"type": "pause"})
    await M.must_ack({"type": "resume"})
    await M.must_ack({"type": "extend", "seconds": 60})
    everyone = [c for c in S.clients]
    await caught_up(S.nodes[0], S.code, everyone, timeout=5.0)
    for c in everyone:
        # The defect this test found (a client behind nginx missing updates for seconds): a jam
        # the tail applied first began with an update whose prev was "" (room.c now starts
        # every jam's delta at its creation).
        check_eq(c.gaps, [], "%s's update gaps" % c.name)
        check_eq(c.model()["ranking"], screen.model()["ranking"], "%s's ranking" % c.name)
    ds = await digests_converge(S.nodes, S.code)
    for d in ds[1:]:
        check_eq(d, ds[0], "digest on every process")


@suite.test(timeout=60)
async def kill_9_behind_nginx(srv):
    if S.nginx is None:
        raise SkipTest("nginx did not start (see the test above)")
    victim = S.nodes[2]
    addr = "127.0.0.1:%d" % victim.port
    C = [c for c in S.clients if S.where[c.name] == addr and c.name != "S"]
    writers = [c for c in C if c.name.startswith("C")]
    check(writers, "citizens on the victim (%s)", S.where)
    ops = {}

    async def write_loop(c, n):
        for k in range(n):
            op = "%s-x%d" % (c.name, k)
            ops[op] = c
            try:
                await c.write({"type": "post", "op": op, "kind": "problem",
                               "text": "Problem %s %d" % (c.name, k)}, retry=False, timeout=1.0)
            except Exception:
                return op  # the connection went with the process: in doubt
            await asyncio.sleep(0.02)
        return None

    tasks = [asyncio.ensure_future(write_loop(c, 1000)) for c in writers]
    await asyncio.sleep(0.5 * SLOW)
    os.kill(victim.cojamd.pid, signal.SIGKILL)
    victim.cojamd.wait(timeout=5)
    in_doubt = [op for op in await asyncio.gather(*tasks) if op]
    for c in C:  # back through nginx, which skips the dead process
        last = c.last
        await c.reconnect()
        S.where[c.name] = c.ws.response_headers.get("X-Cojam-Upstream")
        check(S.where[c.name] != addr, "%s reconnected to a live process, not %s", c.name, addr)
        w, _ = await c.join(token=c.welcome["token"], last_event_id=last)
        check(w.get("resumed") is True or w.get("resync") is not None, "%s resumed" % c.name)
    for op in in_doubt:
        await ops[op].must_ack({"type": "post", "op": op, "kind": "problem", "text": "again"})
    live = [c for c in S.clients if not c.closed]
    await caught_up(S.nodes[0], S.code, live, timeout=5.0)
    stream = S.nodes[0].xrange(S.code)
    ids = {i for i, _ in stream}
    items = {}
    for c in live:
        for op, a in c.acks.items():
            check(a["event_id"] in ids, "%s's ack %s is in the stream", c.name, op)
            if a.get("item"):
                check(items.setdefault(a["item"], op) == op, "item %s acked twice", a["item"])
    post_ops = {(e["by"], e["op"]) for _, e in stream if e.get("t") == "posted"}
    live[0].drain("snapshot")
    await live[0].send({"type": "sync"})
    snap = await live[0].wait_for("snapshot")
    check_eq(len(snap["items"]), len(post_ops), "items vs distinct post ops in the stream")
    for op in in_doubt:
        check(any(op in c.acks for c in live), "the op in doubt %s was acked on retry", op)
    ds = await digests_converge(S.nodes, S.code)
    for d in ds[1:]:
        check_eq(d, ds[0], "digest on the surviving processes")
    for c in live:
        if c.name != "M":
            check_eq(c.model(), live[-1].model(), "%s's model" % c.name)
    await closing(*S.clients)


def teardown(srv):
    if S.nginx is not None:
        _stop_proc(S.nginx)
    for n in S.nodes[1:]:
        n.stop()
    srv.stop()


sys.exit(suite.run(lambda: Servers(extra_args=BEHIND).start(), teardown))
