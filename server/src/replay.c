/* SPDX-License-Identifier: MIT
 * replay.c - the recovery thread (see replay.h). The queue is bounded (REPLAY_QUEUE items), so a
 * jam of millions of events streams through in constant memory: the thread waits while the loop
 * is behind.
 */
#include "replay.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "keys.h"
#include "log.h"
#include "snapshot.h"

#define REPLAY_QUEUE 8192
/* Hand-overs come in batches, each side sleeping until the other has done a good share of work:
 * woken per item, the two threads spend more time in futex calls than in decoding and applying. */
#define REPLAY_BATCH 256 /* items the loop takes per lock; a sleeping loop's wake-up */
#define REPLAY_RESUME (REPLAY_QUEUE / 2) /* the thread waiting for room resumes at this length */

struct replay {
    struct store_config sc;
    struct room_limits limits;
    replay_wake_cb *wake;
    void *wake_arg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t space;
    struct replay_item *q; /* ring of REPLAY_QUEUE */
    size_t head, len;
    bool done, stop;
    bool loop_waits;   /* the loop found the queue empty: wake it once there is a batch */
    bool thread_waits; /* the queue was full: signal 'space' once the loop has drained half */
    struct replay_item *batch; /* the loop's copy of what it takes (REPLAY_BATCH) */
    size_t events, jams, snapshots;
    char **codes; /* the thread's list of jams */
    size_t n_codes;
};

/* Queue one item (copied), waiting while the queue is full. False when asked to stop. */
static bool push(struct replay *rp, struct replay_item *it)
{
    pthread_mutex_lock(&rp->lock);
    while (rp->len == REPLAY_QUEUE && !rp->stop) {
        rp->thread_waits = true;
        pthread_cond_wait(&rp->space, &rp->lock);
    }
    if (!rp->stop) {
        rp->q[(rp->head + rp->len) % REPLAY_QUEUE] = *it;
        rp->len++;
        /* A jam's end or snapshot wakes it at once: a small jam is not left waiting for more. */
        bool wake = rp->loop_waits && (rp->len >= REPLAY_BATCH || it->kind != REPLAY_EVENT);
        if (wake)
            rp->loop_waits = false;
        pthread_mutex_unlock(&rp->lock);
        if (wake)
            rp->wake(rp->wake_arg);
        return true;
    }
    pthread_mutex_unlock(&rp->lock);
    room_free(it->room);
    event_clear(&it->ev);
    return false;
}

static int collect_code(const char *member, void *arg)
{
    struct replay *rp = arg;
    if (strlen(member) != MSG_CODE_LEN || strspn(member, "0123456789") != MSG_CODE_LEN)
        return 0;
    rp->codes = xrealloc(rp->codes, (rp->n_codes + 1) * sizeof *rp->codes);
    rp->codes[rp->n_codes++] = xstrdup(member);
    return 0;
}

struct jam_ctx {
    struct replay *rp;
    const char *code;
};

static int on_entry(const char *id, const char *payload, size_t len, void *arg)
{
    struct jam_ctx *jc = arg;
    struct replay_item it = {.kind = REPLAY_EVENT};
    memcpy(it.code, jc->code, sizeof it.code); /* a checked code: MSG_CODE_LEN digits and NUL */
    stream_id_copy(it.id, id);
    struct codec_error ce;
    if (codec_event_decode(payload, len, &it.ev, &ce) < 0) {
        log_error("jam %s: event %s unreadable (%s: %s); skipped", jc->code, id, ce.code,
                  ce.message);
        memset(&it.ev, 0, sizeof it.ev);
        it.kind = REPLAY_BAD;
    }
    jc->rp->events++;
    return push(jc->rp, &it) ? 0 : -ECANCELED;
}

static void replay_jam(struct replay *rp, const char *code)
{
    char key[KEYS_MAX];
    const char *after = "";
    struct replay_item it = {.kind = REPLAY_ROOM};
    snprintf(it.code, sizeof it.code, "%s", code);
    keys_snapshot(key, code);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (store_get(&rp->sc, key, &buf, &len) == 0) {
        it.room = snapshot_decode(buf, len, &rp->limits);
        if (!it.room || strcmp(it.room->cfg.code, code) != 0) {
            log_warn("jam %s: snapshot unreadable; replaying the whole stream", code);
            room_free(it.room);
            it.room = NULL;
        }
        free(buf);
    }
    char after_id[MSG_EVENT_ID_MAX + 1] = "";
    if (it.room) {
        snprintf(after_id, sizeof after_id, "%s", it.room->last_id);
        after = after_id;
        rp->snapshots++;
        if (!push(rp, &it))
            return;
    }
    keys_stream(key, code);
    struct jam_ctx jc = {rp, code};
    int err = store_replay(&rp->sc, key, after, on_entry, &jc);
    if (err == -ECANCELED)
        return;
    if (err < 0)
        log_error("jam %s: reading the stream failed (%d); the jam may be incomplete", code, err);
    struct replay_item done = {.kind = REPLAY_JAM_DONE};
    snprintf(done.code, sizeof done.code, "%s", code);
    push(rp, &done);
    rp->jams++;
}

static void *run(void *arg)
{
    struct replay *rp = arg;
    if (store_members(&rp->sc, KEYS_JAMS, collect_code, rp) < 0)
        log_error("cannot list the jams in Redis; starting with none");
    for (size_t i = 0; i < rp->n_codes && !rp->stop; i++)
        replay_jam(rp, rp->codes[i]);
    pthread_mutex_lock(&rp->lock);
    rp->done = true;
    pthread_mutex_unlock(&rp->lock);
    rp->wake(rp->wake_arg);
    return NULL;
}

int replay_start(const struct store_config *sc, const struct room_limits *limits,
                 replay_wake_cb *wake, void *wake_arg, struct replay **out)
{
    struct replay *rp = xcalloc(1, sizeof *rp);
    rp->sc = *sc;
    rp->limits = *limits;
    rp->wake = wake;
    rp->wake_arg = wake_arg;
    rp->q = xcalloc(REPLAY_QUEUE, sizeof *rp->q);
    rp->batch = xcalloc(REPLAY_BATCH, sizeof *rp->batch);
    rp->loop_waits = true; /* for the first batch */
    pthread_mutex_init(&rp->lock, NULL);
    pthread_cond_init(&rp->space, NULL);
    int err = pthread_create(&rp->thread, NULL, run, rp);
    if (err) {
        pthread_mutex_destroy(&rp->lock);
        pthread_cond_destroy(&rp->space);
        free(rp->q);
        free(rp->batch);
        free(rp);
        return -err;
    }
    *out = rp;
    return 0;
}

enum replay_state replay_poll(struct replay *rp, size_t max, replay_item_cb *cb, void *arg)
{
    for (size_t taken = 0; taken < max;) {
        pthread_mutex_lock(&rp->lock);
        size_t n = rp->len < REPLAY_BATCH ? rp->len : REPLAY_BATCH;
        n = n < max - taken ? n : max - taken;
        if (!n) {
            enum replay_state st = rp->done ? REPLAY_FINISHED : REPLAY_IDLE;
            rp->loop_waits = !rp->done;
            pthread_mutex_unlock(&rp->lock);
            return st;
        }
        for (size_t i = 0; i < n; i++)
            rp->batch[i] = rp->q[(rp->head + i) % REPLAY_QUEUE];
        rp->head = (rp->head + n) % REPLAY_QUEUE;
        rp->len -= n;
        if (rp->thread_waits && rp->len <= REPLAY_RESUME) {
            rp->thread_waits = false;
            pthread_cond_signal(&rp->space);
        }
        pthread_mutex_unlock(&rp->lock);
        for (size_t i = 0; i < n; i++) {
            cb(&rp->batch[i], arg);
            room_free(rp->batch[i].room);
            event_clear(&rp->batch[i].ev);
        }
        taken += n;
    }
    pthread_mutex_lock(&rp->lock);
    bool finished = rp->done && !rp->len;
    pthread_mutex_unlock(&rp->lock);
    return finished ? REPLAY_FINISHED : REPLAY_MORE;
}

void replay_stats(const struct replay *rp, size_t *events, size_t *jams, size_t *snapshots)
{
    *events = rp->events;
    *jams = rp->jams;
    *snapshots = rp->snapshots;
}

void replay_free(struct replay *rp)
{
    if (!rp)
        return;
    pthread_mutex_lock(&rp->lock);
    rp->stop = true;
    pthread_cond_broadcast(&rp->space);
    pthread_mutex_unlock(&rp->lock);
    pthread_join(rp->thread, NULL);
    for (size_t i = 0; i < rp->len; i++) {
        struct replay_item *it = &rp->q[(rp->head + i) % REPLAY_QUEUE];
        room_free(it->room);
        event_clear(&it->ev);
    }
    for (size_t i = 0; i < rp->n_codes; i++)
        free(rp->codes[i]);
    free(rp->codes);
    free(rp->q);
    free(rp->batch);
    pthread_mutex_destroy(&rp->lock);
    pthread_cond_destroy(&rp->space);
    free(rp);
}
