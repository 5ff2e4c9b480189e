/* SPDX-License-Identifier: MIT
 * broadcast.c - the ring's producer (one encoding per jam and period) and its consumers (one
 * frame per WRITEABLE per session); see broadcast.h.
 */
#include "broadcast.h"

#include "config.h"
#include "frame.h"
#include "hub.h"
#include "jam.h"
#include "net.h"
#include "now.h"
#include "period.h"
#include "resume.h"
#include "room.h"
#include "session.h"
#include "view.h"

/* A session's snapshot: the body shared by its role (moderators see hidden items in full:
 * jam_moderator_body), encoded once per state and tick, plus its own "you". */
static char *snapshot_text(struct hub *h, struct jam *j, struct session *s,
                           const struct participant *p, bool resync, const struct now *now)
{
    if (s->role == ROLE_MODERATOR) {
        const char *body = jam_moderator_body(j, h->cfg, now->ms, now->wall_ms);
        return view_snapshot_with(j->room, j->mod_body_id, body, p, resync);
    }
    const char *body = jam_snapshot_body(j, h->cfg, now->ms, now->wall_ms);
    return view_snapshot_with(j->room, j->snap_body_id, body, p, resync);
}

/* The snapshot for 's': one frame, or, for a body longer than JAM_SNAPSHOT_PIECE, the first of a
 * fragmented message whose other parts wait in s->parts (next_frame sends them first). */
static struct frame *snapshot_for(struct hub *h, struct jam *j, struct session *s,
                                  const struct now *now)
{
    const struct participant *p = s->pid ? room_participant(j->room, s->pid) : NULL;
    bool resync = s->wants_snapshot == WANT_RESYNC;
    struct frame *const *pieces;
    const char *event_id;
    size_t n = jam_snapshot_pieces(j, h->cfg, s->role == ROLE_MODERATOR, now->ms, now->wall_ms,
                                   &pieces, &event_id);
    if (n) { /* a large body: the pieces shared, only the head and the tail this session's */
        struct frame *head = frame_from_string(view_snapshot_head(event_id, resync));
        struct frame *tail = frame_from_string(view_snapshot_tail(j->room, p));
        head->part = FRAME_FIRST;
        tail->part = FRAME_LAST;
        for (size_t i = 0; i < n; i++)
            fifo_push(&s->parts, frame_ref(pieces[i]));
        fifo_push(&s->parts, tail);
        return head;
    }
    return frame_from_string(snapshot_text(h, j, s, p, resync, now));
}

/* 's' is more than a ring behind: a resync snapshot, or a close if that keeps happening. Returns
 * false when the session is being closed. */
static bool fell_behind(struct session *s, const struct now *now)
{
    if (now->ms - s->resync_window_ms > BROADCAST_RESYNC_WINDOW_MS) {
        s->resync_window_ms = now->ms;
        s->resyncs = 0;
    }
    if (++s->resyncs >= BROADCAST_RESYNC_LIMIT) {
        session_mark_close(s, 4001, "too slow");
        net_close(s);
        return false;
    }
    s->wants_snapshot = WANT_RESYNC;
    s->metrics->resyncs++;
    return true;
}

static struct frame *next_frame(struct session *s, bool *more, void *arg)
{
    struct hub *h = arg;
    struct frame *f = fifo_pop(&s->parts);
    if (f) { /* the rest of a message in fragments goes before anything else */
        *more = true;
        return f;
    }
    f = session_dequeue(s);
    if (s->drain_code) {
        if (!f)
            session_mark_close(s, s->drain_code, s->close_reason);
        *more = true; /* the close (or the next private frame) comes at the next writeable */
        return f;
    }
    struct jam *j = s->jam;
    if (!j) {
        *more = fifo_len(&s->queue) > 0;
        return f;
    }
    const struct now now = net_now();
    if (s->catchup.on && !s->catchup.waiting && !fifo_len(&s->queue)) {
        resume_next(h, s, &now); /* the previous page is leaving: the next one */
        if (!f)
            f = session_dequeue(s); /* a page already read is queued at once: send it now */
    }
    if (!f && !s->catchup.on) {
        uint64_t behind = j->ring.head - s->cursor;
        if (!s->wants_snapshot && behind > j->ring.cap && !fell_behind(s, &now)) {
            *more = false;
            return NULL;
        }
        if (s->wants_snapshot) {
            f = snapshot_for(h, j, s, &now);
            h->snapshots_since_trim++;
            s->wants_snapshot = WANT_NONE;
            s->cursor = j->ring.head;
        } else if (behind) {
            f = frame_ref(j->ring.slots[s->cursor % j->ring.cap]);
            s->cursor++;
        }
    }
    /* s->parts first: a snapshot's head just taken leaves its pieces and tail there, and with
     * nothing else due the transport would not ask again (the message stalled after its head). */
    *more = fifo_len(&s->parts) || fifo_len(&s->queue) ||
            (s->jam && !s->catchup.on && (s->wants_snapshot || s->cursor != s->jam->ring.head));
    return f;
}

struct frame *broadcast_next_frame(struct session *s, bool *more, void *arg)
{
    struct frame *f = next_frame(s, more, arg);
    if (f) {
        s->metrics->deliveries++;
        s->metrics->bytes_sent += f->len;
    }
    return f;
}

/* One delivered frame costs about 5-15 us of CPU, nearly all of it in the kernel's send path
 * (load-tests profile; STACK-NOTES: 4-6 us), and how much depends on the machine and on what else
 * runs on it. So the period grows with the audience as far as the measured costs need to keep
 * the loop within --cpu-budget-pct (period.h). --max-deliveries-per-s N fixes it instead to the
 * clients divided by N. The tick is the floor: the timer cannot push more often. */
int64_t broadcast_period_ms(const struct hub *h)
{
    int64_t floor_ms = h->cfg->tick_ms;
    if (h->cfg->max_deliveries > 0) {
        int64_t need = (int64_t)net_clients(h->net) * 1000 / h->cfg->max_deliveries;
        return need > floor_ms ? need : floor_ms;
    }
    if (h->period.period_ms > 0)
        return h->period.period_ms;
    const struct period_params k = {floor_ms, (int)h->cfg->cpu_budget_pct};
    return period_target(&h->period, &k, net_clients(h->net));
}

void broadcast_calibrate(struct hub *h, int64_t now_ms)
{
    struct period_sample s;
    net_loop_sample(h->net, now_ms, &s);
    const struct period_params k = {h->cfg->tick_ms, (int)h->cfg->cpu_budget_pct};
    period_update(&h->period, &k, &s, net_clients(h->net));
}

int64_t broadcast_jam(struct hub *h, struct jam *j, int64_t period_ms, const struct now *now)
{
    if (now->ms + BROADCAST_DUE_SLACK_MS < j->next_push_ms)
        return j->next_push_ms - now->ms;
    /* The last broadcast's frames are not all written yet (net_push writes them in slices): a
     * member still waiting for one would get two back to back, the second through a WRITEABLE of
     * its own. The delta goes on gathering; the tick net runs once the last slice is out sends it. */
    if (net_pushing(h->net))
        return BROADCAST_NOT_DUE;
    /* Joins and counters alone (no item, vote, clock, claim, stage or moderation log change) go
     * out once a second: in a join storm of thousands a push per tick to everyone already in would
     * cost more than the joins. The delta keeps accumulating, so the next update still covers
     * every event. */
    const struct room_delta *d = &j->room->delta;
    if (!d->n_items && !d->n_votes && !d->n_shown && !d->clock && !d->n_claims && !d->stage &&
        d->log_from >= j->room->n_modlog &&
        now->ms - j->last_stats_push_ms < BROADCAST_STATS_PERIOD_MS)
        return BROADCAST_NOT_DUE;
    /* Reveal control: the shared update withholds the hidden counts; the moderators get them in a
     * private frame just before it. */
    char *counts = view_counts(j->room, (unsigned)h->cfg->rank_top);
    if (counts) {
        struct frame *cf = frame_from_string(counts);
        for (struct session *s = j->members; s; s = s->next_member)
            if (s->role == ROLE_MODERATOR)
                hub_send_frame(s, cf);
        frame_unref(cf);
    }
    char *json = view_update(j->room, now->wall_ms, (unsigned)h->cfg->rank_top);
    if (!json)
        return BROADCAST_NOT_DUE;
    jam_ring_push(j, frame_from_string(json));
    room_delta_reset(j->room);
    j->next_push_ms = now->ms + period_ms;
    j->last_stats_push_ms = now->ms;
    return period_ms;
}

void broadcast_words(struct jam *j, const struct now *now)
{
    struct room *r = j->room;
    if (!j->words_owed && r->words_version == j->words_sent)
        return;
    if (now->ms - j->words_sent_ms < BROADCAST_WORDS_PERIOD_MS)
        return;
    struct frame *f = NULL;
    for (struct session *s = j->members; s; s = s->next_member) {
        if (s->role == ROLE_CITIZEN)
            continue;
        if (!f)
            f = frame_from_string(view_words(r));
        hub_send_frame(s, f);
    }
    frame_unref(f);
    j->words_sent = r->words_version;
    j->words_sent_ms = now->ms;
    j->words_owed = false;
}

void broadcast_status(struct hub *h, bool up)
{
    uint64_t v;
    for (size_t pos = 0; imap_next(&h->sessions, &pos, NULL, &v);) {
        struct session *s = (struct session *)(uintptr_t)v;
        if (s->jam)
            hub_send(s, view_status(up));
    }
}
