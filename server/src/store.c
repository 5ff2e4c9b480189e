/* SPDX-License-Identifier: MIT
 * store.c - persistence on Redis streams; the only file that includes hiredis. One writer thread
 * owns a blocking connection, pipelines queued appends (at most STORE_WINDOW commands unanswered),
 * enforces its own timeouts, reconnects with jittered backoff and, after a reconnect, reports what
 * appends of unknown outcome left in their streams. It never interprets payloads.
 * Trade-off: one batch in flight at a time (simple, bounded memory) rather than a sliding window.
 */
#include "store.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "alloc.h"

const char store_err_timeout[] = "storage_timeout";
const char store_err_unavailable[] = "storage_unavailable";

/* Reconnect backoff: 50 ms doubling to 2 s, each delay jittered by +-50% so that several
 * processes restarting together do not reconnect in lockstep. */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
/* Page size for XRANGE reads: STACK-NOTES measured 2.6 MB for 100k paged events against 57 MB
 * for one big reply. */
#define PAGE_COUNT 1000
#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_QUEUE_MAX 65536
/* store_check retries this often while Redis refuses or is loading. */
#define CHECK_RETRY_MS 100

/* ======================================================================================== */
/* Data                                                                                     */
/* ======================================================================================== */

/* One queued append. */
struct req {
    struct req *next;
    char *key;         /* owned */
    char *payload;     /* owned */
    size_t len;
    char *sadd_set;    /* owned; NULL when no SADD */
    char *sadd_member; /* owned */
    uint64_t ctx;
    int64_t enq_ms;    /* the store's monotonic clock at store_append (the thread's expiry) */
    int64_t caller_ms; /* the caller's now_ms at store_append (store_expire's expiry) */
};

struct rnode {
    struct rnode *next;
    struct store_result r;
};

/* What the thread knows about one stream key. Keys are few (one per jam), never removed. */
struct key_state {
    struct key_state *next;
    char *key; /* owned */
    char last_id[STORE_ID_MAX + 1];
    bool has_id;   /* last_id is the newest entry known to be in the stream (or "0-0") */
    bool in_doubt; /* an append to it was sent and never answered */
};

enum link { LINK_STARTING, LINK_UP, LINK_DOWN };

/* Names a server-side client: CLIENT ID is unique only within one run of Redis. */
struct conn_name {
    long long id; /* 0: unknown */
    char run_id[48];
};

/* Results the thread builds without the lock, then publishes at once (see publish()). */
struct outbox {
    struct rnode *head, *tail;
    size_t done;   /* appends completed by these results: 'pending' drops by this much */
    int link;      /* -1, or the link state that becomes visible with these results */
};

struct store {
    /* Immutable after store_new. */
    char *host;      /* owned */
    char *unix_path; /* owned */
    int port;
    int timeout_ms;
    size_t queue_max;
    store_wake_cb *wake;
    void *wake_arg;
    pthread_t thread;

    pthread_mutex_t mu; /* guards the fields up to 'link' */
    pthread_cond_t cv;  /* the thread waits on it for requests or 'stopping' */
    struct req *wait_head, *wait_tail;
    size_t pending; /* appends accepted whose result is not yet published */
    struct rnode *res_head, *res_tail;
    bool stopping;
    atomic_int link; /* enum link; written under mu, read anywhere */

    /* Store thread only. */
    redisContext *c;
    struct conn_name cur;   /* the connection in use */
    struct conn_name doubt; /* the connection that left appends in doubt (id 0: none) */
    struct key_state **keys;
    size_t nbuckets, nkeys;
    uint64_t rng;
    int backoff_ms;
};

/* ======================================================================================== */
/* Small helpers                                                                            */
/* ======================================================================================== */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_to_tv(int64_t ms)
{
    if (ms < 1)
        ms = 1;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static char *dup_bytes(const char *p, size_t len)
{
    char *d = xmalloc(len + 1);
    memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

static void copy_str(char *dst, size_t size, const char *src, size_t len)
{
    if (size == 0)
        return;
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void req_free(struct req *r)
{
    free(r->key);
    free(r->payload);
    free(r->sadd_set);
    free(r->sadd_member);
    free(r);
}

static bool is_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

static bool is_loading(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "LOADING", 7) == 0;
}

/* Opens a blocking connection with connect, read and write timeouts of 'timeout_ms'.
 * Returns NULL with a reason in 'why'. */
static redisContext *open_conn(const char *host, int port, const char *unix_path, int timeout_ms,
                               char *why, size_t why_size)
{
    struct timeval tv = ms_to_tv(timeout_ms);
    redisContext *c = unix_path ? redisConnectUnixWithTimeout(unix_path, tv)
                                : redisConnectWithTimeout(host, port, tv);
    if (!c) {
        snprintf(why, why_size, "connect: out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(why, why_size, "connect: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(why, why_size, "set timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* PING on 'c'. Returns 0 on PONG, -EAGAIN while Redis loads its data set, -EIO otherwise. */
static int ping(redisContext *c, char *why, size_t why_size)
{
    redisReply *r = redisCommand(c, "PING");
    int rc = 0;
    if (!r) {
        snprintf(why, why_size, "PING: %s", c->errstr);
        return -EIO;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, why_size, "PING: %s", r->str);
        rc = is_loading(r) ? -EAGAIN : -EIO;
    }
    freeReplyObject(r);
    return rc;
}

/* Finds the value of field "e" in an XRANGE entry [id, [f1, v1, ...]]. An entry without it
 * yields "" (the caller's decoder decides what an empty event means). Returns false if the
 * entry is malformed. */
static bool parse_entry(const redisReply *e, const redisReply **id, const char **val, size_t *len)
{
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2 || !is_str(e->element[0]) ||
        e->element[0]->len > STORE_ID_MAX)
        return false;
    *id = e->element[0];
    *val = "";
    *len = 0;
    const redisReply *f = e->element[1];
    if (f && f->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < f->elements; i += 2) {
            const redisReply *k = f->element[i], *v = f->element[i + 1];
            if (is_str(k) && is_str(v) && k->len == 1 && k->str[0] == 'e') {
                *val = v->str;
                *len = v->len;
                break;
            }
        }
    }
    return true;
}

/* ======================================================================================== */
/* Result queue and outbox                                                                  */
/* ======================================================================================== */

static struct rnode *outbox_add(struct outbox *ob, enum store_result_kind kind)
{
    struct rnode *n = xcalloc(1, sizeof(*n));
    n->r.kind = kind;
    if (ob->tail)
        ob->tail->next = n;
    else
        ob->head = n;
    ob->tail = n;
    return n;
}

/* Completes 'r' with 'err' (NULL: success with 'id'); the key moves into the result. */
static void outbox_complete(struct outbox *ob, struct req *r, const char *err, const char *id,
                            size_t id_len)
{
    struct rnode *n = outbox_add(ob, STORE_APPENDED);
    n->r.ctx = r->ctx;
    n->r.err = err;
    if (!err)
        copy_str(n->r.id, sizeof(n->r.id), id, id_len);
    n->r.key = r->key;
    r->key = NULL;
    req_free(r);
    ob->done++;
}

static void outbox_link(struct outbox *ob, enum link link)
{
    outbox_add(ob, link == LINK_UP ? STORE_UP : STORE_DOWN);
    ob->link = (int)link;
}

static void outbox_free(struct outbox *ob)
{
    struct rnode *n = ob->head;
    while (n) {
        struct rnode *next = n->next;
        store_result_clear(&n->r);
        free(n);
        n = next;
    }
    ob->head = ob->tail = NULL;
}

/* Appends the outbox to the result queue. Caller holds mu. Returns whether anything moved. */
static bool publish_locked(struct store *s, struct outbox *ob)
{
    bool any = ob->head != NULL;
    if (ob->head) {
        if (s->res_tail)
            s->res_tail->next = ob->head;
        else
            s->res_head = ob->head;
        s->res_tail = ob->tail;
    }
    s->pending -= ob->done;
    if (ob->link >= 0)
        atomic_store(&s->link, ob->link);
    ob->head = ob->tail = NULL;
    ob->done = 0;
    ob->link = -1;
    return any;
}

/* Publishes under the lock, then wakes the loop outside it. */
static void publish(struct store *s, struct outbox *ob)
{
    if (!ob->head && ob->link < 0)
        return;
    pthread_mutex_lock(&s->mu);
    bool any = publish_locked(s, ob);
    pthread_mutex_unlock(&s->mu);
    if (any && s->wake)
        s->wake(s->wake_arg);
}

#define OUTBOX_INIT {NULL, NULL, 0, -1}

/* Fails the queued appends older than timeout_ms by the store's clock. Caller holds mu. */
static void expire_locked(struct store *s, struct outbox *ob, int64_t now)
{
    while (s->wait_head && now - s->wait_head->enq_ms >= s->timeout_ms) {
        struct req *r = s->wait_head;
        s->wait_head = r->next;
        if (!s->wait_head)
            s->wait_tail = NULL;
        outbox_complete(ob, r, store_err_timeout, NULL, 0);
    }
}

/* ======================================================================================== */
/* Per-key state (store thread only)                                                        */
/* ======================================================================================== */

static uint64_t hash_str(const char *k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    return h;
}

static struct key_state *key_get(struct store *s, const char *key)
{
    size_t b = hash_str(key) & (s->nbuckets - 1);
    for (struct key_state *k = s->keys[b]; k; k = k->next)
        if (strcmp(k->key, key) == 0)
            return k;
    if (s->nkeys >= s->nbuckets) { /* keep chains short: double at load factor 1 */
        size_t nb = s->nbuckets * 2;
        struct key_state **keys = xcalloc(nb, sizeof(*keys));
        for (size_t i = 0; i < s->nbuckets; i++) {
            struct key_state *k = s->keys[i];
            while (k) {
                struct key_state *next = k->next;
                size_t j = hash_str(k->key) & (nb - 1);
                k->next = keys[j];
                keys[j] = k;
                k = next;
            }
        }
        free(s->keys);
        s->keys = keys;
        s->nbuckets = nb;
        b = hash_str(key) & (nb - 1);
    }
    struct key_state *k = xcalloc(1, sizeof(*k));
    k->key = xstrdup(key);
    k->next = s->keys[b];
    s->keys[b] = k;
    s->nkeys++;
    return k;
}

static void keys_free(struct store *s)
{
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct key_state *k = s->keys[i];
        while (k) {
            struct key_state *next = k->next;
            free(k->key);
            free(k);
            k = next;
        }
    }
    free(s->keys);
}

static void key_set_id(struct key_state *k, const char *id, size_t len)
{
    copy_str(k->last_id, sizeof(k->last_id), id, len);
    k->has_id = true;
}

/* ======================================================================================== */
/* Store thread: connection, recovery, backoff                                              */
/* ======================================================================================== */

static void drop_conn(struct store *s)
{
    if (s->c) {
        redisFree(s->c);
        s->c = NULL;
    }
}

/* Waits for one reply on the thread's connection, at most until 'deadline' (store clock).
 * Returns NULL and sets *out, or the error constant for the request that waited. */
static const char *get_reply(struct store *s, int64_t deadline, redisReply **out)
{
    void *p = NULL;
    *out = NULL;
    if (redisGetReplyFromReader(s->c, &p) != REDIS_OK)
        return store_err_unavailable;
    if (!p) {
        int64_t left = deadline - mono_ms();
        if (left <= 0 || redisSetTimeout(s->c, ms_to_tv(left)) != REDIS_OK)
            return store_err_timeout;
        if (redisGetReply(s->c, &p) != REDIS_OK) {
            int e = errno;
            /* SO_RCVTIMEO/SO_SNDTIMEO expiry surfaces as REDIS_ERR_IO with EAGAIN. */
            if ((s->c->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK)) ||
                mono_ms() >= deadline)
                return store_err_timeout;
            return store_err_unavailable;
        }
    }
    *out = p;
    return NULL;
}

/* Learns the server-side name of the new connection (CLIENT ID, INFO server run_id). A server
 * that refuses these (renamed commands, ACLs) leaves the name unknown. Returns -1 if the
 * connection failed. */
static int name_conn(struct store *s)
{
    memset(&s->cur, 0, sizeof(s->cur));
    redisReply *r = redisCommand(s->c, "CLIENT ID");
    if (!r)
        return -1;
    long long id = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (!(r = redisCommand(s->c, "INFO server")))
        return -1;
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, "run_id:") : NULL;
    if (p && id > 0) {
        p += strlen("run_id:");
        size_t n = strcspn(p, "\r\n");
        if (n > 0 && n < sizeof(s->cur.run_id)) {
            copy_str(s->cur.run_id, sizeof(s->cur.run_id), p, n);
            s->cur.id = id;
        }
    }
    freeReplyObject(r);
    return 0;
}

/* Settles the outcome of the appends left in doubt: a Redis that was only slow may still hold
 * them unread on the old connection, and would apply them after we looked. CLIENT KILL (same
 * run of Redis only, as client ids restart from 1) discards whatever it has not executed yet.
 * Returns -1 if the connection failed. */
static int kill_doubt_conn(struct store *s)
{
    if (s->doubt.id > 0 && s->cur.id > 0 && strcmp(s->doubt.run_id, s->cur.run_id) == 0) {
        redisReply *r = redisCommand(s->c, "CLIENT KILL ID %lld", s->doubt.id);
        if (!r)
            return -1;
        freeReplyObject(r); /* 0 killed: it is gone already, which settles it just as well */
    }
    memset(&s->doubt, 0, sizeof(s->doubt));
    return 0;
}

/* Reads every in-doubt stream after its last known id and reports each entry as STORE_FOUND,
 * one page per publish so that a long outage does not pile up here. Returns 0, or -1 if the
 * connection failed (the keys stay in doubt; entries already reported are not repeated). */
static int recover(struct store *s)
{
    if (kill_doubt_conn(s) < 0)
        return -1;
    for (size_t i = 0; i < s->nbuckets; i++) {
        for (struct key_state *k = s->keys[i]; k; k = k->next) {
            while (k->in_doubt) {
                redisReply *r = redisCommand(s->c, "XRANGE %s (%s + COUNT %d", k->key,
                                             k->has_id ? k->last_id : "0-0", PAGE_COUNT);
                if (!r)
                    return -1;
                if (r->type != REDIS_REPLY_ARRAY) {
                    /* An error reply (for example the key is no longer a stream) will not go
                     * away by retrying: give up on this key rather than loop forever. */
                    freeReplyObject(r);
                    k->in_doubt = false;
                    break;
                }
                struct outbox ob = OUTBOX_INIT;
                for (size_t j = 0; j < r->elements; j++) {
                    const redisReply *id;
                    const char *val;
                    size_t len;
                    if (!parse_entry(r->element[j], &id, &val, &len))
                        continue;
                    struct rnode *n = outbox_add(&ob, STORE_FOUND);
                    n->r.key = xstrdup(k->key);
                    copy_str(n->r.id, sizeof(n->r.id), id->str, id->len);
                    n->r.payload = dup_bytes(val, len);
                    key_set_id(k, id->str, id->len);
                }
                if (r->elements < PAGE_COUNT)
                    k->in_doubt = false;
                freeReplyObject(r);
                publish(s, &ob);
            }
        }
    }
    return 0;
}

/* One connection attempt: connect, PING, recover in-doubt streams, then STORE_UP.
 * On failure posts STORE_DOWN (once per outage) and returns -1. */
static int reconnect(struct store *s)
{
    struct outbox ob = OUTBOX_INIT;
    char why[160];
    s->c = open_conn(s->host, s->port, s->unix_path, s->timeout_ms, why, sizeof(why));
    if (s->c && (ping(s->c, why, sizeof(why)) < 0 || name_conn(s) < 0 || recover(s) < 0))
        drop_conn(s);
    if (!s->c) {
        if (atomic_load(&s->link) != LINK_DOWN) {
            outbox_link(&ob, LINK_DOWN);
            publish(s, &ob);
        }
        return -1;
    }
    s->backoff_ms = 0;
    if (atomic_load(&s->link) != LINK_UP) {
        outbox_link(&ob, LINK_UP);
        publish(s, &ob);
    }
    return 0;
}

static uint64_t next_rand(struct store *s)
{
    uint64_t x = s->rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return x;
}

/* Sleeps the next backoff delay, failing queued appends as they pass their timeout.
 * Returns true if the store is stopping. */
static bool backoff(struct store *s)
{
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (s->backoff_ms > BACKOFF_MAX_MS)
        s->backoff_ms = BACKOFF_MAX_MS;
    int64_t delay = s->backoff_ms / 2 + (int64_t)(next_rand(s) % (uint64_t)s->backoff_ms);
    int64_t until = mono_ms() + delay;
    struct outbox ob = OUTBOX_INIT;
    bool stop;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        int64_t now = mono_ms();
        expire_locked(s, &ob, now);
        if (s->stopping || now >= until)
            break;
        int64_t wake_at = until;
        if (s->wait_head && s->wait_head->enq_ms + s->timeout_ms < wake_at)
            wake_at = s->wait_head->enq_ms + s->timeout_ms;
        struct timespec ts = {.tv_sec = (time_t)(wake_at / 1000),
                              .tv_nsec = (long)(wake_at % 1000) * 1000000};
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    stop = s->stopping;
    bool any = publish_locked(s, &ob);
    pthread_mutex_unlock(&s->mu);
    if (any && s->wake)
        s->wake(s->wake_arg);
    return stop;
}

/* ======================================================================================== */
/* Store thread: batches                                                                    */
/* ======================================================================================== */

/* True if the idle connection was closed or reset by the peer (Redis restarted while we had
 * nothing to send). Nothing is pending on it, so any readable event means EOF or an error. */
static bool is_conn_dead(const redisContext *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

/* Waits for queued appends, then takes up to STORE_WINDOW commands' worth, failing any that
 * already waited longer than timeout_ms. Sets *batch (possibly NULL). Returns true on stop. */
static bool take_batch(struct store *s, struct req **batch)
{
    struct outbox ob = OUTBOX_INIT;
    struct req *head = NULL, *tail = NULL;
    int cmds = 0;

    pthread_mutex_lock(&s->mu);
    while (!s->stopping && !s->wait_head)
        pthread_cond_wait(&s->cv, &s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return true;
    }
    expire_locked(s, &ob, mono_ms());
    while (s->wait_head) {
        struct req *r = s->wait_head;
        int need = r->sadd_set ? 2 : 1;
        if (cmds + need > STORE_WINDOW)
            break;
        cmds += need;
        s->wait_head = r->next;
        if (!s->wait_head)
            s->wait_tail = NULL;
        r->next = NULL;
        if (tail)
            tail->next = r;
        else
            head = r;
        tail = r;
    }
    bool any = publish_locked(s, &ob);
    pthread_mutex_unlock(&s->mu);
    if (any && s->wake)
        s->wake(s->wake_arg);
    *batch = head;
    return false;
}

/* Returns an unsent batch to the front of the queue, keeping call order. */
static void put_back(struct store *s, struct req *batch)
{
    if (!batch)
        return;
    struct req *last = batch;
    while (last->next)
        last = last->next;
    pthread_mutex_lock(&s->mu);
    last->next = s->wait_head;
    s->wait_head = batch;
    if (!s->wait_tail)
        s->wait_tail = last;
    pthread_mutex_unlock(&s->mu);
}

/* Learns the newest id of each stream this store has not written yet (XREVRANGE key + - COUNT 1,
 * pipelined), so that an unanswered first append to it can be looked for after a reconnect.
 * Nothing of the batch is sent yet. Returns 0, or -1 if the connection failed. */
static int fetch_baselines(struct store *s, struct req *batch)
{
    struct key_state *ks[STORE_WINDOW];
    size_t n = 0;
    for (struct req *r = batch; r; r = r->next) {
        struct key_state *k = key_get(s, r->key);
        if (k->has_id)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = ks[i] == k;
        if (!seen) {
            ks[n++] = k;
            redisAppendCommand(s->c, "XREVRANGE %s + - COUNT 1", k->key);
        }
    }
    int64_t deadline = mono_ms() + s->timeout_ms;
    for (size_t i = 0; i < n; i++) {
        redisReply *r;
        if (get_reply(s, deadline, &r))
            return -1;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 0) {
            key_set_id(ks[i], "0-0", 3);
        } else if (r->type == REDIS_REPLY_ARRAY) {
            const redisReply *id;
            const char *val;
            size_t len;
            if (parse_entry(r->element[0], &id, &val, &len))
                key_set_id(ks[i], id->str, id->len);
        }
        /* An error reply (say WRONGTYPE) leaves has_id false: run_batch fails those appends. */
        freeReplyObject(r);
    }
    return 0;
}

/* Sends one batch as a pipeline and completes every request in it. On a connection failure
 * or reply timeout the unanswered requests fail, their keys become in doubt, the connection
 * is dropped and STORE_DOWN follows their results. */
static void run_batch(struct store *s, struct req *batch)
{
    struct outbox ob = OUTBOX_INIT;

    if (is_conn_dead(s->c) || fetch_baselines(s, batch) < 0) {
        /* Nothing of the batch was sent: it waits for the next connection. */
        put_back(s, batch);
        drop_conn(s);
        return;
    }

    struct req *send = NULL, **tailp = &send;
    for (struct req *r = batch, *next; r; r = next) {
        next = r->next;
        r->next = NULL;
        if (!key_get(s, r->key)->has_id) {
            outbox_complete(&ob, r, store_err_unavailable, NULL, 0);
            continue;
        }
        /* SADD goes first: once the XADD has been applied, the set member is there too, so a
         * stream entry found after a reconnect is never missing from the set. */
        if (r->sadd_set)
            redisAppendCommand(s->c, "SADD %s %s", r->sadd_set, r->sadd_member);
        redisAppendCommand(s->c, "XADD %s * e %b", r->key, r->payload, r->len);
        *tailp = r;
        tailp = &r->next;
    }

    int64_t deadline = mono_ms() + s->timeout_ms;
    for (struct req *r = send, *next; r; r = next) {
        next = r->next;
        redisReply *sadd = NULL, *xadd = NULL;
        const char *err = NULL;
        if (r->sadd_set)
            err = get_reply(s, deadline, &sadd);
        if (!err)
            err = get_reply(s, deadline, &xadd);
        if (err) {
            if (sadd)
                freeReplyObject(sadd);
            for (struct req *q = r, *qn; q; q = qn) {
                qn = q->next;
                key_get(s, q->key)->in_doubt = true;
                outbox_complete(&ob, q, err, NULL, 0);
            }
            s->doubt = s->cur;
            drop_conn(s);
            outbox_link(&ob, LINK_DOWN);
            break;
        }
        if (xadd->type == REDIS_REPLY_STRING && xadd->len <= STORE_ID_MAX) {
            key_set_id(key_get(s, r->key), xadd->str, xadd->len);
            /* A refused SADD with an applied XADD: report the failure (the set decides
             * whether the jam exists after a restart). */
            bool ok = !sadd || sadd->type != REDIS_REPLY_ERROR;
            outbox_complete(&ob, r, ok ? NULL : store_err_unavailable, xadd->str, xadd->len);
        } else {
            /* -LOADING, -MISCONF, -OOM, WRONGTYPE...: the entry was not added. */
            outbox_complete(&ob, r, store_err_unavailable, NULL, 0);
        }
        if (sadd)
            freeReplyObject(sadd);
        freeReplyObject(xadd);
    }
    publish(s, &ob);
}

static void *run(void *arg)
{
    struct store *s = arg;
    sigset_t set;

    /* hiredis writes with write(2): a peer reset must come back as EPIPE, not kill the
     * process. The signal stays pending on this thread, which never unblocks it. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    for (;;) {
        if (!s->c && reconnect(s) < 0) {
            if (backoff(s))
                break;
            continue;
        }
        struct req *batch = NULL;
        if (take_batch(s, &batch))
            break;
        if (batch)
            run_batch(s, batch);
    }
    drop_conn(s);
    return NULL;
}

/* ======================================================================================== */
/* Public API: loop thread                                                                  */
/* ======================================================================================== */

int store_new(const struct store_config *cfg, store_wake_cb *wake, void *wake_arg,
              struct store **out)
{
    pthread_condattr_t ca;
    int err;

    *out = NULL;
    if (!cfg || (!cfg->unix_path && !cfg->host))
        return -EINVAL;
    struct store *s = xcalloc(1, sizeof(*s));
    s->host = cfg->host ? xstrdup(cfg->host) : NULL;
    s->unix_path = cfg->unix_path ? xstrdup(cfg->unix_path) : NULL;
    s->port = cfg->port;
    s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    s->queue_max = cfg->queue_max > 0 ? cfg->queue_max : DEFAULT_QUEUE_MAX;
    s->wake = wake;
    s->wake_arg = wake_arg;
    s->nbuckets = 16;
    s->keys = xcalloc(s->nbuckets, sizeof(*s->keys));
    s->rng = (uint64_t)mono_ms() * 2654435761u ^ (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15ULL;
    if (!s->rng)
        s->rng = 1;
    atomic_init(&s->link, LINK_STARTING);

    if ((err = pthread_mutex_init(&s->mu, NULL)) != 0)
        goto fail_mutex;
    if ((err = pthread_condattr_init(&ca)) != 0)
        goto fail_condattr;
    if ((err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
        (err = pthread_cond_init(&s->cv, &ca)) != 0)
        goto fail_cond;
    pthread_condattr_destroy(&ca);
    if ((err = pthread_create(&s->thread, NULL, run, s)) != 0)
        goto fail_thread;
    *out = s;
    return 0;

fail_thread:
    pthread_cond_destroy(&s->cv);
    goto fail_condattr;
fail_cond:
    pthread_condattr_destroy(&ca);
fail_condattr:
    pthread_mutex_destroy(&s->mu);
fail_mutex:
    keys_free(s);
    free(s->host);
    free(s->unix_path);
    free(s);
    return -err;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);

    for (struct req *r = s->wait_head, *next; r; r = next) {
        next = r->next;
        req_free(r);
    }
    struct outbox ob = {s->res_head, s->res_tail, 0, -1};
    outbox_free(&ob);
    keys_free(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->host);
    free(s->unix_path);
    free(s);
}

int store_append(struct store *s, const char *key, const char *payload, const char *sadd_set,
                 const char *sadd_member, uint64_t ctx, int64_t now_ms)
{
    if (!s || !key || !payload || (sadd_set && !sadd_member))
        return -EINVAL;
    /* Cheap refusals first, so an overloaded or disconnected store costs no allocation. */
    if (atomic_load(&s->link) == LINK_DOWN)
        return -ENOTCONN;

    struct req *r = xcalloc(1, sizeof(*r));
    r->key = xstrdup(key);
    r->len = strlen(payload);
    r->payload = dup_bytes(payload, r->len);
    if (sadd_set) {
        r->sadd_set = xstrdup(sadd_set);
        r->sadd_member = xstrdup(sadd_member);
    }
    r->ctx = ctx;
    r->enq_ms = mono_ms();
    r->caller_ms = now_ms;

    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (atomic_load(&s->link) == LINK_DOWN || s->stopping) {
        rc = -ENOTCONN;
    } else if (s->pending >= s->queue_max) {
        rc = -ENOBUFS;
    } else {
        if (s->wait_tail)
            s->wait_tail->next = r;
        else
            s->wait_head = r;
        s->wait_tail = r;
        s->pending++;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        req_free(r);
    return rc;
}

size_t store_poll(struct store *s, struct store_result *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    while (n < max && s->res_head) {
        struct rnode *node = s->res_head;
        s->res_head = node->next;
        if (!s->res_head)
            s->res_tail = NULL;
        out[n++] = node->r;
        free(node);
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

void store_result_clear(struct store_result *r)
{
    if (!r)
        return;
    free(r->key);
    free(r->payload);
    r->key = NULL;
    r->payload = NULL;
}

void store_expire(struct store *s, int64_t now_ms)
{
    struct outbox ob = OUTBOX_INIT;
    pthread_mutex_lock(&s->mu);
    /* Queued requests are in call order, so the expired ones form a prefix. */
    while (s->wait_head && now_ms - s->wait_head->caller_ms >= s->timeout_ms) {
        struct req *r = s->wait_head;
        s->wait_head = r->next;
        if (!s->wait_head)
            s->wait_tail = NULL;
        outbox_complete(&ob, r, store_err_timeout, NULL, 0);
    }
    bool any = publish_locked(s, &ob);
    pthread_mutex_unlock(&s->mu);
    if (any && s->wake)
        s->wake(s->wake_arg);
}

bool store_is_up(const struct store *s)
{
    return atomic_load(&s->link) == LINK_UP;
}

/* ======================================================================================== */
/* Public API: synchronous start-up calls                                                   */
/* ======================================================================================== */

static redisContext *open_sync(const struct store_config *cfg, char *why, size_t why_size)
{
    if (!cfg->unix_path && !cfg->host) {
        snprintf(why, why_size, "no host or unix_path");
        return NULL;
    }
    return open_conn(cfg->host, cfg->port, cfg->unix_path,
                     cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS, why, why_size);
}

int store_check(const struct store_config *cfg, int wait_ms, char *err, size_t err_size)
{
    char why[160] = "";
    int64_t deadline = mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    for (;;) {
        redisContext *c = open_sync(cfg, why, sizeof(why));
        int rc = c ? ping(c, why, sizeof(why)) : -EIO;
        if (c)
            redisFree(c);
        if (rc == 0) {
            if (err && err_size)
                err[0] = '\0';
            return 0;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        sleep_ms(left < CHECK_RETRY_MS ? left : CHECK_RETRY_MS);
    }
    if (err && err_size)
        snprintf(err, err_size, "%s", why);
    return -ETIMEDOUT;
}

/* CONFIG GET 'name' into 'out' ("" if unknown). */
static int config_get1(redisContext *c, const char *name, char *out, size_t out_size)
{
    redisReply *r = redisCommand(c, "CONFIG GET %s", name);
    if (!r)
        return -EIO;
    if (out_size)
        out[0] = '\0';
    int rc = 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        if (r->elements >= 2 && is_str(r->element[1]))
            copy_str(out, out_size, r->element[1]->str, r->element[1]->len);
    } else {
        rc = -EPROTO;
    }
    freeReplyObject(r);
    return rc;
}

int store_config_get(const struct store_config *cfg, char *policy, size_t policy_size, char *aof,
                     size_t aof_size)
{
    char why[160];
    redisContext *c = open_sync(cfg, why, sizeof(why));
    if (!c)
        return -ENOTCONN;
    int rc = config_get1(c, "maxmemory-policy", policy, policy_size);
    if (rc == 0)
        rc = config_get1(c, "appendonly", aof, aof_size);
    redisFree(c);
    return rc;
}

int store_members(const struct store_config *cfg, const char *set, store_member_cb *cb, void *arg)
{
    char why[160];
    redisContext *c = open_sync(cfg, why, sizeof(why));
    if (!c)
        return -ENOTCONN;
    redisReply *r = redisCommand(c, "SMEMBERS %s", set);
    int rc = 0;
    if (!r) {
        rc = -EIO;
    } else if (r->type != REDIS_REPLY_ARRAY) {
        rc = -EPROTO;
    } else {
        for (size_t i = 0; i < r->elements && rc == 0; i++)
            if (is_str(r->element[i]))
                rc = cb(r->element[i]->str, arg);
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

int store_replay(const struct store_config *cfg, const char *key, const char *after_id,
                 store_entry_cb *cb, void *arg)
{
    char why[160];
    char start[STORE_ID_MAX + 2] = "-";
    redisContext *c = open_sync(cfg, why, sizeof(why));
    if (!c)
        return -ENOTCONN;
    if (after_id && after_id[0]) {
        if (strlen(after_id) > STORE_ID_MAX) {
            redisFree(c);
            return -EINVAL;
        }
        snprintf(start, sizeof(start), "(%s", after_id);
    }
    int rc = 0;
    for (;;) {
        redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT %d", key, start, PAGE_COUNT);
        if (!r) {
            rc = -EIO;
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            rc = -EPROTO;
            break;
        }
        size_t n = r->elements;
        for (size_t i = 0; i < n && rc == 0; i++) {
            const redisReply *id;
            const char *val;
            size_t len;
            if (!parse_entry(r->element[i], &id, &val, &len)) {
                rc = -EPROTO;
                break;
            }
            rc = cb(id->str, val, len, arg);
            snprintf(start, sizeof(start), "(%s", id->str);
        }
        freeReplyObject(r);
        if (rc != 0 || n < PAGE_COUNT)
            break;
    }
    redisFree(c);
    return rc;
}

/* GET 'key' into 'out'. Returns 1 if found, 0 if absent, <0 on error. */
static int get_str(redisContext *c, const char *key, char *out, size_t out_size)
{
    redisReply *r = redisCommand(c, "GET %s", key);
    int rc;
    if (!r)
        return -EIO;
    if (r->type == REDIS_REPLY_NIL) {
        rc = 0;
    } else if (r->type != REDIS_REPLY_STRING) {
        rc = -EPROTO;
    } else if (r->len >= out_size) {
        rc = -ENOSPC;
    } else {
        copy_str(out, out_size, r->str, r->len);
        rc = 1;
    }
    freeReplyObject(r);
    return rc;
}

int store_get_or_set(const struct store_config *cfg, const char *key, const char *value_if_absent,
                     char *out, size_t out_size)
{
    char why[160];
    if (!out || out_size == 0)
        return -EINVAL;
    redisContext *c = open_sync(cfg, why, sizeof(why));
    if (!c)
        return -ENOTCONN;
    int rc = get_str(c, key, out, out_size);
    if (rc == 0) {
        redisReply *r = redisCommand(c, "SET %s %s NX", key, value_if_absent);
        if (!r) {
            rc = -EIO;
        } else {
            rc = r->type == REDIS_REPLY_ERROR ? -EPROTO : 0;
            freeReplyObject(r);
        }
        /* Another process may have won the NX race: read back whichever value is stored. */
        if (rc == 0)
            rc = get_str(c, key, out, out_size);
        if (rc == 0)
            rc = -EPROTO; /* set then vanished: someone deleted it under us */
    }
    redisFree(c);
    return rc < 0 ? rc : 0;
}
