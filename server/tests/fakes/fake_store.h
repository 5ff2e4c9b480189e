/* SPDX-License-Identifier: MIT
 * fake_store.h - a link-time stand-in for store.c (mosquitto's *_stubs.c): the functions of
 * store.h in memory, no thread and no Redis. It records every call, keeps one in-memory stream per
 * key (so reads and the start-up replay return real entries) and lets the test decide each
 * outcome: answered at once (the default) or held until fake_store_answer(), refused
 * synchronously, or failed with one of the store_err_* constants. Results wait in a queue until
 * store_poll() takes them, as the real thread's do. One fake store at a time.
 */
#ifndef COJAM_FAKE_STORE_H
#define COJAM_FAKE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum fake_call_kind { FAKE_APPEND, FAKE_PUT, FAKE_READ, FAKE_CONFIRM };

/* One asynchronous call the glue made, in call order. */
struct fake_call {
    enum fake_call_kind kind;
    uint64_t ctx;
    int64_t now_ms;
    char *key;     /* the stream (append, read) or the stream whose lease fences a put */
    char *payload; /* append: the event JSON; put: the key written */
    char *sadd_set, *sadd_member;     /* append: NULL when none */
    char start[MSG_EVENT_ID_MAX + 1]; /* read: its bound; confirm: the entry */
    bool inclusive;
    unsigned count;
    unsigned char *value; /* put: a copy of the value, written to the key when answered */
    size_t value_len;
    bool answered;
    bool held; /* append: store_append_held (the lease's) */
};

struct fake_stream {
    char *key;
    struct stream_entry *entries;
    size_t n, cap;
};

struct store {
    bool up;                 /* store_is_up */
    bool hold;               /* keep calls in flight until fake_store_answer() */
    int refuse;              /* the next call returns this (-ENOBUFS, -ENOTCONN) once */
    const char *fail;        /* the next answer fails with this store_err_* once */
    struct fake_call *calls; /* owned: every call accepted */
    size_t n_calls, cap_calls;
    struct store_result *results; /* owned: waiting for store_poll */
    size_t n_results, cap_results;
    struct fake_stream *streams; /* owned */
    size_t n_streams;
    char **members; /* owned: members SADDed to KEYS_JAMS, in order */
    size_t n_members;
    char **kv_keys; /* owned: what store_put wrote, for store_get */
    unsigned char **kv_values;
    size_t *kv_lens, n_kv;
    char tracked_key[64], tracked_id[MSG_EVENT_ID_MAX + 1]; /* the last store_track */
    unsigned n_expires;                                     /* store_expire calls */
    uint64_t next_ms; /* the ms part of the next generated stream id */
    /* The tail: an answered append's entry is posted as STORE_TAILED right after its
     * STORE_APPENDED ('tail_first': right before it; 'no_tail': not at all, the test posts it). */
    bool tail_first, no_tail;
    bool tail_on; /* store_tail_start was called */
};

/* The fake store, up, answering at once. The synchronous start-up calls (store_get,
 * store_replay, store_members) read this one whatever configuration they are given. */
struct store *fake_store_new(void);
void fake_store_free(struct store *s);

/* Answer the oldest unanswered call: with 'err' NULL an append gets the next stream id (its entry
 * is then in the stream), a put an empty id, a read the stream's entries, a confirm its entry's
 * id if the stream has that entry (else store_err_unavailable, as store.c answers). */
void fake_store_answer(struct store *s, const char *err);
/* How many calls are unanswered. */
size_t fake_store_in_flight(const struct store *s);
/* The calls of 'kind' made so far, and the last one (NULL if none). */
size_t fake_store_count(const struct store *s, enum fake_call_kind kind);
const struct fake_call *fake_store_last(const struct store *s, enum fake_call_kind kind);

/* Write an entry to stream 'key' as another writer would (nothing is posted); 'id' NULL: the next
 * generated id. */
void fake_store_add_entry(struct store *s, const char *key, const char *id, const char *payload);
/* SADD 'member' to KEYS_JAMS as a creation would. */
void fake_store_add_member(struct store *s, const char *member);
const struct fake_stream *fake_store_stream(const struct store *s, const char *key);
/* Queue a result of 'kind' (STORE_TAILED, STORE_UP, STORE_DOWN, STORE_FENCED) for store_poll;
 * 'key', 'id' and 'payload' may be NULL. */
void fake_store_post(struct store *s, int kind, const char *key, const char *id,
                     const char *payload);

#endif
