#!/usr/bin/env python3
"""Write a synthetic jam with N events into Redis (RESP for `redis-cli --pipe` on stdout).

Used by the replay benchmark: jam_created, P joins, a started ideate phase, 50 ideas, then votes
and retractions by random participants until N events. Every event is one the server would have
stored itself (valid at its place in the stream), so replay applies all of them.
Usage: gen-stream.py CODE N [PARTICIPANTS] | redis-cli -p PORT --pipe
"""
import json, random, sys

code = sys.argv[1]
total = int(sys.argv[2])
participants = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
rnd = random.Random(42)
key = f"cojam:jam:{code}:events"
out = sys.stdout.buffer
ms = 1_700_000_000_000
seq = 0


def resp(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    out.write(b"".join(parts))


def emit(ev):
    global ms, seq
    seq += 1
    if seq % 50 == 0:
        ms += 1
    ev["at"] = ms
    resp("XADD", key, f"{ms}-{seq}", "e", json.dumps(ev, separators=(",", ":")))


resp("SADD", "cojam:jams", code)
emit({"t": "jam_created", "code": code, "title": "Replay benchmark", "question": "How fast?",
      "agenda": [{"phase": "ideate", "duration_s": 0}],
      "settings": {"anonymous_allowed": True, "votes_per_phase": 0, "min_text": 2, "max_text": 500},
      "secret_sha256": "0" * 64})
n = 1
for pid in range(1, participants + 1):
    emit({"t": "joined", "pid": pid, "role": "moderator" if pid == 1 else "citizen",
          "nickname": f"p{pid}", "anonymous": False})
    n += 1
emit({"t": "started", "by": 1, "op": "start"})
n += 1
for i in range(1, 51):
    emit({"t": "posted", "by": 1, "op": f"idea{i}", "kind": "idea", "text": f"Idea number {i}",
          "parent": None})
    n += 1
voted = set()
ops = {}
while n < total:
    pid = rnd.randint(2, participants)
    item = rnd.randint(1, 50)
    k = ops.get(pid, 0) + 1
    ops[pid] = k
    if (pid, item) in voted:
        voted.discard((pid, item))
        emit({"t": "unvoted", "by": pid, "op": f"o{k}", "item": item})
    else:
        voted.add((pid, item))
        emit({"t": "voted", "by": pid, "op": f"o{k}", "item": item})
    n += 1
