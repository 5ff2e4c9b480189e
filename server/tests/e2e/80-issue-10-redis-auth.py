#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-10-redis-auth: Redis credentials and secret handling (issue 10, points 6 and 7).
cojamd authenticates to a Redis that wants credentials: as the ACL user of deploy/redis.conf
(its rights exactly as written there, the default user off) with the password in a 0600 file, a
jam is created, posts and votes are acknowledged, and a restart replays them; a wrong password or
none makes cojamd exit non-zero at once with a plain message (never the password). Secrets never
come from the command line; a token secret that is empty or too short, or a stored token key that
is, stops cojamd at start-up (it used to abort() on the first join), and the embedded redis-server
is not left behind. A generated admin token is kept in <data-dir>/admin-token (0600) and not
written to the log."""

import asyncio
import os
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (REPO, SLOW, Client, EmbeddedServers, Servers, Suite, check, check_eq,  # noqa: E402
                     closing, cojamd_path, free_port, procs_on)

suite = Suite("80-issue-10-redis-auth", file_timeout=140)
PASSWORD = "e2e-acl-pw-7f3a91c2d4"


def deploy_acl_rules():
    """The rules of the commented `user cojamd` line of deploy/redis.conf, without its password."""
    with open(os.path.join(REPO, "deploy", "redis.conf")) as f:
        for line in f:
            words = line.lstrip("# ").split()
            if words[:2] == ["user", "cojamd"]:
                return [w for w in words[2:] if not w.startswith(">")]
    raise AssertionError("deploy/redis.conf has no `user cojamd` line")


class AuthServers(Servers):
    """Redis with the default user off and cojamd's ACL user; cojamd gets the user and a password
    file. rcli authenticates as that user (REDISCLI_AUTH, not on the command line)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.password_file = os.path.join(self.tmp, "redis-password")
        with open(os.open(self.password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(PASSWORD + "\n")
        self.extra_args += ["--redis-user", "cojamd", "--redis-password-file", self.password_file]

    def start_redis(self):
        real = subprocess.Popen

        def with_acl(argv, **kw):
            if argv and argv[0] == "redis-server":
                argv = argv + ["--user", "default", "off", "--user", "cojamd"] + \
                    deploy_acl_rules() + [">" + PASSWORD]
            return real(argv, **kw)
        subprocess.Popen = with_acl
        try:
            super().start_redis()
        finally:
            subprocess.Popen = real

    def rcli(self, *args, raw=True, timeout=5.0):
        cmd = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), "--user", "cojamd"]
        if raw:
            cmd.append("--raw")
        out = subprocess.run(cmd + [str(a) for a in args], capture_output=True, timeout=timeout,
                             stdin=subprocess.DEVNULL, env=dict(os.environ, REDISCLI_AUTH=PASSWORD))
        return out.stdout.decode("utf-8", "replace")


def run_cojamd(srv, args, env=None, timeout=20.0):
    """Runs cojamd to its exit (it is expected to refuse to start): (exit code, output, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run([cojamd_path(), "--listen", "127.0.0.1:%d" % free_port(), "--data-dir",
                        os.path.join(srv.tmp, "refused-data"), "--web-root", srv.web_root] + args,
                       capture_output=True, timeout=timeout * SLOW, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, COJAM_ADMIN_TOKEN="x" * 24, **(env or {})))
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace"), time.monotonic() - t0


@suite.test(timeout=60)
async def acl_user_jam_votes_and_replay(srv):
    check(srv.rcli("CONFIG", "GET", "requirepass").startswith("NOPERM"),
          "deploy/redis.conf's user may run CONFIG")
    jam = srv.create_jam(title="Locked Redis", settings={"votes_per_phase": 3})
    code = jam["code"]
    m, a = Client(srv, "mod"), Client(srv, "ana")
    try:
        await m.connect()
        await a.connect()
        await m.join(code, "moderator", nickname="Mod", secret=jam["moderator_secret"])
        await a.join(code, "citizen", nickname="Ana")
        await m.must_ack({"type": "start"})
        item = (await a.must_ack({"type": "post", "kind": "problem", "text": "Hot squares"}))["item"]
        await a.must_ack({"type": "vote", "op": "ana-vote-1", "item": item})
        events = srv.xrange(code)
        check(len(events) >= 3, "only %d events in the stream", len(events))
        st, digest, _ = srv.http_json("GET", "/api/jams/%s/digest" % code)
        check_eq(st, 200, "digest")
    finally:
        await closing(m, a)
    srv.stop_cojamd()
    srv.start_cojamd()
    st, again, _ = srv.http_json("GET", "/api/jams/%s/digest" % code)
    check_eq(st, 200, "digest after the restart")
    check_eq(again, digest, "state replayed through the authenticated connection")
    log = srv.tail("cojamd.log", 10 ** 6)
    check(PASSWORD not in log, "the Redis password is in cojamd's log")


@suite.test(timeout=40)
async def verify_reads_a_locked_stream(srv):
    """`cojamd verify --jam` reads the live stream of a Redis that wants credentials with the
    password as cojamd takes it (a file or the environment, never the command line)."""
    jam = srv.create_jam(title="Verify locked")
    st, summary, _ = srv.http_json("GET", "/api/jams/%s" % jam["code"])
    check_eq(st, 200, "summary")
    head = summary["chain"]["head"]
    base = [cojamd_path(), "verify", "--jam", jam["code"], "--head", head, "--redis-host",
            "127.0.0.1", "--redis-port", str(srv.redis_port)]

    def run(args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("COJAM_REDIS")}
        p = subprocess.run(base + args, capture_output=True, timeout=20 * SLOW,
                           stdin=subprocess.DEVNULL, env=dict(e, **(env or {})))
        return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")

    for name, args, env in (("password file", ["--redis-user", "cojamd", "--redis-password-file",
                                                srv.password_file], None),
                            ("environment", [], {"COJAM_REDIS_USER": "cojamd",
                                                 "COJAM_REDIS_PASSWORD": PASSWORD})):
        rc, out = run(args, env)
        check(rc == 0 and out.startswith("OK:") and head in out, "%s: %s %s", name, rc, out)
    rc, out = run([])
    check(rc == 2 and out.startswith("cannot read stream"), "no password: %s %s", rc, out)
    rc, out = run(["--redis-password", PASSWORD])
    check(rc == 2 and "not accepted on the command line" in out, "password flag: %s %s", rc, out)
    check(PASSWORD not in out, "the password is echoed")


@suite.test(timeout=40)
async def wrong_or_missing_password_exits_at_once(srv):
    target = ["--redis", "127.0.0.1:%d" % srv.redis_port]
    bad = os.path.join(srv.tmp, "bad-password")
    with open(os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("not-the-password\n")
    cases = [("wrong password", ["--redis-user", "cojamd", "--redis-password-file", bad], {},
              "WRONGPASS"),
             ("no password", [], {}, "NOAUTH"),
             ("password from the environment, wrong user", ["--redis-user", "default"],
              {"COJAM_REDIS_PASSWORD": PASSWORD}, "WRONGPASS")]
    for name, args, env, says in cases:
        rc, out, took = run_cojamd(srv, target + args, env)
        check(rc != 0, "%s: cojamd exited with %s: %s", name, rc, out[-400:])
        check("refused cojamd's credentials" in out and says in out,
              "%s: no plain message naming %s: %s", name, says, out[-400:])
        check(PASSWORD not in out and "not-the-password" not in out,
              "%s: a password is in the output", name)
        # store_check would retry for 15 s if this were taken for a Redis still starting.
        check(took < 10, "%s: took %.1f s to give up", name, took)


@suite.test(timeout=30)
async def secrets_never_on_the_command_line(srv):
    for flag, env in (("--token-secret", "COJAM_TOKEN_SECRET"),
                      ("--redis-password", "COJAM_REDIS_PASSWORD")):
        rc, out, _ = run_cojamd(srv, [flag, "s" * 40])
        check_eq(rc, 2, "%s on the command line: exit code" % flag)
        check("not accepted on the command line" in out and env in out, "%s: %s", flag, out[-300:])


@suite.test(timeout=40)
async def short_token_secret_refused_before_redis(srv):
    """--token-secret "" used to start, then abort() on the first join, leaving the embedded
    redis-server behind. Now an empty or short secret stops cojamd before it starts one."""
    data = os.path.join(srv.tmp, "refused-data")
    short = os.path.join(srv.tmp, "short-secret")
    with open(os.open(short, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("\n")
    for name, args, env in (("short env", [], {"COJAM_TOKEN_SECRET": "abc"}),
                            ("empty file", ["--token-secret-file", short], {})):
        rc, out, _ = run_cojamd(srv, args, env)
        check_eq(rc, 2, "%s: exit code (%s)" % (name, out[-300:]))
        check(("token secret" in out and "bytes" in out) or "file is empty" in out, "%s: %s",
              name, out[-300:])
        check_eq([p for p in procs_on(data) if p[2] == "redis-server"], [],
                 "%s: redis-server left in %s" % (name, data))


@suite.test(timeout=40)
async def short_stored_token_key_refused(srv):
    """A token key in Redis that is empty (or too short) is refused at start-up, not used."""
    srv.rcli("SET", "cojam:token-key", "")
    try:
        rc, out, _ = run_cojamd(srv, ["--redis", "127.0.0.1:%d" % srv.redis_port,
                                      "--redis-user", "cojamd",
                                      "--redis-password-file", srv.password_file])
        check_eq(rc, 1, "exit code (%s)" % out[-300:])
        check("token key in Redis (cojam:token-key) is 0 bytes" in out, "%s", out[-300:])
    finally:
        srv.rcli("DEL", "cojam:token-key")


@suite.test(timeout=40)
async def generated_admin_token_not_logged(srv):
    """The generated admin token is in <data-dir>/admin-token, mode 0600, works, and is not in the
    log."""
    emb = EmbeddedServers()
    emb.extra_args = []
    emb.admin_token = None
    try:
        emb.start()
        path = os.path.join(emb.data_dir, "admin-token")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        check_eq(oct(mode), oct(0o600), "admin-token file mode")
        with open(path) as f:
            token = f.read().strip()
        check(len(token) >= 20, "admin token %r", token)
        emb.create_jam(title="Token", token=token)
        log = emb.tail("cojamd.log", 10 ** 6)
        check(token not in log, "the admin token is in the log")
        check(path in log or "admin-token" in log, "the log does not say where the token is")
    finally:
        emb.stop()


if __name__ == "__main__":
    sys.exit(suite.run(lambda: AuthServers().start()))
