#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-10-tls: TLS in cojamd itself (issue 10, TLS). With --tls-cert and --tls-key (a
self-signed certificate the test makes with the openssl CLI) a jam is created over HTTPS and
played over wss:// (moderator, citizen, screen); every HTTP reply carries HSTS; ALPN picks
http/1.1; TLS 1.1 is refused. A renewed certificate put in place of the files and a SIGHUP: new
connections get it, open ones go on; a pair that does not match is refused on SIGHUP and the
old certificate stays. SIGHUP without TLS does not stop cojamd (it used to: the default action).
A half TLS configuration or an unreadable certificate stops cojamd at start with a message."""

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SLOW, Client, Servers, Suite, check, check_eq, closing,  # noqa: E402
                     cojamd_path, free_port)
from harness import make_self_signed as make_cert  # noqa: E402
from harness import tls_client_context as client_context  # noqa: E402

suite = Suite("80-issue-10-tls", file_timeout=140)


def der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class TlsServers(Servers):
    """cojamd with --tls-cert/--tls-key at fixed paths in its temporary directory, first holding
    the certificate "first"; clients speak https:// and wss://."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.first = make_cert(self.tmp, "first")
        self.cert, self.key = os.path.join(self.tmp, "live.crt"), os.path.join(self.tmp, "live.key")
        self.install(*self.first)
        self.extra_args += ["--tls-cert", self.cert, "--tls-key", self.key]
        self.client_tls = client_context()

    def install(self, cert, key):
        """Put a pair in place as a renewal tool does: new files renamed over the old ones."""
        for src, dst in ((cert, self.cert), (key, self.key)):
            with open(src, "rb") as f:
                data = f.read()
            with open(dst + ".new", "wb") as f:
                f.write(data)
            os.replace(dst + ".new", dst)

    def handshake(self, ctx=None, alpn=None):
        """One TLS handshake: (the server's certificate DER, the ALPN protocol, the version)."""
        ctx = ctx or client_context()
        if alpn:
            ctx.set_alpn_protocols(alpn)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5 * SLOW) as raw:
            with ctx.wrap_socket(raw) as s:
                return s.getpeercert(binary_form=True), s.selected_alpn_protocol(), s.version()

    def wait_log(self, text, after=0, timeout=5.0):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if text in self.tail("cojamd.log", 10 ** 6)[after:]:
                return True
            time.sleep(0.05)
        return False

    def log_len(self):
        return len(self.tail("cojamd.log", 10 ** 6))


@suite.test(timeout=40)
async def a_jam_over_https_and_wss(srv):
    st, h, _ = srv.http("GET", "/healthz")
    check_eq(st, 200, "GET /healthz over HTTPS")
    jam = srv.create_jam(title="Secure streets")
    check(jam.get("join_url", jam.get("links", {})) is not None, "no links in %r" % jam)
    check("https://" in repr(jam) and "http://" not in repr(jam),
          "the links handed out are not https:// by default: %r", jam)
    code = jam["code"]
    m, a, s = Client(srv, "mod"), Client(srv, "ana"), Client(srv, "screen")
    try:
        for c in (m, a, s):
            await c.connect(origin=srv.origin)
        await m.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await a.join(code, "citizen", nickname="Ana")
        await s.join(code, "screen")
        await m.must_ack({"type": "start"})
        item = (await a.must_ack({"type": "post", "kind": "problem", "text": "Hot squares"}))["item"]
        await a.must_ack({"type": "vote", "item": item})
        await s.wait_model(lambda c: any(it.get("votes") == 1 for it in c.items.values()),
                           timeout=5, what="the screen sees the vote")
        check((await a.ping())["type"] == "pong", "no pong over wss")
    finally:
        await closing(m, a, s)


@suite.test(timeout=20)
async def hsts_on_every_http_reply(srv):
    for method, path in (("GET", "/healthz"), ("GET", "/"), ("GET", "/api/jams/000000"),
                         ("GET", "/no-such-file"), ("POST", "/api/jams")):
        st, h, _ = srv.http(method, path, body="{}" if method == "POST" else None)
        check_eq(h.get("strict-transport-security"), "max-age=31536000",
                 "HSTS on %s %s (status %s)" % (method, path, st))


@suite.test(timeout=20)
async def alpn_http11_and_no_tls11(srv):
    cert, alpn, version = srv.handshake(alpn=["h2", "http/1.1"])
    check_eq(alpn, "http/1.1", "ALPN with h2 offered first")
    check_eq(cert, der(srv.first[0]), "the configured certificate")
    ctx = client_context()
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    check_eq(srv.handshake(ctx)[2], "TLSv1.2", "TLS 1.2 is served")
    # openssl s_client at security level 0, so that the client itself is willing to speak
    # TLS 1.1: the refusal seen is the server's ("protocol version" alert).
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-tls1_1",
                        "-cipher", "DEFAULT@SECLEVEL=0"], capture_output=True, timeout=10 * SLOW,
                       stdin=subprocess.DEVNULL)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    check(p.returncode != 0 and "alert protocol version" in out,
          "TLS 1.1 was not refused by the server: exit %s: %s", p.returncode, out[-600:])


@suite.test(timeout=40)
async def sighup_swaps_the_certificate(srv):
    second = make_cert(srv.tmp, "second")
    old = Client(srv, "old")
    try:
        await old.connect(origin=srv.origin)
        check_eq(srv.handshake()[0], der(srv.first[0]), "before the swap")
        srv.install(*second)
        mark = srv.log_len()
        os.kill(srv.cojamd.pid, signal.SIGHUP)
        check(srv.wait_log("TLS certificate reloaded: /CN=second", mark),
              "no reload logged: %s", srv.tail("cojamd.log", 600))
        check_eq(srv.handshake()[0], der(second[0]), "a new connection after SIGHUP")
        check_eq((await old.ping())["type"], "pong", "the connection opened before the swap")
        st, _, _ = srv.http("GET", "/healthz")
        check_eq(st, 200, "HTTPS after the swap")

        # A key of another certificate: refused, the second certificate stays in use.
        third = make_cert(srv.tmp, "third")
        srv.install(third[0], second[1])
        mark = srv.log_len()
        os.kill(srv.cojamd.pid, signal.SIGHUP)
        check(srv.wait_log("the old one stays", mark), "no refusal logged: %s",
              srv.tail("cojamd.log", 600))
        check_eq(srv.handshake()[0], der(second[0]), "after a refused reload")
        check(srv.cojamd_alive(), "cojamd died on a bad reload")
    finally:
        await closing(old)
        srv.install(*srv.first)


@suite.test(timeout=40)
async def sighup_without_tls_keeps_serving(srv):
    plain = Servers().start()
    try:
        mark = len(plain.tail("cojamd.log", 10 ** 6))
        os.kill(plain.cojamd.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5 * SLOW
        while "nothing to reload" not in plain.tail("cojamd.log", 10 ** 6)[mark:]:
            check(plain.cojamd_alive() and time.monotonic() < deadline,
                  "cojamd without TLS after SIGHUP: alive %s, log %s", plain.cojamd_alive(),
                  plain.tail("cojamd.log", 400))
            await asyncio.sleep(0.05)
        st, _, _ = plain.http("GET", "/healthz")
        check_eq(st, 200, "plain HTTP after SIGHUP")
    finally:
        plain.stop()


@suite.test(timeout=40)
async def bad_tls_configuration_stops_at_start(srv):
    junk = os.path.join(srv.tmp, "junk.crt")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    cases = [("--tls-cert alone", ["--tls-cert", srv.cert], "go together"),
             ("--tls-key alone", ["--tls-key", srv.key], "go together"),
             ("a file that is not a certificate", ["--tls-cert", junk, "--tls-key", srv.key],
              "--tls-cert/--tls-key: certificate: "),
             ("a missing key", ["--tls-cert", srv.cert, "--tls-key", junk + ".none"],
              "--tls-cert/--tls-key: %s.none: No such file" % junk),
             ("a key of another certificate", ["--tls-cert", srv.first[0], "--tls-key",
                                               make_cert(srv.tmp, "other")[1]],
              "--tls-cert/--tls-key: key: it is not the certificate's key")]
    for name, args, says in cases:
        p = subprocess.run([cojamd_path(), "--listen", "127.0.0.1:%d" % free_port(), "--redis",
                            "127.0.0.1:%d" % srv.redis_port, "--data-dir", os.path.join(srv.tmp, "refused-data"), "--web-root",
                            srv.web_root] + args, capture_output=True, timeout=20 * SLOW,
                           stdin=subprocess.DEVNULL, env=srv.cojamd_env())
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        check(p.returncode != 0, "%s: cojamd exited with %s", name, p.returncode)
        check(says in out, "%s: no message %r in %s", name, says, out[-500:])


if __name__ == "__main__":
    sys.exit(suite.run(lambda: TlsServers().start()))
