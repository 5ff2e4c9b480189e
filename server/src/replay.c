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
    size_t events, jams, snapshots;
    char **codes; /* the thread's list of jams */
    size_t n_codes;
};

/* Queue one item (copied), waiting while the queue is full. False when asked to stop. */
static bool push(struct replay *rp, struct replay_item *it)
{
    pthread_mutex_lock(&rp->lock);
    while (rp->len == REPLAY_QUEUE && !rp->stop)
        pthread_cond_wait(&rp->space, &rp->lock);
    bool ok = !rp->stop;
    if (ok) {
        rp->q[(rp->head + rp->len) % REPLAY_QUEUE] = *it;
        bool was_empty = rp->len++ == 0;
        pthread_mutex_unlock(&rp->lock);
        if (was_empty)
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
    snprintf(it.code, sizeof it.code, "%s", jc->code);
    snprintf(it.id, sizeof it.id, "%s", id);
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
    pthread_mutex_init(&rp->lock, NULL);
    pthread_cond_init(&rp->space, NULL);
    int err = pthread_create(&rp->thread, NULL, run, rp);
    if (err) {
        pthread_mutex_destroy(&rp->lock);
        pthread_cond_destroy(&rp->space);
        free(rp->q);
        free(rp);
        return -err;
    }
    *out = rp;
    return 0;
}

bool replay_poll(struct replay *rp, size_t max, replay_item_cb *cb, void *arg)
{
    for (size_t n = 0; n < max; n++) {
        pthread_mutex_lock(&rp->lock);
        if (!rp->len) {
            bool finished = rp->done;
            pthread_mutex_unlock(&rp->lock);
            return finished;
        }
        struct replay_item it = rp->q[rp->head];
        rp->head = (rp->head + 1) % REPLAY_QUEUE;
        rp->len--;
        pthread_cond_signal(&rp->space);
        pthread_mutex_unlock(&rp->lock);
        cb(&it, arg);
        room_free(it.room);
        event_clear(&it.ev);
    }
    pthread_mutex_lock(&rp->lock);
    bool finished = rp->done && !rp->len;
    pthread_mutex_unlock(&rp->lock);
    return finished;
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
    pthread_mutex_destroy(&rp->lock);
    pthread_cond_destroy(&rp->space);
    free(rp);
}
