#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-13-sentinel: Redis failover under Sentinel (issue 13, point 4). A primary, one replica
and three redis-sentinels on loopback ports of our own; two cojamd given the sentinels (never the
primary's address), which acknowledge a write only once the replica has it (WAIT). Clients write
under load on both processes; kill -9 of the primary; the sentinels promote the replica; cojamd
asks them again and goes on there. Then: acknowledged events missing from the new primary's
stream 0 (every ack any client got, compared with it), every op's effect once, the digest of both
processes equal to a fresh process's replay of the new primary, every client's view equal to a
fresh snapshot. Then: a write the replica never got (it is stopped) is never shown, and after a
failover that loses it its retry stores it once. Also: with no replica, a write fails with the
retryable replica_timeout, and once a replica is back the same op is acknowledged once.
Timings: down-after-milliseconds 1000, so a failover takes about 2-4 s."""

import asyncio
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (SLOW, Client, Servers, StartError, Suite, check, check_eq, closing,  # noqa: E402
                     digests_converge, eid, free_port, fresh_snapshot, jam_digest, start_node)

suite = Suite("80-issue-13-sentinel", file_timeout=120)
MASTER = "cojam"
DOWN_AFTER_MS = 1000


def redis_cli(port, *args, timeout=3.0):
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                         capture_output=True, text=True, timeout=timeout)
    return out.stdout.strip()


class Cluster:
    """redis-servers and redis-sentinels in one temporary directory."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.redis = {}      # port -> Popen
        self.sentinels = {}  # port -> Popen

    def _spawn(self, name, argv):
        log = open(os.path.join(self.tmp, name + ".log"), "a")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        harness._live_procs.append(p)
        return p

    def start_redis(self, port=None, replica_of=None):
        port = port or free_port()
        d = os.path.join(self.tmp, "redis-%d-%d" % (port, int(time.monotonic() * 1000)))
        os.makedirs(d)
        # Durable as deploy/redis.conf says; a replica syncs at once (no diskless-sync delay).
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                "--repl-diskless-sync-delay", "0", "--maxmemory-policy", "noeviction"]
        if replica_of:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.redis[port] = self._spawn("redis-%d" % port, argv)
        until(lambda: redis_cli(port, "PING") == "PONG", 10, "redis-server :%d answers" % port)
        return port

    def start_sentinel(self, primary):
        port = free_port()
        conf = os.path.join(self.tmp, "sentinel-%d.conf" % port)
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\n"
                    "sentinel monitor %s 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds %s %d\n"
                    "sentinel failover-timeout %s 5000\n"
                    "sentinel parallel-syncs %s 1\n"
                    % (port, self.tmp, MASTER, primary, MASTER, DOWN_AFTER_MS, MASTER, MASTER))
        self.sentinels[port] = self._spawn("sentinel-%d" % port, ["redis-sentinel", conf])
        until(lambda: redis_cli(port, "PING") == "PONG", 10, "sentinel :%d answers" % port)
        return port

    def primary(self, sentinel):
        r = redis_cli(sentinel, "SENTINEL", "get-master-addr-by-name", MASTER).split("\n")
        return int(r[1]) if len(r) == 2 else None

    def replica_up(self, port):
        return "master_link_status:up" in redis_cli(port, "INFO", "replication")

    def kill9(self, port):
        p = self.redis.pop(port)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=5)
        harness._stop_proc(p)

    def stop(self):
        for p in list(self.sentinels.values()) + list(self.redis.values()):
            harness._stop_proc(p)


def sentinel_ready(port):
    """The sentinel knows the two others and the replica."""
    f = redis_cli(port, "SENTINEL", "master", MASTER).split("\n")
    info = dict(zip(f[0::2], f[1::2]))
    return info.get("num-other-sentinels") == "2" and info.get("num-slaves") == "1"


def until(cond, timeout, what):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except (subprocess.TimeoutExpired, OSError):
            pass
        time.sleep(0.05)
    raise StartError("%s: not within %.0f s" % (what, timeout * SLOW))


class Node(Servers):
    """One cojamd that knows only the sentinels."""

    def __init__(self, cluster, sentinel_ports):
        super().__init__()
        self.cluster = cluster
        self.sentinel_ports = sentinel_ports

    def cojamd_args(self):
        args = super().cojamd_args()
        i = args.index("--redis")
        del args[i:i + 2]
        return args + ["--sentinels", ",".join("127.0.0.1:%d" % p for p in self.sentinel_ports),
                       "--sentinel-master", MASTER, "--replica-timeout-ms", "300"]

    def start_redis(self):
        pass  # the cluster's

    def stop_redis(self):
        pass


class S:
    cluster = None
    sentinels = []
    primary = None
    replica = None
    nodes = []
    code = None
    jam = None
    clients = []


def setup():
    srv = Servers()  # only for its temporary directory and its cleanup
    c = S.cluster = Cluster(srv.tmp)
    try:
        S.primary = c.start_redis()
        S.replica = c.start_redis(replica_of=S.primary)
        until(lambda: c.replica_up(S.replica), 10, "the replica in sync")
        S.sentinels = [c.start_sentinel(S.primary) for _ in range(3)]
        # Failover needs every sentinel to know the replica and the others (quorum 2, majority 2).
        until(lambda: all(sentinel_ready(s) for s in S.sentinels), 15,
              "the sentinels know each other and the replica")
        for _ in range(2):
            S.nodes.append(start_node(S.primary, node=Node(c, S.sentinels)))
    except BaseException:
        c.stop()
        for n in S.nodes:
            n.stop()
        raise
    return srv


def teardown(srv):
    for n in S.nodes:
        n.stop()
    S.cluster.stop()
    srv.stop()


def settle_topology(timeout=15):
    """Waits until every sentinel names the same primary and the other redis-server replicates it,
    then sets S.primary and S.replica from that. On a loaded machine the sentinels may fail over
    again on their own (a new primary slow to answer their PING right after a failover), so which
    server is the primary is read from them, never assumed."""
    def settled():
        ps = {S.cluster.primary(s) for s in S.sentinels}
        if len(ps) != 1 or None in ps:
            return False
        p = ps.pop()
        others = [r for r in S.cluster.redis if r != p]
        if len(others) != 1 or "role:master" not in redis_cli(p, "INFO", "replication"):
            return False
        info = redis_cli(others[0], "INFO", "replication")
        if "master_port:%d" % p not in info or "master_link_status:up" not in info:
            return False
        S.primary, S.replica = p, others[0]
        return True
    until(settled, timeout, "one primary the sentinels agree on, and its replica in sync")


def xrange(port):
    srv = S.nodes[0]
    srv.redis_port = port
    return srv.xrange(S.code)


async def client(n, name):
    c = Client(S.nodes[n], name)
    await c.connect()
    S.clients.append(c)
    return c


async def persist(c, msg, timeout):
    """Write until acknowledged: a retryable error (storage_*, replica_timeout) or a lost
    connection is retried with the same op, reconnecting and resuming as a phone does."""
    msg = dict(msg, op=msg.get("op") or c.next_op())
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        try:
            if c.closed:
                await c.reconnect()
                await c.join(token=c.welcome["token"], last_event_id=c.last)
            r = await c.write(msg, retry=False, timeout=3.0)
            if r["type"] == "ack":
                return r
            check(r.get("retryable"), "%s: %s refused: %r", c.name, msg["op"], r)
        except Exception as e:  # the connection went, or no answer in time: retry
            if isinstance(e, AssertionError) and "refused" in str(e):
                raise
        await asyncio.sleep(0.1)
    raise AssertionError("%s: %s not acknowledged within %.0f s" % (c.name, msg["op"], timeout))


@suite.test(timeout=30)
async def writes_are_acknowledged_once_the_replica_has_them(srv):
    S.jam = S.nodes[0].create_jam(title="Failover", question="Nothing lost?",
                                  agenda=[{"phase": "ideate", "duration_s": 600}],
                                  settings={"votes_per_phase": 1000})
    S.code = S.jam["code"]
    n1 = S.nodes[1]
    for _ in range(int(40 * SLOW)):
        if n1.http("GET", "/api/jams/%s" % S.code)[0] == 200:
            break
        await asyncio.sleep(0.05)
    M = await client(0, "M")
    await M.join(S.code, "moderator", nickname="Mod", secret=S.jam["moderator_secret"])
    await M.must_ack({"type": "start"})
    c = await client(1, "C")
    await c.join(S.code, "citizen", nickname="Cit")
    a = await c.must_ack({"type": "post", "kind": "idea", "text": "Shade on every bus stop"})
    # Acknowledged means on the replica too: read it there.
    check(any(i == a["event_id"] for i, _ in xrange(S.replica)), "the acked post on the replica")


@suite.test(timeout=60)
async def kill_9_of_the_primary_under_load_loses_no_ack(srv):
    writers = []
    for k in range(6):
        w = await client(k % 2, "W%d" % k)
        await w.join(S.code, "citizen", nickname="Writer%d" % k)
        writers.append(w)
    screens = []
    for k in range(2):
        s = await client(k, "S%d" % k)
        await s.join(S.code, "screen")
        screens.append(s)
    stop = asyncio.Event()
    acked = []  # (client, op, ack)

    async def load(w):
        k = 0
        while not stop.is_set():
            k += 1
            msg = {"type": "post", "op": "%s-p%d" % (w.name, k), "kind": "idea",
                   "text": "Idea %d from %s" % (k, w.name)}
            a = await persist(w, msg, 25)
            acked.append((w, msg["op"], a))
            if a.get("item") and k % 2 == 0:
                op = "%s-v%d" % (w.name, k)
                acked.append((w, op, await persist(w, {"type": "vote", "op": op,
                                                       "item": a["item"]}, 25)))
            await asyncio.sleep(0.02)

    tasks = [asyncio.ensure_future(load(w)) for w in writers]
    await asyncio.sleep(1.0 * SLOW)
    before = len(acked)
    check(before > 0, "acks before the kill")
    S.cluster.kill9(S.primary)
    old = S.primary
    t0 = time.monotonic()
    # The sentinels promote the replica.
    while S.cluster.primary(S.sentinels[0]) == old and time.monotonic() - t0 < 15 * SLOW:
        await asyncio.sleep(0.1)
    check_eq(S.cluster.primary(S.sentinels[0]), S.replica, "the primary after the failover")
    failover_s = time.monotonic() - t0
    S.primary, S.replica = S.replica, None
    # The old primary comes back as a replica of the new one (what an operator's restart does;
    # the sentinels would reconfigure it too): writes can be confirmed again.
    S.cluster.start_redis(port=old, replica_of=S.primary)
    settle_topology()
    n_at_sync = len(acked)
    deadline = time.monotonic() + 15 * SLOW
    while len(acked) < n_at_sync + 20 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    check(len(acked) >= n_at_sync + 20, "writes acknowledged again after the failover (%d)",
          len(acked) - n_at_sync)
    stop.set()
    await asyncio.gather(*tasks)

    settle_topology()
    stream = xrange(S.primary)
    ids = {i for i, _ in stream}
    missing = [(w.name, op, a["event_id"]) for w, op, a in acked if a["event_id"] not in ids]
    print("# %d acks (%d before the kill), failover seen after %.1f s, acked events missing %d"
          % (len(acked), before, failover_s, len(missing)))
    check_eq(missing, [], "acknowledged events missing from the new primary's stream")
    # Every op took effect once, however often it reached the stream.
    effect = {}
    for i, e in stream:
        if e.get("t") in ("posted", "voted") and e.get("op"):
            effect.setdefault((e["by"], e["op"]), []).append(i)
    acked_ops = {(w.you["id"], op) for w, op, _ in acked}
    check(acked_ops <= set(effect), "every acked op is in the stream")
    posts = {k for k, v in effect.items() if k[1].split("-")[1].startswith("p")}
    live = [c for c in S.clients if not c.closed]
    last = stream[-1][0]
    await asyncio.gather(*(c.wait_model(lambda c: c.last is not None and eid(c.last) >= eid(last),
                                        10, "caught up") for c in live))
    snap = await fresh_snapshot(live[-1])
    check_eq(len([i for i in snap["items"]]), len(posts) + 1, "items vs distinct post ops")
    for c in live:
        if c.name != "M":
            if c.model() != live[-1].model():  # what it received, to tell a lost frame
                print("# %s: gaps %r, anomalies %r, snapshots %d, first frames %r" % (
                    c.name, c.gaps, c.anomalies, c.snapshots,
                    [(m.get("type"), m.get("from"), m.get("to"),
                      [i["id"] for i in m.get("items", [])]) for m in c.received[:12]]))
            check_eq(c.model(), live[-1].model(), "%s's view" % c.name)
    # The processes' state is the new primary's stream: a fresh replay of it has their digest.
    ds = await digests_converge(S.nodes, S.code)
    check_eq(ds[1], ds[0], "digest on both processes")
    fresh = start_node(S.primary, node=Node(S.cluster, S.sentinels))
    try:
        check_eq(jam_digest(fresh, S.code), ds[0], "a fresh replay of the new primary's digest")
    finally:
        fresh.stop()


@suite.test(timeout=60)
async def an_entry_no_replica_has_is_never_shown(srv):
    """The tail reads the replica: an entry only the primary has is not applied, so a failover
    that loses it takes nothing back from the screens or the processes' state."""
    settle_topology()
    w = next(c for c in S.clients if c.name == "W1" and not c.closed)
    screens = [c for c in S.clients if c.name.startswith("S") and not c.closed]
    replica = S.cluster.redis[S.replica]
    text = "Written while the replica slept"
    msg = {"type": "post", "op": "W1-ghost", "kind": "idea", "text": text}
    os.kill(replica.pid, signal.SIGSTOP)
    try:
        # Stopped, a replica still gets what the primary had sent into its socket: cut the link
        # too, so that the entry below reaches no replica at all.
        redis_cli(S.primary, "CLIENT", "KILL", "TYPE", "replica")
        r = await w.write(msg, retry=False, timeout=5.0)
        check_eq((r["type"], r.get("code")), ("error", "replica_timeout"), "the write's answer")
        check(any(e.get("op") == "W1-ghost" for _, e in xrange(S.primary)),
              "the entry is on the primary")
        await asyncio.sleep(1.0 * SLOW)  # ticks and the tail's reads go on meanwhile
        shown = [c.name for c in screens + [w] if any(text in str(m) for m in c.received)]
        check_eq(shown, [], "clients shown the entry only the primary has")
        old = S.primary
        S.cluster.kill9(S.primary)
    finally:
        os.kill(replica.pid, signal.SIGCONT)
    t0 = time.monotonic()
    while S.cluster.primary(S.sentinels[0]) == old and time.monotonic() - t0 < 20 * SLOW:
        await asyncio.sleep(0.1)
    check(S.cluster.primary(S.sentinels[0]) != old, "a failover to the replica")
    S.cluster.start_redis(port=old, replica_of=S.cluster.primary(S.sentinels[0]))
    settle_topology(20)
    check(not any(e.get("op") == "W1-ghost" for _, e in xrange(S.primary)),
          "the failover lost the entry (the replica never had it)")
    a = await persist(w, msg, 25)
    stream = xrange(S.primary)
    check_eq(len([1 for _, e in stream if e.get("op") == "W1-ghost"]), 1, "the retry stored once")
    check(any(i == a["event_id"] for i, _ in stream), "its ack names a stream entry")
    ds = await digests_converge(S.nodes, S.code)
    check_eq(ds[1], ds[0], "digest on both processes")
    fresh = start_node(S.primary, node=Node(S.cluster, S.sentinels))
    try:
        check_eq(jam_digest(fresh, S.code), ds[0], "a fresh replay of the new primary's digest")
    finally:
        fresh.stop()


@suite.test(timeout=30)
async def no_replica_means_a_retryable_replica_timeout(srv):
    w = next(c for c in S.clients if c.name == "W0" and not c.closed)
    settle_topology()
    S.cluster.kill9(S.replica)
    until(lambda: "connected_slaves:0" in redis_cli(S.primary, "INFO", "replication"), 10,
          "the primary without replica")
    msg = {"type": "post", "op": "W0-alone", "kind": "idea", "text": "Written with no replica"}
    r = await w.write(msg, retry=False, timeout=5.0)
    check_eq((r["type"], r.get("code"), r.get("retryable")), ("error", "replica_timeout", True),
             "a write with no replica")
    S.replica = S.cluster.start_redis(replica_of=S.primary)
    until(lambda: S.cluster.replica_up(S.replica), 10, "a replica again")
    a = await persist(w, msg, 15)
    stream = xrange(S.primary)
    check_eq(len([1 for _, e in stream if e.get("op") == "W0-alone"]) >= 1, True,
             "the op in the stream")
    check(any(i == a["event_id"] for i, _ in stream), "its ack names a stream entry")
    snap = await fresh_snapshot(w)
    check_eq(len([it for it in snap["items"] if it.get("text") == msg["text"]]), 1,
             "one item however often the op was sent")
    await closing(*S.clients)
    for n in S.nodes[1:]:
        problems = n.stop_cojamd_checked()
        check(not problems, "process :%d stops cleanly: %s", n.port, problems)


sys.exit(suite.run(setup, teardown))
