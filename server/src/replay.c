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
#define REPLAY_PUBLISH 64 /* items the thread hands over per lock */
#define REPLAY_BATCH 256  /* items the loop takes per lock; a sleeping loop's wake-up */
#define REPLAY_RESUME (REPLAY_QUEUE / 2) /* the thread waiting for room resumes at this length */

/* The ring holds [head, head + len): published items, the loop's to take. The thread writes its
 * next items in place after them ('pending', in the 'room' it knows to be free) and publishes them
 * together; the loop applies items where they are and frees their slots together afterwards. So
 * each side takes the lock once per batch, not per item, nothing is copied, and each sleeps until
 * the other has done a good share of the work: woken per item, the two threads spent more time in
 * futex calls than in decoding and applying. */
struct replay {
    struct store_config sc;
    struct room_limits limits;
    replay_wake_cb *wake;
    void *wake_arg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t space;
    struct replay_item *q; /* ring of REPLAY_QUEUE */
    size_t head, len;      /* under 'lock' */
    bool done, stop;
    bool loop_waits;   /* the loop found the queue empty: wake it once there is a batch */
    bool thread_waits; /* the queue was full: signal 'space' once the loop has drained half */
    size_t tail, pending, room; /* the thread's: where its unpublished items start, how many */
    size_t events, jams, snapshots;
    char **codes; /* the thread's list of jams */
    size_t n_codes;
};

/* Publish the pending items; 'now' wakes a waiting loop even for fewer than a batch. */
static void publish(struct replay *rp, bool now)
{
    if (!rp->pending)
        return;
    pthread_mutex_lock(&rp->lock);
    rp->len += rp->pending;
    bool wake = rp->loop_waits && (now || rp->len >= REPLAY_BATCH);
    if (wake)
        rp->loop_waits = false;
    pthread_mutex_unlock(&rp->lock);
    rp->tail = (rp->tail + rp->pending) % REPLAY_QUEUE;
    rp->pending = 0;
    if (wake)
        rp->wake(rp->wake_arg);
}

/* The thread's next slot, zeroed, waiting while the queue is full; NULL when asked to stop. */
static struct replay_item *slot(struct replay *rp)
{
    if (!rp->room) {
        publish(rp, true);
        pthread_mutex_lock(&rp->lock);
        while (rp->len == REPLAY_QUEUE && !rp->stop) {
            rp->thread_waits = true;
            pthread_cond_wait(&rp->space, &rp->lock);
        }
        rp->room = REPLAY_QUEUE - rp->len;
        rp->tail = (rp->head + rp->len) % REPLAY_QUEUE;
        bool stop = rp->stop;
        pthread_mutex_unlock(&rp->lock);
        if (stop)
            return NULL;
    }
    struct replay_item *it = &rp->q[(rp->tail + rp->pending) % REPLAY_QUEUE];
    memset(it, 0, sizeof *it);
    return it;
}

/* The slot's item is complete: it goes with its batch, a jam's snapshot or end at once (a small
 * jam is not left waiting for more). */
static void commit(struct replay *rp, const struct replay_item *it)
{
    rp->pending++;
    rp->room--;
    if (rp->pending >= REPLAY_PUBLISH || it->kind != REPLAY_EVENT)
        publish(rp, it->kind != REPLAY_EVENT);
}

static void item_clear(struct replay_item *it)
{
    room_free(it->room);
    event_clear(&it->ev);
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
    struct replay_item *it = slot(jc->rp);
    if (!it)
        return -ECANCELED;
    it->kind = REPLAY_EVENT;
    memcpy(it->code, jc->code, sizeof it->code); /* a checked code: MSG_CODE_LEN digits and NUL */
    stream_id_copy(it->id, id);
    struct codec_error ce;
    if (codec_event_decode(payload, len, &it->ev, &ce) < 0) {
        log_error("jam %s: event %s unreadable (%s: %s); skipped", jc->code, id, ce.code,
                  ce.message);
        memset(&it->ev, 0, sizeof it->ev);
        it->kind = REPLAY_BAD;
    }
    jc->rp->events++;
    commit(jc->rp, it);
    return 0;
}

/* Queue an item without an event: a jam's snapshot ('room', owned by the item from here on) or
 * its end. False when asked to stop. */
static bool push_jam_item(struct replay *rp, enum replay_kind kind, const char *code,
                          struct room *room)
{
    struct replay_item *it = slot(rp);
    if (!it) {
        room_free(room);
        return false;
    }
    it->kind = kind;
    snprintf(it->code, sizeof it->code, "%s", code);
    it->room = room;
    commit(rp, it);
    return true;
}

static void replay_jam(struct replay *rp, const char *code)
{
    char key[KEYS_MAX];
    const char *after = "";
    struct room *room = NULL;
    keys_snapshot(key, code);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (store_get(&rp->sc, key, &buf, &len) == 0) {
        room = snapshot_decode(buf, len, &rp->limits);
        if (!room || strcmp(room->cfg.code, code) != 0) {
            log_warn("jam %s: snapshot unreadable; replaying the whole stream", code);
            room_free(room);
            room = NULL;
        }
        free(buf);
    }
    char after_id[MSG_EVENT_ID_MAX + 1] = "";
    if (room) {
        snprintf(after_id, sizeof after_id, "%s", room->last_id);
        after = after_id;
        rp->snapshots++;
        if (!push_jam_item(rp, REPLAY_ROOM, code, room))
            return;
    }
    keys_stream(key, code);
    struct jam_ctx jc = {rp, code};
    int err = store_replay(&rp->sc, key, after, on_entry, &jc);
    if (err == -ECANCELED)
        return;
    if (err < 0)
        log_error("jam %s: reading the stream failed (%d); the jam may be incomplete", code, err);
    push_jam_item(rp, REPLAY_JAM_DONE, code, NULL);
    rp->jams++;
}

static void *run(void *arg)
{
    struct replay *rp = arg;
    if (store_members(&rp->sc, KEYS_JAMS, collect_code, rp) < 0)
        log_error("cannot list the jams in Redis; starting with none");
    for (size_t i = 0; i < rp->n_codes && !rp->stop; i++)
        replay_jam(rp, rp->codes[i]);
    publish(rp, true);
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
    rp->loop_waits = true; /* for the first batch */
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

enum replay_state replay_poll(struct replay *rp, size_t max, replay_item_cb *cb, void *arg)
{
    for (size_t taken = 0; taken < max;) {
        pthread_mutex_lock(&rp->lock);
        size_t n = rp->len < REPLAY_BATCH ? rp->len : REPLAY_BATCH, from = rp->head;
        n = n < max - taken ? n : max - taken;
        if (!n) {
            enum replay_state st = rp->done ? REPLAY_FINISHED : REPLAY_IDLE;
            rp->loop_waits = !rp->done;
            pthread_mutex_unlock(&rp->lock);
            return st;
        }
        pthread_mutex_unlock(&rp->lock);
        for (size_t i = 0; i < n; i++) { /* published: the thread does not touch them */
            struct replay_item *it = &rp->q[(from + i) % REPLAY_QUEUE];
            cb(it, arg);
            item_clear(it);
        }
        pthread_mutex_lock(&rp->lock);
        rp->head = (rp->head + n) % REPLAY_QUEUE;
        rp->len -= n;
        if (rp->thread_waits && rp->len <= REPLAY_RESUME) {
            rp->thread_waits = false;
            pthread_cond_signal(&rp->space);
        }
        pthread_mutex_unlock(&rp->lock);
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
    for (size_t i = 0; i < rp->len; i++) /* published, not taken */
        item_clear(&rp->q[(rp->head + i) % REPLAY_QUEUE]);
    for (size_t i = 0; i < rp->pending; i++) /* written, not published */
        item_clear(&rp->q[(rp->tail + i) % REPLAY_QUEUE]);
    for (size_t i = 0; i < rp->n_codes; i++)
        free(rp->codes[i]);
    free(rp->codes);
    free(rp->q);
    pthread_mutex_destroy(&rp->lock);
    pthread_cond_destroy(&rp->space);
    free(rp);
}
