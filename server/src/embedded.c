/* SPDX-License-Identifier: MIT
 * embedded.c - the data directory's lock and the private redis-server kept in it (embedded.h
 * draws why no two servers ever share the directory). Processes are identified through /proc
 * (Linux only, as the rest of the deployment); a server is shut down with SIGTERM, which Redis
 * handles as SHUTDOWN, so its AOF is complete when it is gone.
 */
#include "embedded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Redis 7 fsyncs the AOF and exits within milliseconds of SIGTERM; 10 s covers a loaded host and a
 * large AOF buffer before SIGKILL (which, with appendfsync always, loses nothing acknowledged). */
#define SHUTDOWN_WAIT_MS 10000
/* How long a held lock with no cojamd and no server visible behind it is waited for: a server
 * between fork and chdir, or a fork child of Redis, holds it briefly without showing in <dir>. */
#define LOCK_WAIT_MS 20000
#define POLL_MS 20
#define MAX_FOUND 16

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- /proc ------------------------------------------------------------------------------------ */

int embedded_parse_stat(const char *text, struct embedded_proc *out)
{
    /* "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
     * stime cutime cstime priority nice num_threads itrealvalue starttime ..." (proc(5)); comm is
     * whatever the program was called, so its end is the last ')'. */
    const char *open = strchr(text, '(');
    const char *close = strrchr(text, ')');
    if (!open || !close || close < open || close[1] != ' ')
        return -EINVAL;
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof out->comm)
        n = sizeof out->comm - 1;
    memcpy(out->comm, open + 1, n);
    out->comm[n] = '\0';
    const char *p = close + 2;
    if (!*p || p[1] != ' ')
        return -EINVAL;
    out->state = *p;
    p += 2;
    char *end;
    long ppid = strtol(p, &end, 10);
    if (end == p || ppid < 0)
        return -EINVAL;
    out->ppid = (pid_t)ppid;
    /* starttime is field 22; ppid was field 4. */
    for (int field = 4; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -EINVAL;
        p++;
    }
    out->start = strtoull(p, &end, 10);
    if (end == p)
        return -EINVAL;
    return 0;
}

static int proc_read(pid_t pid, struct embedded_proc *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    return embedded_parse_stat(buf, out);
}

/* The process (pid, start) still exists and has not exited (a zombie has closed its files). */
static bool is_alive(pid_t pid, unsigned long long start)
{
    struct embedded_proc p;
    return proc_read(pid, &p) == 0 && p.start == start && p.state != 'Z' && p.state != 'X';
}

static bool read_link(pid_t pid, const char *what, char *out, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    ssize_t n = readlink(path, out, size - 1);
    if (n < 0)
        return false;
    out[n] = '\0';
    return true;
}

/* The resolved path of 'binary' as execvp would find it, or "" (then only the command name
 * identifies a server). */
static void resolve_binary(const char *binary, char *out, size_t size)
{
    char buf[PATH_MAX];
    out[0] = '\0';
    if (strchr(binary, '/')) {
        if (realpath(binary, buf))
            snprintf(out, size, "%s", buf);
        return;
    }
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t len = strcspn(p, ":");
        char cand[PATH_MAX];
        snprintf(cand, sizeof cand, "%.*s/%s", (int)len, p, binary);
        if (access(cand, X_OK) == 0 && realpath(cand, buf)) {
            snprintf(out, size, "%s", buf);
            return;
        }
        p += len + (p[len] == ':');
    }
}

struct found {
    pid_t pid;
    struct embedded_proc proc;
};

/* Every live redis-server working in 'dir' (its cwd: Redis chdir()s to --dir before it listens),
 * other than 'except': its command name is redis-server or its executable is 'exe'. */
static size_t find_servers(const char *dir, const char *exe, pid_t except, struct found *out,
                           size_t max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while (n < max && (de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid() || pid == except)
            continue;
        char cwd[PATH_MAX], bin[PATH_MAX];
        struct embedded_proc p;
        if (!read_link((pid_t)pid, "cwd", cwd, sizeof cwd) || strcmp(cwd, dir) != 0 ||
            proc_read((pid_t)pid, &p) < 0 || p.state == 'Z' || p.state == 'X')
            continue;
        bool named = strcmp(p.comm, "redis-server") == 0;
        bool same_exe = exe[0] && read_link((pid_t)pid, "exe", bin, sizeof bin) &&
                        strcmp(bin, exe) == 0;
        if (named || same_exe)
            out[n++] = (struct found){(pid_t)pid, p};
    }
    closedir(d);
    return n;
}

/* SIGTERM (Redis: SHUTDOWN) and wait for the process to be gone; SIGKILL after SHUTDOWN_WAIT_MS.
 * It is not our child, so it is watched through /proc, not waitpid(). */
static void shut_down(const struct found *f, const char *dir)
{
    log_warn("data directory %s: redis-server (pid %d) is running without its cojamd; shutting it "
             "down before starting another",
             dir, (int)f->pid);
    kill(f->pid, SIGTERM);
    int64_t t0 = now_ms();
    while (is_alive(f->pid, f->proc.start)) {
        if (now_ms() - t0 > SHUTDOWN_WAIT_MS) {
            log_error("redis-server (pid %d) still running %d ms after SIGTERM; SIGKILL",
                      (int)f->pid, SHUTDOWN_WAIT_MS);
            kill(f->pid, SIGKILL);
            t0 = now_ms();
        }
        sleep_ms(POLL_MS);
    }
    log_info("redis-server (pid %d) has exited", (int)f->pid);
}

/* Shut down every redis-server of 'dir' but 'except'. Returns how many there were. */
static size_t clear_dir(const char *dir, const char *exe, pid_t except)
{
    struct found f[MAX_FOUND];
    size_t n = find_servers(dir, exe, except, f, MAX_FOUND);
    for (size_t i = 0; i < n; i++)
        shut_down(&f[i], dir);
    return n;
}

/* ---- the lock --------------------------------------------------------------------------------- */

/* <dir>/cojamd.pid: "<pid> <start>" of the cojamd holding the lock. Returns the pid if that
 * process is alive (and not this one), else 0. */
static pid_t live_holder(const char *dir)
{
    char path[PATH_MAX + 16], buf[64];
    snprintf(path, sizeof path, "%s/cojamd.pid", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    long pid;
    unsigned long long start;
    if (sscanf(buf, "%ld %llu", &pid, &start) != 2 || pid <= 0 || pid == getpid())
        return 0;
    return is_alive((pid_t)pid, start) ? (pid_t)pid : 0;
}

static void write_holder(const char *dir)
{
    char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
    struct embedded_proc self;
    if (proc_read(getpid(), &self) < 0)
        return;
    snprintf(path, sizeof path, "%s/cojamd.pid", dir);
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    bool ok = dprintf(fd, "%d %llu\n", (int)getpid(), self.start) > 0;
    close(fd);
    if (!ok || rename(tmp, path) < 0) {
        log_warn("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}

int embedded_lock(const char *data_dir, const char *redis_binary)
{
    char dir[PATH_MAX], exe[PATH_MAX], path[PATH_MAX + 16];
    if (mkdir(data_dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    if (!realpath(data_dir, dir))
        return -errno;
    resolve_binary(redis_binary, exe, sizeof exe);
    snprintf(path, sizeof path, "%s/instance-id", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int64_t deadline = now_ms() + LOCK_WAIT_MS;
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        if (err != EWOULDBLOCK) {
            close(fd);
            return -err;
        }
        pid_t holder = live_holder(dir);
        struct found f[MAX_FOUND];
        size_t n = holder ? 0 : find_servers(dir, exe, 0, f, MAX_FOUND);
        for (size_t i = 0; i < n && !holder; i++) {
            /* A server whose parent is a cojamd belongs to that live cojamd, whatever the record
             * says (an older cojamd wrote none). */
            struct embedded_proc parent;
            if (proc_read(f[i].proc.ppid, &parent) == 0 && strcmp(parent.comm, "cojamd") == 0)
                holder = f[i].proc.ppid;
        }
        if (holder) {
            log_error("another cojamd (pid %d) is using the data directory %s", (int)holder, dir);
            close(fd);
            return -EBUSY;
        }
        for (size_t i = 0; i < n; i++)
            shut_down(&f[i], dir);
        if (n == 0 && now_ms() > deadline) {
            log_error("the data directory %s is locked (%s) by a process that is neither a cojamd "
                      "nor a redis-server working there",
                      dir, path);
            close(fd);
            return -EBUSY;
        }
        if (n == 0)
            sleep_ms(POLL_MS);
    }
    write_holder(dir);
    return fd;
}

/* ---- the server ------------------------------------------------------------------------------- */

/* Between fork and exec, in the child of a multi-threaded process: async-signal-safe calls only. */
static void exec_child(const struct embedded *e, char *const argv[], pid_t parent)
{
    /* SIGTERM when cojamd dies, however it dies: Redis then fsyncs its AOF and exits. If cojamd
     * died before the prctl took effect the signal never comes, so the parent is checked after. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        _exit(126);
    /* Its own process group: a Ctrl-C at cojamd's terminal stops cojamd, which then hands over its
     * jams through Redis and only then stops Redis. */
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* None of cojamd's sockets and files into Redis, except the lock, which the server must hold
     * for as long as it lives (embedded.h). */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (fcntl(e->lock_fd, F_SETFD, 0) < 0)
        _exit(126);
    execvp(argv[0], argv);
    static const char msg[] = "cojamd: cannot run the redis-server binary (install redis-server, "
                              "or pass --redis, or --redis-server PATH)\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
}

int embedded_start(struct embedded *e, const char *binary, const char *data_dir, int lock_fd)
{
    if (!realpath(data_dir, e->dir)) {
        log_error("data directory %s: %s", data_dir, strerror(errno));
        return -errno;
    }
    e->binary = binary;
    e->lock_fd = lock_fd;
    if (!e->delay_ms)
        e->delay_ms = 500;
    snprintf(e->sock, sizeof e->sock, "%s/redis.sock", e->dir);
    char logfile[PATH_MAX + 16], exe[PATH_MAX];
    snprintf(logfile, sizeof logfile, "%s/redis.log", e->dir);
    resolve_binary(binary, exe, sizeof exe);
    clear_dir(e->dir, exe, 0);
    char *argv[] = {(char *)binary,
                    "--port",
                    "0",
                    "--unixsocket",
                    e->sock,
                    "--unixsocketperm",
                    "700",
                    "--dir",
                    e->dir,
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--maxmemory-policy",
                    "noeviction",
                    "--save",
                    "",
                    "--daemonize",
                    "no",
                    "--logfile",
                    logfile,
                    NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        exec_child(e, argv, parent);
    e->pid = pid;
    log_info("started embedded redis-server (pid %d) in %s", (int)pid, e->dir);
    return 0;
}

void embedded_check(struct embedded *e, int64_t now)
{
    int status;
    if (e->pid > 0 && waitpid(e->pid, &status, WNOHANG) == e->pid) {
        log_error("embedded redis-server (pid %d) exited (%s %d); restarting it", (int)e->pid,
                  WIFSIGNALED(status) ? "signal" : "status",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        e->pid = 0;
        e->next_try_ms = now;
    }
    if (e->pid != 0 || !e->dir[0] || now < e->next_try_ms)
        return;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", e->dir);
    if (embedded_start(e, e->binary, dir, e->lock_fd) == 0) {
        e->delay_ms = 500;
    } else {
        e->next_try_ms = now + e->delay_ms;
        e->delay_ms = e->delay_ms < 16000 ? e->delay_ms * 2 : e->delay_ms;
    }
}

void embedded_stop(struct embedded *e)
{
    if (e->pid <= 0)
        return;
    kill(e->pid, SIGTERM);
    for (int waited = 0; waited < SHUTDOWN_WAIT_MS; waited += 100) {
        if (waitpid(e->pid, NULL, WNOHANG) == e->pid) {
            e->pid = 0;
            return;
        }
        sleep_ms(100);
    }
    kill(e->pid, SIGKILL);
    waitpid(e->pid, NULL, 0);
    e->pid = 0;
}
