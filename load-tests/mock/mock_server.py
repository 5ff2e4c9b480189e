#!/usr/bin/python3
"""A tiny stand-in for cojamd, to check loadgen's framing and measuring without the real server.

Speaks the subset of proto/messages.md that loadgen uses: POST /api/jams (plain HTTP on --http-port),
and on ws://127.0.0.1:--port/ws: join -> welcome + snapshot, start, post, vote, unvote -> ack after a
simulated Redis delay, and one coalesced update per tick to every client, with Redis-like event ids.

Adversarial knobs, to exercise the client:
  --ack-jitter-ms N   acks are sent 0..N ms after the event is committed, so updates covering an
                      event often reach other clients before the writer's ack (out-of-order case)
  --fragment-every K  every K-th update is sent as a fragmented message (3 frames)
  --big-snapshot      snapshots carry ~80 KB of padding (64-bit frame length)
  --ping-interval S   server pings (client must pong)
  --drop-every K      silently skip sending the K-th update to one client (the client must see a gap)
Uses Debian's python3-websockets (10.x) for /usr/bin/python3.
"""
import argparse
import asyncio
import json
import random
import secrets
import time

import websockets

_dumps = json.dumps


def _compact(o, **kw):
    kw.setdefault("separators", (",", ":"))
    return _dumps(o, **kw)


json.dumps = _compact

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--http-port", type=int, required=True)
ap.add_argument("--tick-ms", type=int, default=50)
ap.add_argument("--store-ms", type=float, default=2.0)
ap.add_argument("--ack-jitter-ms", type=float, default=0.0)
ap.add_argument("--fragment-every", type=int, default=0)
ap.add_argument("--big-snapshot", action="store_true")
ap.add_argument("--ping-interval", type=float, default=None)
ap.add_argument("--drop-every", type=int, default=0)
args = ap.parse_args()


class Ids:
    def __init__(self):
        self.ms, self.seq = 0, 0

    def next(self):
        now = int(time.time() * 1000)
        if now > self.ms:
            self.ms, self.seq = now, 0
        else:
            self.seq += 1
        return f"{self.ms}-{self.seq}"


ids = Ids()
jams = {}  # code -> Jam


class Jam:
    def __init__(self, code, secret):
        self.code, self.secret = code, secret
        self.last_id = ids.next()  # jam_created
        self.sent_to = self.last_id  # last id covered by an update
        self.pending = []  # ids committed since the last update
        self.changed = {}
        self.items = {}  # id -> votes
        self.state = "lobby"
        self.clients = set()
        self.next_pid = 1
        self.tick_no = 0

    def commit(self):
        eid = ids.next()
        self.last_id = eid
        self.pending.append(eid)
        return eid


async def send_ack(ws, msg, delay):
    if delay > 0:
        await asyncio.sleep(delay)
    try:
        await ws.send(json.dumps(msg, separators=(",", ":")))
    except websockets.ConnectionClosed:
        pass


async def handler(ws, path=None):
    jam = None
    me = None
    voted = set()
    try:
        async for raw in ws:
            m = json.loads(raw)
            t = m.get("type")
            if t == "join":
                jam = jams.get(m.get("code"))
                if jam is None:
                    await ws.send(json.dumps({"type": "error", "code": "no_such_jam", "message": "x", "retryable": False}))
                    continue
                if m.get("as") == "moderator" and m.get("secret") != jam.secret:
                    await ws.send(json.dumps({"type": "error", "code": "bad_secret", "message": "x", "retryable": False}))
                    continue
                await asyncio.sleep(args.store_ms / 1000)  # the joined event
                jam.commit()
                me = {"id": jam.next_pid, "role": m.get("as"), "nickname": m.get("nickname")}
                jam.next_pid += 1
                await ws.send(json.dumps({"type": "welcome", "token": "x.y", "you": me}))
                snap = {"type": "snapshot", "event_id": jam.last_id, "resync": False,
                        "items": [{"id": i, "votes": v} for i, v in jam.items.items()],
                        "stats": {"participants": jam.next_pid - 1}}
                if args.big_snapshot:
                    snap["padding"] = "x" * 80000
                await ws.send(json.dumps(snap))
                jam.clients.add(ws)
            elif t in ("start", "post", "vote", "unvote"):
                op = m["op"]
                if t == "vote" and m["item"] in voted:
                    await ws.send(json.dumps({"type": "error", "op": op, "code": "already_voted", "message": "x", "retryable": False}))
                    continue
                if t == "unvote" and m["item"] not in voted:
                    await ws.send(json.dumps({"type": "error", "op": op, "code": "not_voted", "message": "x", "retryable": False}))
                    continue
                await asyncio.sleep(args.store_ms / 1000)
                eid = jam.commit()
                ack = {"type": "ack", "op": op, "event_id": eid}
                if t == "start":
                    jam.state = "running"
                elif t == "post":
                    iid = len(jam.items) + 1
                    jam.items[iid] = 0
                    jam.changed[iid] = 0
                    ack["item"] = iid
                else:
                    ack["budget_left"] = None
                    d = 1 if t == "vote" else -1
                    (voted.add if d > 0 else voted.discard)(m["item"])
                    jam.items[m["item"]] = jam.items.get(m["item"], 0) + d
                    jam.changed[m["item"]] = jam.items[m["item"]]
                delay = random.uniform(0, args.ack_jitter_ms) / 1000 if args.ack_jitter_ms else 0
                if delay:
                    asyncio.ensure_future(send_ack(ws, ack, delay))
                else:
                    await ws.send(json.dumps(ack, separators=(",", ":")))
            elif t == "sync":
                await ws.send(json.dumps({"type": "snapshot", "event_id": jam.last_id, "resync": True}))
            elif t == "ping":
                await ws.send(json.dumps({"type": "pong", "t": m.get("t")}))
    except websockets.ConnectionClosed:
        pass
    finally:
        if jam:
            jam.clients.discard(ws)


async def ticker():
    while True:
        await asyncio.sleep(args.tick_ms / 1000)
        for jam in list(jams.values()):
            if not jam.pending:
                continue
            prev, frm, to = jam.sent_to, jam.pending[0], jam.pending[-1]
            jam.pending = []
            jam.sent_to = to
            jam.tick_no += 1
            body = {"type": "update", "prev": prev, "from": frm, "to": to,
                    "votes": {str(k): v for k, v in jam.changed.items()},
                    "stats": {"votes": sum(jam.items.values())}}
            jam.changed = {}
            text = json.dumps(body, separators=(",", ":"))
            targets = list(jam.clients)
            if args.drop_every and jam.tick_no % args.drop_every == 0 and targets:
                targets = targets[1:]
            if args.fragment_every and jam.tick_no % args.fragment_every == 0:
                a, b = len(text) // 3, 2 * len(text) // 3
                for ws in targets:
                    asyncio.ensure_future(frag_send(ws, [text[:a], text[a:b], text[b:]]))
            else:
                websockets.broadcast(targets, text)


async def frag_send(ws, parts):
    try:
        await ws.send(parts)
    except websockets.ConnectionClosed:
        pass


async def http_handler(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        body = await reader.readexactly(int(hdrs.get("content-length", "0")))
        json.loads(body)
        code = "%06d" % random.randrange(1000000)
        secret = secrets.token_hex(8)
        jams[code] = Jam(code, secret)
        out = json.dumps({"code": code, "moderator_secret": secret, "links": {}}).encode()
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(out) + out)
        await writer.drain()
    finally:
        writer.close()


async def main():
    await asyncio.start_server(http_handler, "127.0.0.1", args.http_port)
    async with websockets.serve(handler, "127.0.0.1", args.port, ping_interval=args.ping_interval,
                                max_size=1 << 20, backlog=4096):
        asyncio.ensure_future(ticker())
        print("mock ready", flush=True)
        await asyncio.Future()


asyncio.run(main())
