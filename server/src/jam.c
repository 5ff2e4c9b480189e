/* SPDX-License-Identifier: MIT
 * jam.c - a live jam, its ring and members (see jam.h).
 */
#include "jam.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "frame.h"
#include "net.h"
#include "pending.h"
#include "room.h"
#include "session.h"
#include "view.h"

struct jam *jam_new(const struct config *cfg, struct room *room)
{
    struct jam *j = xcalloc(1, sizeof *j);
    snprintf(j->code, sizeof j->code, "%s", room->cfg.code);
    keys_stream(j->key, j->code);
    j->room = room;
    room->limits.max_items = (uint32_t)cfg->max_items;
    room->limits.max_participants = (uint32_t)cfg->max_participants;
    room->quotas.items = (uint32_t)cfg->max_items_per_participant;
    room->quotas.pending = (uint32_t)cfg->max_pending_per_participant;
    j->ring.cap = (size_t)cfg->ring_frames;
    j->ring.slots = xcalloc(j->ring.cap, sizeof *j->ring.slots);
    j->ring.prev = xcalloc(j->ring.cap, sizeof *j->ring.prev);
    j->ring.to = xcalloc(j->ring.cap, sizeof *j->ring.to);
    smap_init(&j->pending_ops);
    smap_init(&j->awaiting);
    smap_init(&j->doubt);
    return j;
}

static void free_pending(void *p)
{
    struct pending *w = p;
    w->free(w);
}

static void drop_pieces(struct jam_pieces *p)
{
    for (size_t i = 0; i < p->n; i++)
        frame_unref(p->frames[i]);
    free(p->frames);
    p->frames = NULL;
    p->n = 0;
}

void jam_free(struct jam *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->ring.cap; i++)
        frame_unref(j->ring.slots[i]);
    free(j->ring.slots);
    free(j->ring.prev);
    free(j->ring.to);
    free(j->snap_body);
    free(j->mod_body);
    drop_pieces(&j->snap_pieces);
    drop_pieces(&j->mod_pieces);
    free(j->digest);
    free(j->results);
    catchup_cache_free(&j->pages);
    smap_deinit(&j->pending_ops, NULL);
    smap_deinit(&j->awaiting, free_pending);
    smap_deinit(&j->doubt, NULL);
    room_free(j->room);
    free(j);
}

int64_t jam_cache_max_age_ms(const struct config *cfg)
{
    return cfg->tick_ms;
}

void jam_ring_push(struct jam *j, struct frame *f)
{
    size_t i = j->ring.head % j->ring.cap;
    const struct room_delta *d = &j->room->delta;
    frame_unref(j->ring.slots[i]);
    j->ring.slots[i] = f;
    memcpy(j->ring.prev[i], d->prev, sizeof j->ring.prev[i]);
    memcpy(j->ring.to[i], d->to[0] ? d->to : j->room->last_id, sizeof j->ring.to[i]);
    j->ring.head++;
    /* The push list is written in slices, so a member's place in it is when its update leaves:
     * at 5,000 members the last one gets it about half a period after the first. The members are
     * newest first; every other broadcast goes in the reverse order, so every member is on
     * average halfway down the list rather than the first to join always last. */
    bool reverse = j->ring.head & 1;
    for (struct session *s = j->members; s; s = s->next_member)
        net_push(s, reverse);
}

bool jam_ring_resume_point(const struct jam *j, const char *last_id, uint64_t *seq)
{
    const struct ring *g = &j->ring;
    if (stream_id_cmp(last_id, j->room->last_id) > 0 || !strchr(last_id, '-'))
        return false; /* from the future, or from another epoch of this jam */
    uint64_t oldest = g->head > g->cap ? g->head - g->cap : 0;
    for (uint64_t q = oldest; q < g->head; q++) {
        size_t i = q % g->cap;
        if (stream_id_cmp(g->to[i], last_id) > 0) {
            if (stream_id_cmp(g->prev[i], last_id) > 0)
                return false; /* a gap: the frames that would close it are gone */
            *seq = q;
            return true;
        }
    }
    /* Nothing after last_id in the ring: resumable only if nothing was applied after it either
     * (what is applied but not yet broadcast goes out at the next tick). */
    *seq = g->head;
    return stream_id_cmp(j->room->delta.prev, last_id) <= 0;
}

void jam_attach(struct jam *j, struct session *s, int64_t pid, enum role role)
{
    if (role != ROLE_CITIZEN)
        j->words_owed = true;
    s->jam = j;
    s->pid = pid;
    s->role = role;
    s->prev_member = NULL;
    s->next_member = j->members;
    if (j->members)
        j->members->prev_member = s;
    j->members = s;
    s->cursor = j->ring.head;
    s->wants_snapshot = WANT_FIRST;
    if (role == ROLE_CITIZEN)
        room_set_online(j->room, ++j->online);
}

void jam_detach(struct session *s)
{
    struct jam *j = s->jam;
    if (!j)
        return;
    if (s->prev_member)
        s->prev_member->next_member = s->next_member;
    else
        j->members = s->next_member;
    if (s->next_member)
        s->next_member->prev_member = s->prev_member;
    s->jam = NULL;
    if (s->role == ROLE_CITIZEN)
        room_set_online(j->room, --j->online);
}

void jam_verdict_add(struct jam *j, const char *id, const char *err)
{
    struct verdict *v = &j->verdicts[j->n_verdicts++ % JAM_VERDICTS];
    snprintf(v->id, sizeof v->id, "%s", id);
    v->err = err;
}

const char *jam_verdict(const struct jam *j, const char *id)
{
    uint64_t n = j->n_verdicts < JAM_VERDICTS ? j->n_verdicts : JAM_VERDICTS;
    for (uint64_t i = 0; i < n; i++)
        if (strcmp(j->verdicts[i].id, id) == 0)
            return j->verdicts[i].err;
    return NULL;
}

void jam_notify_sanction(struct jam *j, const struct event *e)
{
    if (e->type != EV_REMOVED && e->type != EV_MUTED && e->type != EV_UNMUTED)
        return;
    const struct participant *p = room_participant(j->room, e->pid);
    if (!p)
        return;
    for (struct session *s = j->members; s; s = s->next_member) {
        if (s->pid != e->pid || s->role != ROLE_CITIZEN)
            continue;
        struct frame *f = frame_from_string(view_notice(e->type, p));
        int full = session_enqueue(s, f);
        frame_unref(f);
        if (e->type == EV_REMOVED || full < 0)
            session_mark_close_drained(s, e->type == EV_REMOVED ? 4004 : 4001,
                                       e->type == EV_REMOVED ? "removed by a moderator"
                                                             : "too slow");
        net_want_write(s);
    }
}

void jam_notify_queued(struct jam *j, uint32_t id)
{
    const struct item *it = room_item(j->room, id);
    if (!it || !it->pending)
        return;
    struct frame *f = NULL;
    for (struct session *s = j->members; s; s = s->next_member) {
        if (s->role != ROLE_MODERATOR && s->pid != it->author)
            continue;
        if (!f)
            f = frame_from_string(view_queued(j->room, it));
        if (session_enqueue(s, f) < 0)
            session_mark_close_drained(s, 4001, "too slow");
        net_want_write(s);
    }
    frame_unref(f);
}

/* One cached body: encoded again when the room has moved on or it is a tick old. True when it was
 * (re)encoded. */
static bool cached_body(struct jam *j, const struct config *cfg, bool moderator, char **body,
                        char *id, int64_t *ms, int64_t now_ms, int64_t wall_ms)
{
    if (*body && strcmp(id, j->room->last_id) == 0 && now_ms - *ms < jam_cache_max_age_ms(cfg))
        return false;
    free(*body);
    struct jam_pieces *old = moderator ? &j->mod_pieces : &j->snap_pieces;
    drop_pieces(old);
    *body = view_snapshot_body(j->room, moderator, wall_ms, (unsigned)cfg->rank_top);
    memcpy(id, j->room->last_id, MSG_EVENT_ID_MAX + 1);
    *ms = now_ms;
    return true;
}

const char *jam_snapshot_body(struct jam *j, const struct config *cfg, int64_t now_ms,
                              int64_t wall_ms)
{
    if (cached_body(j, cfg, false, &j->snap_body, j->snap_body_id, &j->snap_body_ms, now_ms,
                    wall_ms))
        j->snap_body_len = strlen(j->snap_body);
    return j->snap_body;
}

const char *jam_moderator_body(struct jam *j, const struct config *cfg, int64_t now_ms,
                               int64_t wall_ms)
{
    if (cached_body(j, cfg, true, &j->mod_body, j->mod_body_id, &j->mod_body_ms, now_ms, wall_ms))
        j->mod_body_len = strlen(j->mod_body);
    return j->mod_body;
}

size_t jam_snapshot_pieces(struct jam *j, const struct config *cfg, bool moderator, int64_t now_ms,
                           int64_t wall_ms, struct frame *const **pieces, const char **event_id)
{
    const char *body = moderator ? jam_moderator_body(j, cfg, now_ms, wall_ms)
                                 : jam_snapshot_body(j, cfg, now_ms, wall_ms);
    size_t len = moderator ? j->mod_body_len : j->snap_body_len;
    struct jam_pieces *p = moderator ? &j->mod_pieces : &j->snap_pieces;
    *event_id = moderator ? j->mod_body_id : j->snap_body_id;
    if (len <= JAM_SNAPSHOT_PIECE)
        return 0;
    if (!p->n) {
        p->n = (len + JAM_SNAPSHOT_PIECE - 1) / JAM_SNAPSHOT_PIECE;
        p->frames = xmalloc(p->n * sizeof *p->frames);
        for (size_t i = 0; i < p->n; i++) {
            size_t at = i * JAM_SNAPSHOT_PIECE, n = len - at;
            p->frames[i] = frame_new(body + at, n < JAM_SNAPSHOT_PIECE ? n : JAM_SNAPSHOT_PIECE);
            p->frames[i]->part = FRAME_MIDDLE;
        }
    }
    *pieces = p->frames;
    return p->n;
}
