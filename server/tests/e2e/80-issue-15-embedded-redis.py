#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-15-embedded-redis: the embedded redis-server (no --redis) belongs to its cojamd. It
dies with it (kill -9 included, also when it was stopped at that moment), a cojamd started while a
server still holds the data directory's lock without its cojamd shuts that one down and waits for
it before it starts its own, a redis-server found working in the
data directory without the lock (left by an older cojamd, or started by hand) is shut down too, and
a second cojamd on a data directory in use is refused with a clear message. In every case at most
one redis-server works on the data directory, and acknowledged events survive."""

import asyncio
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SLOW, Client, EmbeddedServers, Suite, _live_procs, _stop_proc,  # noqa: E402
                     check, closing, procs_on)

suite = Suite("80-issue-15-embedded-redis", file_timeout=120)


class S:
    code = None
    acked = []  # event ids of the posts acknowledged so far


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %.0f s" % (what, timeout * SLOW))
        time.sleep(0.05)


def kill9(srv):
    os.kill(srv.cojamd.pid, signal.SIGKILL)
    srv.cojamd.wait(timeout=5)
    _stop_proc(srv.cojamd)


async def post(srv, code, text):
    """Join as a citizen and post an idea; returns the ack's event id."""
    c = await Client(srv, "c").connect()
    try:
        await c.join(code, "citizen", nickname="n")
        a = await c.must_ack({"type": "post", "kind": "idea", "text": text})
        return a["event_id"]
    finally:
        await closing(c)


def stream_ids(srv, code):
    return [i for i, _ in srv.xrange(code)]


def only_child_server(srv):
    """The data directory has exactly one live redis-server, and it is the current cojamd's."""
    servers = srv.redis_servers()
    check(len(servers) == 1 and servers[0][1] == srv.cojamd.pid,
          "redis-servers on the data directory: %r (cojamd is %d)", servers, srv.cojamd.pid)
    return servers[0][0]


@suite.test(timeout=30)
async def redis_dies_with_cojamd(srv):
    pid = srv.redis_pid()
    jam = srv.create_jam(agenda=[{"phase": "ideate", "duration_s": 600}])
    S.code = jam["code"]
    mod = await Client(srv, "m").connect()
    await mod.join(jam["code"], "moderator", nickname="Mod", secret=jam["moderator_secret"])
    await mod.must_ack({"type": "start"})
    await closing(mod)
    S.acked = [await post(srv, jam["code"], "before the crash")]
    kill9(srv)
    # SIGTERM from the kernel (parent-death signal): redis-server flushes its AOF and exits.
    wait_for(lambda: not srv.redis_servers(), 10, "redis-server %d gone after kill -9 of cojamd"
             % pid)
    srv.start_cojamd()
    only_child_server(srv)
    check(S.acked[0] in stream_ids(srv, S.code), "acked event lost: %r",
          stream_ids(srv, S.code))


@suite.test(timeout=40)
async def a_stopped_server_does_not_outlive_its_cojamd(srv):
    old = srv.redis_pid()
    # Stopped, the old server cannot act on its parent-death signal when its cojamd dies.
    os.kill(old, signal.SIGSTOP)
    try:
        kill9(srv)
        srv.start_cojamd(deadline_s=30)
    finally:
        try:
            os.kill(old, signal.SIGCONT)
        except ProcessLookupError:
            pass
    wait_for(lambda: old not in [p for p, _ in srv.redis_servers()], 15,
             "the old redis-server %d gone" % old)
    only_child_server(srv)
    S.acked.append(await post(srv, S.code, "after the stopped server"))
    ids = stream_ids(srv, S.code)
    check(all(a in ids for a in S.acked), "acked %r, stream %r", S.acked, ids)


def leftover_server(srv):
    """A redis-server that holds the data directory's lock without any cojamd: what a server that
    outlived its cojamd looks like (the test takes the lock and hands it to the server)."""
    fd = os.open(os.path.join(srv.data_dir, "instance-id"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        p = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", srv.sock, "--dir", srv.data_dir,
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            pass_fds=(fd,))
    finally:
        os.close(fd)
    _live_procs.append(p)
    wait_for(lambda: srv.rcli("PING").strip() == "PONG", 10, "the leftover answers PING")
    return p


@suite.test(timeout=40)
async def a_leftover_holding_the_lock_is_shut_down_before_a_new_one_starts(srv):
    srv.stop_cojamd()
    wait_for(lambda: not srv.redis_servers(), 10, "redis-server gone after a clean stop")
    left = leftover_server(srv)
    # Stopped for a second: the new cojamd must wait for it, not start a second server beside it.
    os.kill(left.pid, signal.SIGSTOP)
    started = threading.Event()
    box = {}

    def start():
        try:
            srv.start_cojamd(deadline_s=30)
        except Exception as e:
            box["err"] = e
        started.set()

    t = threading.Thread(target=start)
    t.start()
    try:
        time.sleep(1.0)
        servers = srv.redis_servers()
        check(len(servers) == 1 and servers[0][0] == left.pid,
              "redis-servers while the leftover is stopped: %r (leftover %d)", servers, left.pid)
    finally:
        os.kill(left.pid, signal.SIGCONT)
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 40)
        t.join()
    try:
        check("err" not in box, "cojamd did not start: %s", box.get("err"))
        rc = left.wait(timeout=5)
        check(rc == 0, "the leftover exited with %s (0: an orderly shutdown)", rc)
    finally:
        _stop_proc(left)
    only_child_server(srv)
    S.acked.append(await post(srv, S.code, "after the leftover"))
    ids = stream_ids(srv, S.code)
    check(all(a in ids for a in S.acked), "acked %r, stream %r", S.acked, ids)
    log = srv.tail("cojamd.log", 10 ** 6)
    check("redis-server (pid %d)" % left.pid in log,
          "cojamd.log does not name the leftover %d: %s", left.pid, log[-800:])


@suite.test(timeout=40)
async def a_stray_server_without_the_lock_is_shut_down(srv):
    # A redis-server working in the data directory that holds no lock (an older cojamd's, or one
    # started by hand) while cojamd is down.
    srv.stop_cojamd()
    wait_for(lambda: not srv.redis_servers(), 10, "redis-server gone after a clean stop")
    stray = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", srv.sock, "--dir", srv.data_dir,
         "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _live_procs.append(stray)
    try:
        wait_for(lambda: srv.rcli("PING").strip() == "PONG", 10, "the stray answers PING")
        srv.start_cojamd(deadline_s=20)
        rc = stray.wait(timeout=5)
        check(rc == 0, "the stray redis-server exited with %s (0: an orderly shutdown)", rc)
    finally:
        _stop_proc(stray)
    only_child_server(srv)
    S.acked.append(await post(srv, S.code, "after the stray"))
    ids = stream_ids(srv, S.code)
    check(all(a in ids for a in S.acked), "acked %r, stream %r", S.acked, ids)


@suite.test(timeout=30)
async def a_second_cojamd_on_the_same_data_is_refused(srv):
    pid = only_child_server(srv)
    args = list(srv.cojamd_args())
    args[args.index("--listen") + 1] = "127.0.0.1:0"
    p = subprocess.run(args, capture_output=True, timeout=30 * SLOW, stdin=subprocess.DEVNULL)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    check(p.returncode != 0, "a second cojamd exited with %s: %s", p.returncode, out[-600:])
    check("another cojamd (pid %d)" % srv.cojamd.pid in out, "no clear message: %s", out[-600:])
    check(only_child_server(srv) == pid, "the first cojamd's redis-server changed")
    check(srv.http("GET", "/healthz")[0] == 200, "the first cojamd stopped serving")


@suite.test(timeout=30)
async def nothing_left_after_a_clean_stop(srv):
    problems = srv.stop_cojamd_checked()
    check(not problems, "clean stop: %s", problems)
    left = procs_on(srv.tmp)
    check(not left, "processes left on the test's directory: %r", left)
    srv.start_cojamd()  # the suite's own clean stop follows


if __name__ == "__main__":
    def teardown(srv):
        srv.stop()
        left = procs_on(srv.tmp)
        for pid, _, _ in left:  # found by their directory: ours to end
            os.kill(pid, signal.SIGTERM)

    sys.exit(suite.run(lambda: EmbeddedServers().start(), teardown))
