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
#include "auth.h"
#include "codec.h"
#include "fair.h"
#include "rank.h"
#include "words.h"

/* What each phase accepts (proto/messages.md, "Phases and what they accept"). */
static const int post_kind[PHASE__COUNT] = {
    [PHASE_EXPLORE] = KIND_PROBLEM, [PHASE_IDEATE] = KIND_IDEA, [PHASE_DESIGN] = KIND_REFINEMENT,
    [PHASE_DIFFUSE] = KIND_PLEDGE,  [PHASE_RESULTS] = -1,
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
const char room_err_removed[] = "removed";
const char room_err_pid_taken[] = "pid_taken";
const char room_err_muted[] = "muted";
const char room_err_invite_revoked[] = "invite_revoked";

/* ---- the op table -------------------------------------------------------------------------- */

/* The op table is an imap used as a multimap: op_hash(pid, op) -> struct room_op *, owned. The
 * hash is keyed (hash_seed), so a participant cannot choose op ids that collide on purpose. */
static uint64_t op_hash(int64_t pid, const char *op)
{
    return hash_bytes(op, strlen(op), (uint64_t)pid);
}

static struct room_op *as_op(uint64_t v)
{
    return (struct room_op *)(uintptr_t)v;
}

static struct room_op *ops_find(const struct imap *t, int64_t pid, const char *op, uint64_t h)
{
    uint64_t v;
    for (size_t pos = 0; imap_probe(t, h, &pos, &v);)
        if (as_op(v)->pid == pid && strcmp(as_op(v)->op, op) == 0)
            return as_op(v);
    return NULL;
}

/* A new record of (pid, op) with outcome 'done', in the table under hash 'h'. */
static void ops_insert(struct imap *t, int64_t pid, const char *op, uint64_t h,
                       const struct op_done *done)
{
    size_t n = strlen(op);
    struct room_op *rec = xmalloc(sizeof *rec + n + 1);
    rec->pid = pid;
    rec->done = *done;
    memcpy(rec->op, op, n + 1);
    imap_add(t, h, (uint64_t)(uintptr_t)rec);
}

static void ops_free(struct imap *t)
{
    uint64_t v;
    for (size_t pos = 0; imap_next(t, &pos, NULL, &v);)
        free(as_op(v));
    imap_deinit(t);
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
    imap_init(&r->ops);
    for (int k = 0; k < KIND__COUNT; k++) {
        r->rank[k] = rank_new(0x5eed0000u + (uint32_t)k);
        r->fair[k] = fair_new(0xfa170000u + (uint32_t)k);
    }
    imap_init(&r->offered);
    r->words = words_new();
    return r;
}

void room_free(struct room *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_items; i++) {
        free(r->items[i]->text);
        free(r->items[i]->hide_reason);
        free(r->items[i]->on_behalf);
        free(r->items[i]);
    }
    free(r->items);
    free(r->stage.announcement);
    for (size_t i = 0; i < r->n_participants; i++) {
        free(r->participants[i]->nickname);
        free(r->participants[i]->mod_reason);
        free(r->participants[i]->voted);
        free(r->participants[i]);
    }
    free(r->participants);
    for (int k = 0; k < KIND__COUNT; k++) {
        rank_free(r->rank[k]);
        fair_free(r->fair[k]);
        free(r->top_cache[k]);
    }
    imap_deinit(&r->offered);
    words_free(r->words);
    imap_deinit(&r->pid_index);
    imap_deinit(&r->votes);
    imap_deinit(&r->inflight);
    ops_free(&r->ops);
    for (size_t i = 0; i < r->n_modlog; i++) {
        struct mod_entry *m = &r->modlog[i];
        free(m->reason);
        free(m->items);
        free(m->word);
        free(m->label);
        for (size_t k = 0; k < m->n_words; k++)
            free(m->words[k]);
    }
    free(r->modlog);
    for (size_t i = 0; i < r->n_themes; i++) {
        free(r->themes[i].word);
        free(r->themes[i].label);
        free(r->themes[i].into);
    }
    free(r->themes);
    for (size_t i = 0; i < r->n_invites; i++)
        free(r->invites[i].name);
    free(r->invites);
    free(r->delta.items);
    free(r->delta.votes);
    free(r->delta.claims);
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

const struct room_invite *room_invite(const struct room *r, int64_t id)
{
    if (id < 1 || (uint64_t)id > r->n_invites)
        return NULL;
    return &r->invites[id - 1];
}

bool room_invite_revoked(const struct room *r, const struct participant *p)
{
    const struct room_invite *inv = p && p->invite ? room_invite(r, p->invite) : NULL;
    return inv && inv->revoked;
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

const char *room_announcement(const struct room *r, int64_t at_ms)
{
    const struct room_stage *st = &r->stage;
    if (!st->announcement || (st->until_ms && at_ms >= st->until_ms))
        return NULL;
    return st->announcement;
}

bool room_claim_running(const struct item *it, int64_t at_ms)
{
    return it->claim_by && at_ms < it->claim_until;
}

unsigned room_hidden_kinds(const struct room *r)
{
    switch (r->reveal) {
    case REVEAL_HIDDEN:
        return (1u << KIND__COUNT) - 1;
    case REVEAL_PER_PHASE: {
        enum phase p = current_phase(r);
        bool runs = r->clock.state == CLOCK_RUNNING || r->clock.state == CLOCK_PAUSED;
        return runs && p < PHASE__COUNT ? vote_kinds[p] : 0;
    }
    default:
        return 0;
    }
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
    struct room_op *rec = ops_find(&r->ops, pid, op, op_hash(pid, op));
    return rec ? &rec->done : NULL;
}

const struct room_op *room_op_next(const struct room *r, size_t *pos)
{
    uint64_t v;
    return imap_next(&r->ops, pos, NULL, &v) ? as_op(v) : NULL;
}

bool room_vote_index(const struct room *r, int64_t pid, uint32_t item, int *index)
{
    uint64_t cast;
    if (!imap_get(&r->votes, vote_key(pid, item), &cast))
        return false;
    *index = (int)(cast & ~(uint64_t)ROOM_VOTE_COLLAPSED);
    return true;
}

bool room_vote_collapsed(const struct room *r, int64_t pid, uint32_t item)
{
    uint64_t cast;
    return imap_get(&r->votes, vote_key(pid, item), &cast) && (cast & ROOM_VOTE_COLLAPSED);
}

void room_votes_by_phase(const struct room *r, uint32_t *out)
{
    size_t n_agenda = r->cfg.n_agenda;
    uint64_t key, cast;
    for (size_t pos = 0; imap_next(&r->votes, &pos, &key, &cast);) {
        const struct item *it = room_item(r, (uint32_t)key);
        size_t index = (size_t)(cast & ~(uint64_t)ROOM_VOTE_COLLAPSED);
        if (!it || index >= n_agenda)
            continue;
        out[(it->id - 1) * n_agenda + index]++; /* a collapsed vote was still cast on it */
        if (it->merged_into && !(cast & ROOM_VOTE_COLLAPSED)) /* its voter's one in the group */
            out[(it->merged_into - 1) * n_agenda + index]++;
    }
}

/* ---- merge groups (proto/messages.md, "Merging duplicates") --------------------------------- */

/* Whether 'it' is in the group of merge target 'target': the target itself or a duplicate. */
static bool in_group(const struct item *it, uint32_t target)
{
    return it && (it->id == target || it->merged_into == target);
}

/* Whether 'p' has a standing vote for 'it'; for a merge target, for any item of its group (the
 * group takes one vote per participant). */
static bool has_vote(const struct room *r, const struct participant *p, const struct item *it)
{
    if (!it->n_merged)
        return imap_get(&r->votes, vote_key(p->pid, it->id), NULL);
    for (size_t v = 0; v < p->n_voted; v++)
        if (in_group(room_item(r, p->voted[v]), it->id))
            return true;
    return false;
}

/* Why a merge (e->items into e->item) or an unmerge (of e->item) does not apply, or NULL: the one
 * rule room_check and room_apply share. */
/* Whether 'n' more items may become visible (an approve, an unhide, an unmerge): max_items holds for them as
 * for a post. room_apply judges by the applied state ('in_flight' false); the check counts the
 * posts in flight too, as jam_full does. */
static bool may_show(const struct room *r, size_t n, bool in_flight)
{
    uint64_t visible = (uint64_t)r->n_visible + (in_flight ? r->pending_posts : 0);
    return visible + n <= r->limits.max_items;
}

static const char *merge_error(const struct room *r, const struct event *e)
{
    const struct item *into = room_item(r, e->item);
    if (!into)
        return "no_such_item";
    if (e->type == EV_UNMERGED) { /* a duplicate, or a target's whole group, is visible again */
        if (!into->merged_into && !into->n_merged)
            return "not_merged";
        return may_show(r, into->merged_into ? 1 : into->n_merged, false) ? NULL : "jam_full";
    }
    if (into->pending)
        return "item_pending";
    if (into->hidden)
        return "item_hidden";
    if (into->merged_into)
        return "item_merged";
    for (size_t i = 0; i < e->n_items; i++) {
        const struct item *it = room_item(r, e->items[i]);
        if (!it)
            return "no_such_item";
        if (it == into)
            return "bad_value";
        if (it->pending)
            return "item_pending";
        if (it->hidden)
            return "item_hidden";
        if (it->merged_into)
            return "item_merged";
        if (it->n_merged)
            return "has_duplicates";
        if (it->kind != into->kind)
            return "merge_kind";
    }
    return e->n_items ? NULL : "bad_value";
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
    if (!p || p->hidden || p->pending || p->merged_into || p->kind != want)
        return "bad_parent";
    return NULL;
}

static const char *check_vote(const struct room *r, const struct participant *p,
                              const struct msg *m)
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
    if (it->pending)
        return "item_pending";
    if (it->merged_into)
        return "item_merged";
    if (imap_get(&r->inflight, vote_key(p->pid, it->id), NULL))
        return "busy";
    bool voted = has_vote(r, p, it);
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

/* Hidden items do not count against max_items: a moderator who hides a flood gives the room back
 * to everyone else. What is stored is still bounded, at twice max_items, hidden ones included
 * (each participant's quota counts its hidden items too). */
static bool jam_full(const struct room *r)
{
    uint64_t visible = (uint64_t)r->n_visible + r->pending_posts;
    uint64_t stored = (uint64_t)r->n_items + r->pending_posts;
    return visible >= r->limits.max_items || stored >= 2 * (uint64_t)r->limits.max_items;
}

static bool is_pinned(const struct room *r, uint32_t item, size_t *at)
{
    for (size_t i = 0; i < r->stage.n_pinned; i++)
        if (r->stage.pinned[i] == item) {
            if (at)
                *at = i;
            return true;
        }
    return false;
}

/* Why a removal, reinstatement, mute or unmute of e->pid does not apply, or NULL. The one rule
 * room_check and room_apply share. */
static const char *sanction_error(const struct room *r, const struct event *e)
{
    const struct participant *target = room_participant(r, e->pid);
    if (!target)
        return "no_such_participant";
    switch (e->type) {
    case EV_REMOVED:
        if (target->role != ROLE_CITIZEN)
            return "forbidden"; /* moderators share the secret: removing one would not hold */
        return target->removed ? "already_removed" : NULL;
    case EV_REINSTATED:
        return target->removed ? NULL : "not_removed";
    case EV_MUTED:
        if (target->role != ROLE_CITIZEN)
            return "forbidden";
        return target->muted ? "already_muted" : NULL;
    case EV_UNMUTED:
        return target->muted ? NULL : "not_muted";
    default:
        return "bad_value";
    }
}

/* Why a spotlight, pin or announcement event does not apply, or NULL. e->at_ms = INT64_MIN (the
 * check) takes any stored announcement as running. */
static const char *stage_error(const struct room *r, const struct event *e)
{
    const struct room_stage *st = &r->stage;
    const struct item *it = NULL;
    if (e->type == EV_SPOTLIGHTED || e->type == EV_PINNED || e->type == EV_UNPINNED) {
        if (!(it = room_item(r, e->item)))
            return "no_such_item";
    }
    switch (e->type) {
    case EV_SPOTLIGHTED:
        if (it->hidden)
            return "item_hidden";
        if (it->pending)
            return "item_pending";
        if (it->merged_into)
            return "item_merged";
        return st->spotlight == it->id ? "already_spotlighted" : NULL;
    case EV_UNSPOTLIGHTED:
        return st->spotlight ? NULL : "no_spotlight";
    case EV_PINNED:
        if (it->hidden)
            return "item_hidden";
        if (it->pending)
            return "item_pending";
        if (it->merged_into)
            return "item_merged";
        if (is_pinned(r, it->id, NULL))
            return "already_pinned";
        return st->n_pinned == ROOM_MAX_PINS ? "pin_limit" : NULL;
    case EV_UNPINNED:
        return is_pinned(r, it->id, NULL) ? NULL : "not_pinned";
    case EV_ANNOUNCED:
        return e->text || e->at_ms == INT64_MIN ? NULL : "bad_value";
    case EV_UNANNOUNCED:
        if (e->at_ms == INT64_MIN)
            return st->announcement ? NULL : "no_announcement";
        return room_announcement(r, e->at_ms) ? NULL : "no_announcement";
    default:
        return "bad_value";
    }
}

/* ---- pre-moderation: the review queue and its claims ------------------------------------ */

/* Why approve, reject, claim, release or a bulk hide of e->items by moderator e->by does not
 * apply, or NULL: all or nothing, the first offending item decides. Whether another moderator's
 * claim still holds is judged by the stored event's at alone, so every replay and every process
 * agrees; e->at_ms = INT64_MIN (the check, which has no clock) leaves that to room_apply. */
static const char *queue_error(const struct room *r, const struct event *e)
{
    bool judged = e->at_ms != INT64_MIN;
    for (size_t i = 0; i < e->n_items; i++) {
        const struct item *it = room_item(r, e->items[i]);
        if (e->type == EV_RELEASED) {
            if (!it || it->claim_by != e->by || (judged && !room_claim_running(it, e->at_ms)))
                return "not_claimed";
            continue;
        }
        if (!it)
            return "no_such_item";
        if (e->type == EV_HIDDEN) { /* a bulk hide: visible items, as a single one */
            if (it->hidden)
                return "item_hidden";
            if (it->pending)
                return "item_pending";
            if (it->merged_into)
                return "item_merged";
            continue;
        }
        if (!it->pending)
            return "not_pending";
        if (judged && room_claim_running(it, e->at_ms) && it->claim_by != e->by)
            return "claimed";
    }
    if (e->type == EV_APPROVED && !may_show(r, e->n_items, !judged))
        return "jam_full";
    return e->n_items ? NULL : "bad_value";
}

/* ---- named moderator invites ------------------------------------------------------------- */

/* Why an invite_created or invite_revoked by e->by does not apply, or NULL. The one rule room_check
 * and room_apply share: only a moderator who joined with the jam's secret mints and revokes (an
 * invite cannot mint invites); ids are dense, so a second process's invite with the same id loses
 * to the first stored (busy: the retry gets the next id). */
static const char *invite_error(const struct room *r, const struct event *e)
{
    const struct participant *p = room_participant(r, e->by);
    if (!p || p->role != ROLE_MODERATOR)
        return "forbidden";
    if (p->invite)
        return "organiser_only";
    if (e->type == EV_INVITE_CREATED) {
        if (r->n_invites >= MSG_INVITES_MAX)
            return "too_many_invites";
        return e->invite == (int64_t)r->n_invites + 1 ? NULL : "busy";
    }
    const struct room_invite *inv = room_invite(r, e->invite);
    if (!inv)
        return "no_such_invite";
    return inv->revoked ? "already_revoked" : NULL;
}

/* ---- themes --------------------------------------------------------------------------------- */

const struct room_theme *room_theme(const struct room *r, const char *word)
{
    for (size_t i = 0; word && i < r->n_themes; i++)
        if (strcmp(r->themes[i].word, word) == 0)
            return &r->themes[i];
    return NULL;
}

static bool is_merge_target(const struct room *r, const char *word)
{
    for (size_t i = 0; i < r->n_themes; i++)
        if (r->themes[i].into && strcmp(r->themes[i].into, word) == 0)
            return true;
    return false;
}

/* Why a theme event by e->by does not apply, or NULL; room_check and room_apply share it. Words
 * are judged by the tokenizer (one word, folded); merges make no chains: a word already merged or
 * one others are merged into cannot be merged, nor merged into a merged word. */
static const char *theme_error(const struct room *r, const struct event *e)
{
    const struct participant *p = room_participant(r, e->by);
    if (!p || p->role != ROLE_MODERATOR)
        return "forbidden";
    if (!e->word || !words_is_word(r->words, e->word))
        return "not_a_word";
    const struct room_theme *t = room_theme(r, e->word);
    size_t fresh = 0; /* rules the event adds */
    switch (e->type) {
    case EV_THEME_RENAMED:
        if (!e->label)
            return "bad_value";
        fresh = !t && e->label[0];
        break;
    case EV_THEME_HIDDEN:
        if (t && t->hidden)
            return "theme_hidden";
        fresh = !t;
        break;
    case EV_THEME_UNHIDDEN:
        if (!t || !t->hidden)
            return "not_hidden";
        break;
    case EV_THEME_UNMERGED:
        if (!t || !t->into)
            return "not_merged";
        break;
    case EV_THEMES_MERGED:
        if (!e->n_words)
            return "bad_value";
        if (t && t->into)
            return "theme_merged";
        for (size_t i = 0; i < e->n_words; i++) {
            if (!words_is_word(r->words, e->words[i]))
                return "not_a_word";
            if (strcmp(e->words[i], e->word) == 0)
                return "bad_value";
            const struct room_theme *w = room_theme(r, e->words[i]);
            if ((w && w->into) || is_merge_target(r, e->words[i]))
                return "theme_merged";
            fresh += !w;
        }
        break;
    default:
        return "bad_value";
    }
    return r->n_themes + fresh > MSG_THEME_RULES_MAX ? "too_many_themes" : NULL;
}

static struct room_theme *theme_rule(struct room *r, const char *word)
{
    struct room_theme *t = (struct room_theme *)room_theme(r, word);
    if (t)
        return t;
    r->themes = xrealloc(r->themes, (r->n_themes + 1) * sizeof *r->themes);
    t = &r->themes[r->n_themes++];
    *t = (struct room_theme){.word = xstrdup(word)};
    return t;
}

/* Drops the rules that no longer say anything, keeping the others' order. */
static void themes_prune(struct room *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n_themes; i++) {
        struct room_theme *t = &r->themes[i];
        if (!t->label && !t->into && !t->hidden) {
            free(t->word);
            continue;
        }
        r->themes[k++] = *t;
    }
    r->n_themes = k;
}

static const char *apply_theme(struct room *r, const struct event *e)
{
    const char *err = theme_error(r, e);
    if (err)
        return err;
    struct room_theme *t;
    switch (e->type) {
    case EV_THEME_RENAMED:
        t = theme_rule(r, e->word);
        free(t->label);
        t->label = e->label[0] ? xstrdup(e->label) : NULL;
        break;
    case EV_THEME_HIDDEN:
    case EV_THEME_UNHIDDEN:
        theme_rule(r, e->word)->hidden = e->type == EV_THEME_HIDDEN;
        words_set_hidden(r->words, e->word, e->type == EV_THEME_HIDDEN);
        break;
    case EV_THEME_UNMERGED:
        t = theme_rule(r, e->word);
        free(t->into);
        t->into = NULL;
        words_set_merged(r->words, e->word, NULL);
        break;
    default: /* EV_THEMES_MERGED */
        for (size_t i = 0; i < e->n_words; i++) {
            theme_rule(r, e->words[i])->into = xstrdup(e->word);
            words_set_merged(r->words, e->words[i], e->word);
        }
    }
    themes_prune(r);
    r->words_version++; /* the next words frame shows it */
    return NULL;
}

static void copy_words(char **to, size_t *n_to, char *const *from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        to[i] = xstrdup(from[i]);
    *n_to = n;
}

/* 'out->by' is the sender (room_check sets it first). */
static const char *check_queue(const struct room *r, const struct msg *m, struct event *out)
{
    static const enum event_type ev_of[MSG__COUNT] = {
        [MSG_APPROVE] = EV_APPROVED, [MSG_REJECT] = EV_REJECTED, [MSG_CLAIM] = EV_CLAIMED,
        [MSG_RELEASE] = EV_RELEASED, [MSG_HIDE] = EV_HIDDEN,
    };
    struct event probe = {.type = ev_of[m->type],
                          .by = out->by,
                          .at_ms = INT64_MIN,
                          .items = m->items,
                          .n_items = m->n_items};
    const char *err = queue_error(r, &probe);
    if (err)
        return err;
    out->type = probe.type;
    out->items = xmalloc(m->n_items * sizeof *out->items);
    memcpy(out->items, m->items, m->n_items * sizeof *out->items);
    out->n_items = m->n_items;
    if (m->type == MSG_REJECT || m->type == MSG_HIDE) {
        out->reason = dup_or_null(m->reason);
        out->preset = m->preset;
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
        if (m->items) /* a bulk hide */
            return check_queue(r, m, out);
        const struct item *it = room_item(r, m->item);
        if (!it)
            return "no_such_item";
        if (m->type == MSG_HIDE && it->hidden)
            return "item_hidden";
        if (m->type == MSG_HIDE && it->pending)
            return "item_pending"; /* a pending item is rejected, not hidden */
        if (m->type == MSG_HIDE && it->merged_into)
            return "item_merged"; /* unmerge it first */
        if (m->type == MSG_UNHIDE && !it->hidden)
            return "not_hidden";
        if (m->type == MSG_UNHIDE && !may_show(r, 1, true))
            return "jam_full";
        out->type = m->type == MSG_HIDE ? EV_HIDDEN : EV_UNHIDDEN;
        out->item = m->item;
        out->reason = m->type == MSG_HIDE ? dup_or_null(m->reason) : NULL;
        out->preset = m->type == MSG_HIDE ? m->preset : PRESET_NONE;
        return NULL;
    }
    case MSG_REMOVE:
    case MSG_REINSTATE:
    case MSG_MUTE:
    case MSG_UNMUTE: {
        static const enum event_type ev_of[MSG__COUNT] = {
            [MSG_REMOVE] = EV_REMOVED,
            [MSG_REINSTATE] = EV_REINSTATED,
            [MSG_MUTE] = EV_MUTED,
            [MSG_UNMUTE] = EV_UNMUTED,
        };
        int64_t pid = m->pid;
        if (m->item) { /* named by one of its items: that item's author */
            const struct item *it = room_item(r, m->item);
            if (!it)
                return "no_such_item";
            if (it->on_behalf || it->by != ROLE_CITIZEN)
                return "forbidden"; /* a moderator's or a scribe's: moderators share the secret */
            pid = it->author;
        }
        struct event probe = {.type = ev_of[m->type], .pid = pid};
        const char *err = sanction_error(r, &probe);
        if (err)
            return err;
        out->type = probe.type;
        out->pid = pid;
        out->hide_posts = m->hide_posts;
        out->preset = m->preset;
        out->reason = dup_or_null(m->reason);
        return NULL;
    }
    case MSG_SPOTLIGHT:
    case MSG_UNSPOTLIGHT:
    case MSG_PIN:
    case MSG_UNPIN:
    case MSG_ANNOUNCE:
    case MSG_UNANNOUNCE: {
        static const enum event_type ev_of[MSG__COUNT] = {
            [MSG_SPOTLIGHT] = EV_SPOTLIGHTED,
            [MSG_UNSPOTLIGHT] = EV_UNSPOTLIGHTED,
            [MSG_PIN] = EV_PINNED,
            [MSG_UNPIN] = EV_UNPINNED,
            [MSG_ANNOUNCE] = EV_ANNOUNCED,
            [MSG_UNANNOUNCE] = EV_UNANNOUNCED,
        };
        /* The check has no clock: an announcement that ended by itself is refused by room_apply,
         * which judges it by the stored event's at. */
        struct event probe = {.type = ev_of[m->type], .item = m->item, .at_ms = INT64_MIN};
        const char *err = stage_error(r, &probe);
        if (err)
            return err;
        out->type = probe.type;
        out->item = m->item;
        out->seconds = m->seconds;
        out->text = dup_or_null(m->text);
        return NULL;
    }
    case MSG_APPROVE:
    case MSG_REJECT:
    case MSG_CLAIM:
    case MSG_RELEASE:
        return check_queue(r, m, out);
    case MSG_SET_REVEAL:
        if (m->reveal >= REVEAL__COUNT)
            return "bad_value";
        out->type = EV_REVEAL_SET;
        out->reveal = m->reveal;
        return NULL;
    case MSG_SET_EXPORTS:
        out->type = EV_EXPORTS_SET;
        out->public_exports = m->public_exports;
        return NULL;
    case MSG_INVITE:
    case MSG_REVOKE_INVITE: {
        struct event probe = {.type = m->type == MSG_INVITE ? EV_INVITE_CREATED : EV_INVITE_REVOKED,
                              .by = out->by,
                              .invite = m->type == MSG_INVITE ? (int64_t)r->n_invites + 1
                                                              : m->invite};
        const char *err = invite_error(r, &probe);
        if (err)
            return err;
        out->type = probe.type;
        out->invite = probe.invite;
        out->nickname = m->type == MSG_INVITE ? xstrdup(m->nickname) : NULL;
        return NULL; /* the handler adds the secret's hash (auth_invite_secret) */
    }
    case MSG_SET_ORDER:
        out->type = EV_ORDER_SET;
        out->order = m->order;
        return NULL;
    case MSG_RENAME_THEME:
    case MSG_MERGE_THEMES:
    case MSG_UNMERGE_THEME:
    case MSG_HIDE_THEME:
    case MSG_UNHIDE_THEME: {
        static const enum event_type ev_of[MSG__COUNT] = {
            [MSG_RENAME_THEME] = EV_THEME_RENAMED,   [MSG_MERGE_THEMES] = EV_THEMES_MERGED,
            [MSG_UNMERGE_THEME] = EV_THEME_UNMERGED, [MSG_HIDE_THEME] = EV_THEME_HIDDEN,
            [MSG_UNHIDE_THEME] = EV_THEME_UNHIDDEN,
        };
        struct event probe = {.type = ev_of[m->type],
                              .by = out->by,
                              .word = m->word,
                              .label = m->label,
                              .n_words = m->n_words};
        memcpy(probe.words, m->words, sizeof probe.words);
        const char *err = theme_error(r, &probe);
        if (err)
            return err;
        out->type = probe.type;
        out->word = xstrdup(m->word);
        out->label = dup_or_null(m->label);
        copy_words(out->words, &out->n_words, m->words, m->n_words);
        return NULL;
    }
    case MSG_MERGE:
    case MSG_UNMERGE: {
        struct event probe = {.type = m->type == MSG_MERGE ? EV_MERGED : EV_UNMERGED,
                              .item = m->item,
                              .items = m->items,
                              .n_items = m->type == MSG_MERGE ? m->n_items : 0};
        const char *err = merge_error(r, &probe);
        if (err)
            return err;
        out->type = probe.type;
        out->item = m->item;
        if (m->type == MSG_MERGE) {
            out->items = xmalloc(m->n_items * sizeof *out->items);
            memcpy(out->items, m->items, m->n_items * sizeof *out->items);
            out->n_items = m->n_items;
            out->reason = dup_or_null(m->reason);
        }
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
    if (p->removed)
        return room_err_removed;
    if (room_invite_revoked(r, p))
        return room_err_invite_revoked;
    bool moderation = m->type != MSG_POST && m->type != MSG_VOTE && m->type != MSG_UNVOTE;
    if (moderation && role != ROLE_MODERATOR)
        return "forbidden";
    if (!moderation && p->muted)
        return room_err_muted;
    uint32_t max_pending = r->quotas.pending;
    if (!moderation && max_pending && p->pending_writes >= max_pending)
        return "busy";
    /* Every write waits for clock and moderation events in flight: they change what is valid. */
    if (r->barrier)
        return "busy";
    const char *err;
    if (moderation) {
        out->by = pid;
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
        if (jam_full(r))
            return "jam_full";
        uint32_t quota = r->quotas.items;
        if (quota && p->role != ROLE_MODERATOR && p->n_posted + p->pending_posts >= quota)
            return "quota_exceeded";
        if (m->on_behalf && p->role != ROLE_MODERATOR)
            return "forbidden"; /* only a moderator types for someone else */
        out->type = EV_POSTED;
        out->kind = m->kind;
        out->text = xstrdup(m->text);
        out->parent = m->parent;
        out->on_behalf = dup_or_null(m->on_behalf);
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
    /* Team moderation: every console and the public log name the moderator who acted. */
    const struct room_invite *inv = m->as == ROLE_MODERATOR ? room_invite(r, m->invite) : NULL;
    if (inv && inv->revoked)
        return room_err_invite_revoked;
    if (inv) /* a named invite: its name is the moderator's, whatever the join says */
        anonymous = false;
    if (m->as == ROLE_MODERATOR && anonymous)
        return "nickname_required";
    if (r->n_participants + r->pending_joins >= r->limits.max_participants)
        return "jam_full";
    out->type = EV_JOINED;
    out->pid = r->next_pid;
    out->role = m->as;
    out->anonymous = anonymous;
    out->nickname = anonymous ? NULL : xstrdup(inv ? inv->name : m->nickname);
    out->invite = inv ? inv->id : 0;
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

/* Clock and moderator events: every write waits for those in flight; the moderation log lists them. */
static bool is_barrier(enum event_type t)
{
    return (t >= EV_STARTED && t <= EV_PHASE_ENDED) || (t >= EV_REMOVED && t <= EV_UNANNOUNCED) ||
           (t >= EV_APPROVED && t <= EV_ORDER_SET) ||
           (t >= EV_THEME_RENAMED && t <= EV_THEME_UNHIDDEN);
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
        if (p) {
            p->pending_posts++;
            p->pending_writes++;
        }
        break;
    case EV_VOTED:
    case EV_UNVOTED:
        imap_put(&r->inflight, vote_key(e->by, e->item), 1);
        if (p && e->type == EV_VOTED)
            p->pending_votes++;
        if (p)
            p->pending_writes++;
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
        if (p && p->pending_posts)
            p->pending_posts--;
        if (p && p->pending_writes)
            p->pending_writes--;
        break;
    case EV_VOTED:
    case EV_UNVOTED:
        imap_del(&r->inflight, vote_key(e->by, e->item));
        if (p && e->type == EV_VOTED && p->pending_votes)
            p->pending_votes--;
        if (p && p->pending_writes)
            p->pending_writes--;
        break;
    default:
        if (is_barrier(e->type) && r->barrier)
            r->barrier--;
        break;
    }
}

/* ---- applying ------------------------------------------------------------------------------ */

static void push_id(uint32_t **v, size_t *n, size_t *cap, uint32_t id)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = id;
}

/* List 'it' once per tick in one of the delta's id lists ('listed' is the item's flag for it). */
static void delta_add(struct room *r, struct item *it, bool *listed, uint32_t **v, size_t *n,
                      size_t *cap)
{
    if (!*listed)
        push_id(v, n, cap, it->id);
    *listed = true;
    r->delta.kinds |= 1u << it->kind;
    r->delta.stats = true;
}

static void delta_item(struct room *r, struct item *it)
{
    struct room_delta *d = &r->delta;
    delta_add(r, it, &it->in_delta, &d->items, &d->n_items, &d->cap_items);
}

static void delta_votes(struct room *r, struct item *it)
{
    struct room_delta *d = &r->delta;
    delta_add(r, it, &it->votes_in_delta, &d->votes, &d->n_votes, &d->cap_votes);
}

static void delta_shown(struct room *r, struct item *it)
{
    struct room_delta *d = &r->delta;
    delta_add(r, it, &it->shown_in_delta, &d->shown, &d->n_shown, &d->cap_shown);
}

static void delta_claim(struct room *r, struct item *it)
{
    struct room_delta *d = &r->delta;
    if (!it->claim_in_delta)
        push_id(&d->claims, &d->n_claims, &d->cap_claims, it->id);
    it->claim_in_delta = true;
}

/* ---- catch-up: the delta of events read back from the stream ------------------------------ */

static void touch_add(uint32_t **v, size_t *n, size_t *cap, uint32_t id)
{
    for (size_t i = 0; i < *n; i++) /* a page holds a few hundred events: a scan is enough */
        if ((*v)[i] == id)
            return;
    push_id(v, n, cap, id);
}

/* The items an approve, reject or bulk hide showed or hid, and the claims it touched. */
static void touch_queue(const struct room *r, const struct event *e, struct room_delta *d)
{
    for (size_t i = 0; i < e->n_items; i++) {
        const struct item *it = room_item(r, e->items[i]);
        if (!it)
            continue;
        if (e->type != EV_CLAIMED && e->type != EV_RELEASED) {
            touch_add(&d->items, &d->n_items, &d->cap_items, it->id);
            d->kinds |= 1u << it->kind;
            d->stats = true;
        }
        if (e->type != EV_HIDDEN)
            touch_add(&d->claims, &d->n_claims, &d->cap_claims, it->id);
    }
}

/* A merge or unmerge: every item it named or that a merge ever put in the same group, the
 * target's count. Over-reporting is harmless; the log is small (moderator actions only). */
static void touch_merge(const struct room *r, const struct event *e, struct room_delta *d)
{
    d->stats = true;
    d->stage = true; /* a duplicate left the spotlight or the pins */
    for (size_t i = 0; i <= e->n_items; i++) {
        const struct item *it = room_item(r, i < e->n_items ? e->items[i] : e->item);
        if (!it)
            continue;
        touch_add(&d->items, &d->n_items, &d->cap_items, it->id);
        touch_add(&d->votes, &d->n_votes, &d->cap_votes, it->id);
        d->kinds |= 1u << it->kind;
        for (size_t k = 0; e->type == EV_UNMERGED && k < r->n_modlog; k++) {
            const struct mod_entry *m = &r->modlog[k];
            bool named = m->item == it->id;
            for (size_t j = 0; m->type == EV_MERGED && !named && j < m->n_items; j++)
                named = m->items[j] == it->id;
            if (m->type != EV_MERGED || !named)
                continue;
            for (size_t j = 0; j <= m->n_items; j++) {
                uint32_t x = j < m->n_items ? m->items[j] : (uint32_t)m->item;
                if (x >= 1 && x <= r->n_items) {
                    touch_add(&d->items, &d->n_items, &d->cap_items, x);
                    touch_add(&d->votes, &d->n_votes, &d->cap_votes, x);
                }
            }
        }
    }
}

/* Every shown item's count (a repeat in the list is harmless: the update's votes are by id). */
static void touch_all_votes(const struct room *r, struct room_delta *d)
{
    d->stats = true;
    for (size_t i = 0; i < r->n_items; i++)
        if (!r->items[i]->hidden && !r->items[i]->pending) {
            push_id(&d->votes, &d->n_votes, &d->cap_votes, r->items[i]->id);
            d->kinds |= 1u << r->items[i]->kind;
        }
}

void room_touch(const struct room *r, const char *id, const struct event *e, struct room_delta *d)
{
    const struct item *it = NULL;
    if (!d->from[0])
        stream_id_copy(d->from, id);
    stream_id_copy(d->to, id);
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
        d->stage = e->type == EV_HIDDEN; /* it may have left the spotlight or the pins */
        touch_queue(r, e, d);
        break;
    case EV_APPROVED:
    case EV_REJECTED:
    case EV_CLAIMED:
    case EV_RELEASED:
        touch_queue(r, e, d);
        break;
    case EV_SPOTLIGHTED:
    case EV_UNSPOTLIGHTED:
    case EV_PINNED:
    case EV_UNPINNED:
    case EV_ANNOUNCED:
    case EV_UNANNOUNCED:
        d->stage = true;
        break;
    case EV_MERGED:
    case EV_UNMERGED:
        touch_merge(r, e, d);
        break;
    case EV_REVEAL_SET: /* every count may be newly shown: a catch-up is rare, a reveal too */
        d->stage = true;
        touch_all_votes(r, d);
        break;
    case EV_ORDER_SET:
        d->stage = true;
        d->kinds = (1u << KIND__COUNT) - 1;
        break;
    case EV_SHOWINGS:
        for (size_t i = 0; i < e->n_items; i++)
            if ((it = room_item(r, e->items[i])) != NULL) {
                touch_add(&d->shown, &d->n_shown, &d->cap_shown, it->id);
                d->kinds |= 1u << it->kind;
            }
        it = NULL;
        break;
    case EV_REMOVED:
        d->stats = true;
        d->stage = true; /* its hidden posts may have left the spotlight or the pins */
        for (size_t i = 0; e->hide_posts && i < r->n_items; i++)
            if (r->items[i]->author == e->pid && r->items[i]->hidden) {
                push_id(&d->items, &d->n_items, &d->cap_items, r->items[i]->id);
                d->kinds |= 1u << r->items[i]->kind;
            }
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
        if (r->reveal == REVEAL_PER_PHASE) /* a phase's counts may be revealed by its end */
            touch_all_votes(r, d);
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
    free(d->shown);
    free(d->claims);
    memset(d, 0, sizeof *d);
}

void room_delta_reset(struct room *r)
{
    struct room_delta *d = &r->delta;
    for (size_t i = 0; i < d->n_items; i++)
        r->items[d->items[i] - 1]->in_delta = false;
    for (size_t i = 0; i < d->n_votes; i++)
        r->items[d->votes[i] - 1]->votes_in_delta = false;
    for (size_t i = 0; i < d->n_shown; i++)
        r->items[d->shown[i] - 1]->shown_in_delta = false;
    for (size_t i = 0; i < d->n_claims; i++)
        r->items[d->claims[i] - 1]->claim_in_delta = false;
    d->n_items = d->n_votes = d->n_shown = d->n_claims = 0;
    d->kinds = 0;
    d->clock = d->stats = d->stage = false;
    d->log_from = r->n_modlog;
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
    if (e->pid <= 0 || (e->role != ROLE_CITIZEN && e->role != ROLE_MODERATOR))
        return "bad_value";
    if (room_participant(r, e->pid))
        return room_err_pid_taken;
    const struct room_invite *inv = room_invite(r, e->invite);
    if (e->invite && (!inv || e->role != ROLE_MODERATOR))
        return "bad_value";
    if (inv && inv->revoked)
        return room_err_invite_revoked; /* revoked while the join was in flight */
    struct participant *p = xcalloc(1, sizeof *p);
    p->pid = e->pid;
    p->role = e->role;
    p->invite = (uint32_t)e->invite;
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

static void push_item(struct room *r, struct item *it)
{
    if (r->n_items == r->cap_items) {
        r->cap_items = r->cap_items ? r->cap_items * 2 : 64;
        r->items = xrealloc(r->items, r->cap_items * sizeof *r->items);
    }
    r->items[r->n_items++] = it;
}

/* Item 'it' enters what everyone sees (posted, unhidden, restored): its kind's ranking, the
 * visible count, the jam's words. */
static void show_item(struct room *r, const struct item *it)
{
    rank_insert(r->rank[it->kind], it->id, it->votes);
    fair_add(r->fair[it->kind], it->id, (uint32_t)it->votes, it->shown);
    r->n_visible++;
    words_add(r->words, it->id, it->text, strlen(it->text));
    r->words_version++;
}

/* ...and leaves it (hidden). */
static void unshow_item(struct room *r, const struct item *it)
{
    rank_remove(r->rank[it->kind], it->id);
    fair_remove(r->fair[it->kind], it->id);
    r->n_visible--;
    words_remove(r->words, it->id);
    r->words_version++;
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
    it->on_behalf = p->role == ROLE_MODERATOR ? dup_or_null(e->on_behalf) : NULL;
    it->at_ms = e->at_ms;
    /* Moderators' posts and scribe entries are never pending: a moderator typed them. */
    it->pending = r->cfg.settings.premoderation && p->role == ROLE_CITIZEN;
    push_item(r, it);
    p->n_posted++;
    if (!it->pending)
        show_item(r, it);
    delta_item(r, it);
    res->item = it->id;
    return NULL;
}

/* A retraction on merge target 't': every vote 'p' has in the group goes (the collapsed ones
 * were refunded at the merge; the one that counted is refunded as any retraction), and the
 * group counts one voter less. */
static bool unvote_group(struct room *r, struct participant *p, struct item *t)
{
    bool found = false;
    for (size_t v = 0; v < p->n_voted;) {
        struct item *x = room_item(r, p->voted[v]);
        if (!in_group(x, t->id)) {
            v++;
            continue;
        }
        uint64_t key = vote_key(p->pid, x->id), cast = 0;
        imap_get(&r->votes, key, &cast);
        imap_del(&r->votes, key);
        if (!(cast & ROOM_VOTE_COLLAPSED) && p->used[cast])
            p->used[cast]--;
        if (x != t) { /* a duplicate's own count: the votes cast on it */
            x->votes--;
            delta_votes(r, x);
        }
        p->voted[v] = p->voted[--p->n_voted];
        found = true;
    }
    if (found) {
        t->votes--;
        r->total_votes--;
    }
    return found;
}

static const char *apply_vote(struct room *r, const struct event *e, struct participant *p,
                              struct room_result *res)
{
    struct item *it = room_item(r, e->item);
    if (it && it->pending)
        return "item_pending";
    if (it && it->merged_into)
        return "item_merged";
    if (!it || it->hidden || !room_can_vote(r, it->kind))
        return "wrong_phase";
    uint64_t key = vote_key(p->pid, it->id), cast_in;
    bool voted = imap_get(&r->votes, key, &cast_in);
    if (it->n_merged) /* a merge target: the group takes one vote per participant */
        voted = has_vote(r, p, it);
    if (e->type == EV_UNVOTED && voted && it->n_merged) {
        if (!unvote_group(r, p, it))
            return "internal";
    } else if (e->type == EV_VOTED) {
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
    fair_set_votes(r->fair[it->kind], it->id, (uint32_t)it->votes);
    r->words_version++; /* a theme's top item may change */
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

/* An item no longer shown (hidden, merged) leaves the spotlight and the pins. */
static void leave_stage(struct room *r, const struct item *it)
{
    size_t at;
    if (r->stage.spotlight == it->id) {
        r->stage.spotlight = 0;
        r->delta.stage = true;
    }
    if (is_pinned(r, it->id, &at)) {
        memmove(&r->stage.pinned[at], &r->stage.pinned[at + 1],
                (--r->stage.n_pinned - at) * sizeof r->stage.pinned[0]);
        r->delta.stage = true;
    }
}

/* A duplicate leaves the stage at its merge, remembering where it was (the unmerge's). */
static void leave_stage_for_merge(struct room *r, struct item *it)
{
    size_t at;
    it->merge_spotlit = r->stage.spotlight == it->id;
    it->merge_pin = is_pinned(r, it->id, &at) ? (uint8_t)(at + 1) : 0;
    leave_stage(r, it);
}

/* At its unmerge a duplicate goes back where the merge took it from, unless that was taken since:
 * the spotlight only if it is empty, its pin only if there is room (at its old place, or last). */
static void back_on_stage(struct room *r, struct item *it)
{
    size_t at;
    if (it->merge_spotlit && !r->stage.spotlight) {
        r->stage.spotlight = it->id;
        r->delta.stage = true;
    }
    if (it->merge_pin && r->stage.n_pinned < ROOM_MAX_PINS && !is_pinned(r, it->id, &at)) {
        size_t pos = it->merge_pin - 1u;
        if (pos > r->stage.n_pinned)
            pos = r->stage.n_pinned;
        memmove(&r->stage.pinned[pos + 1], &r->stage.pinned[pos],
                (r->stage.n_pinned++ - pos) * sizeof r->stage.pinned[0]);
        r->stage.pinned[pos] = it->id;
        r->delta.stage = true;
    }
    it->merge_spotlit = false;
    it->merge_pin = 0;
}

/* Hide a visible item with the hide's reason and preset: it leaves the ranking, the spotlight
 * and the pins. */
static void hide_item(struct room *r, struct item *it, const char *reason, enum preset preset)
{
    it->hidden = true;
    it->hide_reason = dup_or_null(reason);
    it->hide_preset = preset;
    if (it->claim_by) {
        delta_claim(r, it);
        it->claim_by = it->claim_until = 0;
    }
    if (it->pending) { /* never shown: nothing to take out of the rankings or the stage */
        it->pending = false;
        delta_item(r, it);
        return;
    }
    unshow_item(r, it);
    leave_stage(r, it);
    delta_item(r, it);
}

/* Approve, reject, claim, release or a bulk hide: every item or none (queue_error). */
static const char *apply_queue(struct room *r, const struct event *e)
{
    const char *err = queue_error(r, e);
    if (err)
        return err;
    for (size_t i = 0; i < e->n_items; i++) {
        struct item *it = room_item(r, e->items[i]);
        switch (e->type) {
        case EV_CLAIMED:
            delta_claim(r, it);
            it->claim_by = e->by; /* a renewal by the same moderator starts its 120 s again */
            it->claim_until = e->at_ms + ROOM_CLAIM_MS;
            break;
        case EV_RELEASED:
            delta_claim(r, it);
            it->claim_by = it->claim_until = 0;
            break;
        case EV_APPROVED:
            if (it->claim_by)
                delta_claim(r, it);
            it->claim_by = it->claim_until = 0;
            it->pending = false;
            show_item(r, it);
            delta_item(r, it);
            break;
        case EV_REJECTED:
            hide_item(r, it, e->reason, e->preset); /* drops the claim and the pending mark */
            it->rejected = true;
            break;
        default: /* EV_HIDDEN: a bulk hide of visible items */
            hide_item(r, it, e->reason, e->preset);
            break;
        }
    }
    return NULL;
}

static const char *apply_hide(struct room *r, const struct event *e)
{
    if (e->type == EV_HIDDEN && e->items)
        return apply_queue(r, e);
    struct item *it = room_item(r, e->item);
    if (!it)
        return "no_such_item";
    bool hide = e->type == EV_HIDDEN;
    if (it->hidden == hide)
        return hide ? "item_hidden" : "not_hidden";
    if (it->pending)
        return "item_pending";
    if (it->merged_into)
        return "item_merged";
    if (!hide && !may_show(r, 1, false))
        return "jam_full";
    if (hide) {
        hide_item(r, it, e->reason, e->preset);
        return NULL;
    }
    it->hidden = false;
    it->rejected = false;
    free(it->hide_reason);
    it->hide_reason = NULL;
    it->hide_preset = PRESET_NONE;
    show_item(r, it);
    delta_item(r, it);
    return NULL;
}

/* ---- merges: the group of a target counts each voter once ----------------------------------- */

/* Undo the collapse of target t's group: each vote counts for the item it was cast for again,
 * each collapsed vote takes its budget point back, and t's count is the votes cast on it. */
static void group_release(struct room *r, struct item *t)
{
    if (!t->n_merged)
        return; /* nothing is collapsed */
    r->total_votes -= t->votes;
    t->votes = 0;
    for (size_t i = 0; i < r->n_participants; i++) {
        struct participant *p = r->participants[i];
        for (size_t v = 0; v < p->n_voted; v++) {
            struct item *it = room_item(r, p->voted[v]);
            if (!in_group(it, t->id))
                continue;
            t->votes += it == t; /* a duplicate's count is the votes cast on it all along */
            uint64_t key = vote_key(p->pid, it->id), cast = 0;
            imap_get(&r->votes, key, &cast);
            if (cast & ROOM_VOTE_COLLAPSED) {
                cast &= ~(uint64_t)ROOM_VOTE_COLLAPSED;
                imap_put(&r->votes, key, cast);
                p->used[cast]++;
            }
        }
    }
    r->total_votes += t->votes;
    for (size_t i = 0; i < r->n_items; i++)
        if (r->items[i]->merged_into == t->id)
            r->total_votes += r->items[i]->votes;
}

/* Collapse target t's group: each participant with votes for several of its items keeps one
 * that counts (the one on t, else the one on the lowest item id) and gets the budget point of
 * each other back, in the phase it was spent; t's count is the group's distinct voters. A
 * function of the standing votes alone, so release-then-collapse is exact. */
static void group_collapse(struct room *r, struct item *t)
{
    if (!t->n_merged)
        return;
    for (size_t i = 0; i < r->n_items; i++)
        if (r->items[i]->merged_into == t->id)
            r->total_votes -= r->items[i]->votes;
    r->total_votes -= t->votes;
    t->votes = 0;
    for (size_t i = 0; i < r->n_participants; i++) {
        struct participant *p = r->participants[i];
        size_t keep = SIZE_MAX;
        for (size_t v = 0; v < p->n_voted; v++) {
            uint32_t id = p->voted[v];
            if (!in_group(room_item(r, id), t->id))
                continue;
            if (keep == SIZE_MAX || id == t->id || (p->voted[keep] != t->id && id < p->voted[keep]))
                keep = v;
        }
        if (keep == SIZE_MAX)
            continue;
        t->votes++;
        for (size_t v = 0; v < p->n_voted; v++) {
            if (v == keep || !in_group(room_item(r, p->voted[v]), t->id))
                continue;
            uint64_t key = vote_key(p->pid, p->voted[v]), cast = 0;
            imap_get(&r->votes, key, &cast);
            imap_put(&r->votes, key, cast | ROOM_VOTE_COLLAPSED);
            if (p->used[cast])
                p->used[cast]--;
        }
    }
    r->total_votes += t->votes;
}

/* t's count changed: its place in the ranking (while shown), the themes, the next update. */
static void group_counted(struct room *r, struct item *t)
{
    if (!t->hidden && !t->pending) {
        rank_set(r->rank[t->kind], t->id, t->votes);
        fair_set_votes(r->fair[t->kind], t->id, (uint32_t)t->votes);
    }
    r->words_version++;
    delta_votes(r, t);
}

static const char *apply_merge(struct room *r, const struct event *e)
{
    const char *err = merge_error(r, e);
    if (err)
        return err;
    struct item *t = room_item(r, e->item);
    group_release(r, t);
    for (size_t i = 0; i < e->n_items; i++) {
        struct item *it = room_item(r, e->items[i]);
        it->merged_into = t->id;
        t->n_merged++;
        unshow_item(r, it);
        leave_stage_for_merge(r, it);
        delta_item(r, it);
    }
    group_collapse(r, t);
    group_counted(r, t);
    return NULL;
}

/* e->item a duplicate: it alone leaves its group; a target: its whole group is undone. */
static const char *apply_unmerge(struct room *r, const struct event *e)
{
    const char *err = merge_error(r, e);
    if (err)
        return err;
    struct item *it = room_item(r, e->item);
    struct item *t = it->merged_into ? room_item(r, it->merged_into) : it;
    group_release(r, t);
    for (size_t i = 0; i < r->n_items; i++) {
        struct item *x = r->items[i];
        if (x->merged_into != t->id || (it != t && x != it))
            continue;
        x->merged_into = 0;
        t->n_merged--;
        show_item(r, x);
        back_on_stage(r, x);
        delta_item(r, x);
    }
    group_collapse(r, t);
    group_counted(r, t);
    return NULL;
}

/* Removal, reinstatement, mute and unmute: the reason and preset in force are the latest
 * sanction's. */
static void set_sanction(struct participant *p, const struct event *e)
{
    bool on = e->type == EV_REMOVED || e->type == EV_MUTED;
    if (!on && (p->muted || p->removed))
        return; /* the other sanction still holds: its reason stays in force */
    free(p->mod_reason);
    p->mod_reason = on ? dup_or_null(e->reason) : NULL;
    p->mod_preset = on ? e->preset : PRESET_NONE;
}

static const char *apply_sanction(struct room *r, const struct event *e)
{
    const char *err = sanction_error(r, e);
    if (err)
        return err;
    struct participant *p = room_participant(r, e->pid);
    if (e->type == EV_MUTED || e->type == EV_UNMUTED)
        p->muted = e->type == EV_MUTED;
    else
        p->removed = e->type == EV_REMOVED;
    set_sanction(p, e);
    r->delta.stats = true;
    return NULL;
}

static const char *apply_invite(struct room *r, const struct event *e)
{
    const char *err = invite_error(r, e);
    if (err)
        return err;
    if (e->type == EV_INVITE_REVOKED) {
        r->invites[e->invite - 1].revoked = true;
        return NULL;
    }
    if (!e->nickname || strlen(e->invite_sha256) != 64)
        return "bad_value";
    if (!r->invites)
        r->invites = xcalloc(MSG_INVITES_MAX, sizeof *r->invites);
    struct room_invite *inv = &r->invites[r->n_invites++];
    inv->id = (uint32_t)r->n_invites;
    inv->name = xstrdup(e->nickname);
    memcpy(inv->secret_sha256, e->invite_sha256, sizeof inv->secret_sha256);
    inv->by = e->by;
    inv->at_ms = e->at_ms;
    inv->revoked = false;
    return NULL;
}

static const char *apply_stage(struct room *r, const struct event *e)
{
    const char *err = stage_error(r, e);
    if (err)
        return err;
    struct room_stage *st = &r->stage;
    size_t at = 0;
    switch (e->type) {
    case EV_SPOTLIGHTED:
        st->spotlight = (uint32_t)e->item;
        break;
    case EV_UNSPOTLIGHTED:
        st->spotlight = 0;
        break;
    case EV_PINNED:
        st->pinned[st->n_pinned++] = (uint32_t)e->item;
        break;
    case EV_UNPINNED:
        is_pinned(r, (uint32_t)e->item, &at);
        memmove(&st->pinned[at], &st->pinned[at + 1], (--st->n_pinned - at) * sizeof st->pinned[0]);
        break;
    case EV_ANNOUNCED:
        free(st->announcement);
        st->announcement = xstrdup(e->text);
        st->announced_ms = e->at_ms;
        st->until_ms = e->seconds > 0 ? e->at_ms + e->seconds * 1000 : 0;
        break;
    default: /* EV_UNANNOUNCED */
        free(st->announcement);
        st->announcement = NULL;
        st->announced_ms = st->until_ms = 0;
        break;
    }
    r->delta.stage = true;
    return NULL;
}

/* One scan of the items: a removal is a rare moderator action, and the jam holds at most twice
 * --max-items of them. */
static const char *apply_remove(struct room *r, const struct event *e)
{
    const char *err = sanction_error(r, e);
    if (err)
        return err;
    struct participant *target = room_participant(r, e->pid);
    target->removed = true;
    set_sanction(target, e);
    for (size_t i = 0; e->hide_posts && i < r->n_items; i++) {
        struct item *it = r->items[i];
        if (it->author == e->pid && !it->hidden && !it->merged_into) /* a duplicate stays merged */
            hide_item(r, it, e->reason, e->preset);
    }
    r->delta.stats = true;
    return NULL;
}

/* A moderator's post typed for someone else: in the public log beside the moderator actions. */
static bool is_scribe_entry(const struct room *r, const struct event *e)
{
    const struct participant *p = e->type == EV_POSTED ? room_participant(r, e->by) : NULL;
    return p && p->role == ROLE_MODERATOR && e->on_behalf;
}

/* The kinds whose counts screens and citizens may see changed (a reveal, or a phase under
 * per_phase): the next update carries the reveal and every shown item's count again, and the
 * next words frame the themes' tops (or their nulls). */
static void counts_revealed(struct room *r)
{
    r->delta.stage = true;
    r->words_version++; /* the words frame shows or withholds the themes' top items */
    for (size_t i = 0; i < r->n_items; i++) {
        struct item *it = r->items[i];
        if (!it->hidden && !it->pending)
            delta_votes(r, it);
    }
}

static void record_moderation(struct room *r, const char *id, const struct event *e)
{
    if (r->n_modlog == r->cap_modlog) {
        r->cap_modlog = r->cap_modlog ? r->cap_modlog * 2 : 16;
        r->modlog = xrealloc(r->modlog, r->cap_modlog * sizeof *r->modlog);
    }
    struct mod_entry *m = &r->modlog[r->n_modlog++];
    memset(m, 0, sizeof *m);
    stream_id_copy(m->event_id, id);
    m->type = e->type;
    m->by = e->by;
    m->at_ms = e->at_ms;
    m->item = e->item;
    m->index = e->type == EV_REVEAL_SET    ? (int64_t)e->reveal
               : e->type == EV_EXPORTS_SET ? (int64_t)e->public_exports
               : e->type == EV_ORDER_SET   ? (int64_t)e->order
                                           : e->index;
    m->seconds = e->seconds;
    if (e->type >= EV_REMOVED && e->type <= EV_UNMUTED)
        m->pid = e->pid;
    m->hide_posts = e->type == EV_REMOVED && e->hide_posts;
    m->preset = e->preset;
    m->reason = dup_or_null(e->type == EV_ANNOUNCED ? e->text
                            : e->type == EV_POSTED  ? e->on_behalf
                                                    : e->reason);
    if (e->n_items) {
        m->items = xmalloc(e->n_items * sizeof *m->items);
        memcpy(m->items, e->items, e->n_items * sizeof *m->items);
        m->n_items = e->n_items;
    }
    m->word = dup_or_null(e->word);
    m->label = dup_or_null(e->label);
    copy_words(m->words, &m->n_words, e->words, e->n_words);
}

void room_chain_link(struct room_chain *c, const char *id, const char *json, size_t len)
{
    size_t n_id = strlen(id);
    uint8_t stack[1024];
    size_t n = ROOM_CHAIN_BYTES + n_id + 1 + len;
    uint8_t *buf = n <= sizeof stack ? stack : xmalloc(n);
    memcpy(buf, c->head, ROOM_CHAIN_BYTES);
    /* Bytes to hash, not a string: no NUL is wanted after the id. */
    memcpy(buf + ROOM_CHAIN_BYTES, id, n_id); // NOLINT(bugprone-not-null-terminated-result)
    buf[ROOM_CHAIN_BYTES + n_id] = '\n';
    memcpy(buf + ROOM_CHAIN_BYTES + n_id + 1, json, len);
    auth_sha256(buf, n, c->head);
    if (buf != stack)
        free(buf);
    c->n++;
    stream_id_copy(c->id, id);
}

bool room_chain_stored(struct room_chain *c, const char *id, const char *payload, size_t len)
{
    struct event e;
    struct codec_error ce;
    if (codec_event_decode(payload, len, &e, &ce) < 0)
        return false;
    char *json = codec_event_encode(&e);
    event_clear(&e);
    if (!json)
        return false;
    room_chain_link(c, id, json, strlen(json));
    free(json);
    return true;
}

void room_chain_hex(const uint8_t head[ROOM_CHAIN_BYTES], char out[2 * ROOM_CHAIN_BYTES + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < ROOM_CHAIN_BYTES; i++) {
        out[2 * i] = hex[head[i] >> 4];
        out[2 * i + 1] = hex[head[i] & 15];
    }
    out[2 * ROOM_CHAIN_BYTES] = '\0';
}

/* Chain 'e' unless an event at or after 'id' was chained already. The canonical encoding is the
 * codec's (fixed key order, compact): for an event this version stored, the stored bytes. */
static void chain_event(struct room *r, const char *id, const struct event *e)
{
    if (r->chain.id[0] && stream_id_cmp(id, r->chain.id) <= 0)
        return;
    char *json = codec_event_encode(e);
    room_chain_link(&r->chain, id, json ? json : "", json ? strlen(json) : 0);
    free(json);
}

static void record_op(struct room *r, const char *id, const struct event *e, uint64_t h,
                      const struct room_result *res)
{
    if (!e->op[0] || e->by <= 0)
        return;
    struct op_done done = {.item = res->item};
    if (e->type == EV_INVITE_CREATED) {
        done.invite = true;
        done.item = (uint32_t)e->invite;
    }
    stream_id_copy(done.event_id, id);
    done.has_budget = e->type == EV_VOTED || e->type == EV_UNVOTED;
    done.budget_left = done.has_budget ? res->budget_left : -1;
    ops_insert(&r->ops, e->by, e->op, h, &done); /* room_apply refused a duplicate before */
}

/* Showings add to each named item's count, hidden or not (an item unhidden later comes back with
 * its exposure); ids the jam does not have are passed over. The server writes these events, so
 * they carry no op and are never a participant's. */
static const char *apply_showings(struct room *r, const struct event *e)
{
    if (!e->counts || e->by)
        return "bad_value";
    for (size_t i = 0; i < e->n_items; i++) {
        struct item *it = room_item(r, e->items[i]);
        if (!it)
            continue;
        uint32_t n = e->counts[i];
        it->shown = it->shown > UINT32_MAX - n ? UINT32_MAX : it->shown + n;
        fair_expose(r->fair[it->kind], it->id, n); /* -ENOENT while not visible: no order */
        delta_shown(r, it);
    }
    return NULL;
}

/* Whether e->by may write an event of e's type, judged from the state alone (the process that
 * appended it checked against its own state, which may have been older): the jam's creation, a
 * join and the showings name no author; posts and votes are checked by room_apply itself; a
 * phase's end is the clock's (no author) or a moderator's; everything else is a moderator's. */
static bool author_may(const struct room *r, const struct event *e)
{
    switch (e->type) {
    case EV_JAM_CREATED:
    case EV_JOINED:
    case EV_SHOWINGS:
    case EV_POSTED:
    case EV_VOTED:
    case EV_UNVOTED:
        return true;
    case EV_PHASE_ENDED:
        if (e->by == 0)
            return true;
        break;
    default:
        break;
    }
    const struct participant *p = room_participant(r, e->by);
    return p && p->role == ROLE_MODERATOR;
}

const char *room_apply(struct room *r, const char *id, const struct event *e,
                       struct room_result *res)
{
    struct room_result scratch;
    if (!res)
        res = &scratch;
    chain_event(r, id, e);
    res->item = 0;
    res->budget_left = -1;
    const char *err = NULL;
    struct participant *p = NULL;
    if (e->type == EV_POSTED || e->type == EV_VOTED || e->type == EV_UNVOTED) {
        p = room_participant(r, e->by);
        if (!p)
            return "forbidden";
        if (p->removed)
            return room_err_removed;
        if (p->muted)
            return room_err_muted;
    }
    if (e->by > 0 && e->type != EV_JOINED && room_invite_revoked(r, room_participant(r, e->by)))
        return room_err_invite_revoked; /* checked before its invite's revocation was stored */
    if (!author_may(r, e))
        return "forbidden";
    /* A retried op that reached the stream twice takes effect once (proto: exactly-once). */
    uint64_t h = e->op[0] && e->by > 0 ? op_hash(e->by, e->op) : 0;
    if (e->op[0] && e->by > 0 && ops_find(&r->ops, e->by, e->op, h))
        return room_err_duplicate_op;
    unsigned hidden_before = room_hidden_kinds(r);
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
    case EV_REMOVED:
        err = apply_remove(r, e);
        break;
    case EV_REINSTATED:
    case EV_MUTED:
    case EV_UNMUTED:
        err = apply_sanction(r, e);
        break;
    case EV_SPOTLIGHTED:
    case EV_UNSPOTLIGHTED:
    case EV_PINNED:
    case EV_UNPINNED:
    case EV_ANNOUNCED:
    case EV_UNANNOUNCED:
        err = apply_stage(r, e);
        break;
    case EV_APPROVED:
    case EV_REJECTED:
    case EV_CLAIMED:
    case EV_RELEASED:
        err = apply_queue(r, e);
        break;
    case EV_REVEAL_SET:
        if (e->reveal >= REVEAL__COUNT)
            return "bad_value";
        r->reveal = e->reveal;
        r->delta.stage = true; /* the update says the mode */
        break;
    case EV_EXPORTS_SET: /* a setting of the jam: GET .../export(.csv) and the results follow it */
        r->cfg.settings.public_exports = e->public_exports;
        break;
    case EV_INVITE_CREATED:
    case EV_INVITE_REVOKED:
        err = apply_invite(r, e);
        break;
    case EV_ORDER_SET:
        if (e->order >= ORDER__COUNT)
            return "bad_value";
        r->order = e->order;
        r->delta.stage = true;                    /* the update says the order */
        r->delta.kinds = (1u << KIND__COUNT) - 1; /* and every ranking is sent again */
        break;
    case EV_SHOWINGS:
        err = apply_showings(r, e);
        break;
    case EV_THEME_RENAMED:
    case EV_THEMES_MERGED:
    case EV_THEME_UNMERGED:
    case EV_THEME_HIDDEN:
    case EV_THEME_UNHIDDEN:
        err = apply_theme(r, e);
        break;
    case EV_MERGED:
        err = apply_merge(r, e);
        break;
    case EV_UNMERGED:
        err = apply_unmerge(r, e);
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
    if (room_hidden_kinds(r) != hidden_before)
        counts_revealed(r);
    record_op(r, id, e, h, res);
    if (is_barrier(e->type) || is_scribe_entry(r, e)) {
        struct event logged = *e;
        logged.item = e->type == EV_POSTED                                           ? res->item
                      : e->type == EV_INVITE_CREATED || e->type == EV_INVITE_REVOKED ? e->invite
                                                                                     : e->item;
        record_moderation(r, id, &logged);
        memcpy(r->modlog[r->n_modlog - 1].chain, r->chain.head, ROOM_CHAIN_BYTES);
    }
    stream_id_copy(r->last_id, id);
    r->n_events++;
    if (e->type == EV_JAM_CREATED) {
        /* Every view of a jam starts at its creation: the first update's prev is this id, never
         * "" (which no client can compare). Whoever applies it, the create's reply or the tail
         * when it was quicker (issue 13's late-update defect), the delta starts here. */
        room_delta_reset(r);
        return NULL;
    }
    if (!r->delta.from[0])
        stream_id_copy(r->delta.from, id);
    stream_id_copy(r->delta.to, id);
    return NULL;
}

/* ---- rankings ------------------------------------------------------------------------------ */

size_t room_top_by(const struct room *r, enum kind kind, enum order o, size_t k, uint32_t *out)
{
    return o == ORDER_FAIR ? fair_top(r->fair[kind], k, out) : rank_top(r->rank[kind], k, out);
}

size_t room_top(const struct room *r, enum kind kind, size_t k, uint32_t *out)
{
    return room_top_by(r, kind, r->order, k, out);
}

int64_t room_fair_score(const struct item *it)
{
    return fair_wilson(it->votes > 0 ? (uint32_t)it->votes : 0, it->shown);
}

/* ---- discover ------------------------------------------------------------------------------ */

struct discover_ctx {
    const struct room *r;
    int64_t pid;
};

static bool discover_skips(uint32_t id, void *arg)
{
    const struct discover_ctx *c = arg;
    const struct item *it = room_item(c->r, id);
    int index;
    return !it || it->author == c->pid || room_vote_index(c->r, c->pid, id, &index);
}

struct candidate {
    uint64_t shown; /* applied plus offered */
    uint64_t tie;   /* hash of (pid, id) */
    uint32_t id;
};

static int candidate_cmp(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->shown != y->shown)
        return x->shown < y->shown ? -1 : 1;
    if (x->tie != y->tie)
        return x->tie < y->tie ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* splitmix64's finaliser: a fixed mix, the same in every process (the keyed hash.h is not). */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

size_t room_discover(const struct room *r, int64_t pid, size_t k, uint32_t *out)
{
    unsigned kinds = 0;
    for (int kd = 0; kd < KIND__COUNT; kd++)
        if (room_can_vote(r, (enum kind)kd))
            kinds |= 1u << kd;
    if (!kinds)
        kinds = (1u << KIND__COUNT) - 1;
    struct candidate cand[KIND__COUNT * ROOM_DISCOVER_SCAN];
    uint32_t ids[ROOM_DISCOVER_SCAN];
    size_t n = 0;
    struct discover_ctx c = {r, pid};
    for (int kd = 0; kd < KIND__COUNT; kd++) {
        if (!(kinds & (1u << kd)))
            continue;
        size_t got = fair_pick(r->fair[kd], ROOM_DISCOVER_SCAN, discover_skips, &c, ids);
        for (size_t i = 0; i < got; i++) {
            uint64_t offered = 0;
            imap_get(&r->offered, ids[i], &offered);
            cand[n++] = (struct candidate){
                .shown = (uint64_t)room_item(r, ids[i])->shown + offered,
                .tie = mix64((uint64_t)pid * UINT64_C(0x9e3779b97f4a7c15) ^ ids[i]),
                .id = ids[i]};
        }
    }
    qsort(cand, n, sizeof *cand, candidate_cmp);
    size_t m = n < k ? n : k;
    for (size_t i = 0; i < m; i++)
        out[i] = cand[i].id;
    return m;
}

void room_offered(struct room *r, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        imap_get(&r->offered, ids[i], &v);
        imap_put(&r->offered, ids[i], v + 1);
    }
}

static int id_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

bool room_take_showings(struct room *r, struct event *out)
{
    memset(out, 0, sizeof *out);
    uint32_t ids[MSG_SHOWINGS_MAX];
    size_t n = 0, pos = 0;
    uint64_t key, val;
    while (n < MSG_SHOWINGS_MAX && imap_next(&r->offered, &pos, &key, &val))
        ids[n++] = (uint32_t)key;
    if (!n)
        return false;
    qsort(ids, n, sizeof *ids, id_cmp);
    out->type = EV_SHOWINGS;
    out->items = xmalloc(n * sizeof *out->items);
    out->counts = xmalloc(n * sizeof *out->counts);
    out->n_items = n;
    for (size_t i = 0; i < n; i++) {
        imap_get(&r->offered, ids[i], &val);
        imap_del(&r->offered, ids[i]);
        out->items[i] = ids[i];
        out->counts[i] = val > UINT32_MAX ? UINT32_MAX : (uint32_t)val;
    }
    return true;
}

bool room_top_changed(struct room *r, enum kind kind, size_t k, uint32_t *out, size_t *n)
{
    size_t got = room_top(r, kind, k, out);
    *n = got;
    if (r->top_cache[kind] && got == r->top_n[kind] &&
        memcmp(out, r->top_cache[kind], got * sizeof *out) == 0)
        return false;
    r->top_cache[kind] = xrealloc(r->top_cache[kind], (k ? k : 1) * sizeof *out);
    memcpy(r->top_cache[kind], out, got * sizeof *out);
    r->top_n[kind] = got;
    return true;
}

/* ---- restoring a snapshot ------------------------------------------------------------------ */

bool room_restore_head(struct room *r, const struct clock *c, const char *last_id,
                       uint64_t n_events, int64_t next_pid)
{
    if (c->state > CLOCK_ENDED || c->index < -1 || c->index >= (int)r->cfg.n_agenda ||
        (c->index < 0 && c->state != CLOCK_LOBBY) || strlen(last_id) > MSG_EVENT_ID_MAX)
        return false;
    r->clock = *c;
    memcpy(r->last_id, last_id, strlen(last_id) + 1);
    r->n_events = n_events;
    r->next_pid = next_pid;
    return true;
}

bool room_restore_reveal(struct room *r, enum reveal mode)
{
    if (mode >= REVEAL__COUNT)
        return false;
    r->reveal = mode;
    return true;
}

bool room_restore_invite(struct room *r, const struct room_invite *inv)
{
    if (inv->id != r->n_invites + 1 || r->n_invites >= MSG_INVITES_MAX || !inv->name ||
        strlen(inv->secret_sha256) != 64 || inv->by <= 0)
        return false;
    if (!r->invites)
        r->invites = xcalloc(MSG_INVITES_MAX, sizeof *r->invites);
    struct room_invite *to = &r->invites[r->n_invites++];
    *to = *inv;
    to->name = xstrdup(inv->name);
    return true;
}

bool room_restore_joined_with(struct room *r, struct participant *p, uint32_t invite)
{
    if (invite && (!room_invite(r, invite) || p->role != ROLE_MODERATOR))
        return false;
    p->invite = invite;
    return true;
}

bool room_restore_order(struct room *r, enum order o)
{
    if (o >= ORDER__COUNT)
        return false;
    r->order = o;
    return true;
}

bool room_restore_item(struct room *r, const struct item *src)
{
    if (src->id != r->n_items + 1 || !src->text || src->kind >= KIND__COUNT ||
        src->parent >= src->id || src->votes < 0 || src->phase_index < 0 ||
        src->phase_index >= (int)r->cfg.n_agenda || (src->on_behalf && src->by != ROLE_MODERATOR))
        return false;
    if (src->hide_preset >= PRESET__COUNT ||
        (!src->hidden && (src->hide_reason || src->hide_preset || src->rejected)))
        return false;
    if ((src->pending && (src->hidden || src->by != ROLE_CITIZEN)) ||
        (src->claim_by && !src->pending) || src->claim_by < 0)
        return false;
    if (src->merged_into && (src->merged_into == src->id || src->hidden || src->pending))
        return false;
    if ((src->merge_spotlit || src->merge_pin) &&
        (!src->merged_into || src->merge_pin > ROOM_MAX_PINS))
        return false;
    struct item *it = xmalloc(sizeof *it);
    *it = *src;
    it->in_delta = it->votes_in_delta = it->shown_in_delta = it->claim_in_delta = false;
    it->n_merged = 0; /* counted by room_restore_merges */
    it->text = xstrdup(src->text);
    it->hide_reason = dup_or_null(src->hide_reason);
    it->on_behalf = dup_or_null(src->on_behalf);
    push_item(r, it);
    return true;
}

struct participant *room_restore_participant(struct room *r, int64_t pid, enum role role,
                                             const char *nickname,
                                             const uint32_t used[JAM_MAX_PHASES])
{
    struct event e = {.type = EV_JOINED, .pid = pid, .role = role, .anonymous = !nickname};
    e.nickname = (char *)nickname;
    if (apply_join(r, &e))
        return NULL;
    struct participant *p = r->participants[r->n_participants - 1];
    memcpy(p->used, used, sizeof p->used);
    return p;
}

bool room_restore_sanction(struct room *r, struct participant *p, bool removed, bool muted,
                           enum preset preset, const char *reason)
{
    (void)r;
    if (preset >= PRESET__COUNT || (!removed && !muted && (preset || reason)) ||
        ((removed || muted) && p->role != ROLE_CITIZEN))
        return false;
    p->removed = removed;
    p->muted = muted;
    struct event e = {.type = EV_MUTED, .preset = preset, .reason = (char *)reason};
    set_sanction(p, &e);
    return true;
}

bool room_restore_stage(struct room *r, const struct room_stage *st)
{
    if (st->n_pinned > ROOM_MAX_PINS || st->spotlight > r->n_items ||
        (!st->announcement && (st->announced_ms || st->until_ms)))
        return false;
    for (size_t i = 0; i < st->n_pinned; i++) {
        if (st->pinned[i] < 1 || st->pinned[i] > r->n_items)
            return false;
        for (size_t k = 0; k < i; k++)
            if (st->pinned[k] == st->pinned[i])
                return false;
    }
    free(r->stage.announcement);
    r->stage = *st;
    r->stage.announcement = dup_or_null(st->announcement);
    return true;
}

bool room_restore_vote(struct room *r, struct participant *p, uint32_t item, int index)
{
    uint64_t key = vote_key(p->pid, item);
    bool collapsed = index >= 0 && ((unsigned)index & ROOM_VOTE_COLLAPSED);
    int cast = collapsed ? (int)((unsigned)index & ~ROOM_VOTE_COLLAPSED) : index;
    if (item < 1 || item > r->n_items || cast < 0 || cast >= (int)r->cfg.n_agenda ||
        imap_get(&r->votes, key, NULL))
        return false;
    const struct item *it = r->items[item - 1];
    if (collapsed && !it->merged_into && !it->n_merged)
        return false; /* only a merge collapses a vote */
    imap_put(&r->votes, key, (uint64_t)index);
    add_voted(p, item);
    return true;
}

bool room_restore_op(struct room *r, int64_t pid, const char *op, const struct op_done *done)
{
    uint64_t h = op_hash(pid, op);
    if (strlen(op) > MSG_OP_MAX || done->budget_left < -1 ||
        (!done->has_budget && done->budget_left != -1) || ops_find(&r->ops, pid, op, h))
        return false;
    ops_insert(&r->ops, pid, op, h, done);
    return true;
}

bool room_restore_moderation(struct room *r, const struct mod_entry *m)
{
    if (!is_barrier(m->type) && !(m->type == EV_POSTED && m->reason))
        return false;
    if (m->n_items > MSG_ITEMS_MAX || (m->n_items && !m->items))
        return false;
    struct event e = {.type = m->type,
                      .by = m->by,
                      .at_ms = m->at_ms,
                      .item = m->item,
                      .index = m->index,
                      .seconds = m->seconds,
                      .reason = m->type == EV_ANNOUNCED || m->type == EV_POSTED ? NULL : m->reason,
                      .text = m->type == EV_ANNOUNCED ? m->reason : NULL,
                      .on_behalf = m->type == EV_POSTED ? m->reason : NULL,
                      .preset = m->preset,
                      .pid = m->pid,
                      .hide_posts = m->hide_posts,
                      .reveal = m->type == EV_REVEAL_SET ? (enum reveal)m->index : REVEAL_LIVE,
                      .public_exports = m->type == EV_EXPORTS_SET && m->index,
                      .order = m->type == EV_ORDER_SET ? (enum order)m->index : ORDER_TOP,
                      .items = m->items,
                      .n_items = m->n_items,
                      .word = m->word,
                      .label = m->label,
                      .n_words = m->n_words};
    if (m->n_words > MSG_THEME_WORDS_MAX)
        return false;
    for (size_t i = 0; i < m->n_words; i++)
        if (!(e.words[i] = m->words[i]))
            return false;
    record_moderation(r, m->event_id, &e);
    memcpy(r->modlog[r->n_modlog - 1].chain, m->chain, ROOM_CHAIN_BYTES);
    return true;
}

bool room_restore_theme(struct room *r, const struct room_theme *t)
{
    if (r->n_themes >= MSG_THEME_RULES_MAX || !t->word || !words_is_word(r->words, t->word) ||
        room_theme(r, t->word) || (t->into && !words_is_word(r->words, t->into)) ||
        (t->label && (!t->label[0] || utf8_len(t->label) > MSG_THEME_LABEL_MAX)) ||
        (!t->label && !t->into && !t->hidden))
        return false;
    /* No chains: its target is merged nowhere, and nothing restored so far is merged into it. */
    const struct room_theme *to = room_theme(r, t->into);
    if ((to && to->into) || (t->into && is_merge_target(r, t->word)) ||
        (t->into && strcmp(t->into, t->word) == 0))
        return false;
    struct room_theme *n = theme_rule(r, t->word);
    n->label = dup_or_null(t->label);
    n->into = dup_or_null(t->into);
    n->hidden = t->hidden;
    words_set_hidden(r->words, t->word, t->hidden);
    if (t->into)
        words_set_merged(r->words, t->word, t->into);
    return true;
}

bool room_restore_merges(struct room *r)
{
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        struct item *t = it->merged_into ? room_item(r, it->merged_into) : NULL;
        if (!it->merged_into)
            continue;
        if (!t || t->merged_into || t->pending || t->kind != it->kind)
            return false;
        t->n_merged++;
    }
    for (size_t i = 0; i < r->n_items; i++)
        if (r->items[i]->n_merged && r->items[i]->merged_into)
            return false;
    return true;
}

bool room_restore_chain(struct room *r, const struct room_chain *c)
{
    struct stream_id sid;
    if (strlen(c->id) > MSG_EVENT_ID_MAX || (c->id[0] && !stream_id_parse(c->id, &sid)) ||
        (!c->id[0] && c->n) || c->n < r->n_events || stream_id_cmp(c->id, r->last_id) < 0)
        return false;
    r->chain = *c;
    return true;
}

void room_restore_done(struct room *r)
{
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        struct participant *author = room_participant(r, it->author);
        if (author)
            author->n_posted++;
        if (!it->hidden && !it->pending && !it->merged_into)
            show_item(r, it);
        if (!it->merged_into) /* a duplicate's votes count in its target's distinct voters */
            r->total_votes += it->votes;
    }
    room_delta_reset(r);
}
