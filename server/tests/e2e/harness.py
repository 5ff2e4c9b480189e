# SPDX-License-Identifier: MIT
"""harness.py - end-to-end test harness for cojamd.

Starts a throwaway redis-server and the real cojamd on free loopback ports, drives them with real
WebSocket clients (Debian python3-websockets 10.4, asyncio API) and plain HTTP (http.client), and
reads Redis with redis-cli. Every wait has a deadline; servers are stopped by PID on every exit path
(try/finally in run(), atexit, SIGTERM/SIGINT, and a whole-file alarm).

Output is TAP-ish, as tests/test.h: "ok - name" / "not ok - name", diagnostics as "# ..." lines,
and a last line "# N passed, N failed". Exit status 1 when anything failed.

Environment: COJAMD (binary, default <repo>/build/debug/cojamd), COJAM_E2E_VERBOSE=1 (dump frames),
COJAM_E2E_KEEP=1 (keep the temporary directories), COJAM_E2E_QUICK=1 (skip the 10 s join timeout).
"""

import asyncio
import atexit
import base64
import copy
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import websockets
import websockets.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PROTO = os.path.join(REPO, "proto")
WEB_ROOT = os.path.join(REPO, "web-client", "public")
ADMIN_TOKEN = "test-admin"
VERBOSE = os.environ.get("COJAM_E2E_VERBOSE") == "1"
ASAN = "asan" in os.environ.get("COJAMD", "")
# The retryable error codes of proto/messages.md.
RETRYABLE = ("rate_limited", "busy", "storage_unavailable", "storage_timeout", "not_owner",
             "replica_timeout", "apply_timeout")
# ASan builds start and answer slower; deadlines stretch, assertions do not.
SLOW = 3.0 if ASAN else 1.0

# ------------------------------------------------------------------------------------------------
# Processes


def free_port():
    """A free loopback TCP port (bind port 0, read it back, release it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


_live_procs = []  # every Popen we started and have not reaped yet


def _stop_proc(p, timeout=5.0):
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    if p in _live_procs:
        _live_procs.remove(p)


def _stop_all():
    for p in list(_live_procs):
        _stop_proc(p, timeout=3.0)


atexit.register(_stop_all)


def _on_signal(signum, frame):
    _stop_all()
    sys.stdout.flush()
    os._exit(1)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "Assertion `", "Segmentation fault")


class StartError(Exception):
    pass


def cojamd_path():
    return os.environ.get("COJAMD") or os.path.join(REPO, "build", "debug", "cojamd")


def make_self_signed(directory, name):
    """A self-signed P-256 certificate for 127.0.0.1 made with the openssl CLI, subject CN=name:
    (cert path, key path) in 'directory'."""
    cert, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    return cert, key


def tls_client_context():
    """A client context that accepts whatever certificate cojamd shows (tests compare it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---- raw WebSocket pieces, for clients that misbehave on purpose -----------------------------

def status_of(data):
    parts = data.split(b"\r\n")[0].split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def raw_upgrade(port, rcvbuf=None):
    """A socket with a WebSocket handshake sent; returns (socket, status)."""
    k = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    k.settimeout(5)
    k.connect(("127.0.0.1", port))
    k.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % port).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        d = k.recv(1)  # byte by byte: nothing after the handshake is read
        if not d:
            break
        data += d
    return k, status_of(data)


def ws_text(payload):
    """A masked client text frame (mask 0: the payload stays as is)."""
    b = payload.encode()
    n = len(b)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) +
                            struct.pack("!H", n))
    return head + b"\0\0\0\0" + b


class Servers:
    """One redis-server plus one cojamd. start() waits for GET /healthz == 200; stop() is idempotent."""

    def __init__(self, extra_args=(), tick_ms=50, web_root=None):
        self.extra_args = list(extra_args)
        self.tick_ms = tick_ms
        self.tmp = tempfile.mkdtemp(prefix="cojam-e2e-")
        self.redis_port = None
        self.port = None
        self.redis = None
        self.cojamd = None
        self.web_root = web_root or self._web_root()
        self.client_tls = None  # an ssl.SSLContext when cojamd serves TLS: http() and ws_url use it
        self.admin_token = ADMIN_TOKEN  # given in the environment (a flag would show in ps); None: generated

    def _web_root(self):
        if os.path.isfile(os.path.join(WEB_ROOT, "index.html")):
            return WEB_ROOT
        # The web client is not written yet: serve a stand-in page from our temporary directory.
        root = os.path.join(self.tmp, "public")
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<!doctype html>\n<html><head><title>cojam e2e stand-in</title></head>"
                    "<body>cojam</body></html>\n")
        return root

    # -- redis
    def start_redis(self):
        self.redis_port = free_port()
        rdir = os.path.join(self.tmp, "redis")
        os.makedirs(rdir, exist_ok=True)
        log = open(os.path.join(self.tmp, "redis.log"), "w")
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", rdir],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _live_procs.append(self.redis)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.redis.poll() is not None:
                raise StartError("redis-server exited: " + self.tail("redis.log"))
            try:
                if self.rcli("PING").strip() == "PONG":
                    return
            except Exception:
                pass
            time.sleep(0.05)
        raise StartError("redis-server did not answer PING within 10 s")

    def stop_redis(self):
        if self.redis:
            _stop_proc(self.redis)

    # -- cojamd
    def cojamd_args(self):
        return [cojamd_path(), "--listen", "127.0.0.1:%d" % self.port,
                "--redis", "127.0.0.1:%d" % self.redis_port,
                "--data-dir", os.path.join(self.tmp, "data"), "--web-root", self.web_root,
                "--tick-ms", str(self.tick_ms)] + self.extra_args

    def cojamd_env(self):
        """cojamd's environment: ours, with COJAM_ADMIN_TOKEN set to admin_token (or removed)."""
        env = {k: v for k, v in os.environ.items() if k != "COJAM_ADMIN_TOKEN"}
        if self.admin_token is not None:
            env["COJAM_ADMIN_TOKEN"] = self.admin_token
        return env

    def start_cojamd(self, deadline_s=10.0):
        exe = cojamd_path()
        if not os.access(exe, os.X_OK):
            raise StartError("no executable cojamd at %s (build it: make -C server)" % exe)
        os.makedirs(os.path.join(self.tmp, "data"), exist_ok=True)
        last_err = None
        for attempt in range(3):  # a freed port may be grabbed by someone else: try another
            self.port = free_port()
            log = open(os.path.join(self.tmp, "cojamd.log"), "a")
            self.cojamd = subprocess.Popen(self.cojamd_args(), env=self.cojamd_env(),
                                           stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL)
            _live_procs.append(self.cojamd)
            deadline = time.monotonic() + deadline_s * SLOW
            while time.monotonic() < deadline:
                if self.cojamd.poll() is not None:
                    last_err = "cojamd exited with %s: %s" % (self.cojamd.returncode,
                                                             self.tail("cojamd.log"))
                    break
                try:
                    st, _, _ = self.http("GET", "/healthz", timeout=1.0)
                    if st == 200:
                        return
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.05)
            else:
                last_err = "GET /healthz not 200 within %.0f s: %s" % (deadline_s * SLOW,
                                                                        self.tail("cojamd.log"))
                _stop_proc(self.cojamd)
                break
        raise StartError(last_err)

    def kill9_cojamd(self):
        """kill -9 of cojamd (no shutdown of any kind), then a fresh start on the same port."""
        os.kill(self.cojamd.pid, signal.SIGKILL)
        self.cojamd.wait(timeout=5)
        self.start_cojamd()

    def stop_cojamd(self):
        if self.cojamd:
            _stop_proc(self.cojamd)

    def stop_cojamd_checked(self):
        """Stop cojamd with SIGTERM; returns a list of problems: a non-zero exit, a hang, or a
        sanitizer report anywhere in its log (make asan runs these tests on the ASan build)."""
        problems = []
        p = self.cojamd
        if p is None:
            return problems
        if p.poll() is not None:
            problems.append("cojamd had already exited with %s" % p.returncode)
        else:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=5 * SLOW)
            except subprocess.TimeoutExpired:
                problems.append("cojamd still running 5 s after SIGTERM")
            _stop_proc(p)
            if p.returncode != 0:
                problems.append("cojamd exited with %s after SIGTERM" % p.returncode)
        log = self.tail("cojamd.log", 10 ** 7)
        if any(m in log for m in SANITIZER_MARKERS):
            problems.append("cojamd.log holds a sanitizer/assert report; the last one:\n" +
                            self.crash_report())
        return problems

    def crash_report(self, lines=18):
        """The last sanitizer report in cojamd.log, shortened (first lines of the stack and the
        SUMMARY line), or the log's tail."""
        log = self.tail("cojamd.log", 10 ** 7)
        i = -1
        for marker in SANITIZER_MARKERS:
            i = max(i, log.rfind(marker))
        if i < 0:
            return log[-1500:]
        i = log.rfind("\n", 0, i) + 1
        rep = log[i:].split("\n")
        summary = [ln for ln in rep if ln.startswith("SUMMARY:")]
        return "\n".join(rep[:lines] + ["..."] + summary[:1])

    def cojamd_alive(self):
        return self.cojamd is not None and self.cojamd.poll() is None

    def start(self):
        try:
            self.start_redis()
            self.start_cojamd()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        self.stop_cojamd()
        self.stop_redis()
        if os.environ.get("COJAM_E2E_KEEP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    def tail(self, name, n=2000):
        try:
            with open(os.path.join(self.tmp, name), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no %s)" % name

    # -- addresses
    @property
    def origin(self):
        return "%s://127.0.0.1:%d" % ("https" if self.client_tls else "http", self.port)

    def ws_url(self, path="/ws"):
        return "%s://127.0.0.1:%d%s" % ("wss" if self.client_tls else "ws", self.port, path)

    # -- HTTP
    def http(self, method, path, body=None, headers=None, timeout=5.0):
        """Returns (status, headers dict lower-cased, body bytes)."""
        if self.client_tls:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                            context=self.client_tls)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
                h.setdefault("Content-Type", "application/json")
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def http_json(self, method, path, body=None, headers=None):
        st, h, data = self.http(method, path, body, headers)
        try:
            j = json.loads(data.decode("utf-8")) if data else None
        except ValueError:
            j = None
        return st, j, data

    def raw_handshake(self, origin=None, path="/ws", protocol="cojam.v1", timeout=3.0):
        """A WebSocket upgrade request over a plain socket. Returns (status code, status line,
        headers dict lower-cased). websockets 10.4 rejects any non-"HTTP/1.1" status line, so
        refusals are read here."""
        k = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            req = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % self.port,
                   "Upgrade: websocket", "Connection: Upgrade",
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
            if protocol:
                req.append("Sec-WebSocket-Protocol: " + protocol)
            if origin is not None:
                req.append("Origin: " + origin)
            k.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
            data = b""
            deadline = time.monotonic() + timeout
            while b"\r\n\r\n" not in data and time.monotonic() < deadline:
                try:
                    d = k.recv(4096)
                except socket.timeout:
                    break
                if not d:
                    break
                data += d
        finally:
            k.close()
        head = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        parts = head[0].split(" ")
        code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        hdrs = {}
        for line in head[1:]:
            if ":" in line:
                kk, v = line.split(":", 1)
                hdrs[kk.strip().lower()] = v.strip()
        return code, head[0], hdrs

    def create_jam(self, title="Cooler streets", question="How do we keep our streets cool?",
                   agenda=None, settings=None, token=ADMIN_TOKEN):
        body = {"title": title, "question": question,
                "agenda": agenda or [{"phase": "explore", "duration_s": 600},
                                     {"phase": "ideate", "duration_s": 600}]}
        if settings is not None:
            body["settings"] = settings
        hdr = {"Authorization": "Bearer " + token} if token else {}
        st, j, data = self.http_json("POST", "/api/jams", body, hdr)
        if st != 201 or not isinstance(j, dict) or "code" not in j:
            raise AssertionError("POST /api/jams -> %s %r" % (st, data[:300]))
        return j

    # -- Redis
    def rcli(self, *args, raw=True, timeout=5.0):
        cmd = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port)]
        if raw:
            cmd.append("--raw")
        out = subprocess.run(cmd + [str(a) for a in args], capture_output=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        return out.stdout.decode("utf-8", "replace")

    def xrange(self, code):
        """The jam's stream as [(id, event dict)]. JSON escapes newlines, so --raw is line-safe."""
        lines = self.rcli("XRANGE", "cojam:jam:%s:events" % code, "-", "+").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        out = []
        if len(lines) % 3 != 0:
            raise AssertionError("XRANGE output not in (id, field, value) triples: %r" % lines[:9])
        for i in range(0, len(lines), 3):
            eid, field, value = lines[i], lines[i + 1], lines[i + 2]
            if field != "e":
                raise AssertionError("stream entry %s has field %r, not 'e'" % (eid, field))
            out.append((eid, json.loads(value)))
        return out


class EmbeddedServers(Servers):
    """cojamd with no --redis: it starts its own redis-server in <tmp>/data (the default that
    `make run` uses). Redis is reached through that server's unix socket; the test never starts or
    stops a redis-server itself."""

    @property
    def data_dir(self):
        return os.path.realpath(os.path.join(self.tmp, "data"))

    @property
    def sock(self):
        return os.path.join(self.data_dir, "redis.sock")

    def cojamd_args(self):
        return [cojamd_path(), "--listen", "127.0.0.1:%d" % self.port, "--data-dir",
                os.path.join(self.tmp, "data"), "--web-root", self.web_root, "--tick-ms",
                str(self.tick_ms)] + self.extra_args

    def start_redis(self):
        pass

    def rcli(self, *args, raw=True, timeout=5.0):
        cmd = ["redis-cli", "-s", self.sock]
        if raw:
            cmd.append("--raw")
        out = subprocess.run(cmd + [str(a) for a in args], capture_output=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        return out.stdout.decode("utf-8", "replace")

    def redis_servers(self):
        """Every live redis-server working in the data directory, as (pid, ppid)."""
        return [(pid, ppid) for pid, ppid, comm in procs_on(self.data_dir)
                if comm == "redis-server"]

    def redis_pid(self, timeout=10.0):
        """The pid of cojamd's own redis-server child (waits for one that answers PING)."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            kids = [pid for pid, ppid in self.redis_servers()
                    if self.cojamd is not None and ppid == self.cojamd.pid]
            if len(kids) == 1:
                try:
                    if self.rcli("PING", timeout=2).strip() == "PONG":
                        return kids[0]
                except Exception:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError("no redis-server child of cojamd answering within %.0f s: "
                                     "%r" % (timeout * SLOW, self.redis_servers()))
            time.sleep(0.05)


def storage_mode(var):
    """The storage mode a file runs in, read from environment variable 'var': "external" (the
    default: cojamd --redis against a redis-server the test owns) or "embedded" (cojamd starts its
    own, see EmbeddedServers; the NN-...-embedded.py files set it). Returns (mode, the Servers
    class for it); exits on any other value."""
    mode = os.environ.get(var) or "external"
    if mode not in ("external", "embedded"):
        sys.exit("%s must be external or embedded, not %r" % (var, mode))
    return mode, (EmbeddedServers if mode == "embedded" else Servers)


def procs_on(path):
    """Live processes whose working directory is 'path' (or under it) or whose command line names
    it, as (pid, ppid, comm), read from /proc; processes we may not inspect are skipped. The only
    way the tests look for leftovers: never by name, since other test runs share the machine."""
    real = os.path.realpath(path)
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        pid = int(d)
        try:
            with open("/proc/%d/stat" % pid) as f:
                st = f.read()
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            cwd = os.readlink("/proc/%d/cwd" % pid)
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        if rest[0] == "Z":
            continue
        if cwd == real or cwd.startswith(real + "/") or real in cmd:
            out.append((pid, int(rest[1]), st[st.index("(") + 1:st.rindex(")")]))
    return out


# ------------------------------------------------------------------------------------------------
# Several processes on one Redis (60-recovery and the 80-issue-13 files)


def start_node(redis_port, extra_args=(), node=None):
    """One more cojamd on the Redis at redis_port, started and ready: node (an unstarted Servers,
    or a subclass such as one that knows only the sentinels), else a new Servers(extra_args).
    It has its own temporary directory and data directory; stop() stops only its cojamd (it
    started no redis-server)."""
    n = node if node is not None else Servers(extra_args=extra_args)
    n.redis_port = redis_port
    n.start_cojamd()
    return n


def jam_digest(n, code):
    """GET /api/jams/<code>/digest of process n (a Servers), checked to answer 200."""
    st, d, _ = n.http_json("GET", "/api/jams/%s/digest" % code)
    check(st == 200, "digest on :%d: %s", n.port, st)
    return d


async def digests_converge(nodes, code, timeout=5.0):
    """The digest of every live process among nodes, once they agree (each applies the tail on
    its own) or after timeout seconds (the caller compares them)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        ds = [jam_digest(n, code) for n in nodes if n.cojamd_alive()]
        if all(d == ds[0] for d in ds) or time.monotonic() > deadline:
            return ds
        await asyncio.sleep(0.05)


async def caught_up(srv, code, clients, timeout=3.0):
    """Every client has seen the last entry of the jam's stream (read through srv's Redis);
    returns that entry's id."""
    last = srv.xrange(code)[-1][0]
    await asyncio.gather(*(c.wait_model(lambda c: c.last is not None and eid(c.last) >= eid(last),
                                        timeout, "caught up") for c in clients))
    return last


async def fresh_snapshot(c):
    """A snapshot the server builds now for client c (a sync), earlier ones dropped."""
    c.drain("snapshot")
    await c.send({"type": "sync"})
    return await c.wait_for("snapshot")


# ------------------------------------------------------------------------------------------------
# Protocol helpers


def eid(s):
    """Event id "<ms>-<seq>" as a comparable tuple."""
    a, b = s.split("-")
    return (int(a), int(b))


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def token_payload(token):
    """The payload fields of a welcome token: [v1, code, pid, role, expiry]."""
    return b64url_decode(token.split(".")[0]).decode("utf-8").split("|")


def sha256_hex(s):
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def _no_dup_pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key %r in a server frame" % k)
        d[k] = v
    return d


def parse_server_frame(text):
    return json.loads(text, object_pairs_hook=_no_dup_pairs)


def expected_ranking(items, top=20):
    """The ranking rule of proto/messages.md over a model's items: visible items by votes desc, then
    id asc; top N per kind."""
    out = {"problem": [], "idea": [], "refinement": [], "pledge": []}
    for it in items.values():
        if it.get("hidden") or "kind" not in it:
            continue
        out.setdefault(it["kind"], []).append(it)
    return {k: [it["id"] for it in sorted(v, key=lambda it: (-it.get("votes", 0), it["id"]))][:top]
            for k, v in out.items()}


class Closed(Exception):
    def __init__(self, code, reason=""):
        super().__init__("connection closed (code %s %r)" % (code, reason))
        self.code = code
        self.reason = reason


class Timeout(AssertionError):
    pass


# Every Client made in this process, in order: after each test the runner fails the test when a
# client made during it saw a protocol anomaly (a frame no correct server sends), whether or not the
# test itself looked.
ALL_CLIENTS = []


class Client:
    """A scripted WebSocket client. A reader task receives every frame, applies snapshot/update to a
    local model (items, votes, ranking, clock, stats) and queues it; wait_for() takes the first queued
    frame that matches. Writes get ops "<name>-<n>" unless given; acks are remembered by op."""

    def __init__(self, srv, name):
        self.srv = srv
        self.name = name
        self.ws = None
        self.reader = None
        ALL_CLIENTS.append(self)  # the file's runner checks every client's anomalies per test
        self.pending = []        # received, not yet taken by wait_for
        self.received = []       # every frame, in order
        self.binary = 0
        self.closed = False
        self.close_code = None
        self.close_reason = ""
        self._wake = asyncio.Event()
        self._op_n = 0
        self.acks = {}           # op -> ack frame
        self.sent_ops = set()    # every op this client sent in a write
        self.op_types = {}       # op -> message type
        self.anomalies = []      # protocol violations seen in server frames
        self.ack_before_update = {}  # op -> True if the ack came before any update covering it
        self.welcome = None
        self.you = None
        self.reset_model()

    # -- model
    def reset_model(self):
        self.items = {}
        self.ranking = {}
        self.clock = None
        self.clock_at = None
        self.stats = None
        self.jam = None
        self.last = None
        self.gaps = []
        self.snapshots = 0
        self.updates = 0

    def _apply(self, m):
        t = m.get("type")
        if t == "snapshot":
            self.items = {}
            for it in m.get("items", []):
                self.items[it["id"]] = dict(it)
            self.ranking = {k: list(v) for k, v in (m.get("ranking") or {}).items()}
            self.clock = m.get("clock")
            self.clock_at = time.monotonic()
            self.stats = m.get("stats")
            self.jam = m.get("jam")
            if "you" in m:
                self.you = m["you"]
                for it in m["you"].get("queued", []):  # its own items waiting for review
                    self.items[it["id"]] = dict(it)
            self.last = m.get("event_id")
            self.snapshots += 1
        elif t == "update":
            self.updates += 1
            try:
                prev, frm, to = eid(m["prev"]), eid(m["from"]), eid(m["to"])
            except (KeyError, ValueError, AttributeError):
                self.anomalies.append("update without valid prev/from/to: %r" % (m,))
                return
            if not (prev <= frm <= to):
                self.anomalies.append("update ids out of order: %r" % ((m["prev"], m["from"],
                                                                        m["to"]),))
            if self.last is not None and prev > eid(self.last):
                self.gaps.append((self.last, m["prev"]))
            for it in m.get("items", []):
                stub = it.get("hidden") is True or it.get("pending") is True
                if "kind" not in it and stub and it["id"] in self.items:
                    # A hidden item travels as {"id","hidden":true} (and the hide's reason and
                    # preset) for everybody, a pending one as {"id","pending":true}: merge it into
                    # what we know (a moderator keeps the text to decide on unhiding; a rejected
                    # item is no longer pending).
                    self.items[it["id"]] = dict(self.items[it["id"]], **it)
                    if not it.get("pending"):
                        self.items[it["id"]].pop("pending", None)
                else:
                    self.items[it["id"]] = dict(it)
            for k, v in (m.get("votes") or {}).items():
                i = int(k)
                if i not in self.items:
                    self.anomalies.append("votes for unknown item %s" % k)
                    self.items[i] = {"id": i}
                if "kind" in self.items[i]:
                    self.items[i]["votes"] = v
            for k, v in (m.get("ranking") or {}).items():
                self.ranking[k] = list(v)
            if "clock" in m:
                self.clock = m["clock"]
                self.clock_at = time.monotonic()
            if "stats" in m:
                self.stats = m["stats"]
            if self.last is None or to > eid(self.last):
                self.last = m["to"]
        elif t == "queued":  # pre-moderation: items waiting for review, in full
            for it in m.get("items", []):
                self.items[it["id"]] = dict(it)
        elif t == "ack":
            op = m.get("op")
            e = m.get("event_id")
            if op is not None and e is not None and op not in self.ack_before_update:
                try:
                    self.ack_before_update[op] = self.last is None or eid(self.last) < eid(e)
                except ValueError:
                    self.anomalies.append("ack with a bad event_id: %r" % (m,))

    def remaining_ms(self):
        """The clock's remaining time now, counted down from when it was received."""
        if not self.clock or self.clock.get("remaining_ms") is None:
            return None
        r = self.clock["remaining_ms"]
        if self.clock.get("state") == "running":
            r -= (time.monotonic() - self.clock_at) * 1000.0
        return r

    def view(self):
        """Items as this client's role may see them: hidden items reduced to {"id","hidden":true},
        pending ones to {"id","pending":true}, except for moderators (what a fresh snapshot for
        this role holds)."""
        mod = (self.you or {}).get("role") == "moderator"
        stub = {"hidden": ("id", "hidden", "reason", "preset", "rejected"),
                "pending": ("id", "pending")}  # a pending item: its author has it in full

        def seen(it):
            kind = "pending" if it.get("pending") else "hidden" if it.get("hidden") else None
            if mod or kind is None:
                return dict(it)
            return {k: v for k, v in it.items() if k in stub[kind]}
        return {i: seen(it) for i, it in self.items.items()}

    def model(self):
        """A copy of what convergence compares: items as seen (with votes) and the four ranking
        lists."""
        return {"items": copy.deepcopy(self.view()),
                "ranking": {k: list(self.ranking.get(k, []))
                            for k in ("problem", "idea", "refinement", "pledge")}}

    # -- connection
    async def connect(self, origin=None, subprotocols=("cojam.v1",), path="/ws", timeout=5.0):
        self.ws = await asyncio.wait_for(
            websockets.connect(self.srv.ws_url(path), origin=origin, ssl=self.srv.client_tls,
                               subprotocols=list(subprotocols) if subprotocols else None,
                               max_size=None, open_timeout=timeout * SLOW, close_timeout=2,
                               ping_interval=None),
            timeout * SLOW + 1)
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def reconnect(self, origin=None, timeout=5.0):
        """A new connection for the same client: the model, acks and op counter are kept (what a
        phone does after a dropped connection); call join(token=..., last_event_id=...) next."""
        await self.close()
        self.closed = False
        self.close_code = None
        self.close_reason = ""
        self.pending = []
        self._wake = asyncio.Event()
        return await self.connect(origin=origin, timeout=timeout)

    async def _read(self):
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    self.binary += 1
                    self.anomalies.append("binary frame from the server")
                    continue
                if VERBOSE:
                    print("#   %s <- %s" % (self.name, raw[:300]))
                try:
                    m = parse_server_frame(raw)
                except ValueError as e:
                    self.anomalies.append("bad server frame (%s): %r" % (e, raw[:200]))
                    continue
                if not isinstance(m, dict) or not isinstance(m.get("type"), str):
                    self.anomalies.append("server frame without type: %r" % raw[:200])
                    continue
                self.received.append(m)
                self._apply(m)
                self.pending.append(m)
                self._wake.set()
        except websockets.exceptions.ConnectionClosed:
            pass
        except Exception as e:  # keep the reader from dying silently
            self.anomalies.append("reader: %r" % e)
        finally:
            self.closed = True
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            self._wake.set()

    async def close(self):
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except Exception:
                pass
        if self.reader is not None:
            try:
                await asyncio.wait_for(self.reader, 3)
            except Exception:
                self.reader.cancel()

    async def send_raw(self, data):
        if VERBOSE:
            print("#   %s -> %s" % (self.name, (data if isinstance(data, str) else repr(data))[:300]))
        await asyncio.wait_for(self.ws.send(data), 5)

    async def send_text_bytes(self, data):
        """A text frame holding exactly these bytes (which may be invalid UTF-8)."""
        if VERBOSE:
            print("#   %s -> (text bytes) %r" % (self.name, data[:300]))
        await asyncio.wait_for(self.ws.write_frame(True, 0x1, data), 5)

    async def send(self, obj):
        await self.send_raw(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))

    # -- receiving
    async def wait_for(self, mtype=None, pred=None, timeout=3.0, take=True):
        """The first queued frame of type 'mtype' (a str, a tuple, or None = any) satisfying pred.
        Raises Timeout, or Closed when the connection closes first."""
        deadline = time.monotonic() + timeout * SLOW
        types = (mtype,) if isinstance(mtype, str) else mtype
        while True:
            for i, m in enumerate(self.pending):
                if (types is None or m["type"] in types) and (pred is None or pred(m)):
                    if take:
                        del self.pending[i]
                    return m
            if self.closed:
                raise Closed(self.close_code, self.close_reason)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("%s: no %s%s within %.1f s; pending types: %s" % (
                    self.name, mtype or "frame", " matching" if pred else "", timeout * SLOW,
                    [m["type"] for m in self.pending[-10:]]))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def recv(self, timeout=3.0):
        return await self.wait_for(None, None, timeout)

    async def wait_model(self, pred, timeout=3.0, what="model condition"):
        """Wait until pred(self) holds for the local model."""
        deadline = time.monotonic() + timeout * SLOW
        while not pred(self):
            if self.closed:
                raise Closed(self.close_code, self.close_reason)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("%s: %s not reached within %.1f s (clock=%r last=%r)" % (
                    self.name, what, timeout * SLOW, self.clock, self.last))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), min(left, 0.2))
            except asyncio.TimeoutError:
                pass

    async def wait_closed(self, timeout=3.0):
        """Wait for the server to close; returns the close code."""
        try:
            await asyncio.wait_for(asyncio.shield(self.reader), timeout * SLOW)
        except asyncio.TimeoutError:
            raise Timeout("%s: still open after %.1f s" % (self.name, timeout * SLOW))
        return self.close_code

    def drain(self, mtype=None):
        """Drop queued frames (of one type, or all)."""
        if mtype is None:
            self.pending.clear()
        else:
            self.pending[:] = [m for m in self.pending if m["type"] != mtype]

    async def ping(self, t=None, timeout=3.0):
        t = int(time.monotonic() * 1000) % 1000000 if t is None else t
        await self.send({"type": "ping", "t": t})
        return await self.wait_for("pong", lambda m: m.get("t") == t, timeout)

    # -- joining
    async def join(self, code=None, as_=None, nickname=None, secret=None, token=None,
                   last_event_id=None, anonymous=None, timeout=3.0):
        """Send join; returns (welcome, snapshot). Raises AssertionError with the error frame."""
        m = {"type": "join"}
        if code is not None:
            m["code"] = code
        if as_ is not None:
            m["as"] = as_
        if nickname is not None:
            m["nickname"] = nickname
        if anonymous is not None:
            m["anonymous"] = anonymous
        if secret is not None:
            m["secret"] = secret
        if token is not None:
            m["token"] = token
        if last_event_id is not None:
            m["last_event_id"] = last_event_id
        await self.send(m)
        r = await self.wait_for(("welcome", "error"), None, timeout)
        if r["type"] == "error":
            raise JoinError(r)
        self.welcome = r
        if r.get("you") is not None:
            self.you = dict(self.you or {}, **r["you"])
        if r.get("resumed") is True:
            # Resumed from last_event_id: the missed updates follow, no snapshot.
            return r, None
        snap = await self.wait_for("snapshot", None, timeout)
        return r, snap

    # -- writing
    def next_op(self):
        self._op_n += 1
        return "%s-%d" % (self.name, self._op_n)

    async def write(self, msg, retry=True, timeout=5.0):
        """Send a write (op added if missing) and return its ack or error. Retryable errors (busy,
        rate_limited, storage_*) are retried with the same op until the deadline."""
        msg = dict(msg)
        if "op" not in msg:
            msg["op"] = self.next_op()
        op = msg["op"]
        self.sent_ops.add(op)
        self.op_types[op] = msg["type"]
        deadline = time.monotonic() + timeout * SLOW
        while True:
            await self.send(msg)
            r = await self.wait_for(("ack", "error"), lambda m: m.get("op") == op,
                                    max(0.1, deadline - time.monotonic()) / SLOW)
            if r["type"] == "ack":
                self.acks.setdefault(op, r)
                return r
            if retry and r.get("retryable") and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                continue
            return r

    async def must_ack(self, msg, **kw):
        r = await self.write(msg, **kw)
        if r["type"] != "ack":
            raise AssertionError("%s: %s -> %s" % (self.name, json.dumps(msg), json.dumps(r)))
        return r

    async def must_fail(self, msg, code, **kw):
        # A retryable answer other than the one expected is retried, as every client does (a
        # post the moment a phase ends may meet the phase_ended still being stored: busy).
        r = await self.write(msg, retry=code not in RETRYABLE, **kw)
        if r["type"] != "error" or r.get("code") != code:
            raise AssertionError("%s: %s -> %s, expected error %s" % (
                self.name, json.dumps(msg), json.dumps(r), code))
        return r

    async def expect_error(self, raw, code, timeout=3.0):
        """Send raw text (or an object) that is no write, expect an error frame with 'code'."""
        if isinstance(raw, str):
            await self.send_raw(raw)
        else:
            await self.send(raw)
        r = await self.wait_for(("error", "ack", "pong", "welcome", "snapshot"), None, timeout)
        if r["type"] != "error" or r.get("code") != code:
            raise AssertionError("%s: sent %s -> got %s, expected error %s" % (
                self.name, raw if isinstance(raw, str) else json.dumps(raw), json.dumps(r), code))
        return r


class JoinError(AssertionError):
    def __init__(self, frame):
        super().__init__("join refused: %s" % json.dumps(frame))
        self.frame = frame


# ------------------------------------------------------------------------------------------------
# Test runner


class Suite:
    """Collects async tests; runs each with its own deadline; prints TAP lines and the summary."""

    def __init__(self, name, file_timeout=100):
        self.name = name
        self.tests = []
        self.passed = 0
        self.failed = 0
        self.file_timeout = file_timeout
        self.crashes = set()

    def test(self, timeout=20.0):
        def deco(fn):
            self.tests.append((fn.__name__, fn, timeout))
            return fn
        return deco

    def ok(self, name, diag=None):
        self.passed += 1
        print("ok - %s" % name, flush=True)

    def not_ok(self, name, diag):
        self.failed += 1
        print("not ok - %s" % name)
        for line in str(diag).rstrip().split("\n"):
            print("#   " + line)
        sys.stdout.flush()

    def skip(self, name, why):
        self.passed += 1
        print("ok - %s # SKIP %s" % (name, why), flush=True)

    def done(self):
        print("# %d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0

    def run(self, setup, teardown=None):
        """setup() -> context (e.g. a Servers); every test is called as await fn(ctx)."""
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.alarm(int(self.file_timeout * SLOW))
        ctx = None
        try:
            try:
                ctx = setup()
            except Exception as e:
                self.not_ok("%s: servers start" % self.name, "%s" % e)
                return self.done()
            asyncio.run(self._run_all(ctx))
            if isinstance(ctx, Servers):
                problems = ctx.stop_cojamd_checked()
                if problems:
                    self.not_ok("%s: cojamd stops cleanly" % self.name, "\n".join(problems))
                else:
                    self.ok("%s: cojamd stops cleanly" % self.name)
        finally:
            signal.alarm(0)
            if teardown and ctx is not None:
                try:
                    teardown(ctx)
                except Exception as e:
                    print("# teardown: %r" % e)
            _stop_all()
        return self.done()

    def _on_alarm(self, signum, frame):
        self.not_ok("%s: whole file within %d s" % (self.name, self.file_timeout * SLOW),
                    "file deadline hit")
        _stop_all()
        print("# %d passed, %d failed" % (self.passed, self.failed), flush=True)
        os._exit(1)

    async def _run_all(self, ctx):
        for name, fn, timeout in self.tests:
            srv = ctx if isinstance(ctx, Servers) else None
            first_client = len(ALL_CLIENTS)
            try:
                await asyncio.wait_for(fn(ctx), timeout * SLOW)
                seen = ["%s: %s" % (c.name, a) for c in ALL_CLIENTS[first_client:]
                        for a in c.anomalies]
                if seen:
                    raise AssertionError("protocol anomalies in server frames: %s"
                                         % "; ".join(seen[:5]))
                self.ok(name)
            except SkipTest as e:
                self.skip(name, str(e))
            except asyncio.TimeoutError:
                self.not_ok(name, "test deadline (%.0f s) hit" % (timeout * SLOW))
            except Exception as e:
                tb = traceback.extract_tb(e.__traceback__)
                where = ["%s:%d" % (os.path.basename(f.filename), f.lineno) for f in tb
                         if os.path.dirname(os.path.abspath(f.filename)) == HERE][-3:]
                self.not_ok(name, "%s: %s (at %s)" % (type(e).__name__, e, ", ".join(where)))
            if srv is not None and srv.cojamd is not None and not srv.cojamd_alive():
                rep = srv.crash_report()
                key = [ln for ln in rep.split("\n") if ln.startswith("SUMMARY:")][:1] or [rep]
                if key[0] in self.crashes:
                    rep = "the same crash as reported above (%s)" % key[0]
                self.crashes.add(key[0])
                self.not_ok("%s: cojamd still running after %s" % (self.name, name),
                            "cojamd exited with %s:\n%s" % (srv.cojamd.returncode, rep))
                try:
                    srv.start_cojamd()  # keep going with a fresh server (same Redis)
                except StartError as e:
                    self.not_ok("%s: cojamd restarts" % self.name, str(e))
                    return
            del ALL_CLIENTS[first_client:]  # checked: let the test's clients go


class SkipTest(Exception):
    pass


def check(cond, msg, *args):
    if not cond:
        raise AssertionError(msg % args if args else msg)


def check_eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %s, want %s" % (what, json.dumps(got, sort_keys=True,
                                                                       default=str)[:600],
                                                     json.dumps(want, sort_keys=True,
                                                                default=str)[:600]))


async def moderator_and_citizens(srv, jam, *nicknames):
    """A moderator ("Mod") and a citizen per nickname, connected and joined to 'jam' in that
    order; returns [moderator, citizen...]. The caller closes them (closing)."""
    clients = [Client(srv, "mod")] + [Client(srv, n.lower()) for n in nicknames]
    try:
        for c in clients:
            await c.connect()
        await clients[0].join(jam["code"], "moderator", nickname="Mod",
                              secret=jam["moderator_secret"])
        for c, n in zip(clients[1:], nicknames):
            await c.join(jam["code"], "citizen", nickname=n)
    except BaseException:
        await closing(*clients)
        raise
    return clients


async def closing(*clients):
    for c in clients:
        if c is not None:
            await c.close()
