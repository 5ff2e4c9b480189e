# SPDX-License-Identifier: MIT
"""bareclient: the bare WebSocket client of the Python benchmarks (approve-bench.py, tls-bench.py).

It joins a jam, waits for its snapshot, then hands every raw update frame to on_update() without
parsing it: one Python process serving hundreds of sockets would otherwise measure the client, not
the server. No model, no acks, no reconnect (the e2e harness's Client has all of that).
"""

import asyncio
import json
import time

import websockets

HANDSHAKES_AT_ONCE = 50  # one Python loop opening more at once times its own handshakes out


class BareClient:
    """One connection that joins code as as_ (with nickname if given) over url (ssl: an
    ssl.SSLContext for wss). updates counts the update frames received after the join."""

    def __init__(self, url, code, as_="citizen", nickname=None, ssl=None):
        self.url, self.code, self.as_, self.nickname, self.ssl = url, code, as_, nickname, ssl
        self.ws, self.task, self.updates = None, None, 0

    async def open(self, timeout=30):
        self.ws = await websockets.connect(self.url, ssl=self.ssl, max_size=None,
                                           ping_interval=None, open_timeout=timeout)
        join = {"type": "join", "code": self.code, "as": self.as_}
        if self.nickname is not None:
            join["nickname"] = self.nickname
        await self.ws.send(json.dumps(join))
        while True:
            m = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if m["type"] == "snapshot":
                break
        self.task = asyncio.ensure_future(self._read())
        return self

    def on_update(self, raw, now):
        """Called with every raw update frame and its receive time (time.monotonic())."""
        self.updates += 1

    async def _read(self):
        try:
            async for raw in self.ws:
                if raw.startswith('{"type":"update"'):
                    self.on_update(raw, time.monotonic())
        except websockets.exceptions.ConnectionClosed:
            pass

    async def close(self):
        if self.ws is not None:
            await self.ws.close()


async def open_all(clients):
    """Opens every client, HANDSHAKES_AT_ONCE at a time."""
    for i in range(0, len(clients), HANDSHAKES_AT_ONCE):
        await asyncio.gather(*(c.open() for c in clients[i:i + HANDSHAKES_AT_ONCE]))
    return clients
