/* SPDX-License-Identifier: MIT
 * test_replay.c - the recovery thread against a private redis-server on a free loopback port
 * (started as test_store.c does): streams written with hiredis, then replay_start/replay_poll.
 * Items come in stream order per jam, a jam's items are contiguous and end with REPLAY_JAM_DONE, a
 * snapshot comes first and only its tail follows, undecodable entries are REPLAY_BAD, and
 * replay_free stops a thread blocked on a full queue. Every wait has a deadline.
 */
#include "replay.h"
#include "test.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "capture.h"
#include "codec.h"
#include "keys.h"
#include "log.h"
#include "snapshot.h"

static pid_t redis_pid = -1;
static int redis_port;
static char redis_dir[] = "/tmp/test_replay.XXXXXX";
static redisContext *rc;

/* ---- a private redis-server -------------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        perror("free_port");
        exit(2);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static struct store_config store_cfg(void)
{
    struct store_config c = {.host = "127.0.0.1", .port = redis_port, .timeout_ms = 2000};
    return c;
}

static bool redis_start(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
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
    struct store_config cfg = store_cfg();
    char err[160];
    if (store_check(&cfg, 5000, err, sizeof err) != 0) {
        fprintf(stderr, "redis-server did not start: %s\n", err);
        return false;
    }
    struct timeval tv = {2, 0};
    rc = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    return rc && !rc->err;
}

static void cleanup(void)
{
    if (rc)
        redisFree(rc);
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", redis_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", redis_dir);
}

static void cmd_ok(redisReply *r)
{
    CHECK(r && r->type != REDIS_REPLY_ERROR);
    if (r)
        freeReplyObject(r);
}

static void xadd(const char *code, const char *id, const char *payload)
{
    char key[KEYS_MAX];
    keys_stream(key, code);
    cmd_ok(redisCommand(rc, "XADD %s %s e %s", key, id, payload));
}

static void xadd_event(const char *code, const char *id, struct event *e)
{
    char *s = codec_event_encode(e);
    xadd(code, id, s);
    free(s);
}

/* ---- events ------------------------------------------------------------------------------ */

static struct event created(const char *code)
{
    struct event e;
    memset(&e, 0, sizeof e);
    e.type = EV_JAM_CREATED;
    e.at_ms = 1000;
    snprintf(e.jam.code, sizeof e.jam.code, "%s", code);
    e.jam.title = "T";
    e.jam.question = "Q";
    e.jam.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 0};
    e.jam.n_agenda = 1;
    e.jam.settings = (struct jam_settings){true, 5, 2, 500, false, false};
    return e;
}

static struct event joined(int64_t pid)
{
    struct event e;
    memset(&e, 0, sizeof e);
    e.type = EV_JOINED;
    e.at_ms = 2000 + pid;
    e.pid = pid;
    e.role = ROLE_CITIZEN;
    e.anonymous = true;
    return e;
}

/* ---- what the poll handed over ----------------------------------------------------------- */

static atomic_int wakes;
static void on_wake(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wakes, 1);
}

#define MAX_SEEN 64
static struct {
    size_t n;
    enum replay_kind kind[MAX_SEEN];
    char code[MAX_SEEN][MSG_CODE_LEN + 1];
    char id[MAX_SEEN][MSG_EVENT_ID_MAX + 1];
    enum event_type ev[MAX_SEEN];
    int64_t pid[MAX_SEEN];
    char room_last[MAX_SEEN][MSG_EVENT_ID_MAX + 1];
    size_t rooms_taken;
} seen;

static void on_item(struct replay_item *it, void *arg)
{
    (void)arg;
    if (seen.n == MAX_SEEN)
        return;
    size_t i = seen.n++;
    seen.kind[i] = it->kind;
    snprintf(seen.code[i], sizeof seen.code[i], "%s", it->code);
    snprintf(seen.id[i], sizeof seen.id[i], "%s", it->id);
    seen.ev[i] = it->ev.type;
    seen.pid[i] = it->ev.pid;
    if (it->kind == REPLAY_ROOM && it->room) {
        snprintf(seen.room_last[i], sizeof seen.room_last[i], "%s", it->room->last_id);
        if (i % 2 == 0) { /* take ownership of some, leave the others to replay_poll */
            room_free(it->room);
            it->room = NULL;
            seen.rooms_taken++;
        }
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll like the loop, a few items at a time, until everything is handed over or 20 s passed. */
static bool replay_all(struct replay *rp)
{
    int64_t deadline = now_ms() + 20000;
    while (now_ms() < deadline) {
        if (replay_poll(rp, 3, on_item, NULL) == REPLAY_FINISHED)
            return true;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* The items of jam 'code' in the order seen: their first index, or -1. */
static int first_of(const char *code)
{
    for (size_t i = 0; i < seen.n; i++)
        if (strcmp(seen.code[i], code) == 0)
            return (int)i;
    return -1;
}

static const struct room_limits limits = {1000, 1000};

TEST(streams_in_order_with_snapshot_and_bad_entries)
{
    memset(&seen, 0, sizeof seen);
    cmd_ok(redisCommand(rc, "FLUSHALL"));
    cmd_ok(redisCommand(rc, "SADD %s 111111 222222 333333 444444 junk 12345", KEYS_JAMS));

    /* 111111: the whole stream, one bad entry in the middle, ids in numeric (not text) order. */
    struct event e = created("111111");
    xadd_event("111111", "9-1", &e);
    e = joined(1);
    xadd_event("111111", "10-1", &e);
    xadd("111111", "10-2", "{not json");
    e = joined(2);
    xadd_event("111111", "100-0", &e);

    /* 222222: a snapshot up to 2-0, then its tail. */
    e = created("222222");
    xadd_event("222222", "1-0", &e);
    struct room *r = room_new(&e.jam, &limits);
    CHECK(room_apply(r, "1-0", &e, NULL) == NULL);
    e = joined(1);
    xadd_event("222222", "2-0", &e);
    CHECK(room_apply(r, "2-0", &e, NULL) == NULL);
    event_clear(&e);
    e = joined(2);
    xadd_event("222222", "3-0", &e);
    e = joined(3);
    xadd_event("222222", "4-0", &e);
    unsigned char *snap;
    size_t snap_len;
    snapshot_encode(r, false, &snap, &snap_len);
    room_free(r);
    char key[KEYS_MAX];
    keys_snapshot(key, "222222");
    cmd_ok(redisCommand(rc, "SET %s %b", key, snap, snap_len));
    free(snap);

    /* 333333: an unreadable snapshot: the whole stream instead. */
    e = created("333333");
    xadd_event("333333", "5-0", &e);
    keys_snapshot(key, "333333");
    cmd_ok(redisCommand(rc, "SET %s garbage", key));

    /* 444444: listed, no stream. */

    struct store_config sc = store_cfg();
    struct replay *rp = NULL;
    struct capture cap;
    capture_begin(&cap, 2);
    CHECK_EQ_INT(replay_start(&sc, &limits, on_wake, NULL, &rp), 0);
    bool done = rp && replay_all(rp);
    char *log = capture_end(&cap);
    CHECK(done);
    CHECK(atomic_load(&wakes) > 0);
    CHECK(strstr(log, "jam 111111: event 10-2 unreadable") != NULL);
    CHECK(strstr(log, "jam 333333: snapshot unreadable") != NULL);
    free(log);

    /* 5 + 4 + 2 + 1 items, nothing of "junk" or "12345". */
    CHECK_EQ_INT(seen.n, 12);
    int a = first_of("111111"), b = first_of("222222"), c = first_of("333333"),
        d = first_of("444444");
    CHECK(a >= 0 && b >= 0 && c >= 0 && d >= 0);
    if (a >= 0) {
        static const char *const ids[] = {"9-1", "10-1", "10-2", "100-0", ""};
        static const enum replay_kind kinds[] = {REPLAY_EVENT, REPLAY_EVENT, REPLAY_BAD,
                                                 REPLAY_EVENT, REPLAY_JAM_DONE};
        for (int i = 0; i < 5 && a + i < (int)seen.n; i++) {
            CHECK_EQ_STR(seen.code[a + i], "111111");
            CHECK_EQ_INT(seen.kind[a + i], kinds[i]);
            if (kinds[i] != REPLAY_JAM_DONE)
                CHECK_EQ_STR(seen.id[a + i], ids[i]);
        }
        CHECK_EQ_INT(seen.ev[a], EV_JAM_CREATED);
        CHECK_EQ_INT(seen.pid[a + 3], 2);
        CHECK_EQ_INT(seen.ev[a + 2], EV_NONE); /* a bad entry carries no event */
    }
    if (b >= 0 && b + 3 < (int)seen.n) {
        CHECK_EQ_INT(seen.kind[b], REPLAY_ROOM);
        CHECK_EQ_STR(seen.room_last[b], "2-0");
        CHECK_EQ_INT(seen.kind[b + 1], REPLAY_EVENT);
        CHECK_EQ_STR(seen.id[b + 1], "3-0");
        CHECK_EQ_INT(seen.pid[b + 1], 2);
        CHECK_EQ_STR(seen.id[b + 2], "4-0");
        CHECK_EQ_INT(seen.kind[b + 3], REPLAY_JAM_DONE);
        CHECK_EQ_STR(seen.code[b + 3], "222222");
    }
    if (c >= 0 && c + 1 < (int)seen.n) {
        CHECK_EQ_INT(seen.kind[c], REPLAY_EVENT);
        CHECK_EQ_STR(seen.id[c], "5-0");
        CHECK_EQ_INT(seen.kind[c + 1], REPLAY_JAM_DONE);
    }
    if (d >= 0)
        CHECK_EQ_INT(seen.kind[d], REPLAY_JAM_DONE);
    size_t events, jams, snapshots;
    if (rp) {
        replay_stats(rp, &events, &jams, &snapshots);
        CHECK_EQ_INT(events, 7);
        CHECK_EQ_INT(jams, 4);
        CHECK_EQ_INT(snapshots, 1);
    }
    replay_free(rp);
}

TEST(no_jams)
{
    memset(&seen, 0, sizeof seen);
    cmd_ok(redisCommand(rc, "FLUSHALL"));
    struct store_config sc = store_cfg();
    struct replay *rp = NULL;
    CHECK_EQ_INT(replay_start(&sc, &limits, on_wake, NULL, &rp), 0);
    CHECK(rp && replay_all(rp));
    CHECK_EQ_INT(seen.n, 0);
    replay_free(rp);
    replay_free(NULL);
}

/* More entries than the queue holds and nobody polling: the thread waits on the full queue, and
 * replay_free must stop it, join it and free what is queued (ASan checks the last part). */
TEST(free_stops_a_thread_on_a_full_queue)
{
    cmd_ok(redisCommand(rc, "FLUSHALL"));
    cmd_ok(redisCommand(rc, "SADD %s 555555", KEYS_JAMS));
    struct event e = joined(1);
    char *payload = codec_event_encode(&e);
    char key[KEYS_MAX];
    keys_stream(key, "555555");
    enum { N = 10000 }; /* over REPLAY_QUEUE (8192) */
    for (int i = 0; i < N; i++)
        redisAppendCommand(rc, "XADD %s %d-0 e %s", key, i + 1, payload);
    int errors = 0;
    for (int i = 0; i < N; i++) {
        redisReply *r;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK || !r || r->type == REDIS_REPLY_ERROR)
            errors++;
        if (r)
            freeReplyObject(r);
    }
    free(payload);
    CHECK_EQ_INT(errors, 0);
    struct store_config sc = store_cfg();
    struct replay *rp = NULL;
    atomic_store(&wakes, 0);
    CHECK_EQ_INT(replay_start(&sc, &limits, on_wake, NULL, &rp), 0);
    /* The first batch wakes the loop; give the thread time to fill the queue. */
    int64_t deadline = now_ms() + 10000;
    while (atomic_load(&wakes) == 0 && now_ms() < deadline) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    CHECK(atomic_load(&wakes) > 0);
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    int64_t t0 = now_ms();
    replay_free(rp); /* returns: a hang here is the failure (alarm in main) */
    CHECK(now_ms() - t0 < 10000);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(120); /* a hung thread fails the suite instead of blocking make test */
    if (!mkdtemp(redis_dir)) {
        perror("mkdtemp");
        return 2;
    }
    redis_port = free_port();
    if (!redis_start()) {
        cleanup();
        printf("# 0 passed, 1 failed\n");
        return 1;
    }
    RUN(streams_in_order_with_snapshot_and_bad_entries);
    RUN(no_jams);
    RUN(free_stops_a_thread_on_a_full_queue);
    cleanup();
    return test_done();
}
