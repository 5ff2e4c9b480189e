/* SPDX-License-Identifier: MIT
 * fake_store.c - store.h in memory for the unit tests of the glue modules (see fake_store.h).
 */
#include "fakes/fake_store.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "keys.h"

const char store_err_timeout[] = "storage_timeout";
const char store_err_unavailable[] = "storage_unavailable";
const char store_err_fenced[] = "not_owner";
const char store_err_replica[] = "replica_timeout";

/* The replay thread reads the streams through the synchronous calls while the test's thread
 * applies what it handed over: one lock around what both touch. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *current; /* the synchronous calls take a configuration, not a store */

struct store *fake_store_new(void)
{
    struct store *s = xcalloc(1, sizeof *s);
    s->up = true;
    s->next_ms = 1700000000000;
    current = s;
    return s;
}

void fake_store_free(struct store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_calls; i++) {
        free(s->calls[i].key);
        free(s->calls[i].payload);
        free(s->calls[i].sadd_set);
        free(s->calls[i].sadd_member);
        free(s->calls[i].value);
    }
    free(s->calls);
    for (size_t i = 0; i < s->n_results; i++)
        store_result_clear(&s->results[i]);
    free(s->results);
    for (size_t i = 0; i < s->n_streams; i++) {
        for (size_t k = 0; k < s->streams[i].n; k++)
            free(s->streams[i].entries[k].payload);
        free(s->streams[i].entries);
        free(s->streams[i].key);
    }
    free(s->streams);
    for (size_t i = 0; i < s->n_members; i++)
        free(s->members[i]);
    free(s->members);
    for (size_t i = 0; i < s->n_kv; i++) {
        free(s->kv_keys[i]);
        free(s->kv_values[i]);
    }
    free(s->kv_keys);
    free(s->kv_values);
    free(s->kv_lens);
    if (current == s)
        current = NULL;
    free(s);
}

static char *dup_or_null(const char *v)
{
    return v ? xstrdup(v) : NULL;
}

static struct fake_stream *stream_of(struct store *s, const char *key, bool create)
{
    for (size_t i = 0; i < s->n_streams; i++)
        if (strcmp(s->streams[i].key, key) == 0)
            return &s->streams[i];
    if (!create)
        return NULL;
    s->streams = xrealloc(s->streams, (s->n_streams + 1) * sizeof *s->streams);
    struct fake_stream *st = &s->streams[s->n_streams++];
    memset(st, 0, sizeof *st);
    st->key = xstrdup(key);
    return st;
}

static void stream_add(struct store *s, const char *key, const char *id, const char *payload)
{
    struct fake_stream *st = stream_of(s, key, true);
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 16;
        st->entries = xrealloc(st->entries, st->cap * sizeof *st->entries);
    }
    struct stream_entry *e = &st->entries[st->n++];
    snprintf(e->id, sizeof e->id, "%s", id);
    e->payload = xstrdup(payload);
    e->len = strlen(payload);
}

static void add_member(struct store *s, const char *member)
{
    for (size_t i = 0; i < s->n_members; i++)
        if (strcmp(s->members[i], member) == 0)
            return;
    s->members = xrealloc(s->members, (s->n_members + 1) * sizeof *s->members);
    s->members[s->n_members++] = xstrdup(member);
}

static void kv_set(struct store *s, const char *key, const void *value, size_t len)
{
    size_t i = 0;
    while (i < s->n_kv && strcmp(s->kv_keys[i], key) != 0)
        i++;
    if (i == s->n_kv) {
        s->n_kv++;
        s->kv_keys = xrealloc(s->kv_keys, s->n_kv * sizeof *s->kv_keys);
        s->kv_values = xrealloc(s->kv_values, s->n_kv * sizeof *s->kv_values);
        s->kv_lens = xrealloc(s->kv_lens, s->n_kv * sizeof *s->kv_lens);
        s->kv_keys[i] = xstrdup(key);
    } else {
        free(s->kv_values[i]);
    }
    s->kv_values[i] = xmalloc(len ? len : 1);
    memcpy(s->kv_values[i], value, len);
    s->kv_lens[i] = len;
}

static struct store_result *push_result(struct store *s, int kind, uint64_t ctx)
{
    if (s->n_results == s->cap_results) {
        s->cap_results = s->cap_results ? s->cap_results * 2 : 16;
        s->results = xrealloc(s->results, s->cap_results * sizeof *s->results);
    }
    struct store_result *r = &s->results[s->n_results++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->ctx = ctx;
    return r;
}

/* What the tail would post for an entry just appended to 'key'. */
static void post_tailed(struct store *s, const char *key, const char *id, const char *payload)
{
    struct store_result *t = push_result(s, STORE_TAILED, 0);
    t->key = xstrdup(key);
    t->payload = xstrdup(payload);
    snprintf(t->id, sizeof t->id, "%s", id);
}

static void answer(struct store *s, struct fake_call *c, const char *err)
{
    c->answered = true;
    if (!err && s->fail) {
        err = s->fail;
        s->fail = NULL;
    }
    char id[MSG_EVENT_ID_MAX + 1];
    bool tailed = !err && c->kind == FAKE_APPEND && !s->no_tail;
    snprintf(id, sizeof id, "%" PRIu64 "-0", s->next_ms);
    if (tailed && s->tail_first)
        post_tailed(s, c->key, id, c->payload);
    struct store_result *r = push_result(s, c->kind == FAKE_READ ? STORE_RANGE : STORE_APPENDED,
                                         c->ctx);
    r->err = err;
    if (c->kind != FAKE_READ)
        r->key = xstrdup(c->kind == FAKE_PUT ? c->payload : c->key);
    if (!err && c->kind == FAKE_CONFIRM) {
        pthread_mutex_lock(&lock);
        const struct fake_stream *st = stream_of(s, c->key, false);
        bool found = false;
        for (size_t k = 0; st && k < st->n && !found; k++)
            found = strcmp(st->entries[k].id, c->start) == 0;
        pthread_mutex_unlock(&lock);
        if (found)
            snprintf(r->id, sizeof r->id, "%s", c->start);
        else
            r->err = store_err_unavailable;
        return;
    }
    if (err)
        return;
    pthread_mutex_lock(&lock);
    if (c->kind == FAKE_APPEND) {
        s->next_ms++;
        snprintf(r->id, sizeof r->id, "%s", id);
        stream_add(s, c->key, r->id, c->payload);
        if (c->sadd_set && strcmp(c->sadd_set, KEYS_JAMS) == 0)
            add_member(s, c->sadd_member);
    } else if (c->kind == FAKE_PUT) {
        kv_set(s, c->payload, c->value, c->value_len);
    } else {
        const struct fake_stream *st = stream_of(s, c->key, false);
        size_t n = 0;
        r->entries = xcalloc(c->count, sizeof *r->entries);
        for (size_t k = 0; st && k < st->n && n < c->count; k++) {
            int cmp = stream_id_cmp(st->entries[k].id, c->start);
            if (cmp > 0 || (cmp == 0 && c->inclusive)) {
                r->entries[n] = st->entries[k];
                r->entries[n].payload = xstrdup(st->entries[k].payload);
                n++;
            }
        }
        r->n_entries = n;
    }
    pthread_mutex_unlock(&lock);
    if (tailed && !s->tail_first)
        post_tailed(s, c->key, id, c->payload);
}

static struct fake_call *record(struct store *s, enum fake_call_kind kind, const char *key,
                                uint64_t ctx, int64_t now_ms)
{
    if (s->n_calls == s->cap_calls) {
        s->cap_calls = s->cap_calls ? s->cap_calls * 2 : 32;
        s->calls = xrealloc(s->calls, s->cap_calls * sizeof *s->calls);
    }
    struct fake_call *c = &s->calls[s->n_calls++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->key = xstrdup(key);
    c->ctx = ctx;
    c->now_ms = now_ms;
    return c;
}

/* The synchronous refusal the test asked for, or -ENOTCONN while down, or 0. */
static int refusal(struct store *s)
{
    int rc = s->refuse;
    s->refuse = 0;
    return rc ? rc : s->up ? 0 : -ENOTCONN;
}

int store_append(struct store *s, const char *key, const char *payload, const char *sadd_set,
                 const char *sadd_member, uint64_t ctx, int64_t now_ms)
{
    int rc = refusal(s);
    if (rc < 0)
        return rc;
    struct fake_call *c = record(s, FAKE_APPEND, key, ctx, now_ms);
    c->payload = xstrdup(payload);
    c->sadd_set = dup_or_null(sadd_set);
    c->sadd_member = dup_or_null(sadd_member);
    if (!s->hold)
        answer(s, c, NULL);
    return 0;
}

int store_append_held(struct store *s, const char *key, const char *payload, uint64_t ctx,
                      int64_t now_ms)
{
    int rc = refusal(s);
    if (rc < 0)
        return rc;
    struct fake_call *c = record(s, FAKE_APPEND, key, ctx, now_ms);
    c->payload = xstrdup(payload);
    c->held = true;
    if (!s->hold)
        answer(s, c, NULL);
    return 0;
}

int store_put(struct store *s, const char *stream_key, const char *key, const void *value,
              size_t len, uint64_t ctx, int64_t now_ms)
{
    int rc = refusal(s);
    if (rc < 0)
        return rc;
    struct fake_call *c = record(s, FAKE_PUT, stream_key, ctx, now_ms);
    c->payload = xstrdup(key);
    c->value = xmalloc(len ? len : 1);
    memcpy(c->value, value, len);
    c->value_len = len;
    if (!s->hold)
        answer(s, c, NULL);
    return 0;
}

int store_read(struct store *s, const char *key, const char *start, bool inclusive, unsigned count,
               uint64_t ctx, int64_t now_ms)
{
    int rc = refusal(s);
    if (rc < 0)
        return rc;
    struct fake_call *c = record(s, FAKE_READ, key, ctx, now_ms);
    snprintf(c->start, sizeof c->start, "%s", start);
    c->inclusive = inclusive;
    c->count = count;
    if (!s->hold)
        answer(s, c, NULL);
    return 0;
}

int store_confirm(struct store *s, const char *key, const char *id, uint64_t ctx, int64_t now_ms)
{
    int rc = refusal(s);
    if (rc < 0)
        return rc;
    struct fake_call *c = record(s, FAKE_CONFIRM, key, ctx, now_ms);
    snprintf(c->start, sizeof c->start, "%s", id);
    if (!s->hold)
        answer(s, c, NULL);
    return 0;
}

void store_track(struct store *s, const char *key, const char *last_id)
{
    snprintf(s->tracked_key, sizeof s->tracked_key, "%s", key);
    snprintf(s->tracked_id, sizeof s->tracked_id, "%s", last_id);
}

void store_tail_start(struct store *s)
{
    s->tail_on = true;
}

size_t store_poll(struct store *s, struct store_result *out, size_t max)
{
    size_t n = s->n_results < max ? s->n_results : max;
    if (!n)
        return 0;
    memcpy(out, s->results, n * sizeof *out);
    memmove(s->results, s->results + n, (s->n_results - n) * sizeof *s->results);
    s->n_results -= n;
    return n;
}

void store_result_clear(struct store_result *r)
{
    free(r->key);
    free(r->payload);
    for (size_t i = 0; i < r->n_entries; i++)
        free(r->entries[i].payload);
    free(r->entries);
    r->key = r->payload = NULL;
    r->entries = NULL;
    r->n_entries = 0;
}

void store_expire(struct store *s, int64_t now_ms)
{
    (void)now_ms;
    s->n_expires++;
}

bool store_is_up(const struct store *s)
{
    return s->up;
}

uint64_t store_batches(const struct store *s)
{
    return s ? s->n_calls : 0; /* every call its own batch */
}

/* ---- the synchronous calls of start-up, over the same memory ------------------------------- */

int store_get(const struct store_config *cfg, const char *key, unsigned char **out, size_t *len)
{
    (void)cfg;
    int rc = -ENOENT;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; current && i < current->n_kv; i++)
        if (strcmp(current->kv_keys[i], key) == 0) {
            *len = current->kv_lens[i];
            *out = xmalloc(*len ? *len : 1);
            memcpy(*out, current->kv_values[i], *len);
            rc = 0;
        }
    pthread_mutex_unlock(&lock);
    return rc;
}

int store_members(const struct store_config *cfg, const char *set, store_member_cb *cb, void *arg)
{
    (void)cfg;
    if (strcmp(set, KEYS_JAMS) != 0)
        return 0;
    pthread_mutex_lock(&lock);
    int rc = 0;
    for (size_t i = 0; current && i < current->n_members && rc == 0; i++)
        rc = cb(current->members[i], arg);
    pthread_mutex_unlock(&lock);
    return rc < 0 ? rc : 0;
}

int store_replay(const struct store_config *cfg, const char *key, const char *after_id,
                 store_entry_cb *cb, void *arg)
{
    (void)cfg;
    pthread_mutex_lock(&lock);
    const struct fake_stream *st = current ? stream_of(current, key, false) : NULL;
    int rc = 0;
    for (size_t k = 0; st && k < st->n && rc == 0; k++)
        if (!after_id[0] || stream_id_cmp(st->entries[k].id, after_id) > 0)
            rc = cb(st->entries[k].id, st->entries[k].payload, st->entries[k].len, arg);
    pthread_mutex_unlock(&lock);
    return rc;
}

/* ---- what the test asks of it -------------------------------------------------------------- */

void fake_store_answer(struct store *s, const char *err)
{
    for (size_t i = 0; i < s->n_calls; i++)
        if (!s->calls[i].answered) {
            answer(s, &s->calls[i], err);
            return;
        }
}

size_t fake_store_in_flight(const struct store *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_calls; i++)
        n += !s->calls[i].answered;
    return n;
}

size_t fake_store_count(const struct store *s, enum fake_call_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_calls; i++)
        n += s->calls[i].kind == kind;
    return n;
}

const struct fake_call *fake_store_last(const struct store *s, enum fake_call_kind kind)
{
    for (size_t i = s->n_calls; i > 0; i--)
        if (s->calls[i - 1].kind == kind)
            return &s->calls[i - 1];
    return NULL;
}

void fake_store_add_entry(struct store *s, const char *key, const char *id, const char *payload)
{
    char next[MSG_EVENT_ID_MAX + 1];
    if (!id) {
        snprintf(next, sizeof next, "%" PRIu64 "-0", s->next_ms++);
        id = next;
    }
    pthread_mutex_lock(&lock);
    stream_add(s, key, id, payload);
    pthread_mutex_unlock(&lock);
}

void fake_store_add_member(struct store *s, const char *member)
{
    pthread_mutex_lock(&lock);
    add_member(s, member);
    pthread_mutex_unlock(&lock);
}

const struct fake_stream *fake_store_stream(const struct store *s, const char *key)
{
    return stream_of((struct store *)s, key, false);
}

void fake_store_post(struct store *s, int kind, const char *key, const char *id,
                     const char *payload)
{
    struct store_result *r = push_result(s, kind, 0);
    r->key = dup_or_null(key);
    r->payload = dup_or_null(payload);
    if (id)
        snprintf(r->id, sizeof r->id, "%s", id);
}
