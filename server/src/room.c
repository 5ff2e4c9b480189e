/* SPDX-License-Identifier: MIT
 * room.c - the jam state machine (see room.h). room_check validates, room_apply mutates; both
 * read the same tables of what each phase accepts, so a checked write always applies. No I/O,
 * no clock: deadlines are computed from the events' own timestamps, so replay is exact.
 */
#include "room.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "rank.h"

/* What each phase accepts (proto/messages.md, "Phases and what they accept"). */
static const int post_kind[PHASE__COUNT] = {
    [PHASE_EXPLORE] = KIND_PROBLEM,
    [PHASE_IDEATE] = KIND_IDEA,
    [PHASE_DESIGN] = KIND_REFINEMENT,
    [PHASE_DIFFUSE] = KIND_PLEDGE,
    [PHASE_RESULTS] = -1,
};
static const unsigned vote_kinds[PHASE__COUNT] = {
    [PHASE_EXPLORE] = 1u << KIND_PROBLEM,
    [PHASE_IDEATE] = 1u << KIND_IDEA,
    [PHASE_DESIGN] = (1u << KIND_IDEA) | (1u << KIND_REFINEMENT),
    [PHASE_DIFFUSE] = 1u << KIND_IDEA,
    [PHASE_RESULTS] = 0,
};

static uint64_t vote_key(int64_t pid, int64_t item)
{
    return ((uint64_t)pid << 32) | (uint32_t)item;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

const char room_err_duplicate_op[] = "duplicate_op";

/* ---- the op table -------------------------------------------------------------------------- */

struct op_rec {
    int64_t pid;
    uint64_t hash;
    struct op_done done;
    char op[];
};

static uint64_t op_hash(int64_t pid, const char *op)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)pid * 0x9e3779b97f4a7c15ull;
    while (*op)
        h = (h ^ (unsigned char)*op++) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static struct op_rec *ops_find(const struct op_table *t, int64_t pid, const char *op, uint64_t h)
{
    if (!t->cap)
        return NULL;
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        struct op_rec *r = t->slots[i];
        if (!r)
            return NULL;
        if (r->hash == h && r->pid == pid && strcmp(r->op, op) == 0)
            return r;
    }
}

static void ops_insert(struct op_table *t, struct op_rec *rec)
{
    if ((t->used + 1) * 10 >= t->cap * 7) {
        struct op_table old = *t;
        t->cap = old.cap ? old.cap * 2 : 256;
        t->slots = xcalloc(t->cap, sizeof *t->slots);
        t->used = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i])
                ops_insert(t, old.slots[i]);
        free(old.slots);
    }
    size_t i = rec->hash & (t->cap - 1);
    while (t->slots[i])
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = rec;
    t->used++;
}

static void ops_free(struct op_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i]);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

struct room *room_new(const struct jam_config *cfg, const struct room_limits *limits)
{
    struct room *r = xcalloc(1, sizeof *r);
    r->cfg = *cfg;
    r->cfg.title = xstrdup(cfg->title ? cfg->title : "");
    r->cfg.question = xstrdup(cfg->question ? cfg->question : "");
    r->limits = *limits;
    r->clock.state = CLOCK_LOBBY;
    r->clock.index = -1;
    r->next_pid = 1;
    imap_init(&r->pid_index);
    imap_init(&r->votes);
    imap_init(&r->inflight);
    for (int k = 0; k < KIND__COUNT; k++)
        r->rank[k] = rank_new(0x5eed0000u + (uint32_t)k);
    return r;
}

void room_free(struct room *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_items; i++) {
        free(r->items[i]->text);
        free(r->items[i]);
    }
    free(r->items);
    for (size_t i = 0; i < r->n_participants; i++) {
        free(r->participants[i]->nickname);
        free(r->participants[i]->voted);
        free(r->participants[i]);
    }
    free(r->participants);
    for (int k = 0; k < KIND__COUNT; k++) {
        rank_free(r->rank[k]);
        free(r->top_cache[k]);
    }
    imap_deinit(&r->pid_index);
    imap_deinit(&r->votes);
    imap_deinit(&r->inflight);
    ops_free(&r->ops);
    for (size_t i = 0; i < r->n_modlog; i++)
        free(r->modlog[i].reason);
    free(r->modlog);
    free(r->delta.items);
    free(r->delta.votes);
    jam_config_clear(&r->cfg);
    free(r);
}

/* ---- queries ------------------------------------------------------------------------------- */

struct participant *room_participant(const struct room *r, int64_t pid)
{
    uint64_t idx;
    if (pid <= 0 || !imap_get(&r->pid_index, (uint64_t)pid, &idx))
        return NULL;
    return r->participants[idx];
}

struct item *room_item(const struct room *r, int64_t id)
{
    if (id < 1 || (uint64_t)id > r->n_items)
        return NULL;
    return r->items[id - 1];
}

static enum phase current_phase(const struct room *r)
{
    if (r->clock.index < 0)
        return PHASE__COUNT;
    return r->cfg.agenda[r->clock.index].phase;
}

bool room_can_post(const struct room *r, enum kind k)
{
    enum phase p = current_phase(r);
    return r->clock.state == CLOCK_RUNNING && p < PHASE__COUNT && post_kind[p] == (int)k;
}

bool room_can_vote(const struct room *r, enum kind k)
{
    enum phase p = current_phase(r);
    return r->clock.state == CLOCK_RUNNING && p < PHASE__COUNT && (vote_kinds[p] & (1u << k));
}

static int64_t budget_left(const struct room *r, const struct participant *p, uint32_t in_flight)
{
    uint32_t budget = r->cfg.settings.votes_per_phase;
    if (budget == 0)
        return -1;
    if (r->clock.index < 0) /* in the lobby: the whole budget of the first phase */
        return budget;
    int64_t left = (int64_t)budget - p->used[r->clock.index] - in_flight;
    return left < 0 ? 0 : left;
}

int64_t room_budget_left(const struct room *r, const struct participant *p)
{
    return budget_left(r, p, p->pending_votes);
}

int64_t room_deadline(const struct room *r)
{
    return r->clock.state == CLOCK_RUNNING && r->clock.has_deadline ? r->clock.deadline_ms : 0;
}

int64_t room_remaining(const struct room *r, int64_t now_ms)
{
    if (!r->clock.has_deadline)
        return -1;
    if (r->clock.state == CLOCK_PAUSED)
        return r->clock.remaining_ms;
    if (r->clock.state != CLOCK_RUNNING)
        return -1;
    int64_t left = r->clock.deadline_ms - now_ms;
    return left < 0 ? 0 : left;
}

void room_set_online(struct room *r, uint32_t online)
{
    r->online = online;
    r->delta.stats = true;
}

const struct op_done *room_op_done(const struct room *r, int64_t pid, const char *op)
{
    struct op_rec *rec = ops_find(&r->ops, pid, op, op_hash(pid, op));
    return rec ? &rec->done : NULL;
}

/* ---- checking ------------------------------------------------------------------------------ */

static const char *check_parent(const struct room *r, enum kind kind, int64_t parent)
{
    if (kind == KIND_PROBLEM)
        return parent ? "bad_parent" : NULL;
    if (kind == KIND_IDEA && !parent)
        return NULL;
    if (!parent)
        return "bad_parent";
    const struct item *p = room_item(r, parent);
    enum kind want = kind == KIND_IDEA ? KIND_PROBLEM : KIND_IDEA;
    if (!p || p->hidden || p->kind != want)
        return "bad_parent";
    return NULL;
}

static const char *check_vote(const struct room *r, const struct participant *p, const struct msg *m)
{
    if (r->clock.state != CLOCK_RUNNING)
        return "not_running";
    const struct item *it = room_item(r, m->item);
    if (!it)
        return "no_such_item";
    if (!room_can_vote(r, it->kind))
        return "wrong_phase";
    if (it->hidden)
        return "item_hidden";
    if (imap_get(&r->inflight, vote_key(p->pid, it->id), NULL))
        return "busy";
    bool voted = imap_get(&r->votes, vote_key(p->pid, it->id), NULL);
    if (m->type == MSG_VOTE) {
        if (voted)
            return "already_voted";
        if (room_budget_left(r, p) == 0)
            return "budget_exhausted";
    } else if (!voted) {
        return "not_voted";
    }
    return NULL;
}

static const char *check_moderation(const struct room *r, const struct msg *m, struct event *out)
{
    const struct clock *c = &r->clock;
    switch (m->type) {
    case MSG_START:
        if (c->state != CLOCK_LOBBY)
            return "already_started";
        out->type = EV_STARTED;
        return NULL;
    case MSG_SET_PHASE:
        for (unsigned i = 0; i < r->cfg.n_agenda; i++)
            if (r->cfg.agenda[i].phase == m->phase) {
                out->type = EV_PHASE_SET;
                out->index = i;
                return NULL;
            }
        return "bad_phase";
    case MSG_PAUSE:
        if (c->state != CLOCK_RUNNING)
            return "not_running";
        out->type = EV_PAUSED;
        return NULL;
    case MSG_RESUME:
        if (c->state != CLOCK_PAUSED)
            return "not_paused";
        out->type = EV_RESUMED;
        return NULL;
    case MSG_EXTEND:
        if ((c->state != CLOCK_RUNNING && c->state != CLOCK_PAUSED) || !c->has_deadline)
            return "not_running";
        out->type = EV_EXTENDED;
        out->seconds = m->seconds;
        return NULL;
    case MSG_HIDE:
    case MSG_UNHIDE: {
        const struct item *it = room_item(r, m->item);
        if (!it)
            return "no_such_item";
        if (m->type == MSG_HIDE && it->hidden)
            return "item_hidden";
        if (m->type == MSG_UNHIDE && !it->hidden)
            return "not_hidden";
        out->type = m->type == MSG_HIDE ? EV_HIDDEN : EV_UNHIDDEN;
        out->item = m->item;
        out->reason = m->type == MSG_HIDE ? dup_or_null(m->reason) : NULL;
        return NULL;
    }
    default:
        return "unknown_type";
    }
}

const char *room_check(const struct room *r, int64_t pid, enum role role, const struct msg *m,
                       struct event *out)
{
    memset(out, 0, sizeof *out);
    if (role != ROLE_CITIZEN && role != ROLE_MODERATOR)
        return "forbidden";
    const struct participant *p = room_participant(r, pid);
    if (!p)
        return "forbidden";
    bool moderation = m->type != MSG_POST && m->type != MSG_VOTE && m->type != MSG_UNVOTE;
    if (moderation && role != ROLE_MODERATOR)
        return "forbidden";
    /* Every write waits for clock and moderation events in flight: they change what is valid. */
    if (r->barrier)
        return "busy";
    const char *err;
    if (moderation) {
        err = check_moderation(r, m, out);
    } else if (m->type == MSG_POST) {
        if (r->clock.state != CLOCK_RUNNING)
            return "not_running";
        if (!room_can_post(r, m->kind))
            return "wrong_phase";
        size_t cp = utf8_len(m->text);
        if (cp < r->cfg.settings.min_text)
            return "too_short";
        if (cp > r->cfg.settings.max_text)
            return "too_long";
        if ((err = check_parent(r, m->kind, m->parent)))
            return err;
        if (r->n_items + r->pending_posts >= r->limits.max_items)
            return "jam_full";
        out->type = EV_POSTED;
        out->kind = m->kind;
        out->text = xstrdup(m->text);
        out->parent = m->parent;
    } else {
        if ((err = check_vote(r, p, m)))
            return err;
        out->type = m->type == MSG_VOTE ? EV_VOTED : EV_UNVOTED;
        out->item = m->item;
    }
    if (err) {
        event_clear(out);
        return err;
    }
    out->by = pid;
    memcpy(out->op, m->op, sizeof out->op);
    return NULL;
}

const char *room_check_join(struct room *r, const struct msg *m, struct event *out)
{
    memset(out, 0, sizeof *out);
    bool anonymous = m->anonymous || !m->nickname;
    /* Anonymity is the citizens' choice; moderators act in the jam's name either way. */
    if (m->as == ROLE_CITIZEN && m->anonymous && !r->cfg.settings.anonymous_allowed)
        return "anonymous_not_allowed";
    if (m->as == ROLE_CITIZEN && anonymous && !r->cfg.settings.anonymous_allowed)
        return "nickname_required";
    if (r->n_participants + r->pending_joins >= r->limits.max_participants)
        return "jam_full";
    out->type = EV_JOINED;
    out->pid = r->next_pid;
    out->role = m->as;
    out->anonymous = anonymous;
    out->nickname = anonymous ? NULL : xstrdup(m->nickname);
    return NULL;
}

bool room_check_deadline(const struct room *r, int64_t now_ms, struct event *out)
{
    if (r->barrier || r->clock.state != CLOCK_RUNNING || !r->clock.has_deadline ||
        now_ms < r->clock.deadline_ms)
        return false;
    memset(out, 0, sizeof *out);
    out->type = EV_PHASE_ENDED;
    out->index = r->clock.index;
    return true;
}

static bool is_barrier(enum event_type t)
{
    return t >= EV_STARTED && t <= EV_PHASE_ENDED;
}

void room_reserve(struct room *r, const struct event *e)
{
    struct participant *p = room_participant(r, e->by);
    switch (e->type) {
    case EV_JOINED:
        r->pending_joins++;
        if (e->pid >= r->next_pid)
            r->next_pid = e->pid + 1;
        break;
    case EV_POSTED:
        r->pending_posts++;
        break;
    case EV_VOTED:
    case EV_UNVOTED:
        imap_put(&r->inflight, vote_key(e->by, e->item), 1);
        if (p && e->type == EV_VOTED)
            p->pending_votes++;
        break;
    default:
        if (is_barrier(e->type))
            r->barrier++;
        break;
    }
}

void room_unreserve(struct room *r, const struct event *e)
{
    struct participant *p = room_participant(r, e->by);
    switch (e->type) {
    case EV_JOINED:
        if (r->pending_joins)
            r->pending_joins--;
        break;
    case EV_POSTED:
        if (r->pending_posts)
            r->pending_posts--;
        break;
    case EV_VOTED:
    case EV_UNVOTED:
        imap_del(&r->inflight, vote_key(e->by, e->item));
        if (p && e->type == EV_VOTED && p->pending_votes)
            p->pending_votes--;
        break;
    default:
        if (is_barrier(e->type) && r->barrier)
            r->barrier--;
        break;
    }
}

/* ---- applying ------------------------------------------------------------------------------ */

static void delta_item(struct room *r, struct item *it)
{
    struct room_delta *d = &r->delta;
    if (!it->in_delta) {
        if (d->n_items == d->cap_items) {
            d->cap_items = d->cap_items ? d->cap_items * 2 : 16;
            d->items = xrealloc(d->items, d->cap_items * sizeof *d->items);
        }
        d->items[d->n_items++] = it->id;
        it->in_delta = true;
    }
    d->kinds |= 1u << it->kind;
    d->stats = true;
}

static void delta_votes(struct room *r, struct item *it)
{
    struct room_delta *d = &r->delta;
    if (!it->votes_in_delta) {
        if (d->n_votes == d->cap_votes) {
            d->cap_votes = d->cap_votes ? d->cap_votes * 2 : 64;
            d->votes = xrealloc(d->votes, d->cap_votes * sizeof *d->votes);
        }
        d->votes[d->n_votes++] = it->id;
        it->votes_in_delta = true;
    }
    d->kinds |= 1u << it->kind;
    d->stats = true;
}

/* ---- catch-up: the delta of events read back from the stream ------------------------------ */

static void touch_add(uint32_t **v, size_t *n, size_t *cap, uint32_t id)
{
    for (size_t i = 0; i < *n; i++) /* a page holds a few hundred events: a scan is enough */
        if ((*v)[i] == id)
            return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = id;
}

void room_touch(const struct room *r, const char *id, const struct event *e, struct room_delta *d)
{
    const struct item *it = NULL;
    if (!d->from[0])
        snprintf(d->from, sizeof d->from, "%s", id);
    snprintf(d->to, sizeof d->to, "%s", id);
    switch (e->type) {
    case EV_JOINED:
        d->stats = true;
        break;
    case EV_POSTED: {
        /* The item id is not in the event: it is the outcome recorded for the op, if this entry
         * is the one that took effect (a retried op may have reached the stream twice). */
        const struct op_done *done = room_op_done(r, e->by, e->op);
        if (done && done->item && strcmp(done->event_id, id) == 0)
            it = room_item(r, done->item);
        if (it)
            touch_add(&d->items, &d->n_items, &d->cap_items, it->id);
        break;
    }
    case EV_HIDDEN:
    case EV_UNHIDDEN:
        if ((it = room_item(r, e->item)) != NULL)
            touch_add(&d->items, &d->n_items, &d->cap_items, it->id);
        break;
    case EV_VOTED:
    case EV_UNVOTED:
        if ((it = room_item(r, e->item)) != NULL)
            touch_add(&d->votes, &d->n_votes, &d->cap_votes, it->id);
        break;
    case EV_STARTED:
    case EV_PAUSED:
    case EV_RESUMED:
    case EV_PHASE_SET:
    case EV_EXTENDED:
    case EV_PHASE_ENDED:
        d->clock = true;
        break;
    default:
        break;
    }
    if (it) {
        d->kinds |= 1u << it->kind;
        d->stats = true;
    }
}

void room_delta_clear(struct room_delta *d)
{
    free(d->items);
    free(d->votes);
    memset(d, 0, sizeof *d);
}

void room_delta_reset(struct room *r)
{
    struct room_delta *d = &r->delta;
    for (size_t i = 0; i < d->n_items; i++)
        r->items[d->items[i] - 1]->in_delta = false;
    for (size_t i = 0; i < d->n_votes; i++)
        r->items[d->votes[i] - 1]->votes_in_delta = false;
    d->n_items = d->n_votes = 0;
    d->kinds = 0;
    d->clock = d->stats = false;
    memcpy(d->prev, r->last_id, sizeof d->prev);
    d->from[0] = d->to[0] = '\0';
}

static void enter_phase(struct room *r, int index, int64_t at_ms)
{
    struct clock *c = &r->clock;
    if (index >= (int)r->cfg.n_agenda) {
        c->state = CLOCK_ENDED;
        c->has_deadline = false;
        return;
    }
    uint32_t d = r->cfg.agenda[index].duration_s;
    c->state = CLOCK_RUNNING;
    c->index = index;
    c->has_deadline = d > 0;
    c->deadline_ms = at_ms + (int64_t)d * 1000;
    c->remaining_ms = 0;
}

static void add_voted(struct participant *p, uint32_t item)
{
    if (p->n_voted == p->cap_voted) {
        p->cap_voted = p->cap_voted ? p->cap_voted * 2 : 8;
        p->voted = xrealloc(p->voted, p->cap_voted * sizeof *p->voted);
    }
    p->voted[p->n_voted++] = item;
}

static void remove_voted(struct participant *p, uint32_t item)
{
    for (size_t i = 0; i < p->n_voted; i++)
        if (p->voted[i] == item) {
            p->voted[i] = p->voted[--p->n_voted];
            return;
        }
}

static const char *apply_join(struct room *r, const struct event *e)
{
    if (e->pid <= 0 || room_participant(r, e->pid) ||
        (e->role != ROLE_CITIZEN && e->role != ROLE_MODERATOR))
        return "bad_value";
    struct participant *p = xcalloc(1, sizeof *p);
    p->pid = e->pid;
    p->role = e->role;
    p->nickname = e->anonymous ? NULL : dup_or_null(e->nickname);
    if (r->n_participants == r->cap_participants) {
        r->cap_participants = r->cap_participants ? r->cap_participants * 2 : 64;
        r->participants = xrealloc(r->participants, r->cap_participants * sizeof *r->participants);
    }
    imap_put(&r->pid_index, (uint64_t)e->pid, r->n_participants);
    r->participants[r->n_participants++] = p;
    if (p->role == ROLE_CITIZEN)
        r->n_citizens++;
    if (e->pid >= r->next_pid)
        r->next_pid = e->pid + 1;
    r->delta.stats = true;
    return NULL;
}

static const char *apply_post(struct room *r, const struct event *e, struct participant *p,
                              struct room_result *res)
{
    if (!room_can_post(r, e->kind) || !e->text || check_parent(r, e->kind, e->parent))
        return "wrong_phase";
    struct item *it = xcalloc(1, sizeof *it);
    it->id = (uint32_t)r->n_items + 1;
    it->kind = e->kind;
    it->parent = (uint32_t)e->parent;
    it->author = p->pid;
    it->by = p->role;
    it->phase_index = r->clock.index;
    it->text = xstrdup(e->text);
    if (r->n_items == r->cap_items) {
        r->cap_items = r->cap_items ? r->cap_items * 2 : 64;
        r->items = xrealloc(r->items, r->cap_items * sizeof *r->items);
    }
    r->items[r->n_items++] = it;
    r->n_visible++;
    rank_insert(r->rank[it->kind], it->id, 0);
    delta_item(r, it);
    res->item = it->id;
    return NULL;
}

static const char *apply_vote(struct room *r, const struct event *e, struct participant *p,
                              struct room_result *res)
{
    struct item *it = room_item(r, e->item);
    if (!it || it->hidden || !room_can_vote(r, it->kind))
        return "wrong_phase";
    uint64_t key = vote_key(p->pid, it->id), cast_in;
    bool voted = imap_get(&r->votes, key, &cast_in);
    if (e->type == EV_VOTED) {
        if (voted)
            return "already_voted";
        uint32_t budget = r->cfg.settings.votes_per_phase;
        if (budget && p->used[r->clock.index] >= budget)
            return "budget_exhausted";
        imap_put(&r->votes, key, (uint64_t)r->clock.index);
        p->used[r->clock.index]++;
        add_voted(p, it->id);
        it->votes++;
        r->total_votes++;
    } else {
        if (!voted)
            return "not_voted";
        imap_del(&r->votes, key);
        if (p->used[cast_in])
            p->used[cast_in]--;
        remove_voted(p, it->id);
        it->votes--;
        r->total_votes--;
    }
    rank_set(r->rank[it->kind], it->id, it->votes);
    delta_votes(r, it);
    /* Not counting votes in flight: they are no part of the stream, and replay must record the
     * same budget_left as the live ack said. */
    res->budget_left = budget_left(r, p, 0);
    return NULL;
}

static const char *apply_clock(struct room *r, const struct event *e)
{
    struct clock *c = &r->clock;
    switch (e->type) {
    case EV_STARTED:
        if (c->state != CLOCK_LOBBY)
            return "already_started";
        enter_phase(r, 0, e->at_ms);
        break;
    case EV_PHASE_SET:
        if (e->index < 0 || e->index >= (int64_t)r->cfg.n_agenda)
            return "bad_phase";
        enter_phase(r, (int)e->index, e->at_ms);
        break;
    case EV_PHASE_ENDED:
        if (c->state != CLOCK_RUNNING || e->index != c->index)
            return "not_running";
        enter_phase(r, c->index + 1, e->at_ms);
        break;
    case EV_PAUSED:
        if (c->state != CLOCK_RUNNING)
            return "not_running";
        c->state = CLOCK_PAUSED;
        if (c->has_deadline) {
            int64_t left = c->deadline_ms - e->at_ms;
            c->remaining_ms = left < 0 ? 0 : left;
        }
        break;
    case EV_RESUMED:
        if (c->state != CLOCK_PAUSED)
            return "not_paused";
        c->state = CLOCK_RUNNING;
        if (c->has_deadline)
            c->deadline_ms = e->at_ms + c->remaining_ms;
        break;
    case EV_EXTENDED:
        if ((c->state != CLOCK_RUNNING && c->state != CLOCK_PAUSED) || !c->has_deadline ||
            e->seconds < 1 || e->seconds > MSG_EXTEND_MAX_S)
            return "not_running";
        if (c->state == CLOCK_RUNNING)
            c->deadline_ms += e->seconds * 1000;
        else
            c->remaining_ms += e->seconds * 1000;
        break;
    default:
        return "bad_value";
    }
    r->delta.clock = true;
    return NULL;
}

static const char *apply_hide(struct room *r, const struct event *e)
{
    struct item *it = room_item(r, e->item);
    if (!it)
        return "no_such_item";
    bool hide = e->type == EV_HIDDEN;
    if (it->hidden == hide)
        return hide ? "item_hidden" : "not_hidden";
    it->hidden = hide;
    if (hide) {
        rank_remove(r->rank[it->kind], it->id);
        r->n_visible--;
    } else {
        rank_insert(r->rank[it->kind], it->id, it->votes);
        r->n_visible++;
    }
    delta_item(r, it);
    return NULL;
}

static void record_moderation(struct room *r, const char *id, const struct event *e)
{
    if (r->n_modlog == r->cap_modlog) {
        r->cap_modlog = r->cap_modlog ? r->cap_modlog * 2 : 16;
        r->modlog = xrealloc(r->modlog, r->cap_modlog * sizeof *r->modlog);
    }
    struct mod_entry *m = &r->modlog[r->n_modlog++];
    memset(m, 0, sizeof *m);
    snprintf(m->event_id, sizeof m->event_id, "%s", id);
    m->type = e->type;
    m->by = e->by;
    m->at_ms = e->at_ms;
    m->item = e->item;
    m->index = e->index;
    m->seconds = e->seconds;
    m->reason = dup_or_null(e->reason);
}

static void record_op(struct room *r, const char *id, const struct event *e,
                      const struct room_result *res)
{
    if (!e->op[0] || e->by <= 0)
        return;
    size_t n = strlen(e->op);
    struct op_rec *rec = xmalloc(sizeof *rec + n + 1);
    rec->pid = e->by;
    rec->hash = op_hash(e->by, e->op);
    snprintf(rec->done.event_id, sizeof rec->done.event_id, "%s", id);
    rec->done.item = res->item;
    rec->done.has_budget = e->type == EV_VOTED || e->type == EV_UNVOTED;
    rec->done.budget_left = rec->done.has_budget ? res->budget_left : -1;
    memcpy(rec->op, e->op, n + 1);
    ops_insert(&r->ops, rec); /* room_apply refused a duplicate before we got here */
}

const char *room_apply(struct room *r, const char *id, const struct event *e,
                       struct room_result *res)
{
    struct room_result scratch;
    if (!res)
        res = &scratch;
    res->item = 0;
    res->budget_left = -1;
    const char *err = NULL;
    struct participant *p = NULL;
    if (e->type == EV_POSTED || e->type == EV_VOTED || e->type == EV_UNVOTED) {
        p = room_participant(r, e->by);
        if (!p)
            return "forbidden";
    }
    /* A retried op that reached the stream twice takes effect once (proto: exactly-once). */
    if (e->op[0] && e->by > 0 && room_op_done(r, e->by, e->op))
        return room_err_duplicate_op;
    switch (e->type) {
    case EV_JAM_CREATED:
        if (r->n_events)
            return "bad_value";
        break;
    case EV_JOINED:
        err = apply_join(r, e);
        break;
    case EV_POSTED:
        err = apply_post(r, e, p, res);
        break;
    case EV_VOTED:
    case EV_UNVOTED:
        err = apply_vote(r, e, p, res);
        break;
    case EV_HIDDEN:
    case EV_UNHIDDEN:
        err = apply_hide(r, e);
        break;
    case EV_STARTED:
    case EV_PHASE_SET:
    case EV_PHASE_ENDED:
    case EV_PAUSED:
    case EV_RESUMED:
    case EV_EXTENDED:
        err = apply_clock(r, e);
        break;
    default:
        err = "bad_value";
    }
    if (err)
        return err;
    record_op(r, id, e, res);
    if (is_barrier(e->type))
        record_moderation(r, id, e);
    snprintf(r->last_id, sizeof r->last_id, "%s", id);
    if (!r->delta.from[0])
        snprintf(r->delta.from, sizeof r->delta.from, "%s", id);
    snprintf(r->delta.to, sizeof r->delta.to, "%s", id);
    r->n_events++;
    return NULL;
}

/* ---- rankings ------------------------------------------------------------------------------ */

size_t room_top(const struct room *r, enum kind kind, size_t k, uint32_t *out)
{
    return rank_top(r->rank[kind], k, out);
}

bool room_top_changed(struct room *r, enum kind kind, size_t k, uint32_t *out, size_t *n)
{
    size_t got = rank_top(r->rank[kind], k, out);
    *n = got;
    if (r->top_cache[kind] && got == r->top_n[kind] &&
        memcmp(out, r->top_cache[kind], got * sizeof *out) == 0)
        return false;
    r->top_cache[kind] = xrealloc(r->top_cache[kind], (k ? k : 1) * sizeof *out);
    memcpy(r->top_cache[kind], out, got * sizeof *out);
    r->top_n[kind] = got;
    return true;
}

/* ---- snapshots ----------------------------------------------------------------------------- */

/* Layout (little-endian, strings as u32 length + bytes, 0xFFFFFFFF = NULL):
 *   "CJS2" config clock last_id n_events next_pid items participants ops modlog
 * where each op is pid op event_id item has_budget(u8) budget_left(u64). Derived state (votes
 * map, rankings, totals, visible count) is rebuilt on decode. A "CJS1" snapshot (ops without
 * budget_left) is refused, so its jam is replayed from the whole stream, which has the budgets. */
#define SNAP_MAGIC "CJS2"
#define SNAP_NULL 0xFFFFFFFFu

struct wbuf {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct wbuf *w, const void *data, size_t n)
{
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2 + 256;
        w->p = xrealloc(w->p, w->cap);
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void put_u64(struct wbuf *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(w, b, 8);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(w, b, 4);
}

static void put_u8(struct wbuf *w, unsigned v)
{
    unsigned char b = (unsigned char)v;
    put(w, &b, 1);
}

static void put_str(struct wbuf *w, const char *s)
{
    if (!s) {
        put_u32(w, SNAP_NULL);
        return;
    }
    size_t n = strlen(s);
    put_u32(w, (uint32_t)n);
    put(w, s, n);
}

struct rbuf {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
};

static const unsigned char *take(struct rbuf *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_u64(struct rbuf *r)
{
    const unsigned char *b = take(r, 8);
    uint64_t v = 0;
    for (int i = 0; b && i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint32_t get_u32(struct rbuf *r)
{
    const unsigned char *b = take(r, 4);
    uint32_t v = 0;
    for (int i = 0; b && i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static unsigned get_u8(struct rbuf *r)
{
    const unsigned char *b = take(r, 1);
    return b ? *b : 0;
}

/* A new NUL-terminated copy, or NULL for the NULL marker (*is_null set) or on error (r->bad). */
static char *get_str(struct rbuf *r, bool *is_null)
{
    uint32_t n = get_u32(r);
    *is_null = !r->bad && n == SNAP_NULL;
    if (r->bad || *is_null)
        return NULL;
    const unsigned char *b = take(r, n);
    if (!b || memchr(b, '\0', n)) {
        r->bad = true;
        return NULL;
    }
    return xmemdup(b, n);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_op(const void *a, const void *b)
{
    const struct op_rec *x = *(struct op_rec *const *)a, *y = *(struct op_rec *const *)b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return strcmp(x->op, y->op);
}

void room_snapshot_encode(const struct room *r, bool canonical, unsigned char **out, size_t *len)
{
    struct wbuf w = {0};
    const struct jam_config *c = &r->cfg;
    put(&w, SNAP_MAGIC, 4);
    put_str(&w, c->code);
    put_str(&w, c->title);
    put_str(&w, c->question);
    put_u8(&w, c->n_agenda);
    for (unsigned i = 0; i < c->n_agenda; i++) {
        put_u8(&w, c->agenda[i].phase);
        put_u32(&w, c->agenda[i].duration_s);
    }
    put_u8(&w, c->settings.anonymous_allowed);
    put_u32(&w, c->settings.votes_per_phase);
    put_u32(&w, c->settings.min_text);
    put_u32(&w, c->settings.max_text);
    put_str(&w, c->secret_sha256);

    put_u8(&w, r->clock.state);
    put_u32(&w, (uint32_t)r->clock.index);
    put_u8(&w, r->clock.has_deadline);
    put_u64(&w, (uint64_t)r->clock.deadline_ms);
    put_u64(&w, (uint64_t)r->clock.remaining_ms);
    put_str(&w, r->last_id);
    put_u64(&w, r->n_events);
    put_u64(&w, (uint64_t)r->next_pid);

    put_u32(&w, (uint32_t)r->n_items);
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        put_u8(&w, it->kind);
        put_u32(&w, it->parent);
        put_u64(&w, (uint64_t)it->author);
        put_u8(&w, it->by);
        put_u32(&w, (uint32_t)it->phase_index);
        put_u32(&w, (uint32_t)it->votes);
        put_u8(&w, it->hidden);
        put_str(&w, it->text);
    }
    put_u32(&w, (uint32_t)r->n_participants);
    uint32_t *sorted = NULL;
    for (size_t i = 0; i < r->n_participants; i++) {
        const struct participant *p = r->participants[i];
        put_u64(&w, (uint64_t)p->pid);
        put_u8(&w, p->role);
        put_str(&w, p->nickname);
        for (int k = 0; k < JAM_MAX_PHASES; k++)
            put_u32(&w, p->used[k]);
        put_u32(&w, (uint32_t)p->n_voted);
        sorted = xrealloc(sorted, (p->n_voted + 1) * sizeof *sorted);
        if (p->n_voted)
            memcpy(sorted, p->voted, p->n_voted * sizeof *sorted);
        if (canonical)
            qsort(sorted, p->n_voted, sizeof *sorted, cmp_u32);
        for (size_t v = 0; v < p->n_voted; v++) {
            uint64_t cast = 0;
            imap_get(&r->votes, vote_key(p->pid, sorted[v]), &cast);
            put_u32(&w, sorted[v]);
            put_u8(&w, (unsigned)cast);
        }
    }
    free(sorted);

    struct op_rec **ops = xmalloc((r->ops.used + 1) * sizeof *ops);
    size_t n_ops = 0;
    for (size_t i = 0; i < r->ops.cap; i++)
        if (r->ops.slots[i])
            ops[n_ops++] = r->ops.slots[i];
    if (canonical)
        qsort(ops, n_ops, sizeof *ops, cmp_op);
    put_u32(&w, (uint32_t)n_ops);
    for (size_t i = 0; i < n_ops; i++) {
        put_u64(&w, (uint64_t)ops[i]->pid);
        put_str(&w, ops[i]->op);
        put_str(&w, ops[i]->done.event_id);
        put_u32(&w, ops[i]->done.item);
        put_u8(&w, ops[i]->done.has_budget);
        put_u64(&w, (uint64_t)ops[i]->done.budget_left);
    }
    free(ops);

    put_u32(&w, (uint32_t)r->n_modlog);
    for (size_t i = 0; i < r->n_modlog; i++) {
        const struct mod_entry *m = &r->modlog[i];
        put_str(&w, m->event_id);
        put_u8(&w, m->type);
        put_u64(&w, (uint64_t)m->by);
        put_u64(&w, (uint64_t)m->at_ms);
        put_u64(&w, (uint64_t)m->item);
        put_u64(&w, (uint64_t)m->index);
        put_u64(&w, (uint64_t)m->seconds);
        put_str(&w, m->reason);
    }
    *out = w.p;
    *len = w.len;
}

/* Copy a decoded string into a fixed buffer; false if absent or too long. */
static bool copy_fixed(char *dst, size_t size, char *s)
{
    bool ok = s && strlen(s) < size;
    if (ok)
        memcpy(dst, s, strlen(s) + 1);
    free(s);
    return ok;
}

static bool decode_config(struct rbuf *rb, struct jam_config *c)
{
    bool null;
    memset(c, 0, sizeof *c);
    if (!copy_fixed(c->code, sizeof c->code, get_str(rb, &null)))
        return false;
    c->title = get_str(rb, &null);
    c->question = get_str(rb, &null);
    c->n_agenda = get_u8(rb);
    if (!c->title || !c->question || c->n_agenda < 1 || c->n_agenda > JAM_MAX_PHASES)
        return false;
    for (unsigned i = 0; i < c->n_agenda; i++) {
        c->agenda[i].phase = (enum phase)get_u8(rb);
        c->agenda[i].duration_s = get_u32(rb);
        if (c->agenda[i].phase >= PHASE__COUNT)
            return false;
    }
    c->settings.anonymous_allowed = get_u8(rb) != 0;
    c->settings.votes_per_phase = get_u32(rb);
    c->settings.min_text = get_u32(rb);
    c->settings.max_text = get_u32(rb);
    return copy_fixed(c->secret_sha256, sizeof c->secret_sha256, get_str(rb, &null)) && !rb->bad;
}

static bool decode_items(struct rbuf *rb, struct room *r)
{
    uint32_t n = get_u32(rb);
    if (n > rb->len / 16) /* each item takes at least 16 bytes: no huge bogus allocation */
        return false;
    for (uint32_t i = 0; i < n && !rb->bad; i++) {
        struct item *it = xcalloc(1, sizeof *it);
        bool null;
        it->id = i + 1;
        it->kind = (enum kind)get_u8(rb);
        it->parent = get_u32(rb);
        it->author = (int64_t)get_u64(rb);
        it->by = (enum role)get_u8(rb);
        it->phase_index = (int)get_u32(rb);
        it->votes = (int32_t)get_u32(rb);
        it->hidden = get_u8(rb) != 0;
        it->text = get_str(rb, &null);
        if (r->n_items == r->cap_items) {
            r->cap_items = r->cap_items ? r->cap_items * 2 : 64;
            r->items = xrealloc(r->items, r->cap_items * sizeof *r->items);
        }
        r->items[r->n_items++] = it;
        if (!it->text || it->kind >= KIND__COUNT || it->parent > i || it->votes < 0 ||
            it->phase_index < 0 || it->phase_index >= (int)r->cfg.n_agenda)
            return false;
        if (!it->hidden) {
            rank_insert(r->rank[it->kind], it->id, it->votes);
            r->n_visible++;
        }
        r->total_votes += it->votes;
    }
    return !rb->bad;
}

static bool decode_participants(struct rbuf *rb, struct room *r)
{
    uint32_t n = get_u32(rb);
    if (n > rb->len / 29)
        return false;
    for (uint32_t i = 0; i < n && !rb->bad; i++) {
        bool null;
        struct event e = {.type = EV_JOINED};
        e.pid = (int64_t)get_u64(rb);
        e.role = (enum role)get_u8(rb);
        e.nickname = get_str(rb, &null);
        e.anonymous = null;
        if (rb->bad || (!null && !e.nickname) || apply_join(r, &e)) {
            free(e.nickname);
            return false;
        }
        free(e.nickname);
        struct participant *p = r->participants[r->n_participants - 1];
        for (int k = 0; k < JAM_MAX_PHASES; k++)
            p->used[k] = get_u32(rb);
        uint32_t nv = get_u32(rb);
        if (nv > r->n_items)
            return false;
        for (uint32_t v = 0; v < nv && !rb->bad; v++) {
            uint32_t item = get_u32(rb);
            unsigned cast = get_u8(rb);
            if (item < 1 || item > r->n_items || cast >= r->cfg.n_agenda ||
                imap_get(&r->votes, vote_key(p->pid, item), NULL))
                return false;
            imap_put(&r->votes, vote_key(p->pid, item), cast);
            add_voted(p, item);
        }
    }
    return !rb->bad;
}

static bool decode_ops(struct rbuf *rb, struct room *r)
{
    uint32_t n = get_u32(rb);
    if (n > rb->len / 20)
        return false;
    for (uint32_t i = 0; i < n && !rb->bad; i++) {
        bool null;
        int64_t pid = (int64_t)get_u64(rb);
        char *op = get_str(rb, &null), *id = get_str(rb, &null);
        uint32_t item = get_u32(rb);
        unsigned has_budget = get_u8(rb);
        int64_t left = (int64_t)get_u64(rb);
        bool ok = op && id && strlen(op) <= MSG_OP_MAX && strlen(id) <= MSG_EVENT_ID_MAX &&
                  has_budget <= 1 && left >= -1 && (has_budget || left == -1) &&
                  !ops_find(&r->ops, pid, op, op_hash(pid, op));
        if (ok) {
            size_t len = strlen(op);
            struct op_rec *rec = xmalloc(sizeof *rec + len + 1);
            rec->pid = pid;
            rec->hash = op_hash(pid, op);
            memcpy(rec->done.event_id, id, strlen(id) + 1);
            rec->done.item = item;
            rec->done.has_budget = has_budget;
            rec->done.budget_left = left;
            memcpy(rec->op, op, len + 1);
            ops_insert(&r->ops, rec);
        }
        free(op);
        free(id);
        if (!ok)
            return false;
    }
    return !rb->bad;
}

static bool decode_modlog(struct rbuf *rb, struct room *r)
{
    uint32_t n = get_u32(rb);
    if (n > rb->len / 45)
        return false;
    for (uint32_t i = 0; i < n && !rb->bad; i++) {
        bool null;
        char *id = get_str(rb, &null);
        struct event e = {0};
        e.type = (enum event_type)get_u8(rb);
        e.by = (int64_t)get_u64(rb);
        e.at_ms = (int64_t)get_u64(rb);
        e.item = (int64_t)get_u64(rb);
        e.index = (int64_t)get_u64(rb);
        e.seconds = (int64_t)get_u64(rb);
        e.reason = get_str(rb, &null);
        bool ok = id && strlen(id) <= MSG_EVENT_ID_MAX && is_barrier(e.type) && !rb->bad;
        if (ok)
            record_moderation(r, id, &e);
        free(id);
        free(e.reason);
        if (!ok)
            return false;
    }
    return !rb->bad;
}

struct room *room_snapshot_decode(const unsigned char *buf, size_t len,
                                  const struct room_limits *limits)
{
    struct rbuf rb = {buf, len, 0, false};
    const unsigned char *magic = take(&rb, 4);
    struct jam_config cfg;
    if (!magic || memcmp(magic, SNAP_MAGIC, 4) != 0)
        return NULL;
    if (!decode_config(&rb, &cfg)) {
        jam_config_clear(&cfg);
        return NULL;
    }
    struct room *r = room_new(&cfg, limits);
    jam_config_clear(&cfg);
    bool null;
    r->clock.state = (enum clock_state)get_u8(&rb);
    r->clock.index = (int)get_u32(&rb);
    r->clock.has_deadline = get_u8(&rb) != 0;
    r->clock.deadline_ms = (int64_t)get_u64(&rb);
    r->clock.remaining_ms = (int64_t)get_u64(&rb);
    bool ok = copy_fixed(r->last_id, sizeof r->last_id, get_str(&rb, &null));
    r->n_events = get_u64(&rb);
    r->next_pid = (int64_t)get_u64(&rb);
    ok = ok && r->clock.state <= CLOCK_ENDED && r->clock.index >= -1 &&
         r->clock.index < (int)r->cfg.n_agenda && (r->clock.index >= 0 || r->clock.state == CLOCK_LOBBY);
    ok = ok && decode_items(&rb, r) && decode_participants(&rb, r) && decode_ops(&rb, r) &&
         decode_modlog(&rb, r) && rb.pos == rb.len;
    if (!ok) {
        room_free(r);
        return NULL;
    }
    room_delta_reset(r);
    return r;
}
