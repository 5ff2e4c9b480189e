/* SPDX-License-Identifier: MIT
 * view.c - JSON encoding of every server frame and HTTP body (see view.h). Built with Jansson
 * objects and dumped compact with the keys in insertion order. An update is encoded once per tick
 * per jam and shared by all of the jam's clients, so its cost does not grow with the audience.
 */
#include "view.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "csv.h"
#include "room.h"
#include "words.h"

static char *dump(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        abort(); /* only on OOM: every value we build is valid */
    return s;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *id_array(const uint32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

static json_t *clock_json(const struct room *r, int64_t now_ms)
{
    static const char *const states[] = {"lobby", "running", "paused", "ended"};
    const struct clock *c = &r->clock;
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(states[c->state]));
    bool has_phase = c->index >= 0 && c->index < (int)r->cfg.n_agenda;
    json_object_set_new(o, "phase",
                        has_phase ? json_string(phase_name(r->cfg.agenda[c->index].phase))
                                  : json_null());
    json_object_set_new(o, "index", json_integer(c->state == CLOCK_LOBBY ? -1 : c->index));
    int64_t left = room_remaining(r, now_ms);
    json_object_set_new(o, "remaining_ms", left < 0 ? json_null() : json_integer(left));
    json_object_set_new(o, "duration_ms",
                        has_phase
                            ? json_integer((json_int_t)r->cfg.agenda[c->index].duration_s * 1000)
                            : json_null());
    return o;
}

/* The published head of the event chain: what a verifier checks a stream or an export against. */
static json_t *chain_json(const struct room_chain *c)
{
    char head[2 * ROOM_CHAIN_BYTES + 1];
    room_chain_hex(c->head, head);
    json_t *o = json_object();
    json_object_set_new(o, "head", json_string(head));
    json_object_set_new(o, "events", json_integer((json_int_t)c->n));
    json_object_set_new(o, "event_id", json_string(c->id));
    return o;
}

/* Reveal control (proto/messages.md, "Reveal control"): whether 'it''s count is withheld from
 * screens and citizens now. */
static bool count_hidden(const struct room *r, const struct item *it)
{
    return (room_hidden_kinds(r) >> it->kind) & 1u;
}

/* 'redact': for screens and citizens (and the public), the total is null while any count is
 * hidden. */
static json_t *stats_json(const struct room *r, bool redact)
{
    json_t *o = json_object();
    json_object_set_new(o, "participants", json_integer(r->n_citizens));
    json_object_set_new(o, "online", json_integer(r->online));
    json_object_set_new(o, "items", json_integer(r->n_visible));
    json_object_set_new(
        o, "votes", redact && room_hidden_kinds(r) ? json_null() : json_integer(r->total_votes));
    char head[2 * ROOM_CHAIN_BYTES + 1];
    room_chain_hex(r->chain.head, head);
    json_object_set_new(o, "chain", json_string(head));
    json_object_set_new(o, "events", json_integer((json_int_t)r->chain.n));
    return o;
}

/* A hide's reason and preset: public (they are in the moderation log), so the hidden stub every
 * client gets carries them and the author's phone can show them next to its item. */
static void hide_reason_json(json_t *o, const struct item *it)
{
    if (it->hide_reason)
        json_object_set_new(o, "reason", json_string(it->hide_reason));
    if (it->hide_preset)
        json_object_set_new(o, "preset", json_string(preset_name(it->hide_preset)));
}

static json_t *item_json(const struct room *r, const struct item *it, bool full)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(it->id));
    if (it->pending && !full) { /* waiting for review: moderators and its author only */
        json_object_set_new(o, "pending", json_true());
        return o;
    }
    if (it->hidden && !full) {
        json_object_set_new(o, "hidden", json_true());
        hide_reason_json(o, it);
        if (it->rejected)
            json_object_set_new(o, "rejected", json_true());
        return o;
    }
    const struct participant *a = room_participant(r, it->author);
    json_object_set_new(o, "kind", json_string(kind_name(it->kind)));
    json_object_set_new(o, "role", json_string(kind_role_name(it->kind)));
    json_object_set_new(o, "text", json_string(it->text));
    json_object_set_new(o, "parent", it->parent ? json_integer(it->parent) : json_null());
    if (it->on_behalf) { /* a scribe entry: the person it is for, and who typed it */
        json_object_set_new(o, "author",
                            it->on_behalf[0] ? json_string(it->on_behalf) : json_null());
        json_object_set_new(o, "by", json_string("scribe"));
        json_object_set_new(o, "scribe", str_or_null(a ? a->nickname : NULL));
    } else {
        json_object_set_new(o, "author", str_or_null(a ? a->nickname : NULL));
        json_object_set_new(o, "by", json_string(role_name(it->by)));
    }
    if (full || !count_hidden(r, it)) /* withheld: the key is absent */
        json_object_set_new(o, "votes", json_integer(it->votes));
    json_object_set_new(o, "hidden", json_boolean(it->hidden));
    json_object_set_new(o, "phase", json_string(phase_name(r->cfg.agenda[it->phase_index].phase)));
    hide_reason_json(o, it);
    json_object_set_new(o, "at", json_integer(it->at_ms));
    if (it->pending)
        json_object_set_new(o, "pending", json_true());
    if (it->rejected)
        json_object_set_new(o, "rejected", json_true());
    if (it->merged_into) /* a duplicate: its votes count in its target's distinct voters */
        json_object_set_new(o, "merged_into", json_integer(it->merged_into));
    json_object_set_new(o, "shown", json_integer(it->shown));
    return o;
}

/* One item's claim as clients see it at 'now_ms': who and until when, or null (released, decided,
 * or run out). */
static json_t *claim_json(const struct room *r, const struct item *it, int64_t now_ms)
{
    if (!room_claim_running(it, now_ms))
        return json_null();
    const struct participant *p = room_participant(r, it->claim_by);
    json_t *o = json_object();
    json_object_set_new(o, "by", json_integer(it->claim_by));
    json_object_set_new(o, "name", str_or_null(p ? p->nickname : NULL));
    json_object_set_new(o, "until", json_integer(it->claim_until));
    return o;
}

/* The claims still running at 'now_ms', by item id (a snapshot's "claims"). */
static json_t *claims_json(const struct room *r, int64_t now_ms)
{
    json_t *o = json_object();
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        if (!room_claim_running(it, now_ms))
            continue;
        char key[16];
        snprintf(key, sizeof key, "%u", it->id);
        json_object_set_new(o, key, claim_json(r, it, now_ms));
    }
    return o;
}

/* The spotlight, the pins and the announcement still running at 'now_ms', into 'o'. */
/* The reveal mode and the kinds whose counts are withheld from screens and citizens now. */
static json_t *reveal_json(const struct room *r)
{
    json_t *o = json_object(), *kinds = json_array();
    unsigned hidden = room_hidden_kinds(r);
    json_object_set_new(o, "mode", json_string(reveal_name(r->reveal)));
    for (int k = 0; k < KIND__COUNT; k++)
        if (hidden & (1u << k))
            json_array_append_new(kinds, json_string(kind_name((enum kind)k)));
    json_object_set_new(o, "hidden", kinds);
    return o;
}

static void stage_json(json_t *o, const struct room *r, int64_t now_ms)
{
    const struct room_stage *st = &r->stage;
    json_object_set_new(o, "reveal", reveal_json(r));
    json_object_set_new(o, "order", json_string(order_name(r->order)));
    json_object_set_new(o, "spotlight", st->spotlight ? json_integer(st->spotlight) : json_null());
    json_object_set_new(o, "pinned", id_array(st->pinned, st->n_pinned));
    const char *text = room_announcement(r, now_ms);
    json_t *a = json_null();
    if (text) {
        a = json_object();
        json_object_set_new(a, "text", json_string(text));
        json_object_set_new(a, "at", json_integer(st->announced_ms));
        json_object_set_new(a, "remaining_ms",
                            st->until_ms ? json_integer(st->until_ms - now_ms) : json_null());
    }
    json_object_set_new(o, "announcement", a);
}

static json_t *jam_json(const struct room *r)
{
    const struct jam_config *c = &r->cfg;
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(c->code));
    json_object_set_new(o, "title", json_string(c->title));
    json_object_set_new(o, "question", json_string(c->question));
    json_t *agenda = json_array();
    for (unsigned i = 0; i < c->n_agenda; i++) {
        json_t *step = json_object();
        json_object_set_new(step, "phase", json_string(phase_name(c->agenda[i].phase)));
        json_object_set_new(step, "duration_s", json_integer(c->agenda[i].duration_s));
        json_array_append_new(agenda, step);
    }
    json_object_set_new(o, "agenda", agenda);
    json_t *s = json_object();
    json_object_set_new(s, "anonymous_allowed", json_boolean(c->settings.anonymous_allowed));
    json_object_set_new(s, "votes_per_phase", json_integer(c->settings.votes_per_phase));
    json_object_set_new(s, "min_text", json_integer(c->settings.min_text));
    json_object_set_new(s, "max_text", json_integer(c->settings.max_text));
    json_object_set_new(s, "premoderation", json_boolean(c->settings.premoderation));
    json_object_set_new(s, "public_exports", json_boolean(c->settings.public_exports));
    json_object_set_new(o, "settings", s);
    return o;
}

/* 'redact': a kind whose counts are withheld has an empty list (its order would tell them). */
static json_t *ranking_by(const struct room *r, enum order order, unsigned top, bool redact)
{
    json_t *o = json_object();
    uint32_t *ids = xmalloc((top ? top : 1) * sizeof *ids);
    unsigned hidden = redact ? room_hidden_kinds(r) : 0;
    for (int k = 0; k < KIND__COUNT; k++) {
        size_t n = hidden & (1u << k) ? 0 : room_top_by(r, (enum kind)k, order, top, ids);
        json_object_set_new(o, kind_name((enum kind)k), id_array(ids, n));
    }
    free(ids);
    return o;
}

/* ... in the jam's order. */
static json_t *ranking_json(const struct room *r, unsigned top, bool redact)
{
    return ranking_by(r, r->order, top, redact);
}

char *view_welcome(const char *token, int64_t pid, enum role role, const char *nickname,
                   bool resumed)
{
    json_t *o = json_object(), *you = json_object();
    json_object_set_new(o, "type", json_string("welcome"));
    json_object_set_new(o, "token", json_string(token));
    json_object_set_new(you, "id", json_integer(pid));
    json_object_set_new(you, "role", json_string(role_name(role)));
    json_object_set_new(you, "nickname", str_or_null(nickname));
    json_object_set_new(o, "you", you);
    json_object_set_new(o, "resumed", json_boolean(resumed));
    return dump(o);
}

/* The jam's named moderator invites, names included: moderators' only. */
static json_t *invites_json(const struct room *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_invites; i++) {
        const struct room_invite *inv = &r->invites[i];
        const struct participant *by = room_participant(r, inv->by);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(inv->id));
        json_object_set_new(o, "name", json_string(inv->name));
        json_object_set_new(o, "by", str_or_null(by ? by->nickname : NULL));
        json_object_set_new(o, "at", json_integer(inv->at_ms));
        json_object_set_new(o, "revoked", json_boolean(inv->revoked));
        json_array_append_new(a, o);
    }
    return a;
}

char *view_invites(const struct room *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("invites"));
    json_object_set_new(o, "invites", invites_json(r));
    return dump(o);
}

/* words_themes' votes callback: an item's count; 'ctx' points to the room's pointer. */
static uint32_t item_votes(uint32_t id, void *ctx)
{
    const struct item *it = room_item(*(const struct room **)ctx, id);
    return it ? (uint32_t)it->votes : 0;
}

static json_t *string_array(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* The live themes (words.h) as the words frame lists them, each with its label (the moderators'
 * rename, else the word), the words merged into it when any, and its most voted item as "top", or
 * null when 'with_top' is false. words_themes marks only its own scratch space in the room's
 * words, so the room is otherwise left as it was. */
static json_t *themes_json(const struct room *r, bool with_top)
{
    struct theme themes[VIEW_THEMES];
    size_t n = words_themes(r->words, VIEW_THEMES, item_votes, &r, themes);
    json_t *ts = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct room_theme *rule = room_theme(r, themes[i].word);
        json_t *t = json_pack("{s:s,s:s,s:i,s:o}", "word", themes[i].word, "label",
                              rule && rule->label ? rule->label : themes[i].word, "items",
                              (json_int_t)themes[i].items, "top",
                              with_top ? json_integer((json_int_t)themes[i].top) : json_null());
        json_t *merged = NULL;
        for (size_t k = 0; k < r->n_themes; k++)
            if (r->themes[k].into && strcmp(r->themes[k].into, themes[i].word) == 0) {
                if (!merged)
                    merged = json_array();
                json_array_append_new(merged, json_string(r->themes[k].word));
            }
        if (merged)
            json_object_set_new(t, "merged", merged);
        json_array_append_new(ts, t);
    }
    return ts;
}

/* The moderators' theme rules, for the console's themes panel (a hidden word is in no theme). */
static json_t *theme_rules_json(const struct room *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_themes; i++) {
        const struct room_theme *t = &r->themes[i];
        json_t *o = json_pack("{s:s}", "word", t->word);
        if (t->label)
            json_object_set_new(o, "label", json_string(t->label));
        if (t->into)
            json_object_set_new(o, "into", json_string(t->into));
        if (t->hidden)
            json_object_set_new(o, "hidden", json_true());
        json_array_append_new(a, o);
    }
    return a;
}

char *view_snapshot_body(const struct room *r, bool moderator, int64_t now_ms, unsigned rank_top)
{
    json_t *o = json_object();
    json_object_set_new(o, "jam", jam_json(r));
    json_object_set_new(o, "clock", clock_json(r, now_ms));
    json_t *items = json_array();
    for (size_t i = 0; i < r->n_items; i++)
        json_array_append_new(items, item_json(r, r->items[i], moderator));
    json_object_set_new(o, "items", items);
    json_object_set_new(o, "ranking", ranking_json(r, rank_top, !moderator));
    json_object_set_new(o, "stats", stats_json(r, !moderator));
    stage_json(o, r, now_ms);
    json_object_set_new(o, "claims", claims_json(r, now_ms));
    if (moderator)
        json_object_set_new(o, "invites", invites_json(r));
    if (moderator && room_hidden_kinds(r)) /* the tops the words frame withholds */
        json_object_set_new(o, "themes", themes_json(r, true));
    char *s = dump(o);
    size_t n = strlen(s); /* strip the braces: the body is spliced into each snapshot */
    memmove(s, s + 1, n - 2);
    s[n - 2] = '\0';
    return s;
}

/* The participant's own part of a snapshot, encoded alone. */
static char *you_json_text(const struct room *r, const struct participant *p)
{
    char *you_text = NULL;
    {
        json_t *you = json_object(), *mine = json_array();
        json_object_set_new(you, "id", json_integer(p->pid));
        json_object_set_new(you, "role", json_string(role_name(p->role)));
        json_object_set_new(you, "nickname", str_or_null(p->nickname));
        if (p->invite)
            json_object_set_new(you, "invite", json_integer(p->invite));
        json_object_set_new(you, "votes", id_array(p->voted, p->n_voted));
        int64_t left = room_budget_left(r, p);
        json_object_set_new(you, "budget_left", left < 0 ? json_null() : json_integer(left));
        for (size_t i = 0; i < r->n_items; i++)
            if (r->items[i]->author == p->pid)
                json_array_append_new(mine, json_integer(r->items[i]->id));
        json_object_set_new(you, "items", mine);
        json_t *queued = json_array(); /* its own items waiting for review, in full */
        for (size_t i = 0; i < r->n_items; i++)
            if (r->items[i]->author == p->pid && r->items[i]->pending)
                json_array_append_new(queued, item_json(r, r->items[i], true));
        if (json_array_size(queued))
            json_object_set_new(you, "queued", queued);
        else
            json_decref(queued);
        if (p->muted)
            json_object_set_new(you, "muted", json_true());
        if (p->removed)
            json_object_set_new(you, "removed", json_true());
        if (p->muted || p->removed) {
            json_t *why = json_object();
            if (p->mod_reason)
                json_object_set_new(why, "reason", json_string(p->mod_reason));
            if (p->mod_preset)
                json_object_set_new(why, "preset", json_string(preset_name(p->mod_preset)));
            json_object_set_new(you, "moderation", why);
        }
        you_text = dump(you);
    }
    return you_text;
}

char *view_snapshot_head(const char *event_id, bool resync)
{
    json_t *head = json_object();
    json_object_set_new(head, "type", json_string("snapshot"));
    json_object_set_new(head, "event_id", json_string(event_id));
    json_object_set_new(head, "resync", json_boolean(resync));
    char *h = dump(head);
    size_t hn = strlen(h);
    h[hn - 1] = ','; /* the body follows */
    return h;
}

char *view_snapshot_tail(const struct room *r, const struct participant *p)
{
    char *you = p ? you_json_text(r, p) : NULL;
    size_t yn = you ? strlen(you) : 0;
    char *out = xmalloc(yn + 16);
    size_t k = 0;
    if (you) {
        memcpy(out, ",\"you\":", 7);
        k = 7;
        memcpy(out + k, you, yn);
        k += yn;
    }
    out[k++] = '}';
    out[k] = '\0';
    free(you);
    return out;
}

char *view_snapshot_with(const struct room *r, const char *event_id, const char *body,
                         const struct participant *p, bool resync)
{
    char *h = view_snapshot_head(event_id, resync), *t = view_snapshot_tail(r, p);
    size_t hn = strlen(h), bn = strlen(body), tn = strlen(t);
    char *out = xmalloc(hn + bn + tn + 1);
    snprintf(out, hn + bn + tn + 1, "%s%s%s", h, body, t);
    free(h);
    free(t);
    return out;
}

char *view_snapshot(const struct room *r, enum role role, const struct participant *p,
                    int64_t now_ms, unsigned rank_top, bool resync)
{
    char *body = view_snapshot_body(r, role == ROLE_MODERATOR, now_ms, rank_top);
    char *s = view_snapshot_with(r, r->last_id, body, p, resync);
    free(body);
    return s;
}

static json_t *modlog_json(const struct room *r, size_t from);

/* An update of delta 'd' with the given ranking lists (NULL: none). */
static char *update_of(const struct room *r, const struct room_delta *d, json_t *ranking,
                       int64_t now_ms)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("update"));
    json_object_set_new(o, "prev", json_string(d->prev));
    json_object_set_new(o, "from", json_string(d->from[0] ? d->from : r->last_id));
    json_object_set_new(o, "to", json_string(d->to[0] ? d->to : r->last_id));
    if (d->n_items) {
        json_t *items = json_array();
        for (size_t i = 0; i < d->n_items; i++)
            json_array_append_new(items, item_json(r, r->items[d->items[i] - 1], false));
        json_object_set_new(o, "items", items);
    }
    if (d->n_shown) { /* showings alone: a vote leaves `shown` as it was, clients keep theirs */
        json_t *shown = json_object();
        for (size_t i = 0; i < d->n_shown; i++) {
            const struct item *it = r->items[d->shown[i] - 1];
            char key[16];
            snprintf(key, sizeof key, "%u", it->id);
            json_object_set_new(shown, key, json_integer(it->shown));
        }
        json_object_set_new(o, "shown", shown);
    }
    if (d->n_votes) {
        json_t *votes = json_object();
        for (size_t i = 0; i < d->n_votes; i++) {
            const struct item *it = r->items[d->votes[i] - 1];
            if (count_hidden(r, it)) /* moderators get it in a private `counts` frame */
                continue;
            char key[16];
            snprintf(key, sizeof key, "%u", it->id);
            json_object_set_new(votes, key, json_integer(it->votes));
        }
        if (json_object_size(votes))
            json_object_set_new(o, "votes", votes);
        else
            json_decref(votes);
    }
    if (ranking && json_object_size(ranking))
        json_object_set_new(o, "ranking", ranking);
    else
        json_decref(ranking);
    if (d->clock)
        json_object_set_new(o, "clock", clock_json(r, now_ms));
    if (d->stats || d->clock) /* a clock event moves the chain head that stats show */
        json_object_set_new(o, "stats", stats_json(r, true));
    if (d->stage)
        stage_json(o, r, now_ms);
    if (d->n_claims) {
        json_t *claims = json_object();
        for (size_t i = 0; i < d->n_claims; i++) {
            const struct item *it = r->items[d->claims[i] - 1];
            char key[16];
            snprintf(key, sizeof key, "%u", it->id);
            json_object_set_new(claims, key, claim_json(r, it, now_ms));
        }
        json_object_set_new(o, "claims", claims);
    }
    if (d == &r->delta && d->log_from < r->n_modlog) /* live updates only: a catch-up has none */
        json_object_set_new(o, "log", modlog_json(r, d->log_from));
    return dump(o);
}

char *view_counts(const struct room *r, unsigned rank_top)
{
    const struct room_delta *d = &r->delta;
    unsigned hidden = room_hidden_kinds(r);
    if (!hidden || (!d->n_votes && !d->n_items && !(d->kinds & hidden)))
        return NULL; /* (any visible item may change the themes) */
    json_t *o = json_object(), *votes = json_object(), *ranking = json_object();
    json_object_set_new(o, "type", json_string("counts"));
    for (size_t i = 0; i < d->n_votes; i++) {
        const struct item *it = r->items[d->votes[i] - 1];
        char key[16];
        snprintf(key, sizeof key, "%u", it->id);
        if (count_hidden(r, it))
            json_object_set_new(votes, key, json_integer(it->votes));
    }
    uint32_t *ids = xmalloc((rank_top ? rank_top : 1) * sizeof *ids);
    for (int k = 0; k < KIND__COUNT; k++)
        if (d->kinds & hidden & (1u << k))
            json_object_set_new(ranking, kind_name((enum kind)k),
                                id_array(ids, room_top(r, (enum kind)k, rank_top, ids)));
    free(ids);
    json_object_set_new(o, "votes", votes);
    json_object_set_new(o, "ranking", ranking);
    json_object_set_new(o, "stats", stats_json(r, false));
    json_object_set_new(o, "themes", themes_json(r, true));
    return dump(o);
}

char *view_update(struct room *r, int64_t now_ms, unsigned rank_top)
{
    const struct room_delta *d = &r->delta;
    if (!d->from[0] && !d->clock && !d->stats && !d->stage && !d->n_items && !d->n_votes &&
        !d->n_shown && !d->n_claims)
        return NULL;
    json_t *ranking = NULL;
    if (d->kinds) {
        ranking = json_object();
        uint32_t *ids = xmalloc((rank_top ? rank_top : 1) * sizeof *ids);
        unsigned hidden = room_hidden_kinds(r);
        for (int k = 0; k < KIND__COUNT; k++) {
            size_t n;
            if ((d->kinds & (1u << k)) && !(hidden & (1u << k)) &&
                room_top_changed(r, (enum kind)k, rank_top, ids, &n))
                json_object_set_new(ranking, kind_name((enum kind)k), id_array(ids, n));
        }
        free(ids);
    }
    return update_of(r, d, ranking, now_ms);
}

char *view_catchup(const struct room *r, const struct room_delta *d, int64_t now_ms,
                   unsigned rank_top)
{
    json_t *ranking = NULL;
    if (d->kinds) {
        ranking = json_object();
        uint32_t *ids = xmalloc((rank_top ? rank_top : 1) * sizeof *ids);
        unsigned hidden = room_hidden_kinds(r);
        for (int k = 0; k < KIND__COUNT; k++)
            if ((d->kinds & (1u << k)) && !(hidden & (1u << k)))
                json_object_set_new(ranking, kind_name((enum kind)k),
                                    id_array(ids, room_top(r, (enum kind)k, rank_top, ids)));
        free(ids);
    }
    return update_of(r, d, ranking, now_ms);
}

char *view_ack(const char *op, const char *event_id, uint32_t item, bool has_budget,
               int64_t budget_left)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("ack"));
    json_object_set_new(o, "op", json_string(op));
    json_object_set_new(o, "event_id", json_string(event_id));
    if (item)
        json_object_set_new(o, "item", json_integer(item));
    if (has_budget)
        json_object_set_new(o, "budget_left",
                            budget_left < 0 ? json_null() : json_integer(budget_left));
    return dump(o);
}

char *view_ack_invite(const char *op, const char *event_id, uint32_t invite, const char *secret)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("ack"));
    json_object_set_new(o, "op", json_string(op));
    json_object_set_new(o, "event_id", json_string(event_id));
    json_object_set_new(o, "invite", json_integer(invite));
    json_object_set_new(o, "secret", json_string(secret));
    return dump(o);
}

/* Every error code of proto/messages.md. 'by_client': the client's own message caused it, so it
 * counts toward the error limit (SESSION_MAX_ERRORS, close 4003). Conditions of the server or of
 * Redis (every retryable code, and internal) never count: during an outage a phone that retries
 * as told must stay connected. */
static const struct {
    const char *code, *message;
    bool retryable;
    bool by_client;
} errors[] = {
    {"bad_json", "the message is not valid JSON", false, true},
    {"too_deep", "the message is nested too deeply", false, true},
    {"duplicate_key", "the message has a duplicate key", false, true},
    {"bad_message", "the message is malformed", false, true},
    {"unknown_type", "unknown message type", false, true},
    {"too_long", "a text is too long", false, true},
    {"too_short", "a text is too short", false, true},
    {"bad_value", "a value is out of range or malformed", false, true},
    {"not_joined", "join a jam first", false, true},
    {"already_joined", "this connection has already joined", false, true},
    {"no_such_jam", "no jam has this code", false, true},
    {"bad_secret", "the moderator secret is wrong", false, true},
    {"bad_token", "the session token is invalid or expired", false, true},
    {"anonymous_not_allowed", "this jam does not allow anonymous participants", false, true},
    {"nickname_required", "this jam needs a nickname", false, true},
    {"forbidden", "your role may not do this", false, true},
    {"not_running", "the jam is not running", false, true},
    {"wrong_phase", "the current phase does not accept this", false, true},
    {"already_started", "the jam has already started", false, true},
    {"not_paused", "the jam is not paused", false, true},
    {"bad_phase", "this phase is not on the agenda", false, true},
    {"no_such_item", "no item has this id", false, true},
    {"item_hidden", "the item is hidden", false, true},
    {"not_hidden", "the item is not hidden", false, true},
    {"bad_parent", "the item this builds on is missing or of the wrong kind", false, true},
    {"already_voted", "you already voted for this item", false, true},
    {"not_voted", "you have not voted for this item", false, true},
    {"budget_exhausted", "no votes left in this phase", false, true},
    {"jam_full", "the jam has reached its limit", false, true},
    {"quota_exceeded", "you have posted as many items as one participant may", false, true},
    {"no_such_participant", "no participant has this id", false, true},
    {"already_removed", "this participant has already been removed", false, true},
    {"removed", "a moderator removed you from this jam", false, true},
    {"not_removed", "this participant is not removed", false, true},
    {"muted", "a moderator muted you: you can still read, but not post or vote", false, true},
    {"already_muted", "this participant is already muted", false, true},
    {"not_muted", "this participant is not muted", false, true},
    {"already_spotlighted", "this item is already in the spotlight", false, true},
    {"no_spotlight", "no item is in the spotlight", false, true},
    {"already_pinned", "this item is already pinned", false, true},
    {"not_pinned", "this item is not pinned", false, true},
    {"pin_limit", "10 items are pinned already: unpin one first", false, true},
    {"no_announcement", "no announcement is running", false, true},
    {"item_pending", "the item is waiting for review", false, true},
    {"not_pending", "the item is not waiting for review", false, true},
    {"claimed", "another moderator has claimed this item for review", false, true},
    {"not_claimed", "you have no running claim on this item", false, true},
    {"item_merged", "the item is merged into another: vote for that one (or unmerge it first)",
     false, true},
    {"not_merged", "the item is not merged, and nothing is merged into it", false, true},
    {"merge_kind", "only items of the same kind merge", false, true},
    {"has_duplicates", "other items are merged into this one: unmerge them first", false, true},
    {"organiser_only",
     "only a moderator who joined with the jam's moderator secret may do this, not one invited",
     false, true},
    {"too_many_invites", "this jam has as many moderator invites as it may (50)", false, true},
    {"no_such_invite", "no moderator invite has this id", false, true},
    {"already_revoked", "this moderator invite is already revoked", false, true},
    {"invite_revoked", "the moderator invite you joined with has been revoked", false, true},
    {"not_a_word", "not one word in its folded form (lower case, 3-40 characters, no stop word)",
     false, true},
    {"theme_merged", "this word is merged, or others are merged into it: no chains of merges",
     false, true},
    {"theme_hidden", "this theme is already hidden", false, true},
    {"too_many_themes", "this jam has as many theme rules as it may (64)", false, true},
    {"rate_limited", "too many messages: slow down", true, false},
    {"busy", "another action is being stored: retry shortly", true, false},
    {"storage_unavailable", "storage is unavailable: retry the same op", true, false},
    {"storage_timeout", "storage did not confirm in time: retry the same op", true, false},
    {"replica_timeout", "stored, but no replica confirmed it in time: retry the same op", true,
     false},
    {"apply_timeout", "stored, but this server has not read it back in time: retry the same op",
     true, false},
    {"not_owner", "another server holds this jam's writes (or just handed it over): retry", true,
     false},
    {"internal", "internal error", false, false},
};

static int error_index(const char *code)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (strcmp(errors[i].code, code) == 0)
            return (int)i;
    return -1;
}

const char *view_error_message(const char *code)
{
    int i = error_index(code);
    return i < 0 ? "error" : errors[i].message;
}

bool view_error_retryable(const char *code)
{
    int i = error_index(code);
    return i >= 0 && errors[i].retryable;
}

bool view_error_by_client(const char *code)
{
    int i = error_index(code);
    return i >= 0 && errors[i].by_client;
}

char *view_error(const char *op, const char *code, const char *message)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("error"));
    if (op && op[0])
        json_object_set_new(o, "op", json_string(op));
    json_object_set_new(o, "code", json_string(code));
    json_object_set_new(o, "message",
                        json_string(message && message[0] ? message : view_error_message(code)));
    json_object_set_new(o, "retryable", json_boolean(view_error_retryable(code)));
    return dump(o);
}

char *view_notice(enum event_type type, const struct participant *p)
{
    static const char *const names[EV__COUNT] = {[EV_MUTED] = "muted",
                                                 [EV_UNMUTED] = "unmuted",
                                                 [EV_REMOVED] = "removed",
                                                 [EV_INVITE_REVOKED] = "invite_revoked"};
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("notice"));
    json_object_set_new(o, "notice", json_string(names[type] ? names[type] : "removed"));
    if (type == EV_INVITE_REVOKED)
        json_object_set_new(o, "invite", json_integer(p->invite));
    if (p->mod_reason)
        json_object_set_new(o, "reason", json_string(p->mod_reason));
    if (p->mod_preset)
        json_object_set_new(o, "preset", json_string(preset_name(p->mod_preset)));
    return dump(o);
}

char *view_queued(const struct room *r, const struct item *it)
{
    json_t *o = json_object(), *items = json_array();
    json_object_set_new(o, "type", json_string("queued"));
    json_array_append_new(items, item_json(r, it, true));
    json_object_set_new(o, "items", items);
    return dump(o);
}

char *view_pong(bool has_t, int64_t t)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("pong"));
    if (has_t)
        json_object_set_new(o, "t", json_integer(t));
    return dump(o);
}

char *view_status(bool storage_ok)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("status"));
    json_object_set_new(o, "storage", json_string(storage_ok ? "ok" : "degraded"));
    return dump(o);
}

char *view_words(struct room *r)
{
    struct word_count top[VIEW_WORDS];
    size_t n = words_top(r->words, VIEW_WORDS, top);
    json_t *o = json_object(), *ws = json_array();
    json_object_set_new(o, "type", json_string("words"));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ws, json_pack("[s,i]", top[i].word, (json_int_t)top[i].items));
    json_object_set_new(o, "words", ws);
    /* Shared by screens and moderators: the most voted item would tell the hidden counts (the
     * moderators get the tops in their snapshot and counts frames). */
    json_object_set_new(o, "themes", themes_json(r, room_hidden_kinds(r) == 0));
    json_object_set_new(o, "theme_rules", theme_rules_json(r)); /* public: the log has them too */
    return dump(o);
}

static char *typed_ids(const char *type, const uint32_t *ids, size_t n)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "items", id_array(ids, n));
    return dump(o);
}

char *view_similar(const uint32_t *ids, size_t n)
{
    return typed_ids("similar", ids, n);
}

char *view_discover(const uint32_t *ids, size_t n)
{
    return typed_ids("discover", ids, n);
}

char *view_summary(const struct room *r, int64_t now_ms, const char *public_url)
{
    json_t *o = jam_json(r);
    char url[600];
    snprintf(url, sizeof url, "%s/#%s", public_url, r->cfg.code);
    json_object_set_new(o, "join_url", json_string(url));
    json_object_set_new(o, "clock", clock_json(r, now_ms));
    json_object_set_new(o, "stats", stats_json(r, true));
    json_object_set_new(o, "event_id", json_string(r->last_id));
    json_object_set_new(o, "chain", chain_json(&r->chain));
    return dump(o);
}

static json_t *modlog_json(const struct room *r, size_t from)
{
    json_t *a = json_array();
    for (size_t i = from; i < r->n_modlog; i++) {
        const struct mod_entry *m = &r->modlog[i];
        json_t *o = json_object();
        json_object_set_new(o, "event_id", json_string(m->event_id));
        json_object_set_new(o, "action", json_string(event_type_name(m->type)));
        json_object_set_new(o, "at", json_integer(m->at_ms));
        json_object_set_new(o, "by", m->by ? json_string("moderator") : json_string("clock"));
        const struct participant *p = m->by ? room_participant(r, m->by) : NULL;
        if (p)
            json_object_set_new(o, "moderator", str_or_null(p->nickname));
        if (m->type == EV_HIDDEN || m->type == EV_UNHIDDEN || m->type == EV_SPOTLIGHTED ||
            m->type == EV_PINNED || m->type == EV_UNPINNED || m->type == EV_POSTED ||
            m->type == EV_UNMERGED)
            json_object_set_new(o, "item", json_integer(m->item));
        if (m->type == EV_MERGED)
            json_object_set_new(o, "into", json_integer(m->item));
        if (m->type == EV_PHASE_SET || m->type == EV_PHASE_ENDED)
            json_object_set_new(o, "phase",
                                m->index >= 0 && m->index < (int64_t)r->cfg.n_agenda
                                    ? json_string(phase_name(r->cfg.agenda[m->index].phase))
                                    : json_null());
        if (m->type == EV_EXTENDED)
            json_object_set_new(o, "seconds", json_integer(m->seconds));
        if (m->type == EV_EXPORTS_SET)
            json_object_set_new(o, "public", json_boolean(m->index != 0));
        if (m->type == EV_INVITE_CREATED || m->type == EV_INVITE_REVOKED)
            json_object_set_new(o, "invite", json_integer(m->item)); /* its name: moderators' */
        if (m->type == EV_REVEAL_SET)
            json_object_set_new(o, "mode", json_string(reveal_name((enum reveal)m->index)));
        if (m->type == EV_ORDER_SET)
            json_object_set_new(o, "order", json_string(order_name((enum order)m->index)));
        if (m->type >= EV_REMOVED && m->type <= EV_UNMUTED)
            json_object_set_new(o, "pid", json_integer(m->pid));
        if (m->type == EV_THEMES_MERGED) {
            json_object_set_new(o, "words", string_array(m->words, m->n_words));
            json_object_set_new(o, "into", str_or_null(m->word));
        } else if (m->word) {
            json_object_set_new(o, "word", json_string(m->word));
        }
        if (m->type == EV_THEME_RENAMED)
            json_object_set_new(o, "label", str_or_null(m->label));
        if (m->type == EV_REMOVED)
            json_object_set_new(o, "hide_posts", json_boolean(m->hide_posts));
        if (m->type == EV_POSTED) {
            /* null: from the floor, as the item's author */
            json_object_set_new(o, "on_behalf", str_or_null(m->reason[0] ? m->reason : NULL));
        } else if (m->type == EV_ANNOUNCED) {
            json_object_set_new(o, "text", str_or_null(m->reason));
            json_object_set_new(o, "duration_s",
                                m->seconds ? json_integer(m->seconds) : json_null());
        } else if (m->reason) {
            json_object_set_new(o, "reason", json_string(m->reason));
        }
        if (m->preset)
            json_object_set_new(o, "preset", json_string(preset_name(m->preset)));
        if (m->n_items)
            json_object_set_new(o, "items", id_array(m->items, m->n_items));
        char head[2 * ROOM_CHAIN_BYTES + 1];
        room_chain_hex(m->chain, head);
        json_object_set_new(o, "chain", json_string(head));
        json_array_append_new(a, o);
    }
    return a;
}

char *view_modlog(const struct room *r)
{
    return dump(modlog_json(r, 0));
}

/* The votes each item counts per agenda index (room_votes_by_phase): out[(item - 1) * n_agenda
 * + index]. */
static uint32_t *votes_per_phase(const struct room *r)
{
    uint32_t *per_phase = xcalloc(r->n_items * r->cfg.n_agenda + 1, sizeof *per_phase);
    room_votes_by_phase(r, per_phase);
    return per_phase;
}

static json_t *votes_by_phase_json(const struct room *r, const uint32_t *per_phase, size_t i)
{
    size_t n_agenda = r->cfg.n_agenda;
    json_t *vp = json_object();
    for (size_t k = 0; k < n_agenda; k++)
        if (per_phase[i * n_agenda + k])
            json_object_set_new(vp, phase_name(r->cfg.agenda[k].phase),
                                json_integer(per_phase[i * n_agenda + k]));
    return vp;
}

/* Each visible item's place in the whole ranking of its kind in order 'order' (1 = first), 0 for
 * hidden ones: out[item - 1]. */
static uint32_t *ranks_of(const struct room *r, enum order order)
{
    uint32_t *rank = xcalloc(r->n_items + 1, sizeof *rank);
    uint32_t *ids = xmalloc((r->n_items + 1) * sizeof *ids);
    for (int k = 0; k < KIND__COUNT; k++) {
        size_t n = room_top_by(r, (enum kind)k, order, r->n_items, ids);
        for (size_t i = 0; i < n; i++)
            rank[ids[i] - 1] = (uint32_t)(i + 1);
    }
    free(ids);
    return rank;
}

/* Why each hidden item is hidden: the reason of the moderation log entry that hid it last (a
 * hide, or a removal of its author with hide_posts), NULL when none was given: out[item - 1],
 * borrowed from the log. */
static const char **hidden_reasons(const struct room *r)
{
    const char **why = xcalloc(r->n_items + 1, sizeof *why);
    for (size_t i = 0; i < r->n_modlog; i++) {
        const struct mod_entry *m = &r->modlog[i];
        if ((m->type == EV_HIDDEN || m->type == EV_UNHIDDEN) && m->item >= 1 &&
            m->item <= (int64_t)r->n_items)
            why[m->item - 1] = m->type == EV_HIDDEN ? m->reason : NULL;
        if (m->type == EV_REMOVED && m->hide_posts)
            for (size_t k = 0; k < r->n_items; k++)
                if (r->items[k]->author == m->pid)
                    why[k] = m->reason;
        if (m->type == EV_HIDDEN || m->type == EV_REJECTED) /* a bulk hide, a reject */
            for (size_t k = 0; k < m->n_items; k++)
                if (m->items[k] >= 1 && m->items[k] <= r->n_items)
                    why[m->items[k] - 1] = m->reason;
    }
    return why;
}

static const char *author_name(const struct room *r, const struct item *it)
{
    const struct participant *a = room_participant(r, it->author);
    return a && a->nickname ? a->nickname : "anonymous";
}

char *view_export(const struct room *r, const struct stream_entry *events,
                  const uint8_t (*heads)[ROOM_CHAIN_BYTES], size_t n_events, int64_t now_ms)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(VIEW_EXPORT_FORMAT));
    json_object_set_new(o, "jam", jam_json(r));
    json_object_set_new(o, "clock", clock_json(r, now_ms));
    json_object_set_new(o, "stats", stats_json(r, false));
    json_object_set_new(o, "chain", chain_json(&r->chain));
    uint32_t *per_phase = votes_per_phase(r), *rank = ranks_of(r, ORDER_TOP);
    uint32_t *fair_rank = ranks_of(r, ORDER_FAIR);
    json_t *items = json_array();
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        json_t *jo = item_json(r, it, true);
        json_object_set_new(jo, "author", json_string(author_name(r, it)));
        json_object_set_new(jo, "rank", rank[i] ? json_integer(rank[i]) : json_null());
        json_object_set_new(jo, "fair_rank",
                            fair_rank[i] ? json_integer(fair_rank[i]) : json_null());
        json_object_set_new(jo, "fair_score", json_integer(room_fair_score(it)));
        json_object_set_new(jo, "votes_by_phase", votes_by_phase_json(r, per_phase, i));
        json_array_append_new(items, jo);
    }
    free(per_phase);
    free(rank);
    free(fair_rank);
    json_object_set_new(o, "items", items);
    json_object_set_new(o, "reveal", reveal_json(r));
    json_object_set_new(o, "order", json_string(order_name(r->order)));
    json_object_set_new(o, "moderation", modlog_json(r, 0));
    json_t *ev = json_array();
    for (size_t i = 0; i < n_events; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "id", json_string(events[i].id));
        json_object_set_new(e, "e", json_stringn(events[i].payload, events[i].len));
        char head[2 * ROOM_CHAIN_BYTES + 1];
        room_chain_hex(heads[i], head);
        json_object_set_new(e, "h", json_string(head));
        json_array_append_new(ev, e);
    }
    json_object_set_new(o, "events", ev);
    return dump(o);
}

char *view_export_csv(const struct room *r)
{
    struct csv c = {0};
    static const char *const head[] = {"id",   "kind",  "role",      "parent", "phase",
                                       "rank", "votes", "fair_rank", "shown",  "fair_score"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        csv_text(&c, head[i]);
    for (size_t k = 0; k < r->cfg.n_agenda; k++) {
        char col[48];
        snprintf(col, sizeof col, "votes_%zu_%s", k + 1, phase_name(r->cfg.agenda[k].phase));
        csv_text(&c, col);
    }
    static const char *const tail[] = {"author",        "by",          "hidden",
                                       "hidden_reason", "merged_into", "text"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        csv_text(&c, tail[i]);
    csv_end_row(&c);
    uint32_t *per_phase = votes_per_phase(r), *rank = ranks_of(r, ORDER_TOP);
    uint32_t *fair_rank = ranks_of(r, ORDER_FAIR);
    const char **why = hidden_reasons(r);
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        csv_int(&c, it->id);
        csv_text(&c, kind_name(it->kind));
        csv_text(&c, kind_role_name(it->kind));
        if (it->parent)
            csv_int(&c, it->parent);
        else
            csv_text(&c, NULL);
        csv_text(&c, phase_name(r->cfg.agenda[it->phase_index].phase));
        if (rank[i])
            csv_int(&c, rank[i]);
        else
            csv_text(&c, NULL);
        csv_int(&c, it->votes);
        if (fair_rank[i])
            csv_int(&c, fair_rank[i]);
        else
            csv_text(&c, NULL);
        csv_int(&c, it->shown);
        char score[16]; /* the Wilson lower bound, 0.000000 to 1.000000 */
        int64_t fs = room_fair_score(it);
        snprintf(score, sizeof score, "%d.%06d", (int)(fs / 1000000), (int)(fs % 1000000));
        csv_text(&c, score);
        for (size_t k = 0; k < r->cfg.n_agenda; k++)
            csv_int(&c, per_phase[i * r->cfg.n_agenda + k]);
        csv_text(&c, author_name(r, it));
        csv_text(&c, role_name(it->by));
        csv_text(&c, it->hidden ? "yes" : it->pending ? "pending" : "no");
        csv_text(&c, it->hidden ? why[i] : NULL);
        if (it->merged_into)
            csv_int(&c, it->merged_into);
        else
            csv_text(&c, NULL);
        csv_text(&c, it->text);
        csv_end_row(&c);
    }
    free(per_phase);
    free(rank);
    free(fair_rank);
    free(why);
    return csv_take(&c);
}

char *view_results(const struct room *r, int64_t now_ms, bool exports_public)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(VIEW_RESULTS_FORMAT));
    json_object_set_new(o, "jam", jam_json(r));
    json_object_set_new(o, "clock", clock_json(r, now_ms));
    bool final = r->clock.state == CLOCK_ENDED ||
                 (r->clock.index >= 0 && r->clock.index < (int)r->cfg.n_agenda &&
                  r->cfg.agenda[r->clock.index].phase == PHASE_RESULTS);
    json_object_set_new(o, "final", json_boolean(final));
    json_object_set_new(o, "exports_public", json_boolean(exports_public));
    json_t *st = stats_json(r, true);
    uint32_t contributors = 0, voters = 0;
    for (size_t i = 0; i < r->n_participants; i++) {
        const struct participant *p = r->participants[i];
        if (p->role != ROLE_CITIZEN)
            continue;
        contributors += p->n_posted > 0;
        voters += p->n_voted > 0;
    }
    json_object_set_new(st, "contributors", json_integer(contributors));
    json_object_set_new(st, "voters", json_integer(voters));
    json_object_set_new(o, "stats", st);
    json_object_set_new(o, "chain", chain_json(&r->chain));
    uint32_t *per_phase = votes_per_phase(r), *rank = ranks_of(r, ORDER_TOP);
    uint32_t *fair_rank = ranks_of(r, ORDER_FAIR);
    json_t *items = json_array();
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        if (it->hidden || it->pending)
            continue;
        json_t *jo = item_json(r, it, false);
        bool withheld = count_hidden(r, it);
        json_object_set_new(jo, "rank", rank[i] && !withheld ? json_integer(rank[i]) : json_null());
        json_object_set_new(jo, "fair_rank",
                            fair_rank[i] && !withheld ? json_integer(fair_rank[i]) : json_null());
        if (!withheld)
            json_object_set_new(jo, "fair_score", json_integer(room_fair_score(it)));
        if (!withheld)
            json_object_set_new(jo, "votes_by_phase", votes_by_phase_json(r, per_phase, i));
        json_array_append_new(items, jo);
    }
    free(per_phase);
    free(rank);
    free(fair_rank);
    json_object_set_new(o, "items", items);
    json_object_set_new(o, "order", json_string(order_name(r->order)));
    json_object_set_new(o, "ranking", ranking_by(r, ORDER_TOP, (unsigned)r->n_items, true));
    json_object_set_new(o, "fair_ranking", ranking_by(r, ORDER_FAIR, (unsigned)r->n_items, true));
    json_object_set_new(o, "reveal", reveal_json(r));
    json_object_set_new(o, "moderation", modlog_json(r, 0));
    return dump(o);
}

char *view_created(const char *code, const char *secret, const char *public_url)
{
    char buf[512];
    json_t *o = json_object(), *links = json_object();
    json_object_set_new(o, "code", json_string(code));
    json_object_set_new(o, "moderator_secret", json_string(secret));
    snprintf(buf, sizeof buf, "%s/#%s", public_url, code);
    json_object_set_new(links, "join", json_string(buf));
    snprintf(buf, sizeof buf, "%s/moderate.html#%s.%s", public_url, code, secret);
    json_object_set_new(links, "moderate", json_string(buf));
    snprintf(buf, sizeof buf, "%s/screen.html#%s", public_url, code);
    json_object_set_new(links, "screen", json_string(buf));
    json_object_set_new(o, "links", links);
    return dump(o);
}

char *view_http_error(const char *code, const char *message)
{
    json_t *o = json_object(), *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message",
                        json_string(message && message[0] ? message : view_error_message(code)));
    json_object_set_new(o, "error", e);
    return dump(o);
}

char *view_digest(const char *event_id, uint64_t events, const char *sha256)
{
    json_t *o = json_object();
    json_object_set_new(o, "event_id", json_string(event_id));
    json_object_set_new(o, "events", json_integer((json_int_t)events));
    json_object_set_new(o, "sha256", json_string(sha256));
    return dump(o);
}

char *view_health(const char *status, uint64_t clients, uint64_t jams, bool redis_up,
                  int64_t period_ms, int loop_cpu_pct)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "version", json_string(COJAM_VERSION));
    json_object_set_new(o, "clients", json_integer((json_int_t)clients));
    json_object_set_new(o, "jams", json_integer((json_int_t)jams));
    json_object_set_new(o, "redis", json_string(redis_up ? "up" : "down"));
    json_object_set_new(o, "broadcast_period_ms", json_integer((json_int_t)period_ms));
    json_object_set_new(o, "loop_cpu_pct", json_integer(loop_cpu_pct));
    return dump(o);
}
