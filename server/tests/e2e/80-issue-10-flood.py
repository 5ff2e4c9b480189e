#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-10-flood: joined connections that never read, and resync storms (issue 10, point 1 and
2 of what remained; issue 16 point 4). Keep-alive is the server's own (--ping-interval-s): a
connection silent that long is pinged and one that does not answer within as long again is
dropped, while a client that answers stays; snapshots arrive as one message in fragments whose
shared part is encoded once per jam version and role. A screen that reads slowly through a small
receive window, pinging the server as it goes, gets every frame whole and every update in order:
what the socket does not take of a frame is sent later, before any frame of lws's own (a pong),
on both event loops."""

import asyncio
import json
import os
import select
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ws_text, ADMIN_TOKEN, Client, Servers, Suite, check, check_eq, closing, eid  # noqa: E402

suite = Suite("80-issue-10-flood", file_timeout=120)


class RawWs:
    """A WebSocket client on a plain socket that never answers a ping: it records the frames."""

    def __init__(self, port, rcvbuf=None):
        self.k = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connect: the window is agreed in the handshake
            self.k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.k.settimeout(5)
        self.k.connect(("127.0.0.1", port))
        self.k.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % port).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.k.recv(4096)
            if not d:
                raise AssertionError("no handshake reply")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        check(head.startswith(b"HTTP/1.1 101"), "handshake: %r", head[:40])
        self.eof = False

    def send(self, obj):
        self.k.sendall(ws_text(json.dumps(obj)))

    def frames(self, timeout):
        """Frames (fin, opcode, payload) read within 'timeout' s; sets eof at the end."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.eof:
            while True:
                f = self._parse()
                if f is None:
                    break
                out.append(f)
            self.k.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = self.k.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                d = b""
            if not d:
                self.eof = True
            self.buf += d
        while True:
            f = self._parse()
            if f is None:
                break
            out.append(f)
        return out

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        n, at = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, at = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, at = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < at + n:
            return None
        self.buf = b[at + n:]
        return (bool(b[0] & 0x80), b[0] & 0x0F, b[at:at + n])

    def close(self):
        self.k.close()


@suite.test(timeout=40)
async def a_silent_peer_is_pinged_then_dropped(srv):
    s = Servers(["--ping-interval-s", "1"]).start()
    clients = []
    raw = None
    try:
        jam = s.create_jam(title="Pings")
        good = await Client(s, "good").connect()  # answers pings (python websockets does)
        clients.append(good)
        await good.join(jam["code"], "screen")
        raw = RawWs(s.port)
        raw.send({"type": "join", "code": jam["code"], "as": "screen"})
        t0 = time.monotonic()
        seen = await asyncio.to_thread(raw.frames, 8)  # the loop goes on answering good's pings
        took = time.monotonic() - t0
        pings = [f for f in seen if f[1] == 0x9]
        check(pings, "no ping within %.1f s (opcodes %r)", took, [f[1] for f in seen])
        check(raw.eof, "the peer that never answered a ping was still connected after %.1f s",
              took)
        # The peer that answers stays, and is served.
        pong = await good.ping(t=7, timeout=3)
        check_eq(pong.get("t"), 7, "the answering client's pong")
    finally:
        if raw:
            raw.close()
        await closing(*clients)
        s.stop()


def refused_already(k):
    """Whether the server answered (a refusal) or closed a connection that sent nothing: it is
    readable."""
    return bool(select.select([k], [], [], 0)[0])


@suite.test(timeout=30)
async def handshakes_in_progress_are_capped_per_address(srv):
    s = Servers().start()
    held = []
    try:
        # 128 connections that never send their request: each would keep a timer of lws's in
        # the one sorted list that every accept walks.
        for _ in range(128):
            held.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
        # A connection of the start-up's /healthz checks may still be open on the server for a
        # moment (it counts until lws destroys it): then the last of the 128 was the one refused
        # (it has a 503 waiting). Replace any such until 128 are held, bounded.
        for _ in range(10):
            await asyncio.sleep(0.2)
            refused = [k for k in held if refused_already(k)]
            if not refused:
                break
            for k in refused:
                held.remove(k)
                k.close()
                held.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
        deadline = time.monotonic() + 5
        st = None
        while time.monotonic() < deadline:
            st = s.http("GET", "/healthz")[0]
            if st == 503:
                break
            await asyncio.sleep(0.1)
        check_eq(st, 503, "a request beyond 128 connections in handshake from one address")
        for k in held:
            k.close()
        held = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and s.http("GET", "/healthz")[0] != 200:
            await asyncio.sleep(0.1)
        check_eq(s.http("GET", "/healthz")[0], 200, "room again once they closed")
        check("handshakes in progress per address" in s.tail("cojamd.log"), "no log line")
    finally:
        for k in held:
            k.close()
        s.stop()


@suite.test(timeout=60)
async def a_large_snapshot_arrives_in_fragments_and_whole(srv):
    s = Servers(["--max-items-per-participant", "1000"]).start()
    clients = []
    raw = None
    try:
        jam = s.create_jam(title="Big")
        m = await Client(s, "M").connect()
        clients.append(m)
        await m.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await m.must_ack({"type": "start"})
        for i in range(60):  # 60 items of ~400 characters: a body of ~30 KB, two pieces or more
            await m.must_ack({"type": "post", "kind": "problem", "text": "%d %s" % (i, "y" * 400)})
            await asyncio.sleep(0.06)  # under the session's rate
        raw = RawWs(s.port)
        raw.send({"type": "join", "code": jam["code"], "as": "screen"})
        msgs, parts, part = [], [], []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
                m_.startswith(b'{"type":"snapshot"') for m_ in msgs):
            for fin, op, payload in await asyncio.to_thread(raw.frames, 0.5):
                if op in (0x1, 0x0):
                    part.append((op, payload))
                    if fin:
                        parts.append([o for o, _ in part])
                        msgs.append(b"".join(p_ for _, p_ in part))
                        part = []
        snap = [(ops, m_) for ops, m_ in zip(parts, msgs) if m_.startswith(b'{"type":"snapshot"')]
        check(snap, "no snapshot message (%d messages)", len(msgs))
        ops, body = snap[0]
        check(len(ops) >= 4 and ops[0] == 0x1 and all(o == 0x0 for o in ops[1:]),
              "the snapshot's frames: opcodes %r", ops)
        doc = json.loads(body)
        check_eq(len(doc["items"]), 60, "items in the reassembled snapshot")
        # Clients see one message whatever its frames: a screen and a second moderator.
        sc = await Client(s, "S").connect()
        clients.append(sc)
        await sc.join(jam["code"], "screen")
        await sc.wait_model(lambda c: len(c.items) == 60, 5, "the screen's 60 items")
        m2 = await Client(s, "M2").connect()
        clients.append(m2)
        await m2.join(jam["code"], "moderator", nickname="Mod2", secret=jam["moderator_secret"])
        await m2.wait_model(lambda c: len(c.items) == 60, 5, "the moderator's 60 items")
        pong = await sc.ping(t=3, timeout=3)  # the connection goes on after the fragments
        check_eq(pong.get("t"), 3, "pong after the fragmented snapshot")
    finally:
        if raw:
            raw.close()
        await closing(*clients)
        s.stop()


def ws_ping(payload):
    """A masked client ping (mask 0)."""
    return bytes([0x89, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def read_slowly(raw, quiet_s, limit_s):
    """Reads 1 KB every 4 ms (about 250 KB/s), stops reading for 0.4 s after every 32 KB (the
    server's socket buffer fills up meanwhile, and the broadcasts pushed at it go in part), and
    pings every 50 ms, until no frame but a pong has come for 'quiet_s' or 'limit_s' has passed.
    Returns the frames and the pongs' payloads."""
    frames, sent_pings, got = [], [], 0
    t0 = last_data = last_ping = time.monotonic()
    raw.k.settimeout(0.004)
    while not raw.eof and time.monotonic() - last_data < quiet_s and time.monotonic() - t0 < limit_s:
        now = time.monotonic()
        if now - last_ping > 0.05:
            p = b"p%d" % len(sent_pings)
            raw.k.sendall(ws_ping(p))
            sent_pings.append(p)
            last_ping = now
        try:
            d = raw.k.recv(1024)
            if not d:
                raw.eof = True
            raw.buf += d
            got += len(d)
            if got >= 32768:
                got = 0
                time.sleep(0.4)
        except socket.timeout:
            pass
        while True:
            f = raw._parse()
            if f is None:
                break
            frames.append(f)
            if f[1] != 0xA:  # the pongs come as long as it pings
                last_data = time.monotonic()
        time.sleep(0.004)
    return frames, sent_pings


def partial_writes(s):
    """cojam_partial_writes_total: frames the socket did not take whole."""
    st, _, body = s.http("GET", "/metrics", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    check_eq(st, 200, "GET /metrics")
    line = [ln for ln in body.decode().splitlines() if ln.startswith("cojam_partial_writes_total ")]
    return int(line[0].split()[1])


async def slow_reader_on(loop):
    # A 32 KB send buffer (the kernel doubles it) instead of the kernel's up to 4 MiB: frames
    # then go in part, as they do to a slow phone over a real network with a mass snapshot.
    s = Servers(["--event-loop", loop, "--tcp-send-buffer", "16384"]).start()
    clients, raw = [], None
    try:
        jam = s.create_jam(title="Slow", settings={"max_text": 2000})
        m = await Client(s, "M").connect()
        clients.append(m)
        await m.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await m.must_ack({"type": "start"})
        posters = []
        for i in range(6):
            c = await Client(s, "p%d" % i).connect()
            clients.append(c)
            await c.join(jam["code"], "citizen", nickname="P%d" % i)
            posters.append(c)
        posted = []

        async def post(c, i, n, tag):  # ~2 KB each, a tick apart: one update frame each
            for k in range(n):
                p = await c.must_ack({"type": "post", "kind": "problem",
                                      "text": "%s %d-%d %s" % (tag, i, k, "y" * 1980)})
                posted.append(p["item"])
                await asyncio.sleep(0.06)  # under the session's rate
        # A snapshot of ~250 KB, many times what the socket buffers for a 4 KB window.
        await asyncio.gather(*(post(c, i, 20, "first") for i, c in enumerate(posters)))
        partial_before = partial_writes(s)
        raw = RawWs(s.port, rcvbuf=4096)
        raw.send({"type": "join", "code": jam["code"], "as": "screen"})
        (frames, pings), *_ = await asyncio.gather(
            asyncio.to_thread(read_slowly, raw, 1.5, 30),
            *(post(c, i, 5, "more") for i, c in enumerate(posters)))
        check(not raw.eof, "the slow reader was disconnected")
        check(partial_writes(s) > partial_before,
              "no frame was partly sent: the test did not test the rest of a frame")
        msgs, part, pongs, other = [], [], [], []
        for fin, op, payload in frames:
            if op in (0x1, 0x0):
                if (op == 0x1) != (not part):
                    other.append("opcode %d %s a message" % (op, "inside" if part else "to begin"))
                part.append(payload)
                if fin:
                    msgs.append(b"".join(part))
                    part = []
            elif op == 0xA:
                pongs.append(payload)
            else:
                other.append("opcode %d" % op)
        check(not other and not part, "frames out of place: %s, %d fragments left over", other[:5], len(part))
        # Each pong carries its ping's payload, in order; lws 4.1.6 drops a ping that comes while
        # a pong is still to be sent (ops-ws.c: "already pending, drop"), and nothing is read while
        # a frame is partly sent, so the pings pile up and one pong answers a run of them (RFC 6455
        # 5.5.3 allows answering fewer). Once the reader keeps up, every ping has its pong.
        at = {p: k for k, p in enumerate(pings)}
        order = [at.get(p, -1) for p in pongs]
        check(pongs and -1 not in order and order == sorted(set(order)),
              "pongs that answer no ping, or out of order: %s", pongs[:10])
        check(order[-1] >= len(pings) - 3, "the last pong answers ping %d of %d", order[-1], len(pings))
        docs = []
        for b in msgs:
            try:
                docs.append(json.loads(b))
            except ValueError:
                check(False, "a message that is not JSON (%d bytes): %r...", len(b), b[:60])
        items, last, gaps, snaps = set(), None, [], 0
        for d in docs:
            if d.get("type") == "snapshot":
                snaps += 1
                items = {it["id"] for it in d["items"]}
                last = d["event_id"]
            elif d.get("type") == "update" and last is not None:
                if eid(d["prev"]) > eid(last):
                    gaps.append((last, d["prev"]))
                items |= {it["id"] for it in d.get("items", [])}
                last = max(last, d["to"], key=eid)
        check(snaps >= 1, "no snapshot among %d messages", len(docs))
        check(not gaps, "gaps in the updates: %s", gaps[:3])
        check_eq(sorted(set(posted) - items), [], "posted items the slow reader never saw")
        check_eq(last, m.last, "the slow reader's last event id against the moderator's")
        # It stops reading; ~60 KB of updates fill the socket and leave a frame partly sent;
        # then it closes. The close frame comes back after whole frames, not mid-frame or never
        # (lws drops a connection whose peer closes while its own buffer holds the rest of a
        # frame: nothing is read meanwhile).
        before = partial_writes(s)
        await asyncio.gather(*(post(c, i, 5, "last") for i, c in enumerate(posters)))
        await asyncio.sleep(0.3)
        check(partial_writes(s) > before, "no frame partly sent when the reader stopped")
        raw.k.sendall(bytes([0x88, 0x82, 0, 0, 0, 0]) + struct.pack("!H", 1000))
        tail = await asyncio.to_thread(raw.frames, 10)
        check(raw.eof, "the connection still open 10 s after the client's close")
        check(tail and tail[-1][1] == 0x8, "no close frame back: last frames %r, %d bytes left",
              [(f[1], len(f[2])) for f in tail[-3:]], len(raw.buf))
        check_eq(struct.unpack("!H", tail[-1][2][:2])[0], 1000, "the close frame's code")
        check(raw.buf == b"", "%d bytes after the close frame", len(raw.buf))
    finally:
        if raw:
            raw.close()
        await closing(*clients)
        s.stop()


@suite.test(timeout=60)
async def a_slow_reader_gets_every_frame_whole(srv):
    await slow_reader_on("libev")


@suite.test(timeout=60)
async def a_slow_reader_gets_every_frame_whole_on_the_poll_loop(srv):
    await slow_reader_on("poll")


if __name__ == "__main__":
    sys.exit(suite.run(lambda: None))
