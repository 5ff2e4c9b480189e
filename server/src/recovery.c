/* SPDX-License-Identifier: MIT
 * recovery.c - applying stored events and storing snapshots (see recovery.h).
 */
#include "recovery.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "config.h"
#include "frame.h"
#include "handlers.h"
#include "hub.h"
#include "jam.h"
#include "keys.h"
#include "log.h"
#include "net.h"
#include "now.h"
#include "replay.h"
#include "room.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"
#include "view.h"

#define RECOVERY_SLICE 20000 /* items applied per wake: a few ms, so /healthz stays quick */

/* The close code of a session whose named moderator invite was revoked (proto/messages.md). */
#define RECOVERY_CLOSE_INVITE_REVOKED 4005

/* An invite minted or revoked (here or through another process): every moderator session gets the
 * jam's invites in a private frame; the sessions that joined with a revoked invite are then told
 * (a `notice`) and closed with 4005 once it is sent. */
static void notify_invites(struct jam *j, const struct event *ev)
{
    if (ev->type != EV_INVITE_CREATED && ev->type != EV_INVITE_REVOKED)
        return;
    struct frame *list = frame_from_string(view_invites(j->room));
    for (struct session *s = j->members; s; s = s->next_member) {
        if (s->role != ROLE_MODERATOR)
            continue;
        const struct participant *p = room_participant(j->room, s->pid);
        bool revoked = ev->type == EV_INVITE_REVOKED && p && p->invite == ev->invite;
        int full = session_enqueue(s, list);
        if (revoked && full >= 0) {
            struct frame *f = frame_from_string(view_notice(EV_INVITE_REVOKED, p));
            full = session_enqueue(s, f);
            frame_unref(f);
        }
        if (revoked || full < 0)
            session_mark_close_drained(s, revoked ? RECOVERY_CLOSE_INVITE_REVOKED : 4001,
                                       revoked ? "moderator invite revoked" : "too slow");
        net_want_write(s);
    }
    frame_unref(list);
}

/* Apply one stored event of jam 'code', and answer the write of ours it may be. Events at or
 * before the jam's last judged id (the chain's: an event that had no effect was judged too) are
 * skipped: the tail may start before what a snapshot or a creation applied. */
static int apply_event(struct hub *h, const char *code, const char *id, const struct event *ev,
                       const struct now *now)
{
    struct jam *j = hub_find_jam(h, code);
    if (!j) {
        if (ev->type != EV_JAM_CREATED || strcmp(ev->jam.code, code) != 0) {
            log_error("jam %s: stream does not start with jam_created (%s); skipped", code, id);
            return -EINVAL;
        }
        struct room_limits limits = {(uint32_t)h->cfg->max_items,
                                     (uint32_t)h->cfg->max_participants};
        j = hub_add_jam(h, room_new(&ev->jam, &limits));
    } else if (stream_id_cmp(id, j->room->chain.id) <= 0) {
        return 0;
    }
    struct room_result res;
    const char *err = room_apply(j->room, id, ev, &res);
    h->metrics.applied++;
    if (h->ready)
        handlers_on_applied(h, j, id, ev, err, now);
    if (err == room_err_duplicate_op)
        err = NULL; /* applied before: no second effect, nothing wrong */
    if (err)
        log_warn("jam %s: event %s (%s) has no effect: %s", code, id, event_type_name(ev->type),
                 err);
    else {
        jam_notify_sanction(j, ev); /* removed or muted through another process of the jam */
        if (h->ready && ev->type == EV_POSTED)
            jam_notify_queued(j, res.item);
        if (h->ready)
            notify_invites(j, ev);
    }
    if (!h->ready)
        room_delta_reset(j->room); /* nobody is listening yet: no broadcast backlog */
    return err ? -EINVAL : 0;
}

void recovery_apply_tailed(struct hub *h, const struct store_result *res, const struct now *now)
{
    char code[MSG_CODE_LEN + 1];
    if (!res->key || !keys_stream_code(res->key, code))
        return;
    struct event ev;
    struct codec_error ce;
    if (codec_event_decode(res->payload, strlen(res->payload), &ev, &ce) < 0) {
        log_error("jam %s: event %s unreadable (%s: %s); skipped", code, res->id, ce.code,
                  ce.message);
        return;
    }
    apply_event(h, code, res->id, &ev, now);
    event_clear(&ev);
}

static void on_replay_item(struct replay_item *it, void *arg)
{
    struct hub *h = arg;
    const struct now none = {0, 0}; /* not ready: no write of ours waits for these */
    switch (it->kind) {
    case REPLAY_ROOM: {
        struct jam *j = hub_add_jam(h, it->room);
        j->snap_events = j->room->n_events;
        it->room = NULL;
        break;
    }
    case REPLAY_EVENT:
        apply_event(h, it->code, it->id, &it->ev, &none);
        break;
    case REPLAY_BAD:
        break;
    case REPLAY_JAM_DONE: {
        struct jam *j = hub_find_jam(h, it->code);
        if (j)
            store_track(h->store, j->key, j->room->last_id);
        break;
    }
    }
}

void recovery_poll(struct hub *h, const struct now *now)
{
    if (!h->replay)
        return;
    switch (replay_poll(h->replay, RECOVERY_SLICE, on_replay_item, h)) {
    case REPLAY_MORE:
        net_wake(h->net); /* more to apply: come back after serving what is waiting */
        return;
    case REPLAY_IDLE:
        return; /* the thread wakes the loop */
    case REPLAY_FINISHED:
        break;
    }
    size_t events, jams, snapshots;
    replay_stats(h->replay, &events, &jams, &snapshots);
    replay_free(h->replay);
    h->replay = NULL;
    h->ready = true;
    store_tail_start(h->store);
    log_info("recovered %zu jams (%zu from snapshots) and %zu stream events in %lld ms: ready",
             jams, snapshots, events, (long long)(now->ms - h->recovery_started_ms));
}

void recovery_start(struct hub *h, struct replay *rp, const struct now *now)
{
    h->replay = rp;
    h->ready = false;
    h->recovery_started_ms = now->ms;
    net_wake(h->net);
}

/* ---- snapshots ----------------------------------------------------------------------------- */

/* A snapshot put waiting for the store. */
struct snapshot_put {
    struct pending base;
    struct jam *jam;   /* borrowed: jams live until shutdown */
    uint64_t n_events; /* the events it covers */
};

static void snapshot_put_free(struct pending *base)
{
    free(base);
}

static void after_snapshot_put(struct pending *base, const struct store_result *res,
                               const struct now *now, void *arg)
{
    (void)now, (void)arg;
    struct snapshot_put *sp = (struct snapshot_put *)base;
    struct jam *j = sp->jam;
    j->snap_inflight = false;
    /* Fenced: the lease holder stores the snapshots; ask again after as many events. */
    if (res->err && res->err != store_err_fenced)
        log_warn("jam %s: snapshot not stored (%s); the next tick tries again", j->code, res->err);
    else
        j->snap_events = sp->n_events;
    free(sp);
}

/* At least --snapshot-every events since the last snapshot, and at least a quarter of the jam, so
 * a restart replays at most a fifth of a big jam while the cost of encoding (on the loop: about
 * 60 ms per million events) stays rare. */
void recovery_maybe_snapshot(struct hub *h, struct jam *j, const struct now *now)
{
    const struct room *r = j->room;
    uint64_t since = r->n_events - j->snap_events, every = (uint64_t)h->cfg->snapshot_every;
    if (!h->ready || j->snap_inflight || since < every || since < r->n_events / 4 ||
        !store_is_up(h->store))
        return;
    unsigned char *buf;
    size_t len;
    snapshot_encode(r, false, &buf, &len);
    char key[KEYS_MAX];
    keys_snapshot(key, j->code);
    struct snapshot_put *sp = xcalloc(1, sizeof *sp);
    sp->base.done = after_snapshot_put;
    sp->base.free = snapshot_put_free;
    sp->jam = j;
    sp->n_events = r->n_events;
    uint64_t ctx = pending_next_ctx(&h->pending);
    if (store_put(h->store, j->key, key, buf, len, ctx, now->ms) < 0) {
        free(sp);
    } else {
        pending_add(&h->pending, ctx, &sp->base);
        j->snap_inflight = true;
    }
    free(buf);
}
