#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-10-origin: the WebSocket Origin check cannot be bypassed (issue 10, point 4).
An Origin longer than the server's copy buffer used to count as "no Origin" and pass even with
--allowed-origins set; the default allowlist used to be the request's own Host header, so a page
reached through DNS rebinding (Host and Origin both the attacker's name) passed it too."""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Servers, Suite, check_eq  # noqa: E402

suite = Suite("80-issue-10-origin", file_timeout=90)


def handshake(srv, origin, host=None, timeout=3.0):
    """The status code of a WebSocket upgrade with this Origin and Host (None: no Origin)."""
    k = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    try:
        req = ["GET /ws HTTP/1.1", "Host: %s" % (host or "127.0.0.1:%d" % srv.port),
               "Upgrade: websocket", "Connection: Upgrade",
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
               "Sec-WebSocket-Protocol: cojam.v1"]
        if origin is not None:
            req.append("Origin: " + origin)
        k.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n" not in data and time.monotonic() < deadline:
            d = k.recv(4096)
            if not d:
                break
            data += d
    finally:
        k.close()
    parts = data.split(b"\r\n")[0].split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


@suite.test(timeout=30)
async def long_origin_is_refused_with_an_allowlist(srv):
    s = Servers(["--allowed-origins", "http://good.example"]).start()
    try:
        check_eq(handshake(s, "http://good.example"), 101, "the allowed origin")
        check_eq(handshake(s, "http://evil.example"), 403, "a foreign origin")
        for n in (255, 256, 300, 2000):
            long_origin = "http://evil.example/" + "x" * (n - 20)
            check_eq(handshake(s, long_origin), 403, "a foreign origin of %d bytes" % n)
        check_eq(handshake(s, None), 101, "no Origin (not a browser)")
    finally:
        s.stop()


@suite.test(timeout=30)
async def default_allowlist_is_the_public_url_not_the_host_header(srv):
    s = Servers().start()  # no --public-url: its default, http://<listen>
    try:
        check_eq(handshake(s, s.origin), 101, "the server's own origin")
        # DNS rebinding: the attacker's name resolves to this server; Host and Origin agree.
        check_eq(handshake(s, "http://rebind.example:%d" % s.port,
                           host="rebind.example:%d" % s.port), 403, "a rebound Host and Origin")
        check_eq(handshake(s, "http://localhost:%d" % s.port, host="localhost:%d" % s.port), 403,
                 "another name of this server than its public URL")
    finally:
        s.stop()
    s = Servers(["--public-url", "https://Jam.Example/base"]).start()
    try:
        check_eq(handshake(s, "https://jam.example", host="jam.example"), 101,
                 "the public URL's origin")
        check_eq(handshake(s, s.origin), 403, "the listen address when a public URL is set")
    finally:
        s.stop()


@suite.test(timeout=20)
async def a_public_url_that_is_not_http_is_refused_at_start(srv):
    import subprocess
    s = Servers(["--public-url", "jam.example"])
    try:
        s.start_redis()
        s.port = 1
        args = s.cojamd_args()
        p = subprocess.run(args, capture_output=True, timeout=10)
        check_eq(p.returncode != 0, True, "exit status")
        check_eq(b"--public-url" in p.stdout + p.stderr, True, "says what is wrong")
    finally:
        s.stop()


if __name__ == "__main__":
    sys.exit(suite.run(lambda: None))
