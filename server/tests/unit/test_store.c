/* SPDX-License-Identifier: MIT
 * test_store.c - store.c against a private redis-server on a free loopback port: append order,
 * SADD, queue bound, error replies, SIGSTOP (timeouts, in-doubt recovery), SIGKILL and restart,
 * paged replay and the start-up calls, and one writer per stream (leases, fencing epochs,
 * hand-over with catch-up, renewal). Every wait has a deadline; redis dies with the test.
 * hiredis appears here only to poke Redis directly (CONFIG SET, the lease keys, XLEN); the store is
 * tested via store.h.
 */
#include "alloc.h"
#include "hash.h"
#include "keys.h"
#include "store.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define MAX_CTX 4096
#define MAX_FOUND 256

static pid_t redis_pid = -1;
static int redis_port;
static char redis_dir[] = "/tmp/test_store.XXXXXX";
static int wake_fd[2];

/* ---- what the store reported ------------------------------------------------------------ */

static struct {
    int count[MAX_CTX];
    const char *err[MAX_CTX];
    char id[MAX_CTX][MSG_EVENT_ID_MAX + 1];
    int ups, downs, bad;
    long long last_ok_ctx;
    int order_violations;
    int tailed; /* STORE_TAILED results */
    char tailed_payload[MAX_FOUND][32];
    char tailed_id[MAX_FOUND][MSG_EVENT_ID_MAX + 1];
    char kinds[8192]; /* 'A' appended, 'U' up, 'D' down, 'X' fenced, 'R' read, 'T' tailed */
    size_t nkinds;
    int fenced; /* STORE_FENCED results */
    char fenced_owner[STORE_OWNER_MAX + 1];
    char fenced_key[64];
    struct { /* STORE_RANGE results by ctx - RANGE_CTX */
        int count;
        const char *err;
        size_t n;
        char first[32], last[32]; /* payloads */
        char first_id[MSG_EVENT_ID_MAX + 1], last_id[MSG_EVENT_ID_MAX + 1];
    } range[8];
} seen;

#define RANGE_CTX 5000

static void seen_reset(void)
{
    memset(&seen, 0, sizeof(seen));
    seen.last_ok_ctx = -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void on_wake(void *arg)
{
    (void)arg;
    char b = 1;
    ssize_t n = write(wake_fd[1], &b, 1); /* a full pipe already means "wake" */
    (void)n;
}

static void record(const struct store_result *r)
{
    if (seen.nkinds < sizeof(seen.kinds) - 1)
        seen.kinds[seen.nkinds++] = "AUDXRT"[r->kind];
    switch (r->kind) {
    case STORE_APPENDED:
        if (r->ctx >= MAX_CTX || !r->key) {
            seen.bad++;
            break;
        }
        seen.count[r->ctx]++;
        seen.err[r->ctx] = r->err;
        if (!r->err) {
            snprintf(seen.id[r->ctx], sizeof(seen.id[0]), "%s", r->id);
            if ((long long)r->ctx < seen.last_ok_ctx)
                seen.order_violations++;
            seen.last_ok_ctx = (long long)r->ctx;
        } else if (r->err != store_err_timeout && r->err != store_err_unavailable &&
                   r->err != store_err_fenced && r->err != store_err_replica) {
            seen.bad++;
        }
        break;
    case STORE_TAILED:
        if (!r->key || !r->payload) {
            seen.bad++;
            break;
        }
        if (seen.tailed < MAX_FOUND) {
            snprintf(seen.tailed_payload[seen.tailed], sizeof(seen.tailed_payload[0]), "%s",
                     r->payload);
            snprintf(seen.tailed_id[seen.tailed], sizeof(seen.tailed_id[0]), "%s", r->id);
            if (seen.tailed && stream_id_cmp(seen.tailed_id[seen.tailed - 1], r->id) >= 0)
                seen.order_violations++;
        }
        seen.tailed++;
        break;
    case STORE_UP:
        seen.ups++;
        break;
    case STORE_DOWN:
        seen.downs++;
        break;
    case STORE_FENCED:
        if (!r->key || !r->owner[0]) {
            seen.bad++;
            break;
        }
        seen.fenced++;
        snprintf(seen.fenced_owner, sizeof(seen.fenced_owner), "%s", r->owner);
        snprintf(seen.fenced_key, sizeof(seen.fenced_key), "%s", r->key);
        break;
    case STORE_RANGE:
        if (r->ctx < RANGE_CTX || r->ctx >= RANGE_CTX + 8 || (!r->err && !r->entries)) {
            seen.bad++;
            break;
        }
        seen.range[r->ctx - RANGE_CTX].count++;
        seen.range[r->ctx - RANGE_CTX].err = r->err;
        seen.range[r->ctx - RANGE_CTX].n = r->n_entries;
        if (r->n_entries) {
            const struct stream_entry *a = &r->entries[0], *z = &r->entries[r->n_entries - 1];
            snprintf(seen.range[r->ctx - RANGE_CTX].first, 32, "%s", a->payload);
            snprintf(seen.range[r->ctx - RANGE_CTX].last, 32, "%s", z->payload);
            snprintf(seen.range[r->ctx - RANGE_CTX].first_id, MSG_EVENT_ID_MAX + 1, "%s", a->id);
            snprintf(seen.range[r->ctx - RANGE_CTX].last_id, MSG_EVENT_ID_MAX + 1, "%s", z->id);
            for (size_t i = 1; i < r->n_entries; i++)
                if (stream_id_cmp(r->entries[i - 1].id, r->entries[i].id) >= 0)
                    seen.order_violations++;
        }
        break;
    default:
        seen.bad++;
        break;
    }
}

static bool have_reads(int n, int unused)
{
    (void)unused;
    for (int i = 0; i < n; i++)
        if (!seen.range[i].count)
            return false;
    return true;
}

/* Drives the store like the loop does (wake pipe, poll, expire) until 'done' or the deadline. */
static bool pump(struct store *s, int timeout_ms, bool (*done)(int, int), int a, int b)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        struct store_result rs[64];
        size_t n;
        store_expire(s, now_ms());
        while ((n = store_poll(s, rs, 64)) > 0) {
            for (size_t i = 0; i < n; i++) {
                record(&rs[i]);
                store_result_clear(&rs[i]);
            }
        }
        if (done(a, b))
            return true;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = wake_fd[0], .events = POLLIN};
        if (poll(&p, 1, left < 20 ? (int)left : 20) > 0) {
            char buf[256];
            while (read(wake_fd[0], buf, sizeof(buf)) > 0) {
            }
        }
    }
}

static bool have_results(int from, int to)
{
    for (int i = from; i < to; i++)
        if (seen.count[i] == 0)
            return false;
    return true;
}

/* Results for appends from, from + 2, ... below to. */
static bool have_every_other_result(int from, int to)
{
    for (int i = from; i < to; i += 2)
        if (seen.count[i] == 0)
            return false;
    return true;
}

static bool have_tailed(int n, int unused)
{
    (void)unused;
    return seen.tailed >= n;
}

static bool have_ups(int n, int unused)
{
    (void)unused;
    return seen.ups >= n;
}

static bool have_downs(int n, int unused)
{
    (void)unused;
    return seen.downs >= n;
}

static bool exactly_once(int from, int to)
{
    for (int i = from; i < to; i++)
        if (seen.count[i] != 1)
            return false;
    return true;
}

/* ---- a private redis-server ----------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        perror("free_port");
        exit(2);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static struct store_config config(int timeout_ms, size_t queue_max)
{
    struct store_config cfg = {
        .host = "127.0.0.1", .port = redis_port, .timeout_ms = timeout_ms, .queue_max = queue_max};
    return cfg;
}

static void redis_stop_now(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = -1;
    }
}

static bool redis_start(void)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", redis_port);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", redis_dir, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    redis_pid = pid;
    struct store_config cfg = config(500, 0);
    char err[160];
    if (store_check(&cfg, 5000, err, sizeof(err)) != 0) {
        fprintf(stderr, "redis-server did not start: %s\n", err);
        redis_stop_now();
        return false;
    }
    return true;
}

static void redis_signal(int sig)
{
    if (redis_pid > 0)
        kill(redis_pid, sig);
}

/* Runs one command on Redis directly; returns 0 if it did not fail. */
static int redis_cmd(const char *cmd)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    int rc = -1;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, cmd);
        if (r) {
            rc = r->type == REDIS_REPLY_ERROR ? -1 : 0;
            freeReplyObject(r);
        }
    }
    if (c)
        redisFree(c);
    return rc;
}

/* Runs one command on Redis directly and returns its reply (free it), or NULL. */
static redisReply *redis_query(const char *fmt, ...)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    redisReply *r = NULL;
    if (c && !c->err) {
        va_list ap;
        va_start(ap, fmt);
        r = redisvCommand(c, fmt, ap);
        va_end(ap);
    }
    if (c)
        redisFree(c);
    return r;
}

/* An integer reply, or -1000 if it was something else. */
static long long redis_int(const char *cmd, const char *key)
{
    redisReply *r = redis_query("%s %s", cmd, key);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1000;
    if (r)
        freeReplyObject(r);
    return v;
}

/* GET 'key' into 'out': "(nil)" when absent. */
static const char *redis_get(const char *key, char *out, size_t size)
{
    redisReply *r = redis_query("GET %s", key);
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(out, size, "%s", r->str);
    else
        snprintf(out, size, "(nil)");
    if (r)
        freeReplyObject(r);
    return out;
}

/* ---- a second redis-server that wants credentials ------------------------------------------- */

static pid_t auth_pid = -1;
static int auth_port;

/* The rights deploy/redis.conf gives cojamd's ACL user: every command store.c sends, directly or
 * from its scripts, on cojam:* keys only. */
#define COJAMD_RIGHTS                                                                              \
    "~cojam:*", "resetchannels", "-@all", "+ping", "+info", "+client|id", "+client|kill",          \
        "+script|load", "+evalsha", "+get", "+set", "+mget", "+incr", "+del", "+pexpire", "+sadd", \
        "+smembers", "+xadd", "+xrange", "+xrevrange"

static void auth_stop(void)
{
    if (auth_pid > 0) {
        kill(auth_pid, SIGKILL);
        waitpid(auth_pid, NULL, 0);
        auth_pid = -1;
    }
}

/* Starts redis-server on auth_port with the extra arguments 'args' (NULL-terminated), then waits
 * until 'cfg' (its credentials) gets a PONG. */
static bool auth_start(const char *const *args, const struct store_config *cfg)
{
    char port[16];
    const char *argv[64] = {
        "redis-server", "--port", port,    "--bind",  "127.0.0.1",   "--save", "",
        "--appendonly", "no",     "--dir", redis_dir, "--daemonize", "no"};
    size_t n = 13;
    while (*args && n < 63)
        argv[n++] = *args++;
    argv[n] = NULL;
    snprintf(port, sizeof(port), "%d", auth_port);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execvp("redis-server", (char **)argv);
        _exit(127);
    }
    auth_pid = pid;
    char err[256];
    if (store_check(cfg, 5000, err, sizeof(err)) != 0) {
        fprintf(stderr, "redis-server with credentials did not start: %s\n", err);
        auth_stop();
        return false;
    }
    return true;
}

static struct store_config auth_config(const char *user, const char *password)
{
    struct store_config cfg = {.host = "127.0.0.1",
                               .port = auth_port,
                               .timeout_ms = 500,
                               .user = user,
                               .password = password};
    return cfg;
}

static void cleanup(void)
{
    redis_signal(SIGCONT);
    redis_stop_now();
    auth_stop();
    char path[64];
    snprintf(path, sizeof(path), "%s/dump.rdb", redis_dir);
    unlink(path);
    rmdir(redis_dir);
}

static struct store *open_store(int timeout_ms, size_t queue_max)
{
    struct store_config cfg = config(timeout_ms, queue_max);
    struct store *s = NULL;
    seen_reset();
    if (store_new(&cfg, on_wake, NULL, &s) != 0)
        return NULL;
    if (!pump(s, 3000, have_ups, 1, 0)) {
        store_free(s);
        return NULL;
    }
    return s;
}

/* Opens a store with an instance id and a lease, leaving 'seen' as it is (several stores share
 * it; each uses its own ctx range). */
static struct store *open_instance(const char *id, int lease_ms)
{
    struct store_config cfg = config(2000, 0);
    cfg.instance_id = id;
    cfg.lease_ms = lease_ms;
    struct store *s = NULL;
    int ups = seen.ups;
    if (store_new(&cfg, on_wake, NULL, &s) != 0)
        return NULL;
    if (!pump(s, 3000, have_ups, ups + 1, 0)) {
        store_free(s);
        return NULL;
    }
    return s;
}

static bool have_fenced(int n, int unused)
{
    (void)unused;
    return seen.fenced >= n;
}

/* ---- replay / members callbacks ----------------------------------------------------------- */

struct replay_seen {
    int n;
    int stop_after;
    int mismatches;
    int first_index;
    char last_id[MSG_EVENT_ID_MAX + 1];
    int out_of_order;
};

static int on_entry(const char *id, const char *payload, size_t len, void *arg)
{
    struct replay_seen *rs = arg;
    char want[32];
    snprintf(want, sizeof(want), "r%d", rs->first_index + rs->n);
    if (len != strlen(want) || memcmp(payload, want, len) != 0)
        rs->mismatches++;
    if (strcmp(id, seen.id[rs->first_index + rs->n]) != 0)
        rs->mismatches++;
    if (rs->last_id[0] && stream_id_cmp(rs->last_id, id) >= 0)
        rs->out_of_order++;
    snprintf(rs->last_id, sizeof(rs->last_id), "%s", id);
    rs->n++;
    return rs->stop_after && rs->n == rs->stop_after ? 7 : 0;
}

static int on_member(const char *member, void *arg)
{
    int *mask = arg;
    if (strcmp(member, "J1") == 0)
        *mask |= 1;
    else if (strcmp(member, "J2") == 0)
        *mask |= 2;
    else
        *mask |= 4;
    return 0;
}

static int on_entry_plain(const char *id, const char *payload, size_t len, void *arg)
{
    (void)id;
    (void)payload;
    (void)len;
    ++*(int *)arg;
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

TEST(check_and_config)
{
    struct store_config cfg = config(500, 0);
    char err[160], policy[32], aof[32];
    CHECK_EQ_INT(store_check(&cfg, 1000, err, sizeof(err)), 0);
    CHECK_EQ_INT(store_config_get(&cfg, policy, sizeof(policy), aof, sizeof(aof)), 0);
    CHECK_EQ_STR(policy, "noeviction");
    CHECK_EQ_STR(aof, "no");

    struct store_config dead = cfg;
    dead.port = free_port();
    int64_t t0 = now_ms();
    CHECK_EQ_INT(store_check(&dead, 200, err, sizeof(err)), -ETIMEDOUT);
    CHECK(err[0] != '\0');
    CHECK(now_ms() - t0 < 1500);
    CHECK(store_config_get(&dead, policy, sizeof(policy), aof, sizeof(aof)) < 0);
}

/* The timeout has its one default in config.c: the store refuses a config without one rather than
 * apply a second default of its own. */
TEST(timeout_is_required)
{
    struct store_config cfg = config(0, 0);
    struct store *s = NULL;
    char err[160] = "";
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), -EINVAL);
    CHECK(s == NULL);
    CHECK_EQ_INT(store_check(&cfg, 60000, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "timeout_ms") != NULL);
    unsigned char *buf = NULL;
    size_t len = 0;
    CHECK_EQ_INT(store_get(&cfg, "t:none", &buf, &len), -ENOTCONN);
    cfg.timeout_ms = -1;
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), -EINVAL);
    cfg = config(500, 0);
    cfg.host = NULL;
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), -EINVAL);
    CHECK_EQ_INT(store_check(&cfg, 3000, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "host") != NULL);
}

TEST(down_at_start)
{
    struct store_config cfg = config(300, 0);
    cfg.port = free_port();
    struct store *s = NULL;
    seen_reset();
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), 0);
    if (!s)
        return;
    CHECK(pump(s, 2000, have_downs, 1, 0));
    CHECK(!store_is_up(s));
    CHECK_EQ_INT(store_append(s, "t:x", "x", NULL, NULL, 1, now_ms()), -ENOTCONN);
    int64_t t0 = now_ms();
    store_free(s);
    CHECK(now_ms() - t0 < 1500);
    CHECK_EQ_INT(seen.ups, 0);
}

TEST(append_order_and_sadd)
{
    struct store *s = open_store(2000, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(store_is_up(s));
    char payload[32];
    for (int i = 0; i < 300; i++) {
        snprintf(payload, sizeof(payload), "r%d", i);
        CHECK_EQ_INT(store_append(s, "t:order", payload, NULL, NULL, (uint64_t)i, now_ms()), 0);
    }
    CHECK_EQ_INT(store_append(s, "t:jam1", "created", "t:jams", "J1", 300, now_ms()), 0);
    CHECK_EQ_INT(store_append(s, "t:jam2", "created", "t:jams", "J2", 301, now_ms()), 0);
    CHECK(pump(s, 5000, have_results, 0, 302));
    CHECK(exactly_once(0, 302));
    for (int i = 0; i < 302; i++)
        CHECK(seen.err[i] == NULL);
    for (int i = 1; i < 300; i++)
        CHECK(stream_id_cmp(seen.id[i - 1], seen.id[i]) < 0);
    CHECK_EQ_INT(seen.order_violations, 0);
    CHECK_EQ_INT(seen.bad, 0);
    store_free(s);

    struct store_config cfg = config(2000, 0);
    struct replay_seen rs = {0};
    CHECK_EQ_INT(store_replay(&cfg, "t:order", "", on_entry, &rs), 0);
    CHECK_EQ_INT(rs.n, 300);
    CHECK_EQ_INT(rs.mismatches, 0);
    int mask = 0;
    CHECK_EQ_INT(store_members(&cfg, "t:jams", on_member, &mask), 0);
    CHECK_EQ_INT(mask, 3);
}

/* While writes keep coming, the thread lingers after the first of a batch: the appends queued
 * within linger_us go to Redis as one batch (one write, one round trip), in call order; one
 * after a quiet spell goes alone; with linger_us 0 the thread never waits. */
TEST(linger_gathers_a_burst_into_one_batch)
{
    struct store_config cfg = config(2000, 0);
    cfg.linger_us = 20000; /* far longer than queueing the burst takes */
    struct store *s = NULL;
    seen_reset();
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), 0);
    if (!s)
        return;
    CHECK(pump(s, 3000, have_ups, 1, 0));
    sleep_ms(30); /* quiet: the next append goes alone */
    uint64_t b0 = store_batches(s);
    CHECK_EQ_INT(store_append(s, "t:linger", "first", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 0, 1));
    CHECK_EQ_INT((int)(store_batches(s) - b0), 1);
    /* busy now (a batch less than STORE_LINGER_BUSY_US ago): a burst of ten shares one batch */
    char payload[16];
    for (int i = 1; i <= 10; i++) {
        snprintf(payload, sizeof payload, "b%d", i);
        CHECK_EQ_INT(store_append(s, "t:linger", payload, NULL, NULL, (uint64_t)i, now_ms()), 0);
    }
    CHECK(pump(s, 3000, have_results, 1, 11));
    CHECK_EQ_INT((int)(store_batches(s) - b0), 2);
    CHECK(exactly_once(0, 11));
    for (int i = 1; i < 11; i++) {
        CHECK(seen.err[i] == NULL);
        CHECK(stream_id_cmp(seen.id[i - 1], seen.id[i]) < 0);
    }
    store_free(s);
}

/* Reads share the appends' pipeline: a read queued right after appends sees them; pages are
 * exact (exclusive or inclusive start, COUNT); a missing stream is empty; a key of another type
 * fails the read without touching the connection. */
TEST(reads_page_and_follow_appends)
{
    struct store *s = open_store(2000, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    char payload[32];
    for (int i = 0; i < 300; i++) {
        snprintf(payload, sizeof(payload), "r%d", i);
        CHECK_EQ_INT(store_append(s, "t:read", payload, NULL, NULL, (uint64_t)i, now_ms()), 0);
    }
    CHECK(pump(s, 5000, have_results, 0, 300));
    CHECK_EQ_INT(store_read(s, "t:read", seen.id[99], false, 50, RANGE_CTX + 0, now_ms()), 0);
    CHECK_EQ_INT(store_read(s, "t:read", seen.id[99], true, 2, RANGE_CTX + 1, now_ms()), 0);
    for (int i = 300; i < 310; i++) {
        snprintf(payload, sizeof(payload), "r%d", i);
        CHECK_EQ_INT(store_append(s, "t:read", payload, NULL, NULL, (uint64_t)i, now_ms()), 0);
    }
    CHECK_EQ_INT(store_read(s, "t:read", seen.id[299], false, 100, RANGE_CTX + 2, now_ms()), 0);
    CHECK_EQ_INT(store_read(s, "t:nothing", "0-0", false, 10, RANGE_CTX + 3, now_ms()), 0);
    CHECK_EQ_INT(redis_cmd("SET t:string x"), 0);
    CHECK_EQ_INT(store_read(s, "t:string", "0-0", false, 10, RANGE_CTX + 4, now_ms()), 0);
    CHECK_EQ_INT(store_read(s, "t:read", "not-an-id", false, 10, RANGE_CTX + 5, now_ms()), -EINVAL);
    CHECK_EQ_INT(store_read(s, "t:read", "0-0", false, 0, RANGE_CTX + 5, now_ms()), -EINVAL);
    CHECK(pump(s, 5000, have_reads, 5, 0));
    CHECK_EQ_INT((int)seen.range[0].n, 50);
    CHECK(strcmp(seen.range[0].first, "r100") == 0 && strcmp(seen.range[0].last, "r149") == 0);
    CHECK(strcmp(seen.range[0].first_id, seen.id[100]) == 0);
    CHECK_EQ_INT((int)seen.range[1].n, 2);
    CHECK(strcmp(seen.range[1].first, "r99") == 0 && strcmp(seen.range[1].last, "r100") == 0);
    CHECK_EQ_INT((int)seen.range[2].n, 10); /* the appends queued before it, none missing */
    CHECK(strcmp(seen.range[2].first, "r300") == 0 && strcmp(seen.range[2].last, "r309") == 0);
    CHECK(seen.range[3].err == NULL && seen.range[3].n == 0);
    CHECK(seen.range[4].err == store_err_unavailable);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(seen.range[i].count, 1);
    CHECK_EQ_INT(seen.order_violations, 0);
    CHECK_EQ_INT(seen.bad, 0);
    CHECK_EQ_INT(seen.downs, 0);
    /* The connection is still good: an append after the failed read lands. */
    CHECK_EQ_INT(store_append(s, "t:read", "after", NULL, NULL, 310, now_ms()), 0);
    CHECK(pump(s, 5000, have_results, 310, 311));
    CHECK(seen.err[310] == NULL);
    store_free(s);
}

/* A replication barrier (store_confirm): an entry in the stream is confirmed with its id (no
 * replicas asked: the SET alone), one not there fails with store_err_unavailable, and the mark is
 * written beside the stream only in the first case. Asked for a replica that is not there, the
 * WAIT fails it with store_err_replica, the connection intact. */
TEST(confirm_is_a_barrier_for_one_entry)
{
    struct store *s = open_store(2000, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ_INT(store_append(s, "t:conf:events", "c0", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(s, 5000, have_results, 0, 1));
    CHECK_EQ_INT(store_confirm(s, "t:conf:events", seen.id[0], 1, now_ms()), 0);
    CHECK_EQ_INT(store_confirm(s, "t:conf:events", "1-1", 2, now_ms()), 0);
    CHECK_EQ_INT(store_confirm(s, "t:conf:events", "not-an-id", 3, now_ms()), -EINVAL);
    CHECK(pump(s, 5000, have_results, 1, 3));
    CHECK(seen.err[1] == NULL && strcmp(seen.id[1], seen.id[0]) == 0);
    CHECK(seen.err[2] == store_err_unavailable);
    redisReply *mark = redis_query("GET t:conf:confirm");
    CHECK(mark && mark->type == REDIS_REPLY_STRING);
    freeReplyObject(mark);
    char first[MSG_EVENT_ID_MAX + 1];
    snprintf(first, sizeof first, "%s", seen.id[1]);
    store_free(s);

    struct store_config cfg = config(2000, 0);
    cfg.replicas = 1;
    cfg.replica_timeout_ms = 50;
    seen_reset();
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), 0);
    CHECK(pump(s, 3000, have_ups, 1, 0));
    CHECK_EQ_INT(store_confirm(s, "t:conf:events", first, 4, now_ms()), 0);
    CHECK(pump(s, 5000, have_results, 4, 5));
    CHECK(seen.err[4] == store_err_replica);
    CHECK_EQ_INT(store_read(s, "t:conf:events", "0-0", false, 10, RANGE_CTX, now_ms()), 0);
    CHECK(pump(s, 5000, have_reads, 1, 0));
    CHECK(seen.range[0].err == NULL && seen.range[0].n == 1);
    CHECK_EQ_INT(seen.downs, 0);
    CHECK_EQ_INT(seen.bad, 0);
    store_free(s);
}

TEST(error_replies_keep_connection)
{
    struct store_config cfg = config(2000, 0);
    char out[16];
    CHECK_EQ_INT(store_get_or_set(&cfg, "t:str", "x", out, sizeof(out)), 0);
    struct store *s = open_store(2000, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    /* WRONGTYPE: the key holds a string. */
    CHECK_EQ_INT(store_append(s, "t:str", "x", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 0, 1));
    CHECK(seen.err[0] == store_err_unavailable);
    /* -OOM: Redis refuses writes over maxmemory with the noeviction policy. */
    CHECK_EQ_INT(store_append(s, "t:oom", "x", NULL, NULL, 1, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 1, 2));
    CHECK(seen.err[1] == NULL);
    CHECK_EQ_INT(redis_cmd("CONFIG SET maxmemory 1"), 0);
    CHECK_EQ_INT(store_append(s, "t:oom", "y", NULL, NULL, 2, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 2, 3));
    CHECK(seen.err[2] == store_err_unavailable);
    CHECK_EQ_INT(redis_cmd("CONFIG SET maxmemory 0"), 0);
    CHECK_EQ_INT(store_append(s, "t:oom", "z", NULL, NULL, 3, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 3, 4));
    CHECK(seen.err[3] == NULL);
    CHECK(exactly_once(0, 4));
    CHECK_EQ_INT(seen.downs, 0);
    CHECK(store_is_up(s));
    store_free(s);
}

TEST(queue_bound)
{
    struct store *s = open_store(2000, 8);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ_INT(store_append(s, "t:buf", "b0", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 0, 1));
    /* A stopped Redis answers nothing, so all 8 stay in flight or queued. */
    redis_signal(SIGSTOP);
    for (int i = 1; i <= 8; i++)
        CHECK_EQ_INT(store_append(s, "t:buf", "b", NULL, NULL, (uint64_t)i, now_ms()), 0);
    CHECK_EQ_INT(store_append(s, "t:buf", "b", NULL, NULL, 9, now_ms()), -ENOBUFS);
    redis_signal(SIGCONT);
    CHECK(pump(s, 3000, have_results, 0, 9));
    CHECK(exactly_once(0, 9));
    for (int i = 0; i < 9; i++)
        CHECK(seen.err[i] == NULL);
    CHECK_EQ_INT(seen.count[9], 0);
    CHECK_EQ_INT(store_append(s, "t:buf", "b", NULL, NULL, 10, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 10, 11));
    CHECK(seen.err[10] == NULL);
    store_free(s);
}

TEST(replay_pages)
{
    struct store *s = open_store(2000, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    char payload[32];
    int n = 2600, refused = 0;
    for (int i = 0; i < n; i++) {
        snprintf(payload, sizeof(payload), "r%d", i);
        if (store_append(s, "t:replay", payload, NULL, NULL, (uint64_t)i, now_ms()) != 0)
            refused++;
    }
    CHECK_EQ_INT(refused, 0);
    CHECK(pump(s, 8000, have_results, 0, n));
    CHECK(exactly_once(0, n));
    int errors = 0;
    for (int i = 0; i < n; i++)
        errors += seen.err[i] != NULL;
    CHECK_EQ_INT(errors, 0);
    store_free(s);

    struct store_config cfg = config(2000, 0);
    struct replay_seen all = {0};
    CHECK_EQ_INT(store_replay(&cfg, "t:replay", "", on_entry, &all), 0);
    CHECK_EQ_INT(all.n, n);
    CHECK_EQ_INT(all.mismatches, 0);
    CHECK_EQ_INT(all.out_of_order, 0);

    struct replay_seen tail = {.first_index = 1000};
    CHECK_EQ_INT(store_replay(&cfg, "t:replay", seen.id[999], on_entry, &tail), 0);
    CHECK_EQ_INT(tail.n, n - 1000);
    CHECK_EQ_INT(tail.mismatches, 0);

    struct replay_seen stop = {.stop_after = 5};
    CHECK_EQ_INT(store_replay(&cfg, "t:replay", "", on_entry, &stop), 7);
    CHECK_EQ_INT(stop.n, 5);

    int count = 0;
    CHECK_EQ_INT(store_replay(&cfg, "t:missing", "", on_entry_plain, &count), 0);
    CHECK_EQ_INT(count, 0);
}

/* The replay's replies are built in an arena rewound after each page: entries of every size, one
 * larger than an arena block (256 KiB) and pages that need several blocks, then pages of small
 * entries reusing them, all read back byte for byte, in order. */
static size_t sized_len(int i)
{
    static const size_t sizes[] = {1, 40, 3000, 70000, 600000};
    if (i >= 2000)
        return 1;
    return i == 1234 ? sizes[4] : sizes[(i * 7 + i / 500) % 4];
}

static void sized_fill(char *buf, int i, size_t len)
{
    for (size_t k = 0; k < len; k++)
        buf[k] = (char)('a' + (i + k) % 26);
    buf[len] = '\0';
}

struct sized_seen {
    int n, mismatches;
    char *want;
};

static int on_sized(const char *id, const char *payload, size_t len, void *arg)
{
    struct sized_seen *ss = arg;
    size_t want_len = sized_len(ss->n);
    sized_fill(ss->want, ss->n, want_len);
    if (len != want_len || memcmp(payload, ss->want, len) != 0 || payload[len] != '\0')
        ss->mismatches++;
    if (strcmp(id, seen.id[ss->n]) != 0)
        ss->mismatches++;
    ss->n++;
    return 0;
}

TEST(replay_pages_of_any_size)
{
    struct store *s = open_store(5000, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    int n = 2500; /* three pages; the first ones heavy, the last one light */
    char *buf = xmalloc(sized_len(1234) + 1);
    for (int i = 0; i < n; i++) {
        size_t len = sized_len(i);
        sized_fill(buf, i, len);
        CHECK_EQ_INT(store_append(s, "t:sized", buf, NULL, NULL, (uint64_t)i, now_ms()), 0);
        if (i % 200 == 199)
            CHECK(pump(s, 8000, have_results, 0, i + 1));
    }
    CHECK(pump(s, 8000, have_results, 0, n));
    store_free(s);
    struct store_config cfg = config(5000, 0);
    struct sized_seen ss = {0, 0, buf};
    CHECK_EQ_INT(store_replay(&cfg, "t:sized", "", on_sized, &ss), 0);
    CHECK_EQ_INT(ss.n, n);
    CHECK_EQ_INT(ss.mismatches, 0);
    free(buf);
}

TEST(get_or_set)
{
    struct store_config cfg = config(2000, 0);
    char out[16];
    CHECK_EQ_INT(store_get_or_set(&cfg, "t:secret", "abc", out, sizeof(out)), 0);
    CHECK_EQ_STR(out, "abc");
    CHECK_EQ_INT(store_get_or_set(&cfg, "t:secret", "xyz", out, sizeof(out)), 0);
    CHECK_EQ_STR(out, "abc");
    CHECK_EQ_INT(store_get_or_set(&cfg, "t:secret", "xyz", out, 3), -ENOSPC);
    struct store_config dead = cfg;
    dead.port = free_port();
    CHECK(store_get_or_set(&dead, "t:secret", "xyz", out, sizeof(out)) < 0);
}

/* store_expire measures a queued append's age by the caller's clock (here one that starts at 0),
 * whatever the store's own clock says. The thread is held in its first PING by a stopped Redis,
 * so the appends stay queued; they expire exactly when the caller's clock reaches timeout_ms. */
TEST(expire_by_the_callers_clock)
{
    struct store_config cfg = config(5000, 0);
    struct store *s = NULL;
    seen_reset();
    redis_signal(SIGSTOP);
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), 0);
    if (!s) {
        redis_signal(SIGCONT);
        return;
    }
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(store_append(s, "t:expire", "x", NULL, NULL, (uint64_t)i, i), 0);
    struct store_result rs[8];
    store_expire(s, 0 + 4999);
    CHECK_EQ_INT(store_poll(s, rs, 8), 0);
    store_expire(s, 2 + 5000);
    size_t n = store_poll(s, rs, 8);
    CHECK_EQ_INT(n, 3);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_INT(rs[i].kind, STORE_APPENDED);
        CHECK_EQ_INT(rs[i].ctx, i);
        CHECK(rs[i].err == store_err_timeout);
        store_result_clear(&rs[i]);
    }
    redis_signal(SIGCONT);
    CHECK(pump(s, 8000, have_results, 3, 5));
    CHECK_EQ_INT(seen.bad, 0);
    store_free(s);
}

struct stream_copy {
    int n;
    int payload[4096]; /* N of payload "rN" or "dN", or -1 */
    char id[4096][MSG_EVENT_ID_MAX + 1];
};

static struct stream_copy burst_stream;

static int on_copy(const char *id, const char *payload, size_t len, void *arg)
{
    struct stream_copy *sc = arg;
    if (sc->n >= 4096)
        return -1;
    char buf[32];
    snprintf(buf, sizeof(buf), "%.*s", (int)(len < 31 ? len : 31), payload);
    sc->payload[sc->n] = buf[0] == 'r' || buf[0] == 'd' ? atoi(buf + 1) : -1;
    snprintf(sc->id[sc->n], sizeof(sc->id[0]), "%s", id);
    sc->n++;
    return 0;
}

TEST(stop_times_out_then_settles_in_doubt)
{
    struct store *s = open_store(300, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ_INT(store_append(s, "t:doubt", "d0", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 0, 1));
    CHECK(seen.err[0] == NULL);

    redis_signal(SIGSTOP);
    int64_t t0 = now_ms();
    char payload[32];
    for (int i = 1; i <= 10; i++) {
        snprintf(payload, sizeof(payload), "d%d", i);
        CHECK_EQ_INT(store_append(s, "t:doubt", payload, NULL, NULL, (uint64_t)i, now_ms()), 0);
    }
    CHECK(pump(s, 3000, have_results, 1, 11));
    int64_t took = now_ms() - t0;
    CHECK(took >= 250 && took <= 1500);
    for (int i = 1; i <= 10; i++)
        CHECK(seen.err[i] == store_err_timeout);
    CHECK(pump(s, 1000, have_downs, 1, 0));
    CHECK(!store_is_up(s));
    CHECK_EQ_INT(store_append(s, "t:doubt", "no", NULL, NULL, 11, now_ms()), -ENOTCONN);

    /* On SIGCONT Redis executes the XADDs still buffered on the dropped connection (their
     * outcome was unknown: a client's retry finds them in the stream); the reconnect kills that
     * connection first, so nothing of it runs after the store is up again. */
    redis_signal(SIGCONT);
    CHECK(pump(s, 5000, have_ups, 2, 0));
    CHECK_EQ_INT(store_append(s, "t:doubt", "d12", NULL, NULL, 12, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 12, 13));
    CHECK(seen.err[12] == NULL);
    /* The stream: d0, then a prefix of d1..d10 in call order (the thread may have sent only the
     * first few before the rest expired in the queue), then d12, last. */
    struct store_config cfg = config(2000, 0);
    memset(&burst_stream, 0, sizeof(burst_stream));
    CHECK_EQ_INT(store_replay(&cfg, "t:doubt", "", on_copy, &burst_stream), 0);
    int n = burst_stream.n;
    CHECK(n >= 2 && n <= 12);
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(burst_stream.payload[i], i < n - 1 ? i : 12);
    CHECK_EQ_STR(burst_stream.id[n - 1], seen.id[12]);
    CHECK(exactly_once(0, 11));
    CHECK_EQ_INT(seen.bad, 0);
    store_free(s);
}

/* Redis stops in the middle of a burst: whatever the timing, the stream must be exactly the
 * confirmed appends followed by some of those of unknown outcome, all in call order, each once. */
TEST(stop_mid_burst_accounts_for_every_entry)
{
    struct store *s = open_store(300, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ_INT(store_append(s, "t:burst", "base", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 0, 1));
    char payload[32];
    int n = 2000;
    for (int i = 1; i <= n; i++) {
        snprintf(payload, sizeof(payload), "r%d", i);
        CHECK_EQ_INT(store_append(s, "t:burst", payload, NULL, NULL, (uint64_t)i, now_ms()), 0);
        if (i == 300) {
            CHECK(pump(s, 3000, have_results, 1, 101));
            redis_signal(SIGSTOP);
        }
    }
    CHECK(pump(s, 4000, have_results, 1, n + 1));
    CHECK(exactly_once(0, n + 1));
    redis_signal(SIGCONT);
    CHECK(pump(s, 5000, have_ups, 2, 0));

    int ok = 0;
    while (ok < n && seen.err[ok + 1] == NULL)
        ok++;
    int ok_after_gap = 0;
    for (int i = ok + 1; i <= n; i++)
        ok_after_gap += seen.err[i] == NULL;
    CHECK_EQ_INT(ok_after_gap, 0); /* Redis stayed stopped until every result was in */

    struct store_config cfg = config(2000, 0);
    memset(&burst_stream, 0, sizeof(burst_stream));
    CHECK_EQ_INT(store_replay(&cfg, "t:burst", "", on_copy, &burst_stream), 0);
    printf("# burst: %d confirmed, %d of unknown outcome stored, %d failed\n", ok,
           burst_stream.n - 1 - ok, n - ok);
    CHECK(burst_stream.n >= 1 + ok);
    int wrong = 0;
    for (int i = 1; i < burst_stream.n; i++) {
        wrong += burst_stream.payload[i] != i; /* a prefix of the burst, in call order */
        if (i <= ok)
            wrong += strcmp(burst_stream.id[i], seen.id[i]) != 0;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(seen.bad, 0);
    store_free(s);
}

TEST(free_with_appends_in_flight)
{
    struct store *s = open_store(300, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ_INT(store_append(s, "t:free", "f", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 0, 1));
    redis_signal(SIGSTOP);
    for (int i = 1; i <= 100; i++)
        CHECK_EQ_INT(store_append(s, "t:free", "f", NULL, NULL, (uint64_t)i, now_ms()), 0);
    sleep_ms(20);
    int64_t t0 = now_ms();
    store_free(s);
    CHECK(now_ms() - t0 < 1500);
    redis_signal(SIGCONT);
}

TEST(kill_and_restart)
{
    struct store *s = open_store(300, 0);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ_INT(store_append(s, "t:kill", "k0", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 0, 1));
    CHECK(seen.err[0] == NULL);

    /* Stop first so that the appends are surely in flight when Redis dies. */
    redis_signal(SIGSTOP);
    for (int i = 1; i <= 100; i++)
        CHECK_EQ_INT(store_append(s, "t:kill", "k", NULL, NULL, (uint64_t)i, now_ms()), 0);
    sleep_ms(50);
    redis_stop_now();
    CHECK(pump(s, 3000, have_results, 1, 101));
    CHECK(exactly_once(1, 101));
    int unavailable = 0, timeouts = 0;
    for (int i = 1; i <= 100; i++) {
        unavailable += seen.err[i] == store_err_unavailable;
        timeouts += seen.err[i] == store_err_timeout;
    }
    CHECK_EQ_INT(unavailable + timeouts, 100);
    CHECK(unavailable >= 1);
    CHECK(pump(s, 1000, have_downs, 1, 0));
    CHECK_EQ_INT(store_append(s, "t:kill", "no", NULL, NULL, 101, now_ms()), -ENOTCONN);

    CHECK(redis_start());
    CHECK(pump(s, 5000, have_ups, 2, 0));
    CHECK(store_is_up(s));
    CHECK_EQ_INT(store_append(s, "t:kill", "k102", NULL, NULL, 102, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 102, 103));
    CHECK(seen.err[102] == NULL);
    CHECK_EQ_INT(seen.count[101], 0);
    CHECK_EQ_INT(seen.bad, 0);
    store_free(s);
}

/* ---- one writer per stream ------------------------------------------------------------- */

#define FK "t:fence:events"

/* keys_lease/keys_epoch name the keys the scripts fence on: beside a jam's stream they are the
 * jam's keys of the schema; any other key gets the suffix appended, at any length. */
TEST(lease_and_epoch_keys)
{
    char stream[KEYS_MAX], want[KEYS_MAX], *k;
    keys_stream(stream, "123456");
    keys_jam(want, "123456", "lease");
    CHECK_EQ_STR(k = keys_lease(stream), want);
    free(k);
    keys_jam(want, "123456", "epoch");
    CHECK_EQ_STR(k = keys_epoch(stream), want);
    free(k);
    CHECK_EQ_STR(k = keys_lease("t:x"), "t:x:lease");
    free(k);
    CHECK_EQ_STR(k = keys_epoch(":events"), ":epoch");
    free(k);
    CHECK_EQ_STR(k = keys_lease("events"), "events:lease");
    free(k);
    char big[200];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    k = keys_epoch(big);
    CHECK(strlen(k) == sizeof big - 1 + strlen(":epoch") && strncmp(k, big, sizeof big - 1) == 0);
    free(k);
}

TEST(instance_ids)
{
    struct store_config cfg = config(500, 0);
    struct store *s = NULL;
    cfg.instance_id = "none";
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), -EINVAL);
    cfg.instance_id = "a b";
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), -EINVAL);
    cfg.instance_id = "";
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), -EINVAL);
    cfg.instance_id = NULL;
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), 0);
    if (s) {
        const char *id = store_instance_id(s);
        CHECK(id[0] != '\0' && strlen(id) <= STORE_OWNER_MAX && strchr(id, ' ') == NULL);
        store_free(s);
    }
    cfg.instance_id = "cojamd-1";
    s = NULL;
    CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), 0);
    if (s) {
        CHECK_EQ_STR(store_instance_id(s), "cojamd-1");
        store_free(s);
    }
}

/* Without an instance id the store names itself after the host and, for a unix socket, the
 * FNV-1a of its path: the same id on every start (a restarted server retakes its leases at once).
 * The hash is checked against the published FNV-1a test vectors. */
TEST(default_instance_id_is_stable)
{
    CHECK(hash_fnv1a("") == 0xcbf29ce484222325ull);
    CHECK(hash_fnv1a("a") == 0xaf63dc4c8601ec8cull);
    CHECK(hash_fnv1a("foobar") == 0x85944171f73967e8ull);

    static const char *const paths[] = {"/nonexistent/a/redis.sock", "/nonexistent/a/redis.sock",
                                        "/nonexistent/b/redis.sock"};
    char ids[3][STORE_OWNER_MAX + 1];
    for (int i = 0; i < 3; i++) {
        struct store_config cfg = config(500, 0);
        cfg.host = NULL;
        cfg.unix_path = paths[i];
        struct store *s = NULL;
        ids[i][0] = '\0';
        CHECK_EQ_INT(store_new(&cfg, on_wake, NULL, &s), 0);
        if (s)
            snprintf(ids[i], sizeof ids[i], "%s", store_instance_id(s));
        store_free(s);
    }
    char tail[32];
    snprintf(tail, sizeof tail, ":%016llx", (unsigned long long)hash_fnv1a(paths[0]));
    size_t n = strlen(ids[0]);
    CHECK(n > strlen(tail) && strcmp(ids[0] + n - strlen(tail), tail) == 0);
    CHECK_EQ_STR(ids[1], ids[0]);
    CHECK(strcmp(ids[2], ids[0]) != 0);
}

/* Streams beyond the first few (the thread's table of them grows): every one is acquired, written
 * (fenced, as housekeeping is) and, at store_free, released. */
TEST(many_streams)
{
    enum { N = 40 };
    char key[64], lease[64], buf[80];
    seen_reset();
    struct store *s = open_instance("inst-M", 10000);
    CHECK(s != NULL);
    if (!s)
        return;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "t:many:%d:events", i);
        CHECK_EQ_INT(store_append_held(s, key, "m", (uint64_t)i, now_ms()), 0);
    }
    CHECK(pump(s, 5000, have_results, 0, N));
    int ok = 0, owned = 0;
    for (int i = 0; i < N; i++) {
        snprintf(lease, sizeof lease, "t:many:%d:lease", i);
        ok += seen.count[i] == 1 && seen.err[i] == NULL;
        owned += strcmp(redis_get(lease, buf, sizeof buf), "inst-M") == 0;
    }
    CHECK_EQ_INT(ok, N);
    CHECK_EQ_INT(owned, N);
    store_free(s);
    int released = 0;
    for (int i = 0; i < N; i++) {
        snprintf(lease, sizeof lease, "t:many:%d:lease", i);
        released += strcmp(redis_get(lease, buf, sizeof buf), "(nil)") == 0;
    }
    CHECK_EQ_INT(released, N);
    CHECK_EQ_INT(seen.bad, 0);
}

/* A fenced put keeps binary values whole (NUL bytes included) through store_get; a put by an
 * instance that does not hold the stream's lease writes nothing. */
TEST(put_and_get_binary)
{
    static const char value[] = {'s', 0, 'n', 'a', 0, 'p'};
    struct store_config cfg = config(2000, 0);
    unsigned char *got = NULL;
    size_t len = 0;
    seen_reset();
    struct store *a = open_instance("inst-P", 0);
    struct store *b = open_instance("inst-Q", 0);
    CHECK(a && b);
    if (!a || !b) {
        store_free(a);
        store_free(b);
        return;
    }
    CHECK_EQ_INT(store_get(&cfg, "t:put:snapshot", &got, &len), -ENOENT);
    CHECK_EQ_INT(store_append_held(a, "t:put:events", "p0", 0, now_ms()), 0);
    CHECK_EQ_INT(store_put(a, "t:put:events", "t:put:snapshot", value, sizeof value, 1, now_ms()),
                 0);
    CHECK(pump(a, 3000, have_results, 0, 2));
    CHECK(seen.err[0] == NULL && seen.err[1] == NULL);
    CHECK_EQ_STR(seen.id[1], "");
    CHECK_EQ_INT(store_put(b, "t:put:events", "t:put:snapshot", "other", 5, 2, now_ms()), 0);
    CHECK(pump(b, 3000, have_results, 2, 3));
    CHECK(seen.err[2] == store_err_fenced);
    CHECK_EQ_INT(store_get(&cfg, "t:put:snapshot", &got, &len), 0);
    CHECK(got && len == sizeof value && memcmp(got, value, len) == 0);
    free(got);
    CHECK_EQ_INT(seen.bad, 0);
    store_free(b);
    store_free(a);
}

/* A owns the stream; B is fenced and says by whom; A's clean stop hands it to B at once; a
 * newcomer is then fenced by B. */
TEST(fencing_and_handover)
{
    char buf[80], payload[32];
    seen_reset();
    struct store *a = open_instance("inst-A", 0);
    struct store *b = open_instance("inst-B", 0);
    CHECK(a && b);
    if (!a || !b) {
        store_free(a);
        store_free(b);
        return;
    }
    for (int i = 0; i < 5; i++) {
        snprintf(payload, sizeof(payload), "a%d", i);
        CHECK_EQ_INT(store_append_held(a, FK, payload, (uint64_t)i, now_ms()), 0);
    }
    CHECK(pump(a, 3000, have_results, 0, 5));
    for (int i = 0; i < 5; i++)
        CHECK(seen.err[i] == NULL);
    CHECK_EQ_STR(redis_get("t:fence:lease", buf, sizeof(buf)), "inst-A");
    CHECK_EQ_STR(redis_get("t:fence:epoch", buf, sizeof(buf)), "1");
    long long pttl = redis_int("PTTL", "t:fence:lease");
    CHECK(pttl > 8000 && pttl <= 10000);

    /* B replayed the stream up to a1, say. */
    store_track(b, FK, seen.id[1]);
    CHECK_EQ_INT(store_append_held(b, FK, "b0", 100, now_ms()), 0);
    CHECK(pump(b, 3000, have_results, 100, 101));
    CHECK(seen.err[100] == store_err_fenced);
    CHECK(pump(b, 1000, have_fenced, 1, 0));
    CHECK_EQ_STR(seen.fenced_owner, "inst-A");
    CHECK_EQ_STR(seen.fenced_key, FK);
    CHECK_EQ_INT(store_append_held(b, FK, "b1", 101, now_ms()), 0);
    CHECK(pump(b, 3000, have_results, 101, 102));
    CHECK(seen.err[101] == store_err_fenced);
    CHECK_EQ_INT(seen.fenced, 1); /* said once per owner */

    /* A goes on. */
    for (int i = 5; i < 7; i++) {
        snprintf(payload, sizeof(payload), "a%d", i);
        CHECK_EQ_INT(store_append_held(a, FK, payload, (uint64_t)i, now_ms()), 0);
    }
    CHECK(pump(a, 3000, have_results, 5, 7));
    CHECK(seen.err[5] == NULL && seen.err[6] == NULL);
    CHECK_EQ_INT(redis_int("XLEN", FK), 7);

    /* A stops cleanly: its lease goes at once. */
    store_free(a);
    a = NULL;
    CHECK_EQ_STR(redis_get("t:fence:lease", buf, sizeof(buf)), "(nil)");

    /* B acquires at its next append, at once (no lapse to wait for), and it goes through: what A
     * wrote meanwhile reaches B's loop through its tail, which is the judge. */
    int64_t t0 = now_ms();
    CHECK_EQ_INT(store_append_held(b, FK, "b2", 102, now_ms()), 0);
    CHECK(pump(b, 3000, have_results, 102, 103));
    CHECK(now_ms() - t0 < 1000);
    CHECK(seen.err[102] == NULL);
    CHECK_EQ_STR(redis_get("t:fence:lease", buf, sizeof(buf)), "inst-B");
    CHECK_EQ_STR(redis_get("t:fence:epoch", buf, sizeof(buf)), "2");
    CHECK_EQ_INT(store_append_held(b, FK, "b3", 103, now_ms()), 0);
    CHECK(pump(b, 3000, have_results, 103, 104));
    CHECK(seen.err[103] == NULL);
    CHECK_EQ_INT(redis_int("XLEN", FK), 9);

    /* A new instance cannot write: B owns the stream. */
    struct store *a2 = open_instance("inst-A2", 0);
    CHECK(a2 != NULL);
    if (a2) {
        int before = seen.fenced;
        CHECK_EQ_INT(store_append_held(a2, FK, "z", 200, now_ms()), 0);
        CHECK(pump(a2, 3000, have_results, 200, 201));
        CHECK(seen.err[200] == store_err_fenced);
        CHECK(pump(a2, 1000, have_fenced, before + 1, 0));
        CHECK_EQ_STR(seen.fenced_owner, "inst-B");
        store_free(a2);
    }
    CHECK_EQ_INT(redis_int("XLEN", FK), 9);
    CHECK_EQ_STR(redis_get("t:fence:lease", buf, sizeof(buf)), "inst-B"); /* A2 took nothing */
    CHECK(exactly_once(0, 7));
    CHECK(exactly_once(100, 104));
    CHECK_EQ_INT(seen.bad, 0);
    store_free(b);
}

/* The lease changes hands under A (another owner, then none): A's appends are fenced and append
 * nothing; once the lease has lapsed A takes it again by itself. */
TEST(fencing_when_lease_changes_under_owner)
{
    char buf[80];
    seen_reset();
    struct store *a = open_instance("inst-A", 600);
    CHECK(a != NULL);
    if (!a)
        return;
    CHECK_EQ_INT(store_append_held(a, "t:lapse:events", "x0", 0, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 0, 1));
    CHECK(seen.err[0] == NULL);

    redisReply *r = redis_query("SET t:lapse:lease intruder PX 5000");
    CHECK(r && r->type == REDIS_REPLY_STATUS);
    if (r)
        freeReplyObject(r);
    CHECK_EQ_INT(store_append_held(a, "t:lapse:events", "x1", 1, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 1, 2));
    CHECK(seen.err[1] == store_err_fenced);
    CHECK(pump(a, 1000, have_fenced, 1, 0));
    CHECK_EQ_STR(seen.fenced_owner, "intruder");
    CHECK_EQ_INT(redis_int("XLEN", "t:lapse:events"), 1);
    CHECK_EQ_STR(redis_get("t:lapse:lease", buf, sizeof(buf)), "intruder");

    /* The intruder's lease lapses (as if it had died): A acquires again at its next append. */
    CHECK_EQ_INT(redis_int("DEL", "t:lapse:lease"), 1);
    CHECK_EQ_INT(store_append_held(a, "t:lapse:events", "x2", 2, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 2, 3));
    CHECK(seen.err[2] == NULL);
    CHECK_EQ_STR(redis_get("t:lapse:lease", buf, sizeof(buf)), "inst-A");
    CHECK_EQ_STR(redis_get("t:lapse:epoch", buf, sizeof(buf)), "2");

    /* A's own lease lapses (a stall longer than lease_ms): the next append finds no owner,
     * acquires again and goes through, once. */
    CHECK_EQ_INT(redis_int("DEL", "t:lapse:lease"), 1);
    CHECK_EQ_INT(store_append_held(a, "t:lapse:events", "x3", 3, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 3, 4));
    CHECK(seen.err[3] == NULL);
    CHECK_EQ_STR(redis_get("t:lapse:epoch", buf, sizeof(buf)), "3");
    CHECK_EQ_INT(redis_int("XLEN", "t:lapse:events"), 3);
    CHECK(exactly_once(0, 4));
    CHECK_EQ_INT(seen.bad, 0);
    store_free(a);
}

/* Someone moves the epoch while the lease still names A: A's append is fenced. */
TEST(fencing_on_epoch_change)
{
    char buf[80];
    seen_reset();
    struct store *a = open_instance("inst-A", 0);
    CHECK(a != NULL);
    if (!a)
        return;
    CHECK_EQ_INT(store_append_held(a, "t:epoch:events", "e0", 0, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 0, 1));
    CHECK(seen.err[0] == NULL);
    CHECK_EQ_INT(redis_int("INCR", "t:epoch:epoch"), 2);
    CHECK_EQ_INT(store_append_held(a, "t:epoch:events", "e1", 1, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 1, 2));
    CHECK(seen.err[1] == store_err_fenced);
    CHECK_EQ_INT(redis_int("XLEN", "t:epoch:events"), 1);
    CHECK_EQ_INT(seen.fenced, 0); /* nobody else owns it */
    /* The lease still names A: its next append retakes it under a new epoch. */
    CHECK_EQ_INT(store_append_held(a, "t:epoch:events", "e2", 2, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 2, 3));
    CHECK(seen.err[2] == NULL);
    CHECK_EQ_STR(redis_get("t:epoch:epoch", buf, sizeof(buf)), "3");
    CHECK_EQ_INT(redis_int("XLEN", "t:epoch:events"), 2);
    CHECK(exactly_once(0, 3));
    CHECK_EQ_INT(seen.bad, 0);
    store_free(a);
}

/* Renewal keeps a short lease alive without appends; an owner that died without releasing
 * (a lease nobody renews) is taken over once it lapses. */
TEST(renewal_and_lapse)
{
    char buf[80];
    seen_reset();
    struct store *a = open_instance("inst-A", 300);
    struct store *b = open_instance("inst-B", 300);
    CHECK(a && b);
    if (!a || !b) {
        store_free(a);
        store_free(b);
        return;
    }
    CHECK_EQ_INT(store_append_held(a, "t:renew:events", "r0", 0, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 0, 1));
    CHECK(pump(a, 700, have_results, 1, 2) == false); /* wait 0.7 s: over two lease times */
    CHECK_EQ_STR(redis_get("t:renew:lease", buf, sizeof(buf)), "inst-A");
    CHECK(redis_int("PTTL", "t:renew:lease") > 0);
    CHECK_EQ_INT(store_append_held(b, "t:renew:events", "x", 100, now_ms()), 0);
    CHECK(pump(b, 3000, have_results, 100, 101));
    CHECK(seen.err[100] == store_err_fenced);
    store_free(a);

    /* A ghost owner that wrote two entries and died without releasing. */
    redisReply *r = redis_query("SET t:ghost:lease ghost PX 300");
    if (r)
        freeReplyObject(r);
    CHECK_EQ_INT(redis_int("INCR", "t:ghost:epoch"), 1);
    CHECK_EQ_INT(redis_cmd("XADD t:ghost:events * e g0"), 0);
    CHECK_EQ_INT(redis_cmd("XADD t:ghost:events * e g1"), 0);
    store_track(b, "t:ghost:events", "");
    CHECK_EQ_INT(store_append_held(b, "t:ghost:events", "b0", 101, now_ms()), 0);
    CHECK(pump(b, 3000, have_results, 101, 102));
    CHECK(seen.err[101] == store_err_fenced);
    CHECK_EQ_STR(seen.fenced_owner, "ghost");
    sleep_ms(400);
    CHECK_EQ_INT(store_append_held(b, "t:ghost:events", "b1", 102, now_ms()), 0);
    CHECK(pump(b, 3000, have_results, 102, 103));
    CHECK(seen.err[102] == NULL);
    CHECK_EQ_STR(redis_get("t:ghost:lease", buf, sizeof(buf)), "inst-B");
    CHECK_EQ_INT(store_append_held(b, "t:ghost:events", "b2", 103, now_ms()), 0);
    CHECK(pump(b, 3000, have_results, 103, 104));
    CHECK(seen.err[103] == NULL);
    CHECK_EQ_STR(redis_get("t:ghost:epoch", buf, sizeof(buf)), "2");
    CHECK_EQ_INT(redis_int("XLEN", "t:ghost:events"), 4);
    CHECK(exactly_once(100, 104));
    CHECK_EQ_INT(seen.bad, 0);
    store_free(b);
}

/* SCRIPT FLUSH under a live connection: the appends come back NOSCRIPT (nothing ran), the store
 * loads the scripts again and resends them, each appended once. */
TEST(script_flush_resends)
{
    seen_reset();
    struct store *a = open_instance("inst-A", 0);
    CHECK(a != NULL);
    if (!a)
        return;
    CHECK_EQ_INT(store_append(a, "t:flush:events", "f0", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 0, 1));
    CHECK_EQ_INT(redis_cmd("SCRIPT FLUSH"), 0);
    for (int i = 1; i <= 20; i++)
        CHECK_EQ_INT(store_append(a, "t:flush:events", "f", NULL, NULL, (uint64_t)i, now_ms()), 0);
    CHECK(pump(a, 3000, have_results, 1, 21));
    CHECK(exactly_once(0, 21));
    for (int i = 0; i <= 20; i++)
        CHECK(seen.err[i] == NULL);
    CHECK_EQ_INT(seen.order_violations, 0);
    CHECK_EQ_INT(redis_int("XLEN", "t:flush:events"), 21);
    CHECK_EQ_INT(seen.downs, 0);
    store_free(a);
}

#define ARGV_OF(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- credentials ------------------------------------------------------------------------ */

/* requirepass: no password -> NOAUTH, a wrong one -> WRONGPASS, both at once and as -EACCES with
 * Redis's reason and never the password; the right one serves the thread and every synchronous
 * call, and again after Redis restarts with the same password. */
TEST(auth_with_password)
{
    struct store_config good = auth_config(NULL, "pw-Sesame 1"), none = auth_config(NULL, NULL),
                        bad = auth_config(NULL, "pw-wrong-guess");
    CHECK(auth_start(ARGV_OF("--requirepass", "pw-Sesame 1"), &good));
    char err[256] = "";
    int64_t t0 = now_ms();
    CHECK_EQ_INT(store_check(&none, 5000, err, sizeof(err)), -EACCES);
    CHECK(strstr(err, "NOAUTH") != NULL);
    CHECK_EQ_INT(store_check(&bad, 5000, err, sizeof(err)), -EACCES);
    CHECK(strstr(err, "WRONGPASS") != NULL);
    CHECK(strstr(err, "pw-wrong-guess") == NULL);
    CHECK(now_ms() - t0 < 2000); /* not retried until the 5 s deadline */
    char policy[32], aof[32], out[64];
    CHECK_EQ_INT(store_config_get(&good, policy, sizeof(policy), aof, sizeof(aof)), 0);
    CHECK_EQ_STR(policy, "noeviction");
    CHECK_EQ_STR(aof, "no");
    CHECK_EQ_INT(store_get_or_set(&good, "cojam:t:key", "v1", out, sizeof(out)), 0);
    CHECK_EQ_STR(out, "v1");
    CHECK(store_get_or_set(&bad, "cojam:t:key", "v2", out, sizeof(out)) < 0);

    struct store *s = NULL;
    seen_reset();
    CHECK_EQ_INT(store_new(&good, on_wake, NULL, &s), 0);
    if (!s)
        return;
    CHECK(pump(s, 3000, have_ups, 1, 0));
    CHECK_EQ_INT(store_append(s, "cojam:t:events", "a0", NULL, NULL, 0, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 0, 1));
    CHECK(seen.err[0] == NULL);

    auth_stop(); /* the idle thread finds out when it next sends */
    CHECK_EQ_INT(store_append(s, "cojam:t:events", "lost", NULL, NULL, 1, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 1, 2));
    CHECK(seen.err[1] == store_err_unavailable || seen.err[1] == store_err_timeout);
    CHECK(pump(s, 3000, have_downs, 1, 0));
    CHECK(auth_start(ARGV_OF("--requirepass", "pw-Sesame 1"), &good));
    CHECK(pump(s, 5000, have_ups, 2, 0));
    CHECK_EQ_INT(store_append(s, "cojam:t:events", "a2", NULL, NULL, 2, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 2, 3));
    CHECK(seen.err[2] == NULL);
    int n = 0;
    CHECK_EQ_INT(store_replay(&good, "cojam:t:events", "", on_entry_plain, &n), 0);
    CHECK_EQ_INT(n, 1); /* the restart lost a0 (no AOF here); a2 is read back with AUTH */
    CHECK_EQ_INT(seen.bad, 0);
    store_free(s);
    auth_stop();
}

/* An ACL user with exactly deploy/redis.conf's rights (the default user off): appends with SADD,
 * snapshots, reads, leases and every start-up call work; a wrong password or another user's
 * name is refused at once; a thread with a wrong password stays down and says so. */
TEST(auth_with_acl_user)
{
    struct store_config good = auth_config("cojamd", "acl-pw"), bad = auth_config("cojamd", "nope"),
                        other = auth_config("default", "acl-pw");
    CHECK(auth_start(
        ARGV_OF("--user", "default", "off", "--user", "cojamd", "on", ">acl-pw", COJAMD_RIGHTS),
        &good));
    char err[256] = "";
    CHECK_EQ_INT(store_check(&bad, 5000, err, sizeof(err)), -EACCES);
    CHECK(strstr(err, "WRONGPASS") != NULL && strstr(err, "cojamd") != NULL);
    CHECK_EQ_INT(store_check(&other, 5000, err, sizeof(err)), -EACCES);

    struct store *s = NULL;
    seen_reset();
    CHECK_EQ_INT(store_new(&good, on_wake, NULL, &s), 0);
    if (!s)
        return;
    CHECK(pump(s, 3000, have_ups, 1, 0));
    store_track(s, "cojam:jam:000001:events", "");
    CHECK_EQ_INT(
        store_append(s, "cojam:jam:000001:events", "x0", "cojam:jams", "000001", 0, now_ms()), 0);
    CHECK_EQ_INT(store_put(s, "cojam:jam:000001:events", "cojam:jam:000001:snapshot", "snap", 4, 1,
                           now_ms()),
                 0);
    CHECK_EQ_INT(store_read(s, "cojam:jam:000001:events", "0-0", true, 10, RANGE_CTX, now_ms()), 0);
    CHECK(pump(s, 3000, have_results, 0, 2));
    CHECK(pump(s, 3000, have_reads, 1, 0));
    CHECK(seen.err[0] == NULL && seen.err[1] == NULL);
    CHECK_EQ_INT(seen.range[0].n, 1);
    store_free(s); /* releases the lease: SCRIPT_RELEASE's DEL is among the rights */

    int mask = 0, n = 0;
    CHECK_EQ_INT(store_members(&good, "cojam:jams", on_member, &mask), 0);
    CHECK_EQ_INT(mask, 4); /* "000001": neither J1 nor J2 */
    CHECK_EQ_INT(store_replay(&good, "cojam:jam:000001:events", "", on_entry_plain, &n), 0);
    CHECK_EQ_INT(n, 1);
    unsigned char *snap = NULL;
    size_t len = 0;
    CHECK_EQ_INT(store_get(&good, "cojam:jam:000001:snapshot", &snap, &len), 0);
    CHECK(len == 4 && snap && memcmp(snap, "snap", 4) == 0);
    free(snap);
    char policy[32], aof[32];
    CHECK_EQ_INT(store_config_get(&good, policy, sizeof(policy), aof, sizeof(aof)), 0);
    CHECK_EQ_STR(policy, "noeviction");

    seen_reset();
    CHECK_EQ_INT(store_new(&bad, on_wake, NULL, &s), 0);
    if (s) {
        CHECK(pump(s, 2000, have_downs, 1, 0));
        CHECK_EQ_INT(seen.ups, 0);
        store_free(s);
    }
    auth_stop();
}

/* Two instances append to one stream with no lease between them (both succeed), and each one's
 * tail hands over every entry, its own and the other's, once and in stream order; a jam that
 * appears in the set of jams is followed from its first entry without being tracked. */
TEST(shared_appends_and_tails)
{
    static const char key[] = "t:tail:events", jam[] = "cojam:jam:000777:events";
    enum { N = 10 };
    char payload[32], ids[N][MSG_EVENT_ID_MAX + 1];
    seen_reset();
    struct store *a = open_instance("inst-TA", 0), *b = open_instance("inst-TB", 0);
    CHECK(a && b);
    if (!a || !b) {
        store_free(a);
        store_free(b);
        return;
    }
    store_track(a, key, "");
    store_track(b, key, "");
    store_tail_start(a);
    store_tail_start(b);
    for (int i = 0; i < N; i++) {
        snprintf(payload, sizeof payload, "p%d", i);
        CHECK_EQ_INT(store_append(i % 2 ? b : a, key, payload, NULL, NULL, (uint64_t)i, now_ms()),
                     0);
    }
    CHECK(pump(a, 3000, have_tailed, N, 0));
    CHECK_EQ_INT(seen.tailed, N);
    /* Each instance's append results come through its own pump, and its tail can hand an entry
     * over before the append's own reply: A's results (the even appends) before B is pumped. */
    CHECK(pump(a, 3000, have_every_other_result, 0, N));
    for (int i = 0; i < N; i++)
        snprintf(ids[i], sizeof ids[i], "%s", seen.tailed_id[i]);
    seen.tailed = 0;
    seen.last_ok_ctx = -1; /* B's appends are in order among themselves */
    CHECK(pump(b, 3000, have_tailed, N, 0));
    CHECK_EQ_INT(seen.tailed, N);
    CHECK(pump(b, 3000, have_every_other_result, 1, N)); /* B's appends: the odd ones */
    CHECK(have_results(0, N));
    for (int i = 0; i < N; i++) {
        CHECK(seen.err[i] == NULL);
        CHECK_EQ_STR(seen.tailed_id[i], ids[i]); /* the same order on both */
        int j = atoi(seen.tailed_payload[i] + 1);
        CHECK(j >= 0 && j < N && strcmp(seen.id[j], ids[i]) == 0); /* the id its append got */
    }
    CHECK_EQ_INT(redis_int("XLEN", key), N);
    CHECK_EQ_STR(redis_get("t:tail:lease", payload, sizeof payload), "(nil)"); /* no lease */

    seen.tailed = 0;
    CHECK_EQ_INT(store_append(a, jam, "created", KEYS_JAMS, "000777", 100, now_ms()), 0);
    CHECK(pump(b, 3000, have_tailed, 1, 0));
    CHECK_EQ_STR(seen.tailed_payload[0], "created");
    CHECK_EQ_INT(seen.order_violations, 0);
    CHECK_EQ_INT(seen.bad, 0);
    store_free(b);
    store_free(a);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(wake_fd, O_NONBLOCK | O_CLOEXEC) != 0 || !mkdtemp(redis_dir)) {
        perror("setup");
        return 2;
    }
    atexit(cleanup);
    redis_port = free_port();
    auth_port = free_port();
    if (!redis_start()) {
        printf("not ok - redis-server could not start\n");
        return 1;
    }
    RUN(check_and_config);
    RUN(timeout_is_required);
    RUN(down_at_start);
    RUN(append_order_and_sadd);
    RUN(linger_gathers_a_burst_into_one_batch);
    RUN(reads_page_and_follow_appends);
    RUN(confirm_is_a_barrier_for_one_entry);
    RUN(error_replies_keep_connection);
    RUN(queue_bound);
    RUN(replay_pages);
    RUN(replay_pages_of_any_size);
    RUN(get_or_set);
    RUN(expire_by_the_callers_clock);
    RUN(stop_times_out_then_settles_in_doubt);
    RUN(stop_mid_burst_accounts_for_every_entry);
    RUN(free_with_appends_in_flight);
    RUN(kill_and_restart);
    RUN(instance_ids);
    RUN(lease_and_epoch_keys);
    RUN(default_instance_id_is_stable);
    RUN(many_streams);
    RUN(put_and_get_binary);
    RUN(fencing_and_handover);
    RUN(fencing_when_lease_changes_under_owner);
    RUN(fencing_on_epoch_change);
    RUN(renewal_and_lapse);
    RUN(script_flush_resends);
    RUN(auth_with_password);
    RUN(auth_with_acl_user);
    RUN(shared_appends_and_tails);
    close(wake_fd[0]);
    close(wake_fd[1]);
    return test_done();
}
