/* SPDX-License-Identifier: MIT
 * embedded.h - who owns the data directory, and the private redis-server of the default set-up (no
 * --redis) that keeps its data there. It never includes hiredis: a redis-server is told to shut
 * down with SIGTERM, which Redis treats as SHUTDOWN (fsync of the AOF, removal of its socket).
 *
 * Why two redis-servers can never work on one data directory, nor cojamd talk to the wrong one:
 *
 *   cojamd ──flock(LOCK_EX) on <dir>/instance-id──┐   one open file description, so one lock,
 *     │ fork (loop thread only)                   │   held for as long as EITHER process lives
 *     └─► redis-server  (inherits that fd, PR_SET_PDEATHSIG = SIGTERM, cwd = <dir>,
 *                        listens only on <dir>/redis.sock)
 *
 * 1. A redis-server is started only by a process that holds the lock, and it holds the lock
 *    itself until it exits. So while any server started for <dir> lives, nobody else gets the lock
 *    and nobody starts a second one, whichever of the two processes died first and however.
 * 2. The server gets SIGTERM from the kernel when its cojamd dies (kill -9 included), so it does
 *    not outlive it by more than its orderly shutdown; a cojamd that finds the lock held and no
 *    live cojamd behind it looks in /proc for redis-servers working in <dir> (cwd and binary
 *    checked, so a reused pid is never taken for one), shuts them down, waits, and only then takes
 *    the lock. A live cojamd behind it means refusal, with its pid in the message.
 * 3. After taking the lock, and before every (re)start, cojamd shuts down any redis-server still
 *    working in <dir> (one started by an older cojamd or by hand does not hold the lock).
 * 4. The socket is <dir>/redis.sock, so only a server of <dir> listens there, and there is at most
 *    one; a server removes the socket file when it exits, which happens before ours is started.
 */
#ifndef COJAM_EMBEDDED_H
#define COJAM_EMBEDDED_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

/* The parts of /proc/<pid>/stat that matter here. */
struct embedded_proc {
    char state; /* 'R', 'S', 'Z', ... */
    pid_t ppid;
    unsigned long long start; /* start time in clock ticks since boot: with the pid, a process's
                                 identity (pids are reused) */
    char comm[32];
};

/* Parse the text of /proc/<pid>/stat (the command name may hold spaces and parentheses).
 * Returns 0 or -EINVAL. Pure. */
int embedded_parse_stat(const char *text, struct embedded_proc *out);

/* Take the exclusive lock of data directory 'dir' (created 0700 if missing) for this process, as
 * described above: a leftover redis-server of 'dir' (its binary 'redis_binary') is shut down
 * first. Writes this process's pid to <dir>/cojamd.pid. Returns the fd of <dir>/instance-id
 * (O_CLOEXEC; keep it open for the process's life) or -EBUSY (another cojamd uses 'dir'; logged
 * with its pid) or -errno. */
int embedded_lock(const char *dir, const char *redis_binary);

struct embedded {
    pid_t pid;                /* the child; 0 when none runs */
    int lock_fd;              /* borrowed: from embedded_lock, handed to the child */
    char dir[PATH_MAX];       /* the data directory, resolved */
    char sock[PATH_MAX + 16]; /* <dir>/redis.sock */
    const char *binary;       /* borrowed: the redis-server binary (PATH is searched) */
    int64_t next_try_ms;      /* supervision: the next restart attempt */
    int64_t delay_ms;         /* and the delay after a failed one */
};

/* Start redis-server in 'dir' with the durability settings of deploy/redis.conf (AOF,
 * appendfsync always, noeviction), listening only on e->sock, after shutting down any other
 * redis-server working in 'dir'. Call on the main (loop) thread only: the parent-death signal
 * fires when the thread that forked exits. 'binary' and the directory are borrowed for the life of
 * 'e'. Returns 0 or -errno (the child then failed to be created; a failed exec shows as its exit
 * status 127). */
int embedded_start(struct embedded *e, const char *binary, const char *dir, int lock_fd);

/* Supervision, from the loop about once a second: a server that exited is reaped and started
 * again on the same files (its AOF holds every acknowledged event), with a doubling delay between
 * failed attempts (500 ms to 16 s). Never starts one while the previous one lives. */
void embedded_check(struct embedded *e, int64_t now_ms);

/* SIGTERM the server and reap it (up to 10 s for its AOF to be flushed, then SIGKILL). No-op when
 * none runs. */
void embedded_stop(struct embedded *e);

#endif
