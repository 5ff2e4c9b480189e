/* SPDX-License-Identifier: MIT
 * store.c - persistence on Redis streams; the only file that includes hiredis. One writer thread
 * owns a blocking connection, pipelines queued appends (at most STORE_WINDOW commands unanswered),
 * enforces its own timeouts, reconnects with jittered backoff and, after a reconnect, reports what
 * appends of unknown outcome left in their streams. It never interprets payloads.
 * Trade-off: one batch in flight at a time (simple, bounded memory) rather than a sliding window.
 *
 * Appends are SCRIPT_XADD (SADD + XADD in one atomic step), in no one's name: every process
 * writes every jam, and the tail thread (its own connection, XREAD BLOCK over every live stream)
 * hands the loop every entry in stream order. Housekeeping is fenced: an append made with
 * store_append_held is SCRIPT_APPEND, which checks the lease and the fencing epoch and does XADD +
 * PEXPIRE in the same atomic step. Safety rests on that check alone; the TTL only decides when
 * another instance may take over (liveness). For fenced requests, per stream the thread goes: not
 * held -> acquire (SCRIPT_ACQUIRE: SET NX PX + INCR epoch, or retake a lease that still names this
 * instance with a new epoch) -> send appends. A "FENCED" reply or a failed renewal puts it back to
 * "not held". The writer never reads what others appended: the tail hands the loop every entry.
 */
#include "store.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "alloc.h"
#include "hash.h"
#include "keys.h"

const char store_err_timeout[] = "storage_timeout";
const char store_err_unavailable[] = "storage_unavailable";
const char store_err_fenced[] = "not_owner";
const char store_err_replica[] = "replica_timeout";

/* Reconnect backoff: 50 ms doubling to 2 s; the writer's delays are also jittered by +-50%
 * (sentinel_backoff_ms) so that several processes restarting together, or all following one
 * failover, do not reconnect in lockstep. */
#define BACKOFF_MIN_MS SENTINEL_BACKOFF_MIN_MS
#define BACKOFF_MAX_MS SENTINEL_BACKOFF_MAX_MS
/* Page size for XRANGE reads: STACK-NOTES measured 2.6 MB for 100k paged events against 57 MB
 * for one big reply. */
#define PAGE_COUNT 1000
/* queue_max and lease_ms have no configuration option: these are their only defaults. The
 * timeout has one, in config.c's table, so the store takes it as given (see store.h). */
#define DEFAULT_QUEUE_MAX 65536
/* A connection failure's reason: "connect: " or "PING: " and hiredis's errstr (128 bytes), or
 * "AUTH as user <user> refused: " and Redis's error (WRONGPASS's is 71 bytes). */
#define WHY_MAX 256
/* store_check retries this often while Redis refuses or is loading. */
#define CHECK_RETRY_MS 100
#define DEFAULT_LEASE_MS 10000
#define MIN_LEASE_MS 100
/* An append refused by the fence because the lease had lapsed ("FENCED none") or sent while the
 * script cache was flushed (NOSCRIPT) appended nothing: it is resent at most this many times. */
#define MAX_TRIES 2

/* A sentinel that does not answer within this (or timeout_ms, if shorter) is skipped for the
 * next: one down sentinel must not cost a whole write timeout per connection attempt. */
#define SENTINEL_ASK_MS 500

/* The error a fenced script returns, followed by the owner's id or "none". */
#define FENCED "FENCED "

/* The tail: XREAD BLOCKs for at most 100 ms, which is also how soon it notices a stream tracked
 * anew or a stop; at most 1000 entries per stream and read (STACK-NOTES' page size). It lists
 * KEYS_JAMS every 200 ms (SCARD, SMEMBERS only when the count moved), so a jam created on another
 * process is followed within that. It waits while the loop has 65536 results untaken (the store's
 * default queue bound), so a loop that falls behind does not grow the queue without limit. */
#define TAIL_BLOCK_MS 100
#define TAIL_BLOCK_MS_STR "100"
#define TAIL_COUNT "1000"
#define TAIL_LIST_MS 200
#define TAIL_BACKLOG 65536
#define TAIL_BACKLOG_WAIT_MS 10

/* ======================================================================================== */
/* Scripts (loaded with SCRIPT LOAD after each connect; EVALSHA; NOSCRIPT -> reload, resend)   */
/* ======================================================================================== */

/* KEYS: stream, lease, epoch[, set]. ARGV: instance, epoch, lease_ms, payload[, member].
 * Returns the entry id, or the error "FENCED <owner or none>" having written nothing. */
static const char SCRIPT_APPEND[] = "local v = redis.call('MGET', KEYS[2], KEYS[3])\n"
                                    "if v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then\n"
                                    "  return redis.error_reply('" FENCED "' .. (v[1] or 'none'))\n"
                                    "end\n"
                                    "if #KEYS > 3 then redis.call('SADD', KEYS[4], ARGV[5]) end\n"
                                    "local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[4])\n"
                                    "redis.call('PEXPIRE', KEYS[2], ARGV[3])\n"
                                    "return id\n";

/* KEYS: lease, epoch. ARGV: instance, lease_ms. Returns {1, new epoch} or {0, owner}. A lease
 * that names this instance is retaken with a new epoch: it is left by an acquisition whose reply
 * was lost, or by this instance's previous tenure that was fenced. */
static const char SCRIPT_ACQUIRE[] = "local owner = redis.call('GET', KEYS[1])\n"
                                     "if owner and owner ~= ARGV[1] then return {0, owner} end\n"
                                     "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                     "return {1, redis.call('INCR', KEYS[2])}\n";

/* KEYS: lease, epoch. ARGV: instance, epoch, lease_ms. Returns 1, or the owner (or "none"). */
static const char SCRIPT_RENEW[] =
    "local owner = redis.call('GET', KEYS[1])\n"
    "if owner == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
    "  return 1\n"
    "end\n"
    "return owner or 'none'\n";

/* KEYS: lease, epoch. ARGV: instance, epoch. Deletes the lease only if it is ours. */
static const char SCRIPT_RELEASE[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

/* KEYS: lease, epoch, target. ARGV: instance, epoch, value. A put (a jam's snapshot) is fenced
 * like an append: a stale writer must not overwrite the owner's snapshot with an older state. */
static const char SCRIPT_PUT[] = "local v = redis.call('MGET', KEYS[1], KEYS[2])\n"
                                 "if v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then\n"
                                 "  return redis.error_reply('" FENCED "' .. (v[1] or 'none'))\n"
                                 "end\n"
                                 "redis.call('SET', KEYS[3], ARGV[3])\n"
                                 "return 'OK'\n";

/* KEYS: stream[, set]. ARGV: payload[, member]. An append in no one's name. */
static const char SCRIPT_XADD[] = "if #KEYS > 1 then redis.call('SADD', KEYS[2], ARGV[2]) end\n"
                                  "return redis.call('XADD', KEYS[1], '*', 'e', ARGV[1])\n";

/* KEYS: stream, mark. ARGV: entry id, instance. A write (the SET) only if the entry is in the
 * stream: the WAIT after it then confirms that the replicas have the entry (store_confirm). */
static const char SCRIPT_CONFIRM[] =
    "if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('SET', KEYS[2], ARGV[2])\n"
    "return 1\n";

enum script { SC_APPEND, SC_ACQUIRE, SC_RENEW, SC_RELEASE, SC_PUT, SC_XADD, SC_CONFIRM, SC_COUNT };
static const char *const script_text[SC_COUNT] = {SCRIPT_APPEND,  SCRIPT_ACQUIRE, SCRIPT_RENEW,
                                                  SCRIPT_RELEASE, SCRIPT_PUT,     SCRIPT_XADD,
                                                  SCRIPT_CONFIRM};

/* ======================================================================================== */
/* Data                                                                                     */
/* ======================================================================================== */

/* One queued append. */
struct req {
    struct req *next;
    char *key;     /* owned */
    char *payload; /* owned */
    size_t len;
    char *sadd_set;    /* owned; NULL when no SADD */
    char *sadd_member; /* owned */
    char *put_key;     /* owned; not NULL: a fenced SET of 'payload' to this key, not an append */
    char *range_start; /* owned; not NULL: an XRANGE from this bound (with its '(' if exclusive) */
    char *confirm_id;  /* owned; not NULL: a replication barrier for this entry (store_confirm) */
    unsigned range_count;
    uint64_t ctx;
    int64_t enq_ms;    /* the store's monotonic clock at store_append (the thread's expiry) */
    int64_t caller_ms; /* the caller's now_ms at store_append (store_expire's expiry) */
    int tries;         /* resends after a reply that proved nothing was appended */
    char id[MSG_EVENT_ID_MAX + 1]; /* accepted by Redis, waiting for its batch's WAIT */
    bool held;                     /* fenced by the stream's lease (store_append_held, store_put) */
};

/* A store_track() call waiting for the thread. */
struct note {
    struct note *next;
    char *key; /* owned */
    char id[MSG_EVENT_ID_MAX + 1];
};

struct rnode {
    struct rnode *next;
    struct store_result r;
};

/* What the thread knows about one stream key. Keys are few (one per jam), never removed. */
struct key_state {
    char *key;       /* owned */
    char *lease_key; /* owned: keys_lease(key) */
    char *epoch_key; /* owned: keys_epoch(key) */
    bool held; /* we acquired the lease under 'epoch' and have seen nothing saying we lost it */
    const char *why; /* while preparing a batch: why it is not held (an error constant) */
    char epoch[24];  /* an INCR result in decimal: int64, 20 digits and a sign at most */
    char reported[STORE_OWNER_MAX + 1]; /* the owner last posted with STORE_FENCED ("" none) */
};

enum link { LINK_STARTING, LINK_UP, LINK_DOWN };

/* Names a server-side client: CLIENT ID is unique only within one run of Redis. */
struct conn_name {
    long long id;    /* 0: unknown */
    char run_id[48]; /* Redis's run_id: 40 hex characters */
};

/* Results the thread builds without the lock, then publishes at once (see publish()). */
struct outbox {
    struct rnode *head, *tail;
    size_t done; /* appends completed by these results: 'pending' drops by this much */
    int link;    /* -1, or the link state that becomes visible with these results */
    size_t n;    /* results in it */
};

struct store {
    /* Immutable after store_new. */
    char *host;      /* owned */
    char *unix_path; /* owned */
    char *user;      /* owned; NULL: the default user */
    char *password;  /* owned; NULL: no AUTH. Wiped by store_free. */
    int port;
    int timeout_ms;
    size_t queue_max;
    int lease_ms;
    char lease_str[16];              /* lease_ms in decimal: an int */
    struct sentinel_addr *sentinels; /* owned; n_sentinels of them */
    size_t n_sentinels;
    char *master_name; /* owned */
    int replicas;
    int replica_timeout_ms;
    int linger_us;
    char instance[STORE_OWNER_MAX + 1];
    store_wake_cb *wake;
    void *wake_arg;
    pthread_t thread;

    pthread_mutex_t mu; /* guards the fields up to 'link' */
    pthread_cond_t cv;  /* the thread waits on it for requests or 'stopping' */
    struct req *wait_head, *wait_tail;
    size_t waiting; /* requests in the wait list */
    bool lingering; /* the thread waits for more requests to join a batch: signal it only once
                       the batch is full */
    int64_t last_batch_us;        /* when the thread last took a batch (mono_us) */
    atomic_uint_fast64_t batches; /* batches taken (store_batches) */
    size_t pending;               /* appends accepted whose result is not yet published */
    struct rnode *res_head, *res_tail;
    uint64_t published; /* results ever queued */
    uint64_t delivered; /* results ever taken by store_poll */
    bool stopping;
    atomic_int link;         /* enum link; written under mu, read anywhere */
    pthread_cond_t tail_cv;  /* the tail waits on it (with mu) to start, or for a stop */
    struct note *tail_notes; /* store_track calls for the tail, newest first (under mu) */
    bool tail_on;            /* store_tail_start was called (under mu) */
    pthread_t tail_thread;

    /* Tail thread only. */
    redisContext *tc;
    struct smap tails;   /* stream key -> char[MSG_EVENT_ID_MAX + 1]: the last id read (owned) */
    long long tail_jams; /* SCARD of KEYS_JAMS when last listed; -1: never listed */
    int64_t tail_listed_ms;
    int tail_backoff_ms;

    /* Store thread only. */
    redisContext *c;
    struct conn_name cur;   /* the connection in use */
    struct conn_name doubt; /* the connection that left appends in doubt (id 0: none) */
    struct smap keys;       /* stream key -> struct key_state (owned) */
    size_t nheld;           /* keys with 'held' */
    int64_t renew_at;       /* when to renew the held leases */
    char sha[SC_COUNT][48]; /* SCRIPT LOAD's SHA1: 40 hex characters */
    bool reload;            /* a NOSCRIPT reply: load the scripts again */
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

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timeval ms_to_tv(int64_t ms)
{
    if (ms < 1)
        ms = 1;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* A duration, or a time on CLOCK_MONOTONIC (the clock of mono_ms and of 'cv'). */
static struct timespec ms_to_ts(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    return ts;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = ms_to_ts(ms);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
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

/* Frees a copy of a password, wiping it first so that it does not linger in freed memory. */
static void free_secret(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

static void req_free(struct req *r)
{
    free(r->key);
    free(r->payload);
    free(r->sadd_set);
    free(r->sadd_member);
    free(r->put_key);
    free(r->range_start);
    free(r->confirm_id);
    free(r);
}

static bool is_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

static bool is_error(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/* Where and how to connect: the thread's copy of its store_config, or a caller's. */
struct endpoint {
    const char *host, *unix_path, *user, *password;
    int port, timeout_ms;
    const struct sentinel_addr *sentinels; /* n_sentinels > 0: ask them where the primary is */
    size_t n_sentinels;
    const char *master_name;
    bool replica; /* with sentinels: a replica they name, not the primary (the tail's, see
                     tail_connect) */
};

/* AUTH on a new connection: "AUTH <password>" for the default user, "AUTH <user> <password>"
 * for an ACL user. hiredis 0.14 sends nothing by itself, so every connection is authenticated
 * here, right after it is opened. No password: nothing to send (Redis answers the first command
 * with -NOAUTH if it wants one, and ping() reports that). Returns 0, -EACCES when Redis refuses
 * the credentials (the reason, never the password, in 'why') or -EIO. */
static int authenticate(redisContext *c, const struct endpoint *e, char *why, size_t why_size)
{
    if (!e->password)
        return 0;
    redisReply *r = e->user ? redisCommand(c, "AUTH %s %s", e->user, e->password)
                            : redisCommand(c, "AUTH %s", e->password);
    if (!r) {
        snprintf(why, why_size, "AUTH: %s", c->errstr);
        return -EIO;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, why_size, "AUTH%s%s refused: %s", e->user ? " as user " : "",
                 e->user ? e->user : "", r->str);
        rc = -EACCES;
    }
    freeReplyObject(r);
    return rc;
}

/* ---- Sentinel ---------------------------------------------------------------------------- */

/* The primary's address from a "SENTINEL get-master-addr-by-name" reply. Returns 0 or -EIO. */
static int primary_of(const redisReply *r, struct sentinel_addr *out)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !is_str(r->element[0]) ||
        !is_str(r->element[1]))
        return -EIO;
    return sentinel_parse_reply(r->element[0]->str, r->element[0]->len, r->element[1]->str,
                                r->element[1]->len, out) < 0
               ? -EIO
               : 0;
}

/* The field 'name' of one entry of "SENTINEL replicas" (a flat array of names and values), or
 * NULL. */
static const char *field_of(const redisReply *entry, const char *name)
{
    for (size_t i = 0; entry->type == REDIS_REPLY_ARRAY && i + 1 < entry->elements; i += 2)
        if (is_str(entry->element[i]) && is_str(entry->element[i + 1]) &&
            strcmp(entry->element[i]->str, name) == 0)
            return entry->element[i + 1]->str;
    return NULL;
}

/* The first replica of a "SENTINEL replicas" reply that is up and in sync
 * (sentinel_replica_usable). Returns 0 or -EIO. */
static int replica_of(const redisReply *r, struct sentinel_addr *out)
{
    for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
        const redisReply *x = r->element[k];
        const char *ip = field_of(x, "ip"), *port = field_of(x, "port");
        if (ip && port &&
            sentinel_replica_usable(field_of(x, "flags"), field_of(x, "master-link-status")) &&
            sentinel_parse_reply(ip, strlen(ip), port, strlen(port), out) == 0)
            return 0;
    }
    return -EIO;
}

/* Asks the sentinels of 'e' in turn where the primary is (or, with e->replica, a replica of it
 * that is up and in sync), until one names it. Returns 0 with *out set, or -EIO with the last
 * sentinel's reason in 'why'. */
static int ask_sentinels(const struct endpoint *e, struct sentinel_addr *out, char *why,
                         size_t why_size)
{
    struct timeval tv = ms_to_tv(e->timeout_ms < SENTINEL_ASK_MS ? e->timeout_ms : SENTINEL_ASK_MS);
    const char *ask = e->replica ? "replicas" : "get-master-addr-by-name";
    for (size_t i = 0; i < e->n_sentinels; i++) {
        const struct sentinel_addr *a = &e->sentinels[i];
        redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);
        redisReply *r = NULL;
        if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK)
            r = redisCommand(c, "SENTINEL %s %s", ask, e->master_name);
        int rc = !r ? -EIO : e->replica ? replica_of(r, out) : primary_of(r, out);
        if (rc < 0)
            snprintf(why, why_size, "sentinel %.64s:%d: %.160s", a->host, a->port,
                     !c                             ? "out of memory"
                     : !r                           ? c->errstr
                     : r->type == REDIS_REPLY_NIL   ? "does not monitor this master name"
                     : r->type == REDIS_REPLY_ERROR ? r->str
                     : e->replica                   ? "names no replica that is up and in sync"
                                                    : "unexpected reply");
        if (r)
            freeReplyObject(r);
        if (c)
            redisFree(c);
        if (rc == 0)
            return 0;
    }
    return -EIO;
}

/* Whether the server on 'c' is a replica (ROLE "slave"); with 'synced', one whose link to its
 * primary is up ("connected"). Returns 0, -EACCES (it wants credentials) or -EIO. */
static int check_replica(redisContext *c, bool synced, char *why, size_t why_size)
{
    redisReply *r = redisCommand(c, "ROLE");
    if (!r) {
        snprintf(why, why_size, "ROLE: %s", c->errstr);
        return -EIO;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, why_size, "ROLE: %s", r->str);
        rc = is_error(r, "NOAUTH") ? -EACCES : -EIO;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements < 4 || !is_str(r->element[0]) ||
               strcmp(r->element[0]->str, "slave") != 0 ||
               (synced &&
                (!is_str(r->element[3]) || strcmp(r->element[3]->str, "connected") != 0))) {
        snprintf(why, why_size, "the server the sentinels name as a replica is not one in sync");
        rc = -EIO;
    }
    freeReplyObject(r);
    return rc;
}

/* The address a sentinel names may be stale (a failover under way): only a server that says it
 * is the primary (ROLE) is used. Returns 0, -EACCES (it wants credentials) or -EIO. */
static int check_primary(redisContext *c, const struct sentinel_addr *a, char *why, size_t why_size)
{
    redisReply *r = redisCommand(c, "ROLE");
    if (!r) {
        snprintf(why, why_size, "ROLE: %s", c->errstr);
        return -EIO;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, why_size, "ROLE: %s", r->str);
        rc = is_error(r, "NOAUTH") ? -EACCES : -EIO;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || !is_str(r->element[0]) ||
               strcmp(r->element[0]->str, "master") != 0) {
        snprintf(why, why_size, "%.64s:%d, named by the sentinels, is not the primary (yet)",
                 a->host, a->port);
        rc = -EIO;
    }
    freeReplyObject(r);
    return rc;
}

/* Opens a blocking connection with connect, read and write timeouts of 'timeout_ms', and
 * authenticates it: the one place a connection is opened. With sentinels, to the primary they
 * name, checked. Returns 0 with *out set, or -EACCES (credentials refused) / -EIO with a reason
 * in 'why'. */
static int open_conn(const struct endpoint *e, redisContext **out, char *why, size_t why_size)
{
    struct timeval tv = ms_to_tv(e->timeout_ms);
    struct sentinel_addr primary;
    *out = NULL;
    if (e->n_sentinels && ask_sentinels(e, &primary, why, why_size) < 0)
        return -EIO;
    redisContext *c = e->n_sentinels ? redisConnectWithTimeout(primary.host, primary.port, tv)
                      : e->unix_path ? redisConnectUnixWithTimeout(e->unix_path, tv)
                                     : redisConnectWithTimeout(e->host, e->port, tv);
    if (!c) {
        snprintf(why, why_size, "connect: out of memory");
        return -EIO;
    }
    if (c->err) {
        snprintf(why, why_size, "connect: %s", c->errstr);
        redisFree(c);
        return -EIO;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(why, why_size, "set timeout: %s", c->errstr);
        redisFree(c);
        return -EIO;
    }
    int rc = authenticate(c, e, why, why_size);
    if (rc == 0 && e->n_sentinels)
        rc = e->replica ? check_replica(c, true, why, why_size)
                        : check_primary(c, &primary, why, why_size);
    if (rc < 0) {
        redisFree(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* PING on 'c'. Returns 0 on PONG, -EAGAIN while Redis loads its data set, -EACCES when it wants
 * credentials that were not given (-NOAUTH), -EIO otherwise. */
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
        rc = is_error(r, "LOADING") ? -EAGAIN : is_error(r, "NOAUTH") ? -EACCES : -EIO;
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
        e->element[0]->len > MSG_EVENT_ID_MAX)
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
    ob->n++;
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
    struct rnode *n = outbox_add(ob, r->range_start ? STORE_RANGE : STORE_APPENDED);
    n->r.ctx = r->ctx;
    n->r.err = err;
    if (!err)
        copy_str(n->r.id, sizeof(n->r.id), id, id_len);
    n->r.key = r->key;
    r->key = NULL;
    req_free(r);
    ob->done++;
}

/* Completes the read 'r' with the entries of the XRANGE reply 'x' (an array). */
static void outbox_range(struct outbox *ob, struct req *r, const redisReply *x)
{
    struct rnode *n = outbox_add(ob, STORE_RANGE);
    n->r.ctx = r->ctx;
    n->r.entries = xcalloc(x->elements ? x->elements : 1, sizeof *n->r.entries);
    for (size_t i = 0; i < x->elements; i++) {
        const redisReply *id;
        const char *val;
        size_t len;
        if (!parse_entry(x->element[i], &id, &val, &len))
            continue;
        struct stream_entry *e = &n->r.entries[n->r.n_entries++];
        copy_str(e->id, sizeof e->id, id->str, id->len);
        e->payload = xmemdup(val, len);
        e->len = len;
    }
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
    s->published += ob->n;
    if (ob->link >= 0)
        atomic_store(&s->link, ob->link);
    ob->head = ob->tail = NULL;
    ob->done = 0;
    ob->link = -1;
    ob->n = 0;
    return any;
}

/* Publishes with mu held, releases mu, then wakes the loop outside the lock. Returns how many
 * results have ever been queued, these included. */
static uint64_t publish_unlock(struct store *s, struct outbox *ob)
{
    bool any = publish_locked(s, ob);
    uint64_t seq = s->published;
    pthread_mutex_unlock(&s->mu);
    if (any && s->wake)
        s->wake(s->wake_arg);
    return seq;
}

/* publish_unlock, taking the lock first. */
static uint64_t publish(struct store *s, struct outbox *ob)
{
    pthread_mutex_lock(&s->mu);
    return publish_unlock(s, ob);
}

#define OUTBOX_INIT                                                                                \
    {                                                                                              \
        NULL, NULL, 0, -1, 0                                                                       \
    }

/* Takes the oldest queued request (there is one). Caller holds mu. */
static struct req *pop_wait(struct store *s)
{
    struct req *r = s->wait_head;
    s->waiting--;
    s->wait_head = r->next;
    if (!s->wait_head)
        s->wait_tail = NULL;
    r->next = NULL;
    return r;
}

/* Whose clock a queued request's age is measured by: the thread's own (mono_ms() against
 * enq_ms), or the caller's (its now_ms at store_expire against its now_ms at store_append). */
enum clock_of { BY_STORE, BY_CALLER };

/* Fails the queued requests that have waited timeout_ms or more by 'clock', 'now' being that
 * clock's time. They are queued in call order, so the expired ones form a prefix. Caller holds
 * mu. */
static void expire_locked(struct store *s, struct outbox *ob, enum clock_of clock, int64_t now)
{
    while (s->wait_head &&
           now - (clock == BY_STORE ? s->wait_head->enq_ms : s->wait_head->caller_ms) >=
               s->timeout_ms)
        outbox_complete(ob, pop_wait(s), store_err_timeout, NULL, 0);
}

/* ======================================================================================== */
/* Per-key state (store thread only)                                                        */
/* ======================================================================================== */

static struct key_state *key_get(struct store *s, const char *key)
{
    struct key_state *k = smap_get(&s->keys, key);
    if (k)
        return k;
    k = xcalloc(1, sizeof(*k));
    k->key = xstrdup(key);
    k->lease_key = keys_lease(key);
    k->epoch_key = keys_epoch(key);
    smap_put(&s->keys, key, k);
    return k;
}

static void key_state_free(void *p)
{
    struct key_state *k = p;
    free(k->key);
    free(k->lease_key);
    free(k->epoch_key);
    free(k);
}

/* Leases are renewed every third of lease_ms (store.h): one failed renewal does not lose the
 * lease, as the next comes before it lapses. */
static int64_t next_renewal(const struct store *s)
{
    return mono_ms() + s->lease_ms / 3;
}

static void key_set_held(struct store *s, struct key_state *k, bool held)
{
    if (held && !k->held && s->nheld++ == 0)
        s->renew_at = next_renewal(s);
    else if (!held && k->held)
        s->nheld--;
    k->held = held;
}

/* Posts STORE_FENCED for 'k' unless this owner was the last one reported. */
static void report_fenced(struct outbox *ob, struct key_state *k, const char *owner, size_t len)
{
    char o[STORE_OWNER_MAX + 1];
    copy_str(o, sizeof(o), owner, len);
    if (strcmp(o, k->reported) == 0)
        return;
    memcpy(k->reported, o, sizeof(o));
    struct rnode *n = outbox_add(ob, STORE_FENCED);
    n->r.key = xstrdup(k->key);
    memcpy(n->r.owner, o, sizeof(o));
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

/* Sends one command and waits for its reply, at most timeout_ms. Returns NULL and sets *out, or
 * the error constant. */
static const char *call(struct store *s, redisReply **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(s->c, fmt, ap);
    va_end(ap);
    *out = NULL;
    if (rc != REDIS_OK)
        return store_err_unavailable;
    return get_reply(s, mono_ms() + s->timeout_ms, out);
}

/* An EVALSHA command line being built. The longest is an append with SADD: EVALSHA, sha, nkeys,
 * 4 keys, 5 arguments. */
#define CMD_ARGS 12
struct cmd {
    int n;
    const char *v[CMD_ARGS];
    size_t len[CMD_ARGS];
};

static void cmd_add(struct cmd *c, const char *p, size_t len)
{
    c->v[c->n] = p;
    c->len[c->n] = len;
    c->n++;
}

static void cmd_str(struct cmd *c, const char *p)
{
    cmd_add(c, p, strlen(p));
}

/* Starts "EVALSHA <sha> <nkeys>". */
static void cmd_script(struct store *s, struct cmd *c, enum script sc, const char *nkeys)
{
    c->n = 0;
    cmd_str(c, "EVALSHA");
    cmd_str(c, s->sha[sc]);
    cmd_str(c, nkeys);
}

/* Queues it on the connection (sent by the next get_reply). */
static void cmd_send(struct store *s, struct cmd *c)
{
    /* Fails only when hiredis is out of memory: the reply then never comes and the wait for it
     * times out, which the callers handle like any lost reply. */
    (void)redisAppendCommandArgv(s->c, c->n, c->v, c->len);
}

/* "EVALSHA <script> 2 <lease> <epoch> <instance> [<epoch>] ..." for the lease scripts. */
static void cmd_lease(struct store *s, struct cmd *c, enum script sc, const struct key_state *k)
{
    cmd_script(s, c, sc, "2");
    cmd_str(c, k->lease_key);
    cmd_str(c, k->epoch_key);
    cmd_str(c, s->instance);
    if (sc != SC_ACQUIRE)
        cmd_str(c, k->epoch);
    if (sc != SC_RELEASE)
        cmd_str(c, s->lease_str);
}

/* SCRIPT LOAD of every script. Returns 0, or -1 (connection failed, or scripting refused: either
 * way this connection cannot serve appends). */
static int load_scripts(struct store *s)
{
    for (int i = 0; i < SC_COUNT; i++) {
        redisReply *r;
        if (call(s, &r, "SCRIPT LOAD %s", script_text[i]))
            return -1;
        bool ok = r->type == REDIS_REPLY_STRING && r->len < sizeof(s->sha[i]);
        if (ok)
            copy_str(s->sha[i], sizeof(s->sha[i]), r->str, r->len);
        freeReplyObject(r);
        if (!ok)
            return -1;
    }
    s->reload = false;
    return 0;
}

/* One connection attempt: connect, PING, load the scripts, settle what an earlier connection left
 * in doubt (kill_doubt_conn), then STORE_UP. On failure posts STORE_DOWN (once per outage) and
 * returns -1. */
static int reconnect(struct store *s)
{
    struct outbox ob = OUTBOX_INIT;
    char why[WHY_MAX];
    const struct endpoint e = {s->host,       s->unix_path, s->user,        s->password,    s->port,
                               s->timeout_ms, s->sentinels, s->n_sentinels, s->master_name, false};
    /* Refused credentials are retried like any failure: a Redis restarted with the right
     * password is found again. */
    (void)open_conn(&e, &s->c, why, sizeof(why));
    if (s->c && (ping(s->c, why, sizeof(why)) < 0 || name_conn(s) < 0 || load_scripts(s) < 0 ||
                 kill_doubt_conn(s) < 0))
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
    int64_t until = mono_ms() + sentinel_backoff_ms(&s->backoff_ms, next_rand(s));
    struct outbox ob = OUTBOX_INIT;
    bool stop;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        int64_t now = mono_ms();
        expire_locked(s, &ob, BY_STORE, now);
        if (s->stopping || now >= until)
            break;
        int64_t wake_at = until;
        if (s->wait_head && s->wait_head->enq_ms + s->timeout_ms < wake_at)
            wake_at = s->wait_head->enq_ms + s->timeout_ms;
        struct timespec ts = ms_to_ts(wake_at);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    stop = s->stopping;
    publish_unlock(s, &ob);
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

/* With requests queued and the last batch taken less than STORE_LINGER_BUSY_US ago, waits
 * linger_us (or until a batch is full) for more to join: at an even 1,000 votes/s every request
 * would otherwise be a batch of its own, with its own write, Redis round trip and fsync and
 * wake-ups of this thread and the loop (measured at 1,000 clients and 1,000 votes/s: about 7
 * context switches per vote, which cost more than all the rest of a vote on this VM). A request
 * after a quiet spell is sent at once. Caller holds mu. */
static void linger(struct store *s)
{
    if (!s->wait_head)
        return;
    int64_t now = mono_us();
    if (s->linger_us > 0 && now - s->last_batch_us < STORE_LINGER_BUSY_US) {
        int64_t until = now + s->linger_us;
        struct timespec ts = {(time_t)(until / 1000000), (long)(until % 1000000) * 1000};
        s->lingering = true;
        while (!s->stopping && s->waiting < STORE_WINDOW && mono_us() < until)
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        s->lingering = false;
    }
    s->last_batch_us = now;
}

/* Waits for queued appends (or until the held leases are due for renewal), then takes up to
 * STORE_WINDOW of them, failing any that already waited longer than timeout_ms. Sets *batch
 * (possibly NULL). Returns true on stop. */
static bool take_batch(struct store *s, struct req **batch)
{
    struct outbox ob = OUTBOX_INIT;
    struct req *head = NULL, *tail = NULL;
    int cmds = 0;

    *batch = NULL;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping && !s->wait_head) {
        if (s->nheld == 0) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        if (mono_ms() >= s->renew_at)
            break;
        struct timespec ts = ms_to_ts(s->renew_at);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    linger(s);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return true;
    }
    expire_locked(s, &ob, BY_STORE, mono_ms());
    while (s->wait_head && cmds < STORE_WINDOW) {
        struct req *r = pop_wait(s);
        cmds++; /* one script per append */
        if (tail)
            tail->next = r;
        else
            head = r;
        tail = r;
    }
    publish_unlock(s, &ob);
    if (head)
        atomic_fetch_add_explicit(&s->batches, 1, memory_order_relaxed);
    *batch = head;
    return false;
}

/* Returns an unsent batch to the front of the queue, keeping call order. */
static void put_back(struct store *s, struct req *batch)
{
    if (!batch)
        return;
    struct req *last = batch;
    size_t n = 1;
    for (; last->next; n++)
        last = last->next;
    pthread_mutex_lock(&s->mu);
    s->waiting += n;
    last->next = s->wait_head;
    s->wait_head = batch;
    if (!s->wait_tail)
        s->wait_tail = last;
    pthread_mutex_unlock(&s->mu);
}

/* Makes the streams of 'batch' ready for appends: acquires (pipelined) the leases not held. A
 * stream left not ready has 'why' set; STORE_FENCED results
 * go to 'ob'. Returns 0; 1 if a script was missing (reload them and try the batch again); -1 if
 * the connection failed. Nothing of the batch itself has been sent in any case. */
static int prepare_keys(struct store *s, struct req *batch, struct outbox *ob)
{
    struct key_state *ks[STORE_WINDOW];
    size_t n = 0;
    for (struct req *r = batch; r; r = r->next) {
        if (!r->held)
            continue; /* reads and plain appends need no lease */
        struct key_state *k = key_get(s, r->key);
        if (k->held)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = ks[i] == k;
        if (seen || n == STORE_WINDOW)
            continue;
        k->why = NULL;
        ks[n++] = k;
        struct cmd c;
        cmd_lease(s, &c, SC_ACQUIRE, k);
        cmd_send(s, &c);
    }
    int64_t deadline = mono_ms() + s->timeout_ms;
    bool noscript = false;
    for (size_t i = 0; i < n; i++) {
        struct key_state *k = ks[i];
        redisReply *r;
        if (get_reply(s, deadline, &r))
            return -1; /* an acquisition may have happened: the next one retakes the lease */
        const redisReply *a = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[0]
                                                                               : NULL;
        const redisReply *b = a ? r->element[1] : NULL;
        if (a && a->type == REDIS_REPLY_INTEGER && a->integer == 1 &&
            b->type == REDIS_REPLY_INTEGER) {
            key_set_held(s, k, true);
            snprintf(k->epoch, sizeof(k->epoch), "%lld", b->integer);
            k->reported[0] = '\0';
        } else if (a && a->type == REDIS_REPLY_INTEGER && a->integer == 0 && is_str(b)) {
            k->why = store_err_fenced;
            report_fenced(ob, k, b->str, b->len);
        } else {
            noscript |= is_error(r, "NOSCRIPT");
            k->why = store_err_unavailable; /* -OOM, a lease key of the wrong type... */
        }
        freeReplyObject(r);
    }
    if (noscript) {
        s->reload = true;
        return 1;
    }
    return 0;
}

/* Queues the append script for 'r'. */
static void send_append(struct store *s, const struct req *r, const struct key_state *k)
{
    struct cmd c;
    cmd_script(s, &c, SC_APPEND, r->sadd_set ? "4" : "3");
    cmd_str(&c, k->key);
    cmd_str(&c, k->lease_key);
    cmd_str(&c, k->epoch_key);
    if (r->sadd_set)
        cmd_str(&c, r->sadd_set);
    cmd_str(&c, s->instance);
    cmd_str(&c, k->epoch);
    cmd_str(&c, s->lease_str);
    cmd_add(&c, r->payload, r->len);
    if (r->sadd_set)
        cmd_str(&c, r->sadd_member);
    cmd_send(s, &c);
}

/* Queues the plain append script for 'r'. */
static void send_xadd(struct store *s, const struct req *r)
{
    struct cmd c;
    cmd_script(s, &c, SC_XADD, r->sadd_set ? "2" : "1");
    cmd_str(&c, r->key);
    if (r->sadd_set)
        cmd_str(&c, r->sadd_set);
    cmd_add(&c, r->payload, r->len);
    if (r->sadd_set)
        cmd_str(&c, r->sadd_member);
    cmd_send(s, &c);
}

/* Queues the put script for 'r'. */
static void send_put(struct store *s, const struct req *r, const struct key_state *k)
{
    struct cmd c;
    cmd_script(s, &c, SC_PUT, "3");
    cmd_str(&c, k->lease_key);
    cmd_str(&c, k->epoch_key);
    cmd_str(&c, r->put_key);
    cmd_str(&c, s->instance);
    cmd_str(&c, k->epoch);
    cmd_add(&c, r->payload, r->len);
    cmd_send(s, &c);
}

/* Queues the confirm script for 'r': its SET lands in the replication stream after the entry. */
static void send_confirm(struct store *s, const struct req *r)
{
    struct cmd c;
    char *mark = keys_confirm(r->key);
    cmd_script(s, &c, SC_CONFIRM, "2");
    cmd_str(&c, r->key);
    cmd_str(&c, mark);
    cmd_str(&c, r->confirm_id);
    cmd_str(&c, s->instance);
    cmd_send(s, &c); /* hiredis has copied the arguments */
    free(mark);
}

/* ---- Waiting for replicas (WAIT, one per batch) ---------------------------------------------- */

/* Queues one "WAIT <replicas> <timeout>" after the writes of batch 'send' (reads need none), if
 * replicas are asked for. Returns whether it was sent. */
static bool send_wait(struct store *s, const struct req *send)
{
    bool writes = false;
    for (const struct req *r = send; r && !writes; r = r->next)
        writes = !r->range_start;
    if (s->replicas <= 0 || !writes)
        return false;
    (void)redisAppendCommand(s->c, "WAIT %d %d", s->replicas, s->replica_timeout_ms);
    return true;
}

/* A write Redis accepted with 'id': completed now, or, when its batch waits for replicas, kept in
 * the list at *tail until the WAIT reply says. */
static void accepted(struct outbox *ob, struct req *r, const char *id, size_t len, bool wait_sent,
                     struct req ***tail)
{
    if (!wait_sent) {
        outbox_complete(ob, r, NULL, id, len);
        return;
    }
    copy_str(r->id, sizeof r->id, id, len);
    **tail = r;
    *tail = &r->next;
}

/* Completes the writes kept for the WAIT: with their ids (err NULL), or all with 'err'. */
static void complete_waiting(struct outbox *ob, struct req *waiting, const char *err)
{
    for (struct req *r = waiting, *next; r; r = next) {
        next = r->next;
        r->next = NULL;
        outbox_complete(ob, r, err, r->id, strlen(r->id));
    }
}

/* Reads the batch's WAIT reply (bounded by its own timeout plus timeout_ms for the round trip)
 * and completes the writes kept for it: confirmed when enough replicas have them, else
 * store_err_replica (they are on the primary: its tail applies them, and a retry of the same op
 * finds them there). A lost connection fails them with store_err_unavailable. */
static void finish_wait(struct store *s, struct outbox *ob, struct req *waiting)
{
    redisReply *x = NULL;
    const char *err = get_reply(s, mono_ms() + s->timeout_ms + s->replica_timeout_ms, &x);
    if (err) {
        complete_waiting(ob, waiting, store_err_unavailable);
        s->doubt = s->cur;
        drop_conn(s);
        outbox_link(ob, LINK_DOWN);
        return;
    }
    bool enough = x->type == REDIS_REPLY_INTEGER && x->integer >= s->replicas;
    freeReplyObject(x);
    complete_waiting(ob, waiting, enough ? NULL : store_err_replica);
}

/* Sends one batch as a pipeline and completes every request in it. On a connection failure or
 * reply timeout the unanswered requests fail (outcome unknown), the connection is dropped and
 * STORE_DOWN follows their results. Requests that provably appended nothing and may succeed when
 * sent again (lapsed lease, flushed script cache, a demoted primary) go back to the queue. */
static void run_batch(struct store *s, struct req *batch)
{
    struct outbox ob = OUTBOX_INIT;

    if (is_conn_dead(s->c)) {
        /* Nothing of the batch was sent: it waits for the next connection. */
        put_back(s, batch);
        drop_conn(s);
        return;
    }
    int prep = prepare_keys(s, batch, &ob);
    if (prep != 0) {
        publish(s, &ob);
        put_back(s, batch);
        if (prep < 0) {
            /* An unanswered acquisition could still run later on this connection and move the
             * epoch under the next one: have the reconnect kill it, as for in-doubt appends. */
            s->doubt = s->cur;
            drop_conn(s);
        } else if (load_scripts(s) < 0) {
            drop_conn(s);
        }
        return;
    }

    struct req *send = NULL, **tailp = &send;
    for (struct req *r = batch, *next; r; r = next) {
        next = r->next;
        r->next = NULL;
        if (r->range_start) {
            (void)redisAppendCommand(s->c, "XRANGE %s %s + COUNT %u", r->key, r->range_start,
                                     r->range_count);
            *tailp = r;
            tailp = &r->next;
            continue;
        }
        if (r->confirm_id) {
            send_confirm(s, r);
            *tailp = r;
            tailp = &r->next;
            continue;
        }
        if (!r->held) {
            send_xadd(s, r);
            *tailp = r;
            tailp = &r->next;
            continue;
        }
        struct key_state *k = key_get(s, r->key);
        if (!k->held) {
            outbox_complete(&ob, r, k->why ? k->why : store_err_fenced, NULL, 0);
            continue;
        }
        if (r->put_key)
            send_put(s, r, k);
        else
            send_append(s, r, k);
        *tailp = r;
        tailp = &r->next;
    }
    bool wait_sent = send_wait(s, send);
    struct req *waiting = NULL, **waiting_tail = &waiting;
    bool demoted = false;

    struct req *retry = NULL, **retry_tail = &retry;
    int64_t deadline = mono_ms() + s->timeout_ms;
    for (struct req *r = send, *next; r; r = next) {
        next = r->next;
        r->next = NULL;
        struct key_state *k = key_get(s, r->key);
        redisReply *x = NULL;
        const char *err = get_reply(s, deadline, &x);
        if (err) {
            r->next = next;
            for (struct req *q = r, *qn; q; q = qn) {
                qn = q->next;
                outbox_complete(&ob, q, err, NULL, 0);
            }
            complete_waiting(&ob, waiting, err);
            waiting = NULL;
            wait_sent = false;
            s->doubt = s->cur;
            drop_conn(s);
            outbox_link(&ob, LINK_DOWN);
            break;
        }
        bool again = false;
        if (r->range_start) {
            if (x->type == REDIS_REPLY_ARRAY)
                outbox_range(&ob, r, x);
            else
                outbox_complete(&ob, r, store_err_unavailable, NULL, 0);
        } else if (r->confirm_id && x->type == REDIS_REPLY_INTEGER) {
            /* 0: the entry is not on this primary (a failover lost it): nothing to confirm. */
            if (x->integer == 1)
                accepted(&ob, r, r->confirm_id, strlen(r->confirm_id), wait_sent, &waiting_tail);
            else
                outbox_complete(&ob, r, store_err_unavailable, NULL, 0);
        } else if (r->put_key && (x->type == REDIS_REPLY_STRING || x->type == REDIS_REPLY_STATUS)) {
            accepted(&ob, r, "", 0, wait_sent, &waiting_tail);
        } else if (x->type == REDIS_REPLY_STRING && x->len <= MSG_EVENT_ID_MAX) {
            accepted(&ob, r, x->str, x->len, wait_sent, &waiting_tail);
        } else if (is_error(x, "READONLY")) {
            /* A primary demoted by a failover: nothing was written. Ask the sentinels again and
             * send it to the new primary. */
            demoted = true;
            again = r->tries < MAX_TRIES;
            if (!again)
                outbox_complete(&ob, r, store_err_unavailable, NULL, 0);
        } else if (is_error(x, FENCED)) {
            const char *owner = x->str + strlen(FENCED);
            bool none = strcmp(owner, "none") == 0, self = strcmp(owner, s->instance) == 0;
            key_set_held(s, k, false);
            /* A lapsed lease: nothing was appended and nobody else has written (that would
             * have taken the lease): acquire again and resend. An epoch that moved under our
             * own lease value, or another owner: fenced. */
            again = none && r->tries < MAX_TRIES;
            if (!again) {
                if (!none && !self)
                    report_fenced(&ob, k, owner, x->len - strlen(FENCED));
                outbox_complete(&ob, r, store_err_fenced, NULL, 0);
            }
        } else if (is_error(x, "NOSCRIPT")) {
            s->reload = true;
            again = r->tries < MAX_TRIES;
            if (!again)
                outbox_complete(&ob, r, store_err_unavailable, NULL, 0);
        } else {
            /* -LOADING, -MISCONF, -OOM, WRONGTYPE...: the entry was not added. */
            outbox_complete(&ob, r, store_err_unavailable, NULL, 0);
        }
        if (again) {
            r->tries++;
            *retry_tail = r;
            retry_tail = &r->next;
        }
        freeReplyObject(x);
    }
    if (wait_sent)
        finish_wait(s, &ob, waiting);
    publish(s, &ob);
    put_back(s, retry);
    if (demoted)
        drop_conn(s);
    if (s->c && s->reload && load_scripts(s) < 0)
        drop_conn(s);
}

/* Keys whose lease we hold, in a new array of s->nheld. */
static struct key_state **held_keys(struct store *s)
{
    struct key_state **held = xmalloc((s->nheld ? s->nheld : 1) * sizeof(*held));
    size_t n = 0;
    void *v;
    for (size_t pos = 0; smap_next(&s->keys, &pos, NULL, &v);)
        if (((struct key_state *)v)->held && n < s->nheld)
            held[n++] = v;
    return held;
}

/* What lease_all does with the reply of one lease. */
typedef void lease_reply_cb(struct store *s, struct key_state *k, const redisReply *r,
                            struct outbox *ob);

/* Runs lease script 'sc' on every held lease, pipelined STORE_WINDOW at a time, and hands each
 * reply to 'after' in order. The replies of each window are awaited until 'deadline', or when it
 * is 0 for timeout_ms after the window was sent. Returns 0, or -1 if the connection failed. */
static int lease_all(struct store *s, enum script sc, int64_t deadline, lease_reply_cb *after,
                     struct outbox *ob)
{
    size_t n = s->nheld;
    struct key_state **held = held_keys(s);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += STORE_WINDOW) {
        size_t m = n - i < STORE_WINDOW ? n - i : STORE_WINDOW;
        for (size_t j = 0; j < m; j++) {
            struct cmd c;
            cmd_lease(s, &c, sc, held[i + j]);
            cmd_send(s, &c);
        }
        int64_t until = deadline ? deadline : mono_ms() + s->timeout_ms;
        for (size_t j = 0; j < m; j++) {
            redisReply *r;
            if (get_reply(s, until, &r)) {
                rc = -1;
                break;
            }
            after(s, held[i + j], r, ob);
            freeReplyObject(r);
        }
    }
    free(held);
    return rc;
}

static void after_renew(struct store *s, struct key_state *k, const redisReply *r,
                        struct outbox *ob)
{
    if (r->type == REDIS_REPLY_STRING) {
        key_set_held(s, k, false);
        if (strcmp(r->str, "none") != 0 && strcmp(r->str, s->instance) != 0)
            report_fenced(ob, k, r->str, r->len);
    } else if (is_error(r, "NOSCRIPT")) {
        s->reload = true;
    }
}

/* Renews every held lease. A lease found lost puts its stream back to "not held" (the next append
 * acquires it again, or is fenced); lost to another instance, STORE_FENCED says so at once.
 * Returns 0, or -1 if the connection failed. */
static int renew(struct store *s)
{
    struct outbox ob = OUTBOX_INIT;
    int rc = lease_all(s, SC_RENEW, 0, after_renew, &ob);
    publish(s, &ob);
    s->renew_at = next_renewal(s);
    if (rc == 0 && s->reload) {
        if (load_scripts(s) < 0)
            return -1;
        s->renew_at = mono_ms(); /* renew the ones refused, now */
    }
    return rc;
}

static void after_release(struct store *s, struct key_state *k, const redisReply *r,
                          struct outbox *ob)
{
    (void)r;
    (void)ob;
    key_set_held(s, k, false);
}

/* On stop: deletes the leases still ours, so another instance can take the streams at once.
 * Bounded by timeout_ms; a lease not released lapses after lease_ms. */
static void release_all(struct store *s)
{
    if (!s->c || s->nheld == 0 || is_conn_dead(s->c))
        return;
    struct outbox ob = OUTBOX_INIT; /* stays empty */
    (void)lease_all(s, SC_RELEASE, mono_ms() + s->timeout_ms, after_release, &ob);
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
        if (s->nheld && mono_ms() >= s->renew_at) {
            if (renew(s) < 0)
                drop_conn(s);
            continue;
        }
        struct req *batch = NULL;
        if (take_batch(s, &batch))
            break;
        if (batch)
            run_batch(s, batch);
    }
    release_all(s);
    drop_conn(s);
    return NULL;
}

/* ======================================================================================== */
/* The tail thread                                                                          */
/* ======================================================================================== */

/* Follows stream 'key' from after 'id', or moves its position to 'id' if that is newer. */
static void tail_follow(struct store *s, const char *key, const char *id)
{
    char *cur = smap_get(&s->tails, key);
    if (!cur) {
        cur = xcalloc(1, MSG_EVENT_ID_MAX + 1);
        smap_put(&s->tails, key, cur);
    } else if (stream_id_cmp(id, cur) <= 0) {
        return;
    }
    snprintf(cur, MSG_EVENT_ID_MAX + 1, "%s", id);
}

/* Waits until the tail is started and the store clock reaches 'until', then takes the tracked
 * streams. Returns true on stop. */
static bool tail_wait(struct store *s, int64_t until)
{
    pthread_mutex_lock(&s->mu);
    while (!s->stopping && (!s->tail_on || mono_ms() < until)) {
        if (!s->tail_on) {
            pthread_cond_wait(&s->tail_cv, &s->mu);
        } else {
            struct timespec ts = ms_to_ts(until);
            pthread_cond_timedwait(&s->tail_cv, &s->mu, &ts);
        }
    }
    struct note *n = s->tail_notes;
    s->tail_notes = NULL;
    bool stop = s->stopping, behind = s->published - s->delivered >= TAIL_BACKLOG;
    pthread_mutex_unlock(&s->mu);
    while (n) {
        struct note *next = n->next;
        tail_follow(s, n->key, n->id);
        free(n->key);
        free(n);
        n = next;
    }
    if (behind && !stop)
        sleep_ms(TAIL_BACKLOG_WAIT_MS);
    return stop;
}

/* Follows every jam of KEYS_JAMS not followed yet from its first entry. Returns 0, or -1 if the
 * connection failed. */
static int tail_list(struct store *s)
{
    redisReply *r = redisCommand(s->tc, "SCARD %s", KEYS_JAMS);
    if (!r)
        return -1;
    long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (n == s->tail_jams)
        return 0;
    if (!(r = redisCommand(s->tc, "SMEMBERS %s", KEYS_JAMS)))
        return -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *m = r->element[i];
        if (!is_str(m) || m->len != MSG_CODE_LEN)
            continue;
        char key[KEYS_MAX];
        keys_stream(key, m->str);
        if (!smap_get(&s->tails, key))
            tail_follow(s, key, "0-0");
    }
    if (r->type == REDIS_REPLY_ARRAY)
        s->tail_jams = n;
    freeReplyObject(r);
    return 0;
}

/* Posts the entries of one XREAD reply's stream [key, [entries]] as STORE_TAILED. */
static void tail_post(struct store *s, const redisReply *st, struct outbox *ob)
{
    if (!st || st->type != REDIS_REPLY_ARRAY || st->elements != 2 || !is_str(st->element[0]) ||
        st->element[1]->type != REDIS_REPLY_ARRAY)
        return;
    const char *key = st->element[0]->str;
    char *cur = smap_get(&s->tails, key);
    const redisReply *es = st->element[1];
    for (size_t i = 0; cur && i < es->elements; i++) {
        const redisReply *id;
        const char *val;
        size_t len;
        if (!parse_entry(es->element[i], &id, &val, &len))
            continue;
        struct rnode *n = outbox_add(ob, STORE_TAILED);
        n->r.key = xstrdup(key);
        copy_str(n->r.id, sizeof n->r.id, id->str, id->len);
        n->r.payload = xmemdup(val, len);
        copy_str(cur, MSG_EVENT_ID_MAX + 1, id->str, id->len);
    }
}

/* One "XREAD COUNT .. BLOCK .. STREAMS <keys> <ids>" over every followed stream. Returns 0, or -1
 * if the connection failed or Redis refused the read (retried after a backoff). */
static int tail_read(struct store *s)
{
    size_t n = s->tails.used, argc = 6 + 2 * n, i = 6;
    const char **argv = xmalloc(argc * sizeof *argv);
    static const char block[] = TAIL_BLOCK_MS_STR;
    argv[0] = "XREAD";
    argv[1] = "COUNT";
    argv[2] = TAIL_COUNT;
    argv[3] = "BLOCK";
    argv[4] = block;
    argv[5] = "STREAMS";
    const char *key;
    void *v;
    for (size_t pos = 0; smap_next(&s->tails, &pos, &key, &v) && i < 6 + n; i++) {
        argv[i] = key;
        argv[i + n] = v;
    }
    redisReply *r = NULL;
    if (redisSetTimeout(s->tc, ms_to_tv(s->timeout_ms + TAIL_BLOCK_MS)) == REDIS_OK)
        r = redisCommandArgv(s->tc, (int)argc, argv, NULL);
    free(argv);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_ERROR ? -1 : 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        struct outbox ob = OUTBOX_INIT;
        for (size_t k = 0; k < r->elements; k++)
            tail_post(s, r->element[k], &ob);
        publish(s, &ob);
    }
    freeReplyObject(r);
    return rc;
}

/* Under Sentinel with replicas asked for, the tail reads a replica, not the primary: an entry it
 * hands the loop is then on a replica already, so a failover that promotes that replica cannot
 * take back an entry this process applied and showed (the primary's unreplicated last writes die
 * with it, unseen). No replica up and in sync: no tail, as no write can be confirmed then either. */
static bool tail_on_replica(const struct store *s)
{
    return s->n_sentinels > 0 && s->replicas > 0;
}

static int tail_connect(struct store *s)
{
    char why[WHY_MAX];
    const struct endpoint e = {s->host,        s->unix_path,      s->user,      s->password,
                               s->port,        s->timeout_ms,     s->sentinels, s->n_sentinels,
                               s->master_name, tail_on_replica(s)};
    if (open_conn(&e, &s->tc, why, sizeof why) < 0)
        return -1;
    if (ping(s->tc, why, sizeof why) < 0) {
        redisFree(s->tc);
        s->tc = NULL;
        return -1;
    }
    s->tail_backoff_ms = 0;
    return 0;
}

/* The next reconnect delay: 50 ms doubling to 2 s (no jitter: the tail only reads). */
static int64_t tail_backoff(struct store *s)
{
    s->tail_backoff_ms = s->tail_backoff_ms ? s->tail_backoff_ms * 2 : BACKOFF_MIN_MS;
    if (s->tail_backoff_ms > BACKOFF_MAX_MS)
        s->tail_backoff_ms = BACKOFF_MAX_MS;
    return mono_ms() + s->tail_backoff_ms;
}

static void *tail_run(void *arg)
{
    struct store *s = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE); /* as in run() */
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    int64_t until = 0;
    while (!tail_wait(s, until)) {
        until = 0;
        if (!s->tc && tail_connect(s) < 0) {
            until = tail_backoff(s);
            continue;
        }
        int rc = 0;
        if (mono_ms() - s->tail_listed_ms >= TAIL_LIST_MS) {
            char why[WHY_MAX];
            /* A replica the sentinels promoted takes writes no replica has yet: find another. */
            rc = tail_on_replica(s) && check_replica(s->tc, false, why, sizeof why) < 0
                     ? -1
                     : tail_list(s);
            s->tail_listed_ms = mono_ms();
        }
        if (rc == 0 && s->tails.used == 0)
            until = mono_ms() + TAIL_BLOCK_MS;
        else if (rc == 0)
            rc = tail_read(s);
        if (rc < 0) {
            redisFree(s->tc);
            s->tc = NULL;
            until = tail_backoff(s);
        }
    }
    if (s->tc)
        redisFree(s->tc);
    s->tc = NULL;
    return NULL;
}

/* ======================================================================================== */
/* Public API: loop thread                                                                  */
/* ======================================================================================== */

/* Why 'cfg' cannot be used (see struct store_config), or NULL. */
static const char *config_error(const struct store_config *cfg)
{
    if (!cfg || (!cfg->unix_path && !cfg->host && !cfg->n_sentinels))
        return "no host, unix_path or sentinels";
    if (cfg->timeout_ms <= 0)
        return "timeout_ms must be positive";
    if (cfg->n_sentinels && (!cfg->sentinels || !sentinel_name_ok(cfg->master_name)))
        return "sentinels without a valid master name";
    if (cfg->replicas > 0 && cfg->replica_timeout_ms <= 0)
        return "replicas without a positive replica_timeout_ms";
    return NULL;
}

/* 1..STORE_OWNER_MAX printable characters without spaces, not "none" (the "no owner" word). */
static bool valid_instance(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > STORE_OWNER_MAX || strcmp(id, "none") == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] <= ' ' || (unsigned char)id[i] >= 0x7f)
            return false;
    return true;
}

/* The id used when the caller gives none: stable across restarts on this host (so that a
 * restarted server retakes its leases at once, as it could before leases existed), and
 * distinct per unix socket path (an embedded Redis lives in the server's data directory). */
static void default_instance(const struct store_config *cfg, char *out, size_t size)
{
    char host[256] = ""; /* POSIX host names are at most 255 bytes */
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        snprintf(host, sizeof(host), "localhost");
    for (char *p = host; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            *p = '_';
    if (cfg->unix_path)
        snprintf(out, size, "%.40s:%016llx", host, (unsigned long long)hash_fnv1a(cfg->unix_path));
    else
        snprintf(out, size, "%.60s", host);
    if (strcmp(out, "none") == 0)
        snprintf(out, size, "none_");
}

int store_new(const struct store_config *cfg, store_wake_cb *wake, void *wake_arg,
              struct store **out)
{
    pthread_condattr_t ca;
    int err;

    *out = NULL;
    if (config_error(cfg) || (cfg->instance_id && !valid_instance(cfg->instance_id)))
        return -EINVAL;
    struct store *s = xcalloc(1, sizeof(*s));
    if (cfg->instance_id)
        snprintf(s->instance, sizeof(s->instance), "%s", cfg->instance_id);
    else
        default_instance(cfg, s->instance, sizeof(s->instance));
    s->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : DEFAULT_LEASE_MS;
    if (s->lease_ms < MIN_LEASE_MS)
        s->lease_ms = MIN_LEASE_MS;
    snprintf(s->lease_str, sizeof(s->lease_str), "%d", s->lease_ms);
    s->host = cfg->host ? xstrdup(cfg->host) : NULL;
    s->unix_path = cfg->unix_path ? xstrdup(cfg->unix_path) : NULL;
    s->user = cfg->user ? xstrdup(cfg->user) : NULL;
    s->password = cfg->password ? xstrdup(cfg->password) : NULL;
    s->port = cfg->port;
    s->timeout_ms = cfg->timeout_ms;
    if (cfg->n_sentinels) {
        s->sentinels = (void *)xmemdup(cfg->sentinels, cfg->n_sentinels * sizeof *cfg->sentinels);
        s->n_sentinels = cfg->n_sentinels;
        s->master_name = xstrdup(cfg->master_name);
    }
    s->replicas = cfg->replicas > 0 ? cfg->replicas : 0;
    s->replica_timeout_ms = cfg->replica_timeout_ms;
    s->linger_us = cfg->linger_us > 0 ? cfg->linger_us : 0;
    s->queue_max = cfg->queue_max > 0 ? cfg->queue_max : DEFAULT_QUEUE_MAX;
    s->wake = wake;
    s->wake_arg = wake_arg;
    smap_init(&s->keys);
    smap_init(&s->tails);
    s->tail_jams = -1;
    /* Seeds the backoff jitter so that processes started together differ: the time (times
     * Knuth's multiplicative hash constant) and the heap address, xor the 64-bit golden ratio.
     * xorshift stays at 0 forever, hence the check. */
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
    if ((err = pthread_cond_init(&s->tail_cv, &ca)) != 0) {
        pthread_cond_destroy(&s->cv);
        goto fail_cond;
    }
    pthread_condattr_destroy(&ca);
    if ((err = pthread_create(&s->thread, NULL, run, s)) != 0)
        goto fail_thread;
    if ((err = pthread_create(&s->tail_thread, NULL, tail_run, s)) != 0) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        goto fail_thread;
    }
    *out = s;
    return 0;

fail_thread:
    pthread_cond_destroy(&s->tail_cv);
    pthread_cond_destroy(&s->cv);
    goto fail_condattr;
fail_cond:
    pthread_condattr_destroy(&ca);
fail_condattr:
    pthread_mutex_destroy(&s->mu);
fail_mutex:
    smap_deinit(&s->keys, key_state_free);
    smap_deinit(&s->tails, free);
    free(s->host);
    free(s->unix_path);
    free(s->user);
    free(s->sentinels);
    free(s->master_name);
    free_secret(s->password);
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
    pthread_cond_broadcast(&s->tail_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_join(s->tail_thread, NULL);

    for (struct req *r = s->wait_head, *next; r; r = next) {
        next = r->next;
        req_free(r);
    }
    for (struct note *n = s->tail_notes, *next; n; n = next) {
        next = n->next;
        free(n->key);
        free(n);
    }
    struct outbox ob = {s->res_head, s->res_tail, 0, -1, 0};
    outbox_free(&ob);
    smap_deinit(&s->keys, key_state_free);
    smap_deinit(&s->tails, free);
    pthread_cond_destroy(&s->tail_cv);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->host);
    free(s->unix_path);
    free(s->user);
    free(s->sentinels);
    free(s->master_name);
    free_secret(s->password);
    free(s);
}

/* A new request on stream 'key', or NULL when the store is known down: that refusal comes first,
 * so a disconnected store costs no allocation. */
static struct req *req_new(const struct store *s, const char *key)
{
    if (atomic_load(&s->link) == LINK_DOWN)
        return NULL;
    struct req *r = xcalloc(1, sizeof(*r));
    r->key = xstrdup(key);
    return r;
}

/* Queue 'r' for the thread (takes ownership). Returns 0, or -ENOTCONN / -ENOBUFS (r freed). */
static int enqueue(struct store *s, struct req *r, uint64_t ctx, int64_t now_ms)
{
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
        s->waiting++;
        if (!s->lingering || s->waiting >= STORE_WINDOW)
            pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        req_free(r);
    return rc;
}

int store_append(struct store *s, const char *key, const char *payload, const char *sadd_set,
                 const char *sadd_member, uint64_t ctx, int64_t now_ms)
{
    if (!s || !key || !payload || (sadd_set && !sadd_member))
        return -EINVAL;
    struct req *r = req_new(s, key);
    if (!r)
        return -ENOTCONN;
    r->len = strlen(payload);
    r->payload = xmemdup(payload, r->len);
    if (sadd_set) {
        r->sadd_set = xstrdup(sadd_set);
        r->sadd_member = xstrdup(sadd_member);
    }
    return enqueue(s, r, ctx, now_ms);
}

int store_append_held(struct store *s, const char *key, const char *payload, uint64_t ctx,
                      int64_t now_ms)
{
    if (!s || !key || !payload)
        return -EINVAL;
    struct req *r = req_new(s, key);
    if (!r)
        return -ENOTCONN;
    r->len = strlen(payload);
    r->payload = xmemdup(payload, r->len);
    r->held = true;
    return enqueue(s, r, ctx, now_ms);
}

int store_put(struct store *s, const char *stream_key, const char *key, const void *value,
              size_t len, uint64_t ctx, int64_t now_ms)
{
    if (!s || !stream_key || !key || !value)
        return -EINVAL;
    struct req *r = req_new(s, stream_key);
    if (!r)
        return -ENOTCONN;
    r->put_key = xstrdup(key);
    r->held = true;
    r->len = len;
    r->payload = xmemdup(value, len);
    return enqueue(s, r, ctx, now_ms);
}

int store_confirm(struct store *s, const char *key, const char *id, uint64_t ctx, int64_t now_ms)
{
    struct stream_id sid;
    if (!s || !key || !id || !stream_id_parse(id, &sid))
        return -EINVAL;
    struct req *r = req_new(s, key);
    if (!r)
        return -ENOTCONN;
    r->confirm_id = xstrdup(id);
    return enqueue(s, r, ctx, now_ms);
}

int store_read(struct store *s, const char *key, const char *start, bool inclusive, unsigned count,
               uint64_t ctx, int64_t now_ms)
{
    struct stream_id sid;
    if (!s || !key || !stream_id_parse(start, &sid) || count < 1 || count > STORE_READ_MAX)
        return -EINVAL;
    struct req *r = req_new(s, key);
    if (!r)
        return -ENOTCONN;
    size_t n = strlen(start) + 2;
    r->range_start = xmalloc(n);
    snprintf(r->range_start, n, "%s%s", inclusive ? "" : "(", start);
    r->range_count = count;
    return enqueue(s, r, ctx, now_ms);
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
    s->delivered += n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t store_batches(const struct store *s)
{
    return s ? atomic_load_explicit(&s->batches, memory_order_relaxed) : 0;
}

const char *store_instance_id(const struct store *s)
{
    return s->instance;
}

void store_track(struct store *s, const char *key, const char *last_id)
{
    struct stream_id sid;
    if (!s || !key || !last_id)
        return;
    if (!last_id[0])
        last_id = "0-0";
    if (!stream_id_parse(last_id, &sid))
        return;
    struct note *t = xcalloc(1, sizeof(*t));
    t->key = xstrdup(key);
    snprintf(t->id, sizeof(t->id), "%s", last_id);
    pthread_mutex_lock(&s->mu);
    t->next = s->tail_notes;
    s->tail_notes = t;
    pthread_cond_broadcast(&s->tail_cv);
    pthread_mutex_unlock(&s->mu);
}

void store_tail_start(struct store *s)
{
    pthread_mutex_lock(&s->mu);
    s->tail_on = true;
    pthread_cond_broadcast(&s->tail_cv);
    pthread_mutex_unlock(&s->mu);
}

void store_result_clear(struct store_result *r)
{
    if (!r)
        return;
    free(r->key);
    free(r->payload);
    for (size_t i = 0; i < r->n_entries; i++)
        free(r->entries[i].payload);
    free(r->entries);
    r->key = NULL;
    r->payload = NULL;
    r->entries = NULL;
    r->n_entries = 0;
}

void store_expire(struct store *s, int64_t now_ms)
{
    struct outbox ob = OUTBOX_INIT;
    pthread_mutex_lock(&s->mu);
    expire_locked(s, &ob, BY_CALLER, now_ms);
    publish_unlock(s, &ob);
}

bool store_is_up(const struct store *s)
{
    return atomic_load(&s->link) == LINK_UP;
}

/* ======================================================================================== */
/* Public API: synchronous start-up calls                                                   */
/* ======================================================================================== */

/* Opens a connection for one synchronous call. Returns 0 with *out set, -EINVAL for a config
 * store_new would refuse, or open_conn's error; with a reason in 'why'. */
static int open_sync(const struct store_config *cfg, redisContext **out, char *why, size_t why_size)
{
    const char *bad = config_error(cfg);
    *out = NULL;
    if (bad) {
        snprintf(why, why_size, "%s", bad);
        return -EINVAL;
    }
    const struct endpoint e = {
        cfg->host,       cfg->unix_path, cfg->user,        cfg->password,    cfg->port,
        cfg->timeout_ms, cfg->sentinels, cfg->n_sentinels, cfg->master_name, false};
    return open_conn(&e, out, why, why_size);
}

int store_check(const struct store_config *cfg, int wait_ms, char *err, size_t err_size)
{
    char why[WHY_MAX] = "";
    const char *bad = config_error(cfg);
    if (bad) {
        if (err && err_size)
            snprintf(err, err_size, "%s", bad);
        return -EINVAL;
    }
    int64_t deadline = mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    for (;;) {
        redisContext *c;
        int rc = open_sync(cfg, &c, why, sizeof(why));
        if (c) {
            rc = ping(c, why, sizeof(why));
            redisFree(c);
        }
        if (rc == 0) {
            if (err && err_size)
                err[0] = '\0';
            return 0;
        }
        /* Wrong credentials do not get better by waiting: say so at once. */
        if (rc == -EACCES) {
            if (err && err_size)
                snprintf(err, err_size, "%s", why);
            return -EACCES;
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

/* The value of 'field' in "INFO <section>" into 'out' ("" if absent). INFO rather than CONFIG
 * GET: an ACL user that may read CONFIG may read every user's password (requirepass), and
 * hosted Redis often renames CONFIG away. */
static int info_get(redisContext *c, const char *section, const char *field, char *out,
                    size_t out_size)
{
    redisReply *r = redisCommand(c, "INFO %s", section);
    if (!r)
        return -EIO;
    if (out_size)
        out[0] = '\0';
    int rc = -EPROTO;
    if (r->type == REDIS_REPLY_STRING) {
        size_t flen = strlen(field);
        for (const char *p = r->str; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
            if (strncmp(p, field, flen) == 0 && p[flen] == ':') {
                p += flen + 1;
                copy_str(out, out_size, p, strcspn(p, "\r\n"));
                break;
            }
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

int store_config_get(const struct store_config *cfg, char *policy, size_t policy_size, char *aof,
                     size_t aof_size)
{
    char why[WHY_MAX], enabled[8];
    redisContext *c;
    if (open_sync(cfg, &c, why, sizeof(why)) < 0)
        return -ENOTCONN;
    int rc = info_get(c, "memory", "maxmemory_policy", policy, policy_size);
    if (rc == 0)
        rc = info_get(c, "persistence", "aof_enabled", enabled, sizeof(enabled));
    if (rc == 0 && aof_size)
        snprintf(aof, aof_size, "%s", !enabled[0] ? "" : strcmp(enabled, "1") == 0 ? "yes" : "no");
    redisFree(c);
    return rc;
}

int store_members(const struct store_config *cfg, const char *set, store_member_cb *cb, void *arg)
{
    char why[WHY_MAX];
    redisContext *c;
    if (open_sync(cfg, &c, why, sizeof(why)) < 0)
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

/* ---- the replay's replies, built in an arena --------------------------------------------- */

/* A page of PAGE_COUNT entries is about five reply objects per entry, each a calloc and a free
 * with hiredis's own functions (a fifth of the replay thread's time went to malloc and free).
 * store_replay's reader builds them here instead, and the arena is rewound after each page: the
 * blocks stay, sized by the largest page seen. Only store_replay reads replies this way. */
#define REPLY_BLOCK (256 * 1024)

struct reply_block {
    struct reply_block *next;
    size_t used, size;
    max_align_t data[];
};

struct reply_arena {
    struct reply_block *first, *cur;
};

/* 'n' bytes from the current block, or the next one with room, or a new one at the end. */
static void *arena_take(struct reply_arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct reply_block *b = a->cur;
    while (b && b->size - b->used < n && b->next)
        b = b->next;
    if (!b || b->size - b->used < n) { /* b is the last block, or there is none */
        size_t size = n > REPLY_BLOCK ? n : REPLY_BLOCK;
        struct reply_block *fresh = xmalloc(sizeof *fresh + size);
        fresh->next = NULL;
        fresh->used = 0;
        fresh->size = size;
        if (b)
            b->next = fresh;
        else
            a->first = fresh;
        b = fresh;
    }
    a->cur = b;
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

static void arena_rewind(struct reply_arena *a)
{
    for (struct reply_block *b = a->first; b; b = b->next)
        b->used = 0;
    a->cur = a->first;
}

static void arena_free(struct reply_arena *a)
{
    for (struct reply_block *b = a->first, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->first = a->cur = NULL;
}

/* hiredis's createReplyObject and the create*Object functions, with their memory from the
 * arena in the reader's privdata. */
static redisReply *arena_reply(const redisReadTask *task, int type, size_t extra)
{
    redisReply *r = arena_take(task->privdata, sizeof *r + extra);
    memset(r, 0, sizeof *r);
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}

static void *arena_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = arena_reply(task, task->type, len + 1);
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *arena_array(const redisReadTask *task, int elements)
{
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = arena_reply(task, REDIS_REPLY_ARRAY, n * sizeof(redisReply *));
    r->element = n ? (redisReply **)(r + 1) : NULL;
    r->elements = n;
    return r;
}

static void *arena_integer(const redisReadTask *task, long long value)
{
    redisReply *r = arena_reply(task, REDIS_REPLY_INTEGER, 0);
    r->integer = value;
    return r;
}

static void *arena_nil(const redisReadTask *task)
{
    return arena_reply(task, REDIS_REPLY_NIL, 0);
}

static void arena_object_free(void *obj)
{
    (void)obj; /* rewound with the page */
}

static redisReplyObjectFunctions arena_functions = {arena_string, arena_array, arena_integer,
                                                    arena_nil, arena_object_free};

/* Send the XRANGE of the page from 'start' now (redisAppendCommand alone only buffers it until the
 * next redisGetReply). */
static bool ask_page(redisContext *c, const char *key, const char *start)
{
    if (redisAppendCommand(c, "XRANGE %s %s + COUNT %d", key, start, PAGE_COUNT) != REDIS_OK)
        return false;
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return false;
    return true;
}

int store_replay(const struct store_config *cfg, const char *key, const char *after_id,
                 store_entry_cb *cb, void *arg)
{
    char why[WHY_MAX];
    char start[MSG_EVENT_ID_MAX + 2] = "-";
    redisContext *c;
    if (open_sync(cfg, &c, why, sizeof(why)) < 0)
        return -ENOTCONN;
    if (after_id && after_id[0]) {
        if (strlen(after_id) > MSG_EVENT_ID_MAX) {
            redisFree(c);
            return -EINVAL;
        }
        snprintf(start, sizeof(start), "(%s", after_id);
    }
    /* One page asked for ahead: Redis reads the next page while 'cb' works through this one.
     * A reply is complete when redisGetReply hands it over, and the reader starts on the next
     * one only at the next call: the arena can be rewound once a page is handed over. */
    c->reader->maxbuf = 0; /* keep the reader's buffer between pages, not freed and grown again */
    struct reply_arena arena = {NULL, NULL};
    c->reader->fn = &arena_functions;
    c->reader->privdata = &arena;
    int rc = 0;
    bool asked = ask_page(c, key, start);
    while (asked) {
        redisReply *r = NULL;
        asked = false;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
            rc = -EIO;
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY) {
            rc = -EPROTO;
            break;
        }
        size_t n = r->elements, ok = 0;
        const redisReply *id;
        const char *val;
        size_t len;
        while (ok < n && parse_entry(r->element[ok], &id, &val, &len))
            ok++;
        bool more = ok == PAGE_COUNT;
        if (more) {
            snprintf(start, sizeof(start), "(%s", r->element[ok - 1]->element[0]->str);
            asked = ask_page(c, key, start);
        }
        for (size_t i = 0; i < ok && rc == 0; i++) {
            parse_entry(r->element[i], &id, &val, &len);
            rc = cb(id->str, val, len, arg);
        }
        /* What came before a malformed entry, or before the next page could not be asked for,
         * was handed over. */
        if (rc == 0 && ok < n)
            rc = -EPROTO;
        else if (rc == 0 && more && !asked)
            rc = -EIO;
        arena_rewind(&arena);
        if (rc != 0)
            break;
    }
    redisFree(c); /* a page still asked for is dropped with the connection */
    arena_free(&arena);
    return rc;
}

/* GET 'key'. Returns 1 with the string reply in *out (free it), 0 if absent, or <0 on error. */
static int get_value(redisContext *c, const char *key, redisReply **out)
{
    redisReply *r = redisCommand(c, "GET %s", key);
    *out = NULL;
    if (!r)
        return -EIO;
    int rc = r->type == REDIS_REPLY_NIL ? 0 : r->type == REDIS_REPLY_STRING ? 1 : -EPROTO;
    if (rc == 1)
        *out = r;
    else
        freeReplyObject(r);
    return rc;
}

/* GET 'key' into 'out'. Returns 1 if found, 0 if absent, <0 on error. */
static int get_str(redisContext *c, const char *key, char *out, size_t out_size)
{
    redisReply *r;
    int rc = get_value(c, key, &r);
    if (rc == 1 && r->len >= out_size)
        rc = -ENOSPC;
    else if (rc == 1)
        copy_str(out, out_size, r->str, r->len);
    if (r)
        freeReplyObject(r);
    return rc;
}

int store_get_or_set(const struct store_config *cfg, const char *key, const char *value_if_absent,
                     char *out, size_t out_size)
{
    char why[WHY_MAX];
    if (!out || out_size == 0)
        return -EINVAL;
    redisContext *c;
    if (open_sync(cfg, &c, why, sizeof(why)) < 0)
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

int store_get(const struct store_config *cfg, const char *key, unsigned char **out, size_t *len)
{
    char why[WHY_MAX];
    redisContext *c;
    if (open_sync(cfg, &c, why, sizeof(why)) < 0)
        return -ENOTCONN;
    redisReply *r;
    int rc = get_value(c, key, &r);
    if (rc == 1) {
        *out = (unsigned char *)xmemdup(r->str, r->len);
        *len = r->len;
        freeReplyObject(r);
    }
    redisFree(c);
    return rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
}
