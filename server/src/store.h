/* SPDX-License-Identifier: MIT
 * store.h - persistence: the one module that includes hiredis. A writer thread with a blocking
 * hiredis connection takes appends from a bounded queue, pipelines XADDs (at most STORE_WINDOW
 * unanswered), and hands completions back to the loop thread through a locked queue plus the
 * 'wake' callback (main passes one that calls lws_cancel_service()). It keeps its own timeouts
 * and reconnects with jittered backoff, because hiredis 0.14 has neither.
 * The synchronous calls (store_check, store_replay, ...) are for start-up, before the loop
 * serves, and use their own connection.
 *
 * Every process writes and every process reads (proto/messages.md, "Several processes"): appends
 * (store_append) are plain XADDs, in no one's name; a second thread, the tail, has a connection of
 * its own and XREAD BLOCKs every live jam's stream from the id the loop has applied, posting each
 * entry as STORE_TAILED in stream order, whoever wrote it. The loop applies those and nothing else,
 * so every process applies the same entries in the same order; an append's own STORE_APPENDED only
 * names the id its writer waits for. The tail follows the streams store_track names and, once
 * store_tail_start is called, every jam that appears in the set of jams.
 *
 * Housekeeping done once per jam (phase deadlines, snapshots) is fenced by a lease: an append made
 * with store_append_held, and every store_put, is one Lua script that checks, in the same atomic
 * step, that this instance holds the stream's lease (keys_lease: the instance id) under the fencing
 * epoch it acquired (keys_epoch, INCR on each acquisition). A stream's lease is acquired before its
 * first fenced request (SET NX with a TTL of lease_ms), renewed every lease_ms/3 and released by
 * store_free, so it moves to another process when its holder dies. A fenced request refused fails
 * with store_err_fenced; STORE_FENCED says who holds the lease instead. The writer thread never
 * reads what others appended: the tail hands the loop every entry, and an append whose reply was
 * lost is settled by its client's retry (handlers.c reads the stream for it).
 */
#ifndef COJAM_STORE_H
#define COJAM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sentinel.h"
#include "stream.h"

/* Requests coming faster than this apart make the store linger (store_config.linger_us). */
#define STORE_LINGER_BUSY_US 10000
#define STORE_WINDOW 256     /* unanswered commands; unbounded pipelining buffers without limit */
#define STORE_OWNER_MAX 64   /* longest instance id */
#define STORE_READ_MAX 10000 /* entries per store_read: bounds the reply the thread holds at once */

struct store;

struct store_config {
    const char *host; /* borrowed; NULL when unix_path is used */
    int port;
    const char *unix_path;   /* borrowed; NULL for TCP */
    const char *user;        /* borrowed: the ACL user to AUTH as; NULL: the default user */
    const char *password;    /* borrowed: sent with AUTH on every connection this config opens
                               (the thread's, after every reconnect, and each synchronous call's);
                               NULL: no AUTH. store_new keeps a copy, wiped by store_free. */
    int timeout_ms;          /* > 0: a write not confirmed within this fails; also the connect,
                               read and write timeout of every connection. No default here: the
                               one default and its bounds are config.c's --redis-timeout-ms. */
    size_t queue_max;        /* appends waiting or in flight; beyond: -ENOBUFS (default 65536) */
    const char *instance_id; /* borrowed: names this process in leases: 1..STORE_OWNER_MAX
                                printable characters, no spaces, not "none"; unique among the live
                                processes sharing the Redis, and best kept across restarts of the
                                same server so that a crashed one retakes its jams at once. NULL: a
                                stable id from the host name (and unix_path): processes on one host
                                then share it and are not fenced from one another. */
    int lease_ms;            /* a lease not renewed for this long lapses (default 10000, min 100) */
    /* Sentinel (n_sentinels > 0; host, port and unix_path are then unused): every connection this
     * config opens, the threads' after every failure and each synchronous call's, first asks the
     * sentinels in turn for the address of 'master_name' (SENTINEL get-master-addr-by-name), then
     * connects there and checks with ROLE that it is the primary. A write refused with -READONLY
     * (the primary was demoted under us) drops the connection and is sent again, at most
     * MAX_TRIES times, on the next one; one whose reply was lost fails as without Sentinel. */
    const struct sentinel_addr *sentinels; /* borrowed; store_new keeps a copy */
    size_t n_sentinels;
    const char *master_name; /* borrowed */
    int replicas;            /* > 0: after each batch of writes, one "WAIT <replicas> <timeout>";
                               a write is confirmed only once that many replicas have it, else it
                               fails with store_err_replica */
    int replica_timeout_ms;  /* WAIT's timeout (> 0 when replicas > 0) */
    int linger_us;           /* > 0: while requests keep coming (a batch went out less than
                                STORE_LINGER_BUSY_US ago), the thread waits this long after the
                                first one of a batch before sending it, so that those arriving
                                meanwhile share its write, its fsync and its reply (a request
                                after a quiet spell goes at once); 0: never waits */
};

/* Called on the store thread when results are waiting. Must be thread-safe. */
typedef void store_wake_cb(void *arg);

/* Async error constants: a result's err is NULL on success or one of these. */
extern const char store_err_timeout[];     /* not confirmed in time: outcome unknown */
extern const char store_err_unavailable[]; /* connection lost or Redis refused: outcome unknown */
extern const char store_err_replica[];     /* "replica_timeout": Redis stored it, but fewer
                                              replicas than 'replicas' confirmed it within
                                              replica_timeout_ms: it may be lost if the primary
                                              fails now; retry the same op */
extern const char store_err_fenced[];      /* "not_owner": nothing was appended, because another
                                              instance holds the stream's lease: retry */

enum store_result_kind {
    STORE_APPENDED, /* an append finished: 'err' NULL and 'id' set, or 'err' set */
    STORE_UP,       /* the connection is (re)established */
    STORE_DOWN,     /* the connection was lost; appends fail until STORE_UP */
    STORE_FENCED,   /* another instance ('owner') holds the lease of stream 'key': appends to it
                         fail with store_err_fenced. Posted once per owner seen, until this
                         instance acquires the stream again. */
    STORE_RANGE,    /* a read finished: 'err' NULL and 'entries' set (maybe none), or 'err' set */
    STORE_TAILED,   /* an entry of a tailed stream, in stream order: 'key', 'id', 'payload' set */
};

struct store_result {
    int kind;     /* enum store_result_kind (an int, so that a switch over the kinds
                                   written before STORE_FENCED still compiles with -Wswitch) */
    uint64_t ctx; /* the caller's ctx of the append (APPENDED) */
    const char *err;
    char id[MSG_EVENT_ID_MAX + 1];   /* stream id */
    char *key;                       /* owned by the result (TAILED and APPENDED) */
    char *payload;                   /* owned by the result (TAILED) */
    char owner[STORE_OWNER_MAX + 1]; /* FENCED: the instance that holds the lease */
    struct stream_entry *entries;    /* owned by the result (RANGE only), in stream order, their
                                   payloads too */
    size_t n_entries;
};

/* Start the writer thread. Does not wait for Redis. Returns 0 or a negative errno: -EINVAL for a
 * config without host and unix_path, with timeout_ms <= 0 or with an invalid instance_id. */
int store_new(const struct store_config *cfg, store_wake_cb *wake, void *wake_arg,
              struct store **out);
/* Stop the thread (pending appends are dropped without results), release the leases it holds (if
 * Redis answers within timeout_ms) so another instance can take them at once, join it, free
 * everything. store_free(NULL) is a no-op. */
void store_free(struct store *s);

/* Batches the thread has taken from the queue: each one write, one round trip to Redis, one
 * fsync there. Any thread. */
uint64_t store_batches(const struct store *s);

/* The instance id in use (given or generated). Valid until store_free. */
const char *store_instance_id(const struct store *s);

/* Tells the threads that the loop has applied stream 'key' up to 'last_id' ("" = nothing of it).
 * Call on the loop thread after replaying a jam at start-up, and before the first append to a
 * stream that is to be created (with ""). The tail reads the stream from there (an id behind what
 * it has read already is ignored: the newest wins). A stream never tracked is read by the tail
 * from its first entry once it finds the jam in the set of jams. An id that is not "<ms>-<seq>"
 * is ignored. */
void store_track(struct store *s, const char *key, const char *last_id);

/* Starts the tail (call once the loop has replayed every jam and tracked each): from then on it
 * reads the tracked streams, and the stream of every jam that appears in KEYS_JAMS from its first
 * entry. */
void store_tail_start(struct store *s);

/* Queue "XADD <key> * e <payload>" (strings copied). Appends are sent in call order, so the stream
 * order equals the call order among this process's appends that succeed. If 'sadd_set' is not
 * NULL, also "SADD <sadd_set> <sadd_member>" in the same atomic step (the set member exists
 * whenever the entry does). Needs no lease. Returns 0 (a result with 'ctx' will come exactly once)
 * or -ENOBUFS (queue full) / -ENOTCONN (known down): no result will come. 'now_ms' is the
 * monotonic time, for the timeout. */
int store_append(struct store *s, const char *key, const char *payload, const char *sadd_set,
                 const char *sadd_member, uint64_t ctx, int64_t now_ms);
/* store_append, done only while this instance holds the stream's lease (see above): for the
 * housekeeping of a jam that one process does. Fails with store_err_fenced otherwise. */
int store_append_held(struct store *s, const char *key, const char *payload, uint64_t ctx,
                      int64_t now_ms);

/* Queue a fenced "SET <key> <value>" (copied) on behalf of stream 'stream_key' (a jam's snapshot
 * beside its stream): done only while this instance holds that stream's lease. Its result is a
 * STORE_APPENDED with 'ctx' and an empty 'id'. Same return values as store_append. */
int store_put(struct store *s, const char *stream_key, const char *key, const void *value,
              size_t len, uint64_t ctx, int64_t now_ms);

/* Queue "XRANGE <key> <start> + COUNT <count>" ('inclusive' false: the exclusive "(<start>").
 * Reads need no lease and leave no stream in doubt. They share the pipeline of the appends, so a
 * read sees every append queued before it. Its result is a STORE_RANGE with 'ctx'; it fails like
 * an append (store_err_timeout, store_err_unavailable). 'count' 1..STORE_READ_MAX. Same return
 * values as store_append. */
int store_read(struct store *s, const char *key, const char *start, bool inclusive, unsigned count,
               uint64_t ctx, int64_t now_ms);

/* Queue a replication barrier for entry 'id' of stream 'key' (with config replicas > 0): a script
 * that, if the entry is in the stream, writes the mark beside it (keys_confirm), followed by the
 * batch's WAIT. Its result is a STORE_APPENDED with 'ctx' and the entry's 'id' once the replicas
 * have the entry (they have everything written before the mark); store_err_replica if they did
 * not confirm in time; store_err_unavailable if the entry is not in the stream (a failover lost
 * it), or fails like an append. For the retry of an op whose first ack could not say the replicas
 * had it: the loop applied it from the primary, which alone does not make it durable. Same return
 * values as store_append. */
int store_confirm(struct store *s, const char *key, const char *id, uint64_t ctx, int64_t now_ms);

/* Move up to 'max' results into 'out' (loop thread). Returns how many, in the order they were
 * posted (the tail's entries in stream order). Release each with store_result_clear(). */
size_t store_poll(struct store *s, struct store_result *out, size_t max);
void store_result_clear(struct store_result *r);

/* Fail queued appends older than timeout_ms with store_err_timeout (call from the loop's tick;
 * the thread also enforces it). */
void store_expire(struct store *s, int64_t now_ms);

bool store_is_up(const struct store *s);

/* ---- synchronous, for start-up (blocking; own connection) ---------------------------------- */

/* Connect, AUTH (if a password is given) and PING, retrying for up to 'wait_ms' (Redis may be
 * starting or -LOADING). Returns 0, -EINVAL at once for a config store_new would refuse (other
 * than its instance_id), -EACCES at once when Redis refuses the credentials (-WRONGPASS, or an
 * AUTH it cannot check) or wants some that were not given (-NOAUTH), or -ETIMEDOUT; with a
 * reason in 'err' (size err_size; it never holds the password) on failure. The other synchronous
 * calls fail (-ENOTCONN) on such a config. The writer thread instead retries refused credentials
 * with its backoff, like any connection failure. */
int store_check(const struct store_config *cfg, int wait_ms, char *err, size_t err_size);

/* Redis's maxmemory-policy and appendonly ("yes"/"no") into the buffers ("" if unknown), read
 * from INFO (which needs no right to CONFIG). Returns 0 or <0. */
int store_config_get(const struct store_config *cfg, char *policy, size_t policy_size, char *aof,
                     size_t aof_size);

/* GET a binary value into a new malloc'd buffer (*out, *len). Returns 0, -ENOENT when absent,
 * or another negative errno. */
int store_get(const struct store_config *cfg, const char *key, unsigned char **out, size_t *len);

/* SMEMBERS: call 'cb' for each member. Returns 0 or <0. */
typedef int store_member_cb(const char *member, void *arg);
int store_members(const struct store_config *cfg, const char *set, store_member_cb *cb, void *arg);

/* Read a whole stream in pages (XRANGE with exclusive start, COUNT 1000), calling 'cb' for each
 * entry in order with its id and the value of field "e". A non-zero return from cb stops the
 * replay and is returned. 'after_id' "" = from the start. Returns 0 or <0 / cb's value. */
typedef int store_entry_cb(const char *id, const char *payload, size_t len, void *arg);
int store_replay(const struct store_config *cfg, const char *key, const char *after_id,
                 store_entry_cb *cb, void *arg);

/* GET 'key'; if absent, SET NX it to 'value_if_absent' and GET again. Writes the final value (a
 * string of at most out_size-1 bytes) into 'out'. Returns 0 or <0. */
int store_get_or_set(const struct store_config *cfg, const char *key, const char *value_if_absent,
                     char *out, size_t out_size);

#endif
