#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-10-operator: operator foot-guns (issue 10, point 6). An --admin-token or
--token-secret flag is refused at start, empty or not (secrets come from the environment or a
file: ps shows flags; an empty bearer token used to create jams, an empty key aborted cojamd at the
first join and left the embedded Redis behind); the generated
admin token is not written to the log; an empty POST body is an ordinary 400 (it was a memcpy
from NULL, fatal under ASan); a symlink in the web root is not followed out of it."""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ADMIN_TOKEN, EmbeddedServers, Servers, Suite, check, check_eq,  # noqa: E402
                     procs_on)

suite = Suite("80-issue-10-operator", file_timeout=120)


class NoTokenServers(EmbeddedServers):
    """The embedded default with no admin token given: the token is generated."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.admin_token = None


@suite.test(timeout=40)
async def empty_secrets_are_refused_at_start(srv):
    for flag in ("--admin-token", "--token-secret"):
        s = EmbeddedServers()
        try:
            s.port = 1
            args = [a for a in s.cojamd_args()]
            if flag in args:
                i = args.index(flag)
                args = args[:i] + args[i + 2:]
            args += [flag, ""]
            os.makedirs(s.data_dir, exist_ok=True)
            try:
                p = subprocess.run(args, capture_output=True, timeout=10, env=s.cojamd_env())
            except subprocess.TimeoutExpired:
                check(False, "cojamd %s '' kept running", flag)
            check(p.returncode != 0, "%s '': exit status %s", flag, p.returncode)
            says = b"not accepted on the command line"  # both: secrets never come from flags
            check(says in p.stderr, "%s '': said %r", flag, p.stderr[-300:])
            deadline = time.monotonic() + 3
            while procs_on(s.data_dir) and time.monotonic() < deadline:
                time.sleep(0.1)
            check(not procs_on(s.data_dir), "%s '': left processes behind: %s", flag,
                  procs_on(s.data_dir))
        finally:
            s.stop()


@suite.test(timeout=40)
async def generated_admin_token_is_not_logged(srv):
    s = NoTokenServers().start()
    try:
        with open(os.path.join(s.data_dir, "admin-token")) as f:
            token = f.read().strip()
        check(len(token) >= 16, "generated token %r", token)
        st, _, _ = s.http("POST", "/api/jams", body={"title": "t", "question": "q", "agenda": [
            {"phase": "explore", "duration_s": 60}]},
            headers={"Authorization": "Bearer " + token})
        check_eq(st, 201, "the generated token creates jams")
        check(token not in s.tail("cojamd.log", 10 ** 6), "the admin token is in the log")
    finally:
        s.stop()


@suite.test(timeout=30)
async def empty_post_bodies_get_400(srv):
    s = Servers().start()
    try:
        for body in ("", b""):
            st, h, data = s.http("POST", "/api/jams", body=body,
                                 headers={"Authorization": "Bearer " + ADMIN_TOKEN,
                                          "Content-Length": "0"})
            check_eq(st, 400, "an empty body")
        check_eq(s.http("GET", "/healthz")[0], 200, "still serving")
        problems = s.stop_cojamd_checked()
        check(not problems, "%s", problems)
    finally:
        s.stop()


@suite.test(timeout=30)
async def symlinks_out_of_the_web_root_are_not_followed(srv):
    s = Servers()
    root = os.path.join(s.tmp, "root")
    outside = os.path.join(s.tmp, "outside")
    os.makedirs(os.path.join(root, "sub"))
    os.makedirs(outside)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>in</title>\n")
    with open(os.path.join(root, "sub", "in.txt"), "w") as f:
        f.write("inside\n")
    with open(os.path.join(outside, "secret.txt"), "w") as f:
        f.write("SECRET\n")
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "leak.txt"))
    os.symlink(outside, os.path.join(root, "leakdir"))
    os.symlink(os.path.join(root, "sub", "in.txt"), os.path.join(root, "alias.txt"))
    s.web_root = root
    s.start()
    try:
        for path in ("/leak.txt", "/leakdir/secret.txt"):
            st, _, data = s.http("GET", path)
            check(b"SECRET" not in data, "%s served the file outside the root", path)
            check_eq(st, 404, path)
        st, _, data = s.http("GET", "/alias.txt")
        check_eq((st, data), (200, b"inside\n"), "a symlink that stays inside the root")
        check_eq(s.http("GET", "/")[0], 200, "the index")
        check_eq(s.http("GET", "/sub/in.txt")[0], 200, "a file in a directory")
    finally:
        s.stop()


if __name__ == "__main__":
    sys.exit(suite.run(lambda: None))
