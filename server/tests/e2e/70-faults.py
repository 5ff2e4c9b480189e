#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""70-faults: the durability and exactly-once guarantees under faults, with clients writing all the
time. One moderator and six citizens vote, unvote and post (and the moderator hides and unhides) at
a modest total rate while the test, at seeded random moments, kills cojamd with SIGKILL and starts
it again on the same --data-dir (FAULT_CYCLES times, default 5), kills redis-server with SIGKILL and
starts it again on the same port and directory (AOF, appendfsync always), and stops Redis with
SIGSTOP for about 1.5 s (pings answered at once, writes refused within about --redis-timeout-ms with
a retryable code) before SIGCONT.

Every client records each op: acknowledged (event id, item), refused with a definitive error, or
unknown (no answer before its connection dropped, or a retryable error) and then retries every
unknown op with the same op id after reconnecting (join with token + last_event_id: resumed, or a
snapshot that rebuilds its model) until the op gets a definitive answer. Each client keeps a model
of the jam from snapshots and updates, asking for a snapshot on a gap.

At the end, against XRANGE of the jam's stream and an independent replay of it in Python:
acknowledged events missing = 0, events never attempted = 0, ops applied more than once = 0 (a
second stream copy of an op only as a retry without effect, and every ack of an op names the first
copy), every client's model = the replayed model = a fresh snapshot, and the digest is the same
across one more clean restart. The figures are printed on a "# faults: ..." line.

Two modes (FAULT_REDIS): "external" (the default here) runs cojamd with --redis against a
redis-server the test owns; "embedded" (71-faults-embedded.py) runs cojamd with no --redis, so it
starts, supervises and stops its own redis-server in its data directory, and a Redis kill is then
cojamd's supervisor's to repair. In both modes, after every fault exactly one redis-server may work
on the data (in embedded mode: cojamd's own child), and at the end no process of the test may be
left on its directories (found through /proc by working directory and command line, never by name).

Environment: FAULT_SEED (default: random, printed), FAULT_CYCLES (cojamd kills, default 5; the
Redis kill and stall cycles are FAULT_CYCLES // 5 each, at least 1), FAULT_REDIS (above)."""

import asyncio
import os
import random
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SLOW, Client, Closed, EmbeddedServers, JoinError, Servers,  # noqa: E402
                     StartError, Suite, _live_procs, _stop_proc, check, eid, expected_ranking,
                     free_port, procs_on)

MODE = os.environ.get("FAULT_REDIS") or "external"
if MODE not in ("external", "embedded"):
    sys.exit("FAULT_REDIS must be external or embedded, not %r" % MODE)
EMBEDDED = MODE == "embedded"
SEED = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(1, 10 ** 9))
COJAMD_KILLS = max(1, int(os.environ.get("FAULT_CYCLES") or 5))
REDIS_KILLS = max(1, COJAMD_KILLS // 5)
REDIS_STALLS = max(1, COJAMD_KILLS // 5)
REDIS_TIMEOUT_MS = 500
STALL_S = 1.5
N_CITIZENS = 6
SEED_IDEAS = 6
RETRYABLE = {"busy", "storage_timeout", "storage_unavailable", "not_owner", "rate_limited",
             "apply_timeout", "replica_timeout"}
N_CYCLES = COJAMD_KILLS + REDIS_KILLS + REDIS_STALLS
# Time per cycle: a few seconds of traffic, the fault, the recovery (ASan starts slower).
FILE_TIMEOUT = 60 + N_CYCLES * 6

suite = Suite("70-faults-" + MODE, file_timeout=FILE_TIMEOUT)
rng = random.Random(SEED)


class FaultServers(Servers):
    """Servers whose Redis persists every write (AOF, fsync always) and comes back on the same port
    and directory; cojamd keeps its --data-dir (instance id) across restarts."""

    def redis_pid(self):
        return self.redis.pid

    def redis_servers(self):
        """Every live redis-server working on the test's Redis data, as (pid, ppid)."""
        return [(pid, ppid) for pid, ppid, comm in procs_on(os.path.join(self.tmp, "redis"))
                if comm == "redis-server"]

    def owned_redis(self):
        return [self.redis.pid] if self.redis is not None and self.redis.poll() is None else []

    def start_redis(self):
        if self.redis_port is None:
            self.redis_port = free_port()
        rdir = os.path.join(self.tmp, "redis")
        os.makedirs(rdir, exist_ok=True)
        log = open(os.path.join(self.tmp, "redis.log"), "a")
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", rdir,
             "--maxmemory-policy", "noeviction"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _live_procs.append(self.redis)
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            if self.redis.poll() is not None:
                raise StartError("redis-server exited: " + self.tail("redis.log"))
            try:
                if self.rcli("PING", timeout=2).strip() == "PONG":
                    return
            except Exception:
                pass
            time.sleep(0.05)
        raise StartError("redis-server did not answer PING within 10 s")

    def kill9(self, p):
        """SIGKILL one of our processes and reap it."""
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _stop_proc(p)


class EmbeddedFaultServers(EmbeddedServers):
    """cojamd with its own redis-server (no --redis); the test only kills and stops it."""

    def owned_redis(self):
        return [self.redis_pid()]

    def kill9(self, p):
        FaultServers.kill9(self, p)


class Op:
    __slots__ = ("op", "msg", "state", "ack", "acks", "code", "codes", "sends", "was_unknown",
                 "sent_at", "answered_at", "sent_wall_ms")

    def __init__(self, op, msg):
        self.op = op
        self.msg = msg
        self.state = "sent"      # sent | acked | refused | unknown
        self.ack = None          # the first ack frame
        self.acks = []           # every ack frame for this op
        self.code = None         # the definitive error code
        self.codes = []          # every error code for this op
        self.sends = 0
        self.was_unknown = False
        self.sent_at = None
        self.answered_at = []  # monotonic time of every answer
        self.sent_wall_ms = 0


class FaultClient(Client):
    """A client that writes in a loop, survives any connection loss (reconnect with backoff, join
    with token + last_event_id) and retries every op of unknown outcome with the same op id."""

    def __init__(self, srv, name, role, seed, code, secret=None, writes=True):
        super().__init__(srv, name)
        self.role = role
        self.rnd = random.Random(seed)
        self.code = code
        self.secret = secret
        self.writes = writes
        self.token = None
        self.pid = None
        self.ops = {}
        self.unknown = set()
        self.outstanding = set()  # sent on the current connection, no answer yet
        self.myvotes = set()
        self.joined = False
        self.writing = False
        self.mod_actions = True  # the moderator may hide and unhide
        self.stop = False
        self.sync_asked = False
        self.retry_at = 0.0
        self.retry_delay = 0.2
        self.n = {"reconnects": 0, "resumed": 0, "snapshots": 0, "resyncs": 0, "gaps": 0,
                  "retried_sends": 0, "internal": 0}
        self.close_codes = {}
        self.errors = {}
        self.problems = []  # things that are wrong whatever the timing

    # -- model and answers
    def _apply(self, m):
        t = m.get("type")
        if t == "update" and self.last is not None and "prev" in m:
            try:
                if eid(m["prev"]) > eid(self.last):
                    self.n["gaps"] += 1
                    self.sync_asked = False  # ask (again) for a snapshot
                    self._need_sync = True
            except ValueError:
                pass
        super()._apply(m)
        if t == "snapshot":
            self.n["snapshots"] += 1
            if m.get("resync"):
                self.n["resyncs"] += 1
            self._need_sync = False
            you = m.get("you")
            if you is not None:
                self.myvotes = set(you.get("votes") or [])
        elif t == "ack":
            self._on_answer(m)
        elif t == "error" and m.get("op") is not None:
            self._on_answer(m)

    _need_sync = False

    def _on_answer(self, m):
        rec = self.ops.get(m["op"])
        if rec is None:
            self.problems.append("%s: answer for an op never sent: %r" % (self.name, m))
            return
        self.outstanding.discard(rec.op)
        rec.answered_at.append(time.monotonic())
        if m["type"] == "ack":
            rec.acks.append(m)
            if rec.state == "refused":
                self.problems.append("%s: op %s acked after a definitive error %s: %r" % (
                    self.name, rec.op, rec.code, m))
            if rec.ack is None:
                rec.ack = m
            rec.state = "acked"
            self.unknown.discard(rec.op)
            self.retry_delay = 0.2
            t = rec.msg["type"]
            if t == "vote":
                self.myvotes.add(rec.msg["item"])
            elif t == "unvote":
                self.myvotes.discard(rec.msg["item"])
            return
        code = m.get("code")
        rec.codes.append(code)
        self.errors[code] = self.errors.get(code, 0) + 1
        if m.get("retryable") is True:
            if code not in RETRYABLE:
                self.problems.append("%s: unexpected retryable code %r" % (self.name, m))
            if rec.state != "acked":
                rec.state = "unknown"
                rec.was_unknown = True
                self.unknown.add(rec.op)
            return
        if code in RETRYABLE:
            self.problems.append("%s: %s without retryable: true: %r" % (self.name, code, m))
        if code == "internal":
            self.n["internal"] += 1
            self.problems.append("%s: internal error for %s: %r" % (self.name, rec.msg, m))
        if rec.state == "acked":
            self.problems.append("%s: op %s acked, then refused: %r" % (self.name, rec.op, m))
            return
        rec.state = "refused"
        rec.code = code
        self.unknown.discard(rec.op)

    # -- sending
    async def send_op(self, msg, op=None):
        """Register a new op (or resend a known one) and send it; a send on a dead connection
        leaves the op unknown (retried after the reconnect)."""
        if op is None:
            op = self.next_op()
            msg = dict(msg, op=op)
            rec = Op(op, msg)
            self.ops[op] = rec
        else:
            rec = self.ops[op]
        rec.sends += 1
        if rec.sends > 1:
            self.n["retried_sends"] += 1
        rec.sent_at = time.monotonic()
        rec.sent_wall_ms = int(time.time() * 1000)
        if rec.state != "acked":
            rec.state = "sent"
        self.unknown.discard(op)
        self.outstanding.add(op)
        try:
            await self.send(rec.msg)
        except Exception:
            self.lost_connection()
        return rec

    def lost_connection(self):
        if self.joined:
            self.joined = False
        for op in list(self.outstanding):
            rec = self.ops[op]
            if rec.state == "sent":
                rec.state = "unknown"
                rec.was_unknown = True
                self.unknown.add(op)
        self.outstanding.clear()

    async def call(self, msg, timeout=10.0):
        """One op until its definitive answer (the set-up writes)."""
        rec = await self.send_op(msg)
        deadline = time.monotonic() + timeout * SLOW
        while rec.state not in ("acked", "refused"):
            if time.monotonic() > deadline:
                raise AssertionError("%s: no definitive answer to %r (%s, codes %s)" % (
                    self.name, rec.msg, rec.state, rec.codes))
            if rec.state == "unknown" and self.joined:
                await asyncio.sleep(0.1)
                await self.send_op(None, op=rec.op)
            await asyncio.sleep(0.02)
        return rec

    # -- connection
    async def ensure_joined(self):
        delay = 0.05
        while not self.stop:
            try:
                if self.ws is None:
                    await self.connect()
                else:
                    await self.reconnect()
                if self.token is None:
                    if self.role == "moderator":
                        w, s = await self.join(self.code, "moderator", nickname=self.name,
                                               secret=self.secret, timeout=5)
                    else:
                        w, s = await self.join(self.code, "citizen", nickname=self.name, timeout=5)
                    self.token = w["token"]
                    self.pid = w["you"]["id"]
                else:
                    self.n["reconnects"] += 1
                    w, s = await self.join(token=self.token, last_event_id=self.last, timeout=5)
                    if w.get("you", {}).get("id") != self.pid:
                        self.problems.append("%s: rejoined as %r, was %r" % (
                            self.name, w.get("you"), self.pid))
                    if w.get("resumed"):
                        self.n["resumed"] += 1
                    elif s is not None and s.get("resync") is not True:
                        self.problems.append("%s: snapshot after a join with last_event_id "
                                             "without resync: true" % self.name)
                self.joined = True
                self.retry_at = 0.0  # retry every unknown op now
                return
            except JoinError as e:
                if not e.frame.get("retryable"):
                    self.problems.append("%s: join refused: %r" % (self.name, e.frame))
            except (OSError, asyncio.TimeoutError, Closed, AssertionError):
                pass  # the server is down or recovering: try again
            await asyncio.sleep(delay * (0.5 + self.rnd.random()))
            delay = min(1.0, delay * 2)

    def busy_items(self):
        return {self.ops[o].msg.get("item") for o in (self.unknown | self.outstanding)}

    def pick(self):
        """A random write that the current model allows (so that refusals stay rare)."""
        vis = [i for i, it in self.items.items() if it.get("kind") == "idea" and not
               it.get("hidden")]
        busy = self.busy_items()
        r = self.rnd.random()
        if self.role == "moderator" and r < 0.12 and self.mod_actions:
            hidden = [i for i, it in self.items.items() if it.get("hidden") and i not in busy]
            if hidden and (len(hidden) >= 2 or self.rnd.random() < 0.5):
                return {"type": "unhide", "item": self.rnd.choice(hidden)}
            cand = [i for i in vis if i not in busy]
            if cand:
                return {"type": "hide", "item": self.rnd.choice(cand), "reason": "fault test"}
            return None
        if r < 0.2:
            return {"type": "post", "kind": "idea", "text": "idea by %s #%d" % (self.name,
                                                                                  self._op_n + 1)}
        mine = [i for i in self.myvotes if i in vis and i not in busy]
        if mine and r < 0.5:
            return {"type": "unvote", "item": self.rnd.choice(mine)}
        cand = [i for i in vis if i not in self.myvotes and i not in busy]
        if cand:
            return {"type": "vote", "item": self.rnd.choice(cand)}
        if mine:
            return {"type": "unvote", "item": self.rnd.choice(mine)}
        return None

    def keep(self, m):
        return m["type"] in ("welcome", "snapshot", "pong") or (m["type"] == "error" and
                                                                 m.get("op") is None)

    async def run(self):
        """The client's life: join, write, reconnect, retry, until stop."""
        while not self.stop:
            if not self.joined or self.closed:
                if self.closed and self.close_code not in (None, 1006, 1011, 1001):
                    self.close_codes[self.close_code] = self.close_codes.get(
                        self.close_code, 0) + 1
                self.lost_connection()
                await self.ensure_joined()
                continue
            self.pending[:] = [m for m in self.pending if self.keep(m)][-20:]
            now = time.monotonic()
            if self._need_sync and not self.sync_asked:
                self.sync_asked = True
                try:
                    await self.send({"type": "sync"})
                except Exception:
                    self.lost_connection()
                    continue
            if self.unknown:
                if now >= self.retry_at:
                    for op in sorted(self.unknown):
                        await self.send_op(None, op=op)
                        if not self.joined:
                            break
                    self.retry_at = now + self.retry_delay * (0.5 + self.rnd.random())
                    self.retry_delay = min(1.0, self.retry_delay * 2)
            elif self.writing and self.writes and len(self.outstanding) < 3:
                msg = self.pick()
                if msg is not None:
                    await self.send_op(msg)
            await asyncio.sleep(self.rnd.uniform(0.12, 0.36))

    def settled(self):
        return self.joined and not self.closed and not self.unknown and not self.outstanding


class S:
    srv = None
    jam = None
    code = None
    clients = []
    probe = None
    tasks = []
    cycles = []
    stall = []     # (ping seconds, write seconds, code) per stall
    left_after_stop = None
    stream = None
    replay = None
    figures = {}
    extra_servers = 0  # redis-servers on the data besides the one that should be, summed per cycle


async def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout * SLOW
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %.0f s" % (what, timeout * SLOW))
        await asyncio.sleep(0.05)


def all_clients():
    return S.clients + ([S.probe] if S.probe else [])


def not_joined():
    return [c.name for c in all_clients() if not c.joined or c.closed]


# ------------------------------------------------------------------------------------------------
# The independent model: a replay of the stream, written from proto/messages.md only.


def replay(stream):
    items = {}          # id -> {"kind", "text", "votes": set(pid), "hidden"}
    applied = {}        # (by, op) -> (event id, item or None)
    copies = {}         # (by, op) -> [event ids]
    invalid = []        # (event id, why): stored events that the rules do not allow
    state = "lobby"
    votes_of = {}
    for i, e in stream:
        t = e.get("t")
        key = (e.get("by"), e.get("op")) if e.get("op") is not None else None
        if key is not None:
            copies.setdefault(key, []).append(i)
            if key in applied:
                continue  # a retry that reached the stream twice: no second effect
        why = None
        item = None
        if t == "posted":
            if state != "running":
                why = "post while %s" % state
            elif e.get("kind") != "idea":
                why = "kind %r" % e.get("kind")
            else:
                item = len(items) + 1
                items[item] = {"kind": e["kind"], "text": e.get("text"), "votes": set(),
                               "hidden": False}
        elif t in ("voted", "unvoted"):
            it = items.get(e.get("item"))
            by = e.get("by")
            if it is None:
                why = "no such item"
            elif it["hidden"]:
                why = "item hidden"
            elif state != "running":
                why = "vote while %s" % state
            elif t == "voted" and by in it["votes"]:
                why = "already voted"
            elif t == "unvoted" and by not in it["votes"]:
                why = "not voted"
            elif t == "voted":
                it["votes"].add(by)
            else:
                it["votes"].discard(by)
        elif t in ("hidden", "unhidden"):
            it = items.get(e.get("item"))
            if it is None:
                why = "no such item"
            elif it["hidden"] == (t == "hidden"):
                why = "already %s" % t
            else:
                it["hidden"] = t == "hidden"
        elif t == "started":
            state = "running"
        elif t in ("jam_created", "joined"):
            pass
        else:
            why = "unexpected event %r" % t
        if why is not None:
            invalid.append((i, why, e))
            continue
        if key is not None:
            applied[key] = (i, item)
    for it_id, it in items.items():
        for pid in it["votes"]:
            votes_of.setdefault(pid, set()).add(it_id)
    return {"items": items, "applied": applied, "copies": copies, "invalid": invalid,
            "votes_of": votes_of}


def model_view(items, moderator):
    """What a client of this role should hold: {id: (hidden, kind, text, votes)}; hidden items for
    citizens and screens carry nothing else."""
    out = {}
    for i, it in items.items():
        if it["hidden"] and not moderator:
            out[i] = (True, None, None, None)
        else:
            out[i] = (it["hidden"], it["kind"], it["text"], len(it["votes"]))
    return out


def client_view(citems, moderator):
    out = {}
    for i, it in citems.items():
        if it.get("hidden") and not moderator:
            out[i] = (True, None, None, None)
        else:
            out[i] = (bool(it.get("hidden")), it.get("kind"), it.get("text"), it.get("votes"))
    return out


def diff_views(got, want, limit=4):
    d = []
    for i in sorted(set(got) | set(want)):
        if got.get(i) != want.get(i):
            d.append("item %s: got %r, want %r" % (i, got.get(i), want.get(i)))
    return d[:limit], len(d)


# ------------------------------------------------------------------------------------------------


async def do_cojamd_kill(srv, in_flight):
    """kill -9 of cojamd; 'in_flight': with appends in flight (Redis held with SIGSTOP for a
    moment shorter than the timeout, cojamd killed, Redis let go: those appends land in the
    stream although nobody was told)."""
    held = 0.0
    rpid = srv.redis_pid()
    if in_flight:
        os.kill(rpid, signal.SIGSTOP)
        held = rng.uniform(0.1, 0.3)
        await asyncio.sleep(held)
    try:
        srv.kill9(srv.cojamd)
    finally:
        if in_flight:
            os.kill(rpid, signal.SIGCONT)
    await asyncio.sleep(rng.uniform(0.05, 0.4))
    t0 = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, srv.start_cojamd)
    return "cojamd kill -9%s, back in %.2f s" % (
        " with appends in flight (Redis held %.2f s)" % held if in_flight else "",
        time.monotonic() - t0)


async def do_redis_kill(srv):
    if EMBEDDED:
        # cojamd's own child: its supervisor reaps it and starts another on the same files.
        old = srv.redis_pid()
        os.kill(old, signal.SIGKILL)
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        while True:
            pid = await loop.run_in_executor(None, srv.redis_pid)
            if pid != old:
                break
            await asyncio.sleep(0.05)
        return "redis kill -9, restarted by cojamd in %.2f s" % (time.monotonic() - t0)
    srv.kill9(srv.redis)
    await asyncio.sleep(rng.uniform(0.2, 0.8))
    t0 = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, srv.start_redis)
    return "redis kill -9, back in %.2f s" % (time.monotonic() - t0)


def extra_redis_servers(srv):
    """redis-servers on the data other than the one that should be there (cojamd's child in
    embedded mode, the test's own otherwise)."""
    want = set(srv.owned_redis())
    return [p for p in srv.redis_servers() if p[0] not in want]


async def do_redis_stall(srv):
    p = S.probe
    mod = S.clients[0]
    # A moderator action in flight makes citizens' writes 'busy' (proto): none during the probe.
    mod.mod_actions = False
    await wait_until(lambda: not any(mod.ops[o].msg["type"] in ("hide", "unhide")
                                     for o in mod.unknown | mod.outstanding), 10,
                     "no moderator action in flight")
    await wait_until(lambda: p.settled(), 10, "probe settled before the stall")
    items = sorted(i for i, it in p.items.items() if it.get("kind") == "idea" and
                   not it.get("hidden"))
    rpid = srv.redis_pid()
    os.kill(rpid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        await p.ping(timeout=2)
        ping_s = time.monotonic() - t0
        st, _, _ = srv.http("GET", "/api/jams/%s" % S.code, timeout=2)
        check(st == 200, "GET /api/jams/<code> while Redis is stopped: %s", st)
        item = rng.choice(items)
        msg = {"type": "unvote" if item in p.myvotes else "vote", "item": item}
        t1 = time.monotonic()
        rec = await p.send_op(msg)
        await wait_until(lambda: rec.answered_at or not p.joined, 5,
                         "an answer to a write while Redis is stopped")
        write_s = (rec.answered_at[0] if rec.answered_at else time.monotonic()) - t1
        code = rec.codes[0] if rec.codes else ("ack" if rec.acks else None)
        S.stall.append((ping_s, write_s, code))
        check(ping_s < 0.5 * SLOW, "pong after %.2f s while Redis is stopped", ping_s)
        check(code in ("storage_timeout", "storage_unavailable"),
              "a write while Redis is stopped got %s / %r", rec.state, rec.codes)
        check(write_s < (REDIS_TIMEOUT_MS / 1000.0 + 1.0) * SLOW,
              "the write failed after %.2f s (--redis-timeout-ms %d)", write_s, REDIS_TIMEOUT_MS)
        await asyncio.sleep(max(0.0, STALL_S - (time.monotonic() - t0)))
    finally:
        os.kill(rpid, signal.SIGCONT)
        mod.mod_actions = True
    return "redis SIGSTOP %.1f s: pong in %.3f s, write refused (%s) in %.3f s" % (
        STALL_S, ping_s, code, write_s)


@suite.test(timeout=FILE_TIMEOUT - 40)
async def writers_through_faults(srv):
    S.srv = srv
    print("# mode=%s seed=%d (FAULT_SEED=%d to repeat); cycles: %d cojamd kill -9, %d redis "
          "kill -9, %d redis SIGSTOP" % (MODE, SEED, SEED, COJAMD_KILLS, REDIS_KILLS,
                                         REDIS_STALLS), flush=True)
    S.jam = srv.create_jam(title="Faults", question="Does anything get lost?",
                           agenda=[{"phase": "ideate", "duration_s": 0}],
                           settings={"votes_per_phase": 0})
    S.code = S.jam["code"]
    mod = FaultClient(srv, "M", "moderator", rng.randrange(1 << 30), S.code,
                      secret=S.jam["moderator_secret"])
    S.clients = [mod] + [FaultClient(srv, "c%d" % i, "citizen", rng.randrange(1 << 30), S.code)
                         for i in range(1, N_CITIZENS + 1)]
    S.probe = FaultClient(srv, "probe", "citizen", rng.randrange(1 << 30), S.code, writes=False)
    await mod.ensure_joined()
    await mod.call({"type": "start"})
    for k in range(SEED_IDEAS):
        r = await mod.call({"type": "post", "kind": "idea", "text": "seeded idea %d" % (k + 1)})
        check(r.state == "acked", "seeded idea: %r", r.codes)
    S.tasks = [asyncio.ensure_future(c.run()) for c in all_clients()]
    await wait_until(lambda: not not_joined(), 10, "everyone joined")
    for c in S.clients:
        c.writing = True

    kinds = (["cojamd"] * COJAMD_KILLS + ["redis_kill"] * REDIS_KILLS +
             ["redis_stall"] * REDIS_STALLS)
    rng.shuffle(kinds)
    problems = []
    for n, kind in enumerate(kinds, 1):
        await asyncio.sleep(rng.uniform(0.8, 2.5))
        t0 = time.monotonic()
        try:
            if kind == "cojamd":
                what = await do_cojamd_kill(srv, rng.random() < 0.5)
            elif kind == "redis_kill":
                what = await do_redis_kill(srv)
            else:
                what = await do_redis_stall(srv)
        except AssertionError as e:
            what = "%s: %s" % (kind, e)
            problems.append("cycle %d: %s" % (n, e))
        try:
            await wait_until(lambda: not not_joined(), 20, "every client joined again")
        except AssertionError as e:
            problems.append("cycle %d (%s): %s: %s" % (n, kind, e, not_joined()))
            break
        S.cycles.append(kind)
        extra = extra_redis_servers(srv)
        S.extra_servers += len(extra)
        print("# cycle %d/%d: %s; all joined %.2f s after the fault%s" % (
            n, len(kinds), what, time.monotonic() - t0,
            "; other redis-servers on the data: %r" % extra if extra else ""), flush=True)
        if not srv.cojamd_alive():
            problems.append("cycle %d: cojamd died: %s" % (n, srv.crash_report()))
            break
    check(not problems, "\n".join(problems))


@suite.test(timeout=40)
async def every_op_resolved_and_caught_up(srv):
    for c in S.clients:
        c.writing = False
    try:
        await wait_until(lambda: all(c.settled() for c in all_clients()), 20,
                         "every op answered definitively")
    except AssertionError as e:
        raise AssertionError("%s; unresolved: %s" % (e, {
            c.name: sorted(c.unknown | c.outstanding)[:5] for c in all_clients()
            if not c.settled()}))
    await asyncio.sleep(0.2 * SLOW)
    S.stream = srv.xrange(S.code)
    S.replay = replay(S.stream)  # the later steps check against it even if this one fails
    last = S.stream[-1][0]
    try:
        await wait_until(lambda: all(c.last is not None and eid(c.last) >= eid(last)
                                     for c in all_clients()), 10, "every client caught up")
    except AssertionError as e:
        raise AssertionError("%s to %s: %s" % (e, last, {c.name: c.last for c in all_clients()}))
    check(srv.xrange(S.code)[-1][0] == last, "the stream grew after the writers stopped")


def op_index():
    """(pid, op) -> (client, Op) for every op any client sent."""
    idx = {}
    for c in all_clients():
        for op, rec in c.ops.items():
            idx[(c.pid, op)] = (c, rec)
    return idx


@suite.test()
async def acknowledged_events_in_the_stream(srv):
    check(S.replay is not None, "no stream (an earlier step failed)")
    by_id = dict(S.stream)
    missing = []
    for c in all_clients():
        for op, rec in c.ops.items():
            if rec.state != "acked":
                continue
            e = by_id.get(rec.ack["event_id"])
            if e is None or e.get("by") != c.pid or e.get("op") != op:
                missing.append("%s %s -> %s: stream has %r" % (c.name, op, rec.ack["event_id"],
                                                               e))
    S.figures["missing"] = len(missing)
    check(not missing, "%d acked events missing: %s", len(missing), "; ".join(missing[:5]))


@suite.test()
async def no_event_never_attempted(srv):
    check(S.replay is not None, "no stream (an earlier step failed)")
    idx = op_index()
    never = []
    refused_stored = []
    wrong = []
    tmap = {"post": "posted", "vote": "voted", "unvote": "unvoted", "hide": "hidden",
            "unhide": "unhidden", "start": "started"}
    for i, e in S.stream:
        if e.get("op") is None:
            continue
        got = idx.get((e.get("by"), e["op"]))
        if got is None:
            never.append("%s %r" % (i, e))
            continue
        c, rec = got
        if rec.state == "refused":
            refused_stored.append("%s %s refused with %s but stored as %s" % (c.name, rec.op,
                                                                              rec.code, i))
        m = rec.msg
        if (tmap.get(m["type"]) != e.get("t") or m.get("item") != e.get("item") or
                m.get("text") != e.get("text")):
            wrong.append("%s %s sent %r, stored %r" % (c.name, rec.op, m, e))
    S.figures["unattempted"] = len(never)
    S.figures["refused_stored"] = len(refused_stored)
    check(not never and not refused_stored and not wrong,
          "events never attempted: %d %s; refused but stored: %d %s; stored differently: %d %s",
          len(never), never[:3], len(refused_stored), refused_stored[:3], len(wrong), wrong[:3])


@suite.test()
async def every_model_equals_the_replayed_stream(srv):
    check(S.replay is not None, "no stream (an earlier step failed)")
    rp = S.replay
    items = rp["items"]
    last = S.stream[-1][0]
    bad = []
    for c in all_clients():
        mod = c.role == "moderator"
        d, n = diff_views(client_view(c.items, mod), model_view(items, mod))
        if n:
            bad.append("%s: %d items differ: %s" % (c.name, n, "; ".join(d)))
        want_rank = expected_ranking({i: {"id": i, "kind": it["kind"], "votes": len(it["votes"]),
                                          "hidden": it["hidden"]} for i, it in items.items()})
        if c.ranking.get("idea", []) != want_rank["idea"]:
            bad.append("%s: ranking %r, want %r" % (c.name, c.ranking.get("idea"),
                                                    want_rank["idea"]))
        if c.last != last:
            bad.append("%s: last event %s, stream ends at %s" % (c.name, c.last, last))
    # Each participant's own votes, as a fresh snapshot tells them.
    for c in all_clients():
        c.drain("snapshot")
        await c.send({"type": "sync"})
        s = await c.wait_for("snapshot", timeout=5)
        want = sorted(rp["votes_of"].get(c.pid, set()))
        if sorted(s["you"]["votes"]) != want:
            bad.append("%s: you.votes %r, replay %r" % (c.name, sorted(s["you"]["votes"]), want))
    for c in all_clients():
        if c.anomalies:
            bad.append("%s: anomalies %s" % (c.name, c.anomalies[:3]))
        if c.problems:
            bad.append("%s: %s" % (c.name, c.problems[:3]))
    # model_mismatch counts the clients (and, below, fresh snapshots) whose view differs.
    S.figures["model_mismatch"] = len({b.split(":")[0] for b in bad})
    check(not bad, "\n".join(bad))


@suite.test()
async def fresh_snapshot_and_digest_across_a_clean_restart(srv):
    check(S.replay is not None, "no stream (an earlier step failed)")
    items = S.replay["items"]
    bad = []

    async def fresh(tag):
        scr = await Client(srv, "screen-" + tag).connect()
        try:
            _, s = await scr.join(S.code, "screen", timeout=5)
        finally:
            await scr.close()
        got = client_view({it["id"]: it for it in s["items"]}, False)
        d, n = diff_views(got, model_view(items, False))
        if n:
            bad.append("fresh snapshot %s: %d items differ: %s" % (tag, n, "; ".join(d)))
            S.figures["model_mismatch"] = S.figures.get("model_mismatch", 0) + 1
        if s["event_id"] != S.stream[-1][0]:
            bad.append("fresh snapshot %s: event_id %s, stream ends at %s" % (
                tag, s["event_id"], S.stream[-1][0]))
        return s

    s = await fresh("before")
    S.fresh_items = {it["id"]: it for it in s["items"]}
    st, before, _ = srv.http_json("GET", "/api/jams/%s/digest" % S.code)
    check(st == 200, "digest: %s", st)
    for c in all_clients():
        c.stop = True
    await asyncio.gather(*S.tasks, return_exceptions=True)
    for c in all_clients():
        await c.close()
    problems = srv.stop_cojamd_checked()
    check(not problems, "clean stop: %s", problems)
    S.left_after_stop = servers_left_after_stop(srv)
    srv.start_cojamd()
    st, after, _ = srv.http_json("GET", "/api/jams/%s/digest" % S.code)
    check(st == 200, "digest after the restart: %s", st)
    if before != after:
        bad.append("digest before %r, after a clean restart %r" % (before, after))
    if before.get("event_id") != S.stream[-1][0]:
        bad.append("digest event_id %s, stream ends at %s" % (before.get("event_id"),
                                                              S.stream[-1][0]))
    await fresh("after")
    S.figures["digest_equal"] = int(before == after)
    check(not bad, "\n".join(bad))


@suite.test()
async def no_op_applied_twice(srv):
    check(S.replay is not None, "no stream (an earlier step failed)")
    rp = S.replay
    idx = op_index()
    doubled = []
    for key, ids in rp["copies"].items():
        if len(ids) > 1:
            c, rec = idx.get(key, (None, None))
            # A later copy had an effect only if it created a second item with the op's text.
            if rec is not None and rec.msg["type"] == "post":
                texts = [it for it in S.fresh_items.values() if it.get("text") ==
                         rec.msg["text"]] if getattr(S, "fresh_items", None) else []
                for cc in all_clients():
                    n = sum(1 for it in cc.items.values() if it.get("text") == rec.msg["text"])
                    if n > 1:
                        doubled.append("%s %s: %d items in %s's model" % (c.name, rec.op, n,
                                                                          cc.name))
                        break
                else:
                    if len(texts) > 1:
                        doubled.append("%s %s: %d items" % (c.name, rec.op, len(texts)))
    bad_acks = []
    for c in all_clients():
        for op, rec in c.ops.items():
            first = rp["applied"].get((c.pid, op))
            for a in rec.acks:
                if first is None or a.get("event_id") != first[0]:
                    bad_acks.append("%s %s ack %s, first applied copy %s" % (
                        c.name, op, a.get("event_id"), first and first[0]))
                elif rec.msg["type"] == "post" and a.get("item") != first[1]:
                    bad_acks.append("%s %s ack item %s, replay gives %s" % (
                        c.name, op, a.get("item"), first[1]))
    S.figures["dup_copies"] = sum(len(v) - 1 for v in rp["copies"].values())
    S.figures["doubled"] = len(doubled) + len(bad_acks)
    S.figures["invalid"] = len(rp["invalid"])
    check(not doubled and not bad_acks and not rp["invalid"],
          "ops with a second effect: %s; acks not naming the first copy: %d %s; stored events "
          "the rules refuse: %d %s", doubled[:3], len(bad_acks), bad_acks[:3],
          len(rp["invalid"]), rp["invalid"][:3])


def servers_left_after_stop(srv):
    """redis-servers on the data once cojamd has stopped: none in embedded mode (cojamd stops its
    own), only the test's own otherwise."""
    keep = set() if EMBEDDED else set(srv.owned_redis())
    return [p for p in srv.redis_servers() if p[0] not in keep]


@suite.test()
async def one_redis_server_on_the_data(srv):
    check(S.extra_servers == 0 and not S.left_after_stop,
          "other redis-servers on the data after the faults: %d (summed over the cycles); after a "
          "clean stop of cojamd: %r", S.extra_servers, S.left_after_stop)


@suite.test()
async def figures(srv):
    ops = [r for c in all_clients() for r in c.ops.values()]
    f = S.figures
    n = lambda k: sum(c.n[k] for c in all_clients())  # noqa: E731
    codes = {}
    for c in all_clients():
        for k, v in c.errors.items():
            codes[k] = codes.get(k, 0) + v
    closes = {}
    for c in all_clients():
        for k, v in c.close_codes.items():
            closes[k] = closes.get(k, 0) + v
    print("# faults: mode=%s seed=%d cycles=%d (cojamd=%d redis_kill=%d redis_stop=%d) ops=%d "
          "acked=%d refused=%d retried=%d unknown_resolved=%d stream=%d dup_copies=%s missing=%s "
          "unattempted=%s doubled=%s model_mismatch=%s invalid=%s refused_stored=%s "
          "digest_equal=%s extra_servers=%d" % (
              MODE, SEED, len(S.cycles), S.cycles.count("cojamd"), S.cycles.count("redis_kill"),
              S.cycles.count("redis_stall"), len(ops), sum(r.state == "acked" for r in ops),
              sum(r.state == "refused" for r in ops), sum(r.sends > 1 for r in ops),
              sum(r.was_unknown and r.state in ("acked", "refused") for r in ops),
              len(S.stream or []), f.get("dup_copies"), f.get("missing"), f.get("unattempted"),
              f.get("doubled"), f.get("model_mismatch"), f.get("invalid"),
              f.get("refused_stored"), f.get("digest_equal"), S.extra_servers))
    # Ops whose reply was lost although the event had landed: the retry got an ack naming an
    # event stored before that retry was sent.
    lost = sum(1 for r in ops if r.was_unknown and r.ack is not None and
               eid(r.ack["event_id"])[0] < r.sent_wall_ms - 5)
    print("# faults: lost_replies_acked_on_retry=%d reconnects=%d resumed=%d snapshots=%d resyncs=%d gaps=%d errors=%s "
          "closes=%s stall(ping_s, write_s, code)=%s" % (
              lost, n("reconnects"), n("resumed"), n("snapshots"), n("resyncs"), n("gaps"),
              dict(sorted(codes.items())), closes,
              [(round(a, 3), round(b, 3), c) for a, b, c in S.stall]), flush=True)
    check(S.stream is not None, "no figures: an earlier step failed")


def teardown(srv):
    """Stop everything the test started, then look for any process still working on the test's
    directories: a redis-server that outlived its cojamd is the defect of issue 15."""
    srv.stop_cojamd()
    srv.stop_redis()
    deadline = time.monotonic() + 5 * SLOW  # an orderly exit (AOF fsync) takes a moment
    left = procs_on(srv.tmp)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = procs_on(srv.tmp)
    print("# faults: mode=%s orphans_left=%d %r" % (MODE, len(left), left), flush=True)
    if left:
        suite.not_ok("no process left on the test's directories", "still running: %r" % left)
        for pid, _, _ in left:  # found by their directory above: ours to end
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    else:
        suite.ok("no process left on the test's directories")
    srv.stop()


if __name__ == "__main__":
    cls = EmbeddedFaultServers if EMBEDDED else FaultServers
    sys.exit(suite.run(lambda: cls(extra_args=["--redis-timeout-ms",
                                               str(REDIS_TIMEOUT_MS)]).start(), teardown))
