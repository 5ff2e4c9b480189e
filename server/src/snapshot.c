/* SPDX-License-Identifier: MIT
 * snapshot.c - the binary snapshot codec (see snapshot.h). The encoder walks the room's public
 * state; the decoder reads and checks the format, and hands each record to room_restore_*, which
 * checks it against the room restored so far. Derived state is rebuilt, never stored.
 */
#include "snapshot.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Layout, "CJS13" (little-endian; str = u32 length + bytes, length 0xFFFFFFFF = NULL):
 *   magic     "CJS13" (5 bytes; the versions before CJS10 had 4, "CJS1" to "CJS9")
 *   config    code title question:str  n_agenda:u8  {phase:u8 duration_s:u32} * n_agenda
 *             anonymous_allowed:u8  votes_per_phase min_text max_text:u32  premoderation:u8
 *             public_exports:u8
 *             secret_sha256:str
 *   clock     state:u8  index:u32 (-1 in the lobby)  has_deadline:u8  deadline_ms remaining_ms:u64
 *   head      last_id:str  n_events:u64  next_pid:u64  reveal:u8  order:u8
 *   chain     id:str  n:u64  head:32 bytes
 *   invites   n:u32, each  id:u32 name:str by at_ms:u64 secret_sha256:str revoked:u8
 *             (ids are 1..n in order)
 *   items     n:u32, each  kind:u8 parent:u32 author:u64 by:u8 phase_index:u32 votes:u32 hidden:u8
 *             text:str  hide_preset:u8 hide_reason:str|NULL on_behalf:str|NULL
 *             at_ms:u64 pending:u8 rejected:u8 claim_by claim_until:u64  merged_into:u32
 *             merge_spotlit:u8 merge_pin:u8 (where a merge took a duplicate off the stage)
 *             shown:u32
 *             (ids are 1..n in order)
 *   people    n:u32, each  pid:u64 role:u8 invite:u32 removed:u8 muted:u8 mod_preset:u8
 *             mod_reason:str|NULL nickname:str|NULL  used:u32 * JAM_MAX_PHASES
 *             n_voted:u32, each  item:u32 cast_in:u8 (bit 7: a merge collapsed it)
 *   ops       n:u32, each  pid:u64 op:str event_id:str item:u32 flags:u8 budget_left:u64
 *             (flags: bit 0 has_budget, bit 1 an invite's ack: item is the invite)
 *   modlog    n:u32, each  event_id:str type:u8 by at_ms item index seconds pid:u64 hide_posts:u8
 *             preset:u8 reason:str|NULL  chain:32 bytes  n_items:u32, each item:u32
 *             word:str|NULL label:str|NULL  n_words:u8, each word:str (the theme events)
 *   stage     spotlight:u32  n_pinned:u32, each item:u32  announcement:str|NULL
 *             announced_ms until_ms:u64
 *   themes    n:u32, each  word:str label:str|NULL into:str|NULL hidden:u8 (the moderators' rules)
 * Derived state (votes map, rankings, totals, visible count) is rebuilt on decode. An older
 * snapshot ("CJS1": ops without budget_left; "CJS2": no removals and no event chain; "CJS3":
 * either, from before both existed together; "CJS4": no mutes, reasons, spotlight, pins or
 * announcement, scribe entries; "CJS5": no pre-moderation, queue or claims; "CJS6": no merges,
 * no collapsed votes; "CJS7": no reveal mode; "CJS8": no per-jam public exports; "CJS9": no named
 * moderator invites, no stage kept for an unmerge, no showings and no order; "CJS10", "CJS11":
 * from before all three existed together; "CJS12": no theme rules) is refused, so its jam
 * is replayed from the whole stream, which has the budgets, the removals, the moderation and the
 * events to chain. */
#define SNAP_MAGIC "CJS13"
#define SNAP_MAGIC_LEN 5
#define SNAP_COLLAPSED 0x80u /* in a vote's cast_in byte */
#define SNAP_NULL 0xFFFFFFFFu
#define SNAP_OP_BUDGET 0x01u /* in an op's flags byte */
#define SNAP_OP_INVITE 0x02u

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

/* 'n' little-endian bytes of 'v'. */
static void put_uint(struct wbuf *w, uint64_t v, size_t n)
{
    unsigned char b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(w, b, n);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
    put_uint(w, v, 8);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
    put_uint(w, v, 4);
}

static void put_u8(struct wbuf *w, unsigned v)
{
    put_uint(w, v, 1);
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

/* 'n' little-endian bytes, or 0 past the end (then r->bad). */
static uint64_t get_uint(struct rbuf *r, size_t n)
{
    const unsigned char *b = take(r, n);
    uint64_t v = 0;
    for (size_t i = 0; b && i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint64_t get_u64(struct rbuf *r)
{
    return get_uint(r, 8);
}

static uint32_t get_u32(struct rbuf *r)
{
    return (uint32_t)get_uint(r, 4);
}

static unsigned get_u8(struct rbuf *r)
{
    return (unsigned)get_uint(r, 1);
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
    char *s = xmalloc(n + 1);
    memcpy(s, b, n);
    s[n] = '\0';
    return s;
}

/* ---- encoding ------------------------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_op(const void *a, const void *b)
{
    const struct room_op *x = *(const struct room_op *const *)a;
    const struct room_op *y = *(const struct room_op *const *)b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return strcmp(x->op, y->op);
}

static void encode_config(struct wbuf *w, const struct jam_config *c)
{
    put_str(w, c->code);
    put_str(w, c->title);
    put_str(w, c->question);
    put_u8(w, c->n_agenda);
    for (unsigned i = 0; i < c->n_agenda; i++) {
        put_u8(w, c->agenda[i].phase);
        put_u32(w, c->agenda[i].duration_s);
    }
    put_u8(w, c->settings.anonymous_allowed);
    put_u32(w, c->settings.votes_per_phase);
    put_u32(w, c->settings.min_text);
    put_u32(w, c->settings.max_text);
    put_u8(w, c->settings.premoderation);
    put_u8(w, c->settings.public_exports);
    put_str(w, c->secret_sha256);
}

static void encode_items(struct wbuf *w, const struct room *r)
{
    put_u32(w, (uint32_t)r->n_items);
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        put_u8(w, it->kind);
        put_u32(w, it->parent);
        put_u64(w, (uint64_t)it->author);
        put_u8(w, it->by);
        put_u32(w, (uint32_t)it->phase_index);
        put_u32(w, (uint32_t)it->votes);
        put_u8(w, it->hidden);
        put_str(w, it->text);
        put_u8(w, it->hide_preset);
        put_str(w, it->hide_reason);
        put_str(w, it->on_behalf);
        put_u64(w, (uint64_t)it->at_ms);
        put_u8(w, it->pending);
        put_u8(w, it->rejected);
        put_u64(w, (uint64_t)it->claim_by);
        put_u64(w, (uint64_t)it->claim_until);
        put_u32(w, it->merged_into);
        put_u8(w, it->merge_spotlit);
        put_u8(w, it->merge_pin);
        put_u32(w, it->shown);
    }
}

static void encode_participants(struct wbuf *w, const struct room *r, bool canonical)
{
    put_u32(w, (uint32_t)r->n_participants);
    uint32_t *sorted = NULL;
    for (size_t i = 0; i < r->n_participants; i++) {
        const struct participant *p = r->participants[i];
        put_u64(w, (uint64_t)p->pid);
        put_u8(w, p->role);
        put_u32(w, p->invite);
        put_u8(w, p->removed);
        put_u8(w, p->muted);
        put_u8(w, p->mod_preset);
        put_str(w, p->mod_reason);
        put_str(w, p->nickname);
        for (int k = 0; k < JAM_MAX_PHASES; k++)
            put_u32(w, p->used[k]);
        put_u32(w, (uint32_t)p->n_voted);
        sorted = xrealloc(sorted, (p->n_voted + 1) * sizeof *sorted);
        if (p->n_voted)
            memcpy(sorted, p->voted, p->n_voted * sizeof *sorted);
        if (canonical)
            qsort(sorted, p->n_voted, sizeof *sorted, cmp_u32);
        for (size_t v = 0; v < p->n_voted; v++) {
            int cast = 0;
            room_vote_index(r, p->pid, sorted[v], &cast);
            put_u32(w, sorted[v]);
            put_u8(w, (unsigned)cast |
                          (room_vote_collapsed(r, p->pid, sorted[v]) ? SNAP_COLLAPSED : 0));
        }
    }
    free(sorted);
}

static void encode_ops(struct wbuf *w, const struct room *r, bool canonical)
{
    size_t n = 0, cap = 1024;
    const struct room_op **ops = xmalloc(cap * sizeof *ops), *o;
    for (size_t pos = 0; (o = room_op_next(r, &pos)) != NULL;) {
        if (n == cap) {
            cap *= 2;
            ops = xrealloc(ops, cap * sizeof *ops);
        }
        ops[n++] = o;
    }
    if (canonical)
        qsort(ops, n, sizeof *ops, cmp_op);
    put_u32(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        put_u64(w, (uint64_t)ops[i]->pid);
        put_str(w, ops[i]->op);
        put_str(w, ops[i]->done.event_id);
        put_u32(w, ops[i]->done.item);
        put_u8(w, (ops[i]->done.has_budget ? SNAP_OP_BUDGET : 0u) |
                      (ops[i]->done.invite ? SNAP_OP_INVITE : 0u));
        put_u64(w, (uint64_t)ops[i]->done.budget_left);
    }
    free(ops);
}

static void encode_invites(struct wbuf *w, const struct room *r)
{
    put_u32(w, (uint32_t)r->n_invites);
    for (size_t i = 0; i < r->n_invites; i++) {
        const struct room_invite *inv = &r->invites[i];
        put_u32(w, inv->id);
        put_str(w, inv->name);
        put_u64(w, (uint64_t)inv->by);
        put_u64(w, (uint64_t)inv->at_ms);
        put_str(w, inv->secret_sha256);
        put_u8(w, inv->revoked);
    }
}

static void encode_modlog(struct wbuf *w, const struct room *r)
{
    put_u32(w, (uint32_t)r->n_modlog);
    for (size_t i = 0; i < r->n_modlog; i++) {
        const struct mod_entry *m = &r->modlog[i];
        put_str(w, m->event_id);
        put_u8(w, m->type);
        put_u64(w, (uint64_t)m->by);
        put_u64(w, (uint64_t)m->at_ms);
        put_u64(w, (uint64_t)m->item);
        put_u64(w, (uint64_t)m->index);
        put_u64(w, (uint64_t)m->seconds);
        put_u64(w, (uint64_t)m->pid);
        put_u8(w, m->hide_posts);
        put_u8(w, m->preset);
        put_str(w, m->reason);
        put(w, m->chain, ROOM_CHAIN_BYTES);
        put_u32(w, (uint32_t)m->n_items);
        for (size_t k = 0; k < m->n_items; k++)
            put_u32(w, m->items[k]);
        put_str(w, m->word);
        put_str(w, m->label);
        put_u8(w, (uint8_t)m->n_words);
        for (size_t k = 0; k < m->n_words; k++)
            put_str(w, m->words[k]);
    }
}

static void encode_themes(struct wbuf *w, const struct room *r)
{
    put_u32(w, (uint32_t)r->n_themes);
    for (size_t i = 0; i < r->n_themes; i++) {
        put_str(w, r->themes[i].word);
        put_str(w, r->themes[i].label);
        put_str(w, r->themes[i].into);
        put_u8(w, r->themes[i].hidden);
    }
}

void snapshot_encode(const struct room *r, bool canonical, unsigned char **out, size_t *len)
{
    struct wbuf w = {0};
    put(&w, SNAP_MAGIC, SNAP_MAGIC_LEN);
    encode_config(&w, &r->cfg);
    put_u8(&w, r->clock.state);
    put_u32(&w, (uint32_t)r->clock.index);
    put_u8(&w, r->clock.has_deadline);
    put_u64(&w, (uint64_t)r->clock.deadline_ms);
    put_u64(&w, (uint64_t)r->clock.remaining_ms);
    put_str(&w, r->last_id);
    put_u64(&w, r->n_events);
    put_u64(&w, (uint64_t)r->next_pid);
    put_u8(&w, r->reveal);
    put_u8(&w, r->order);
    put_str(&w, r->chain.id);
    put_u64(&w, r->chain.n);
    put(&w, r->chain.head, ROOM_CHAIN_BYTES);
    encode_invites(&w, r);
    encode_items(&w, r);
    encode_participants(&w, r, canonical);
    encode_ops(&w, r, canonical);
    encode_modlog(&w, r);
    put_u32(&w, r->stage.spotlight);
    put_u32(&w, (uint32_t)r->stage.n_pinned);
    for (size_t i = 0; i < r->stage.n_pinned; i++)
        put_u32(&w, r->stage.pinned[i]);
    put_str(&w, r->stage.announcement);
    put_u64(&w, (uint64_t)r->stage.announced_ms);
    put_u64(&w, (uint64_t)r->stage.until_ms);
    encode_themes(&w, r);
    *out = w.p;
    *len = w.len;
}

/* ---- decoding ------------------------------------------------------------------------------ */

/* Copy a decoded string into a fixed buffer; false if absent or too long. Frees 's'. */
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
    unsigned premoderation = get_u8(rb);
    c->settings.premoderation = premoderation == 1;
    unsigned public_exports = get_u8(rb);
    c->settings.public_exports = public_exports == 1;
    if (premoderation > 1 || public_exports > 1)
        return false;
    return copy_fixed(c->secret_sha256, sizeof c->secret_sha256, get_str(rb, &null)) && !rb->bad;
}

static bool decode_head(struct rbuf *rb, struct room *r)
{
    bool null;
    struct clock c;
    c.state = (enum clock_state)get_u8(rb);
    c.index = (int)get_u32(rb);
    c.has_deadline = get_u8(rb) != 0;
    c.deadline_ms = (int64_t)get_u64(rb);
    c.remaining_ms = (int64_t)get_u64(rb);
    char *last_id = get_str(rb, &null);
    uint64_t n_events = get_u64(rb);
    int64_t next_pid = (int64_t)get_u64(rb);
    unsigned reveal = get_u8(rb), order = get_u8(rb);
    bool ok = last_id && !rb->bad && room_restore_head(r, &c, last_id, n_events, next_pid) &&
              room_restore_reveal(r, (enum reveal)reveal) &&
              room_restore_order(r, (enum order)order);
    free(last_id);
    if (!ok)
        return false;
    struct room_chain chain;
    ok = copy_fixed(chain.id, sizeof chain.id, get_str(rb, &null));
    chain.n = get_u64(rb);
    const unsigned char *head = take(rb, ROOM_CHAIN_BYTES);
    if (head)
        memcpy(chain.head, head, ROOM_CHAIN_BYTES);
    return ok && head && !rb->bad && room_restore_chain(r, &chain);
}

static bool decode_item(struct rbuf *rb, struct room *r)
{
    bool null;
    struct item it = {.id = (uint32_t)r->n_items + 1};
    it.kind = (enum kind)get_u8(rb);
    it.parent = get_u32(rb);
    it.author = (int64_t)get_u64(rb);
    it.by = (enum role)get_u8(rb);
    it.phase_index = (int)get_u32(rb);
    it.votes = (int32_t)get_u32(rb);
    it.hidden = get_u8(rb) != 0;
    it.text = get_str(rb, &null);
    it.hide_preset = (enum preset)get_u8(rb);
    it.hide_reason = get_str(rb, &null);
    it.on_behalf = get_str(rb, &null);
    it.at_ms = (int64_t)get_u64(rb);
    unsigned pending = get_u8(rb), rejected = get_u8(rb);
    it.pending = pending == 1;
    it.rejected = rejected == 1;
    it.claim_by = (int64_t)get_u64(rb);
    it.claim_until = (int64_t)get_u64(rb);
    it.merged_into = get_u32(rb);
    unsigned spotlit = get_u8(rb);
    it.merge_spotlit = spotlit == 1;
    it.merge_pin = (uint8_t)get_u8(rb);
    it.shown = get_u32(rb);
    bool ok = !rb->bad && pending <= 1 && rejected <= 1 && spotlit <= 1 &&
              room_restore_item(r, &it);
    free(it.text);
    free(it.hide_reason);
    free(it.on_behalf);
    return ok;
}

static bool decode_participant(struct rbuf *rb, struct room *r)
{
    bool null;
    int64_t pid = (int64_t)get_u64(rb);
    enum role role = (enum role)get_u8(rb);
    uint32_t invite = get_u32(rb);
    unsigned removed = get_u8(rb);
    unsigned muted = get_u8(rb);
    enum preset preset = (enum preset)get_u8(rb);
    char *reason = get_str(rb, &null);
    char *nickname = get_str(rb, &null);
    uint32_t used[JAM_MAX_PHASES];
    for (int k = 0; k < JAM_MAX_PHASES; k++)
        used[k] = get_u32(rb);
    struct participant *p = NULL;
    if (!rb->bad && (null || nickname))
        p = room_restore_participant(r, pid, role, nickname, used);
    free(nickname);
    bool ok = p && removed <= 1 && muted <= 1 &&
              room_restore_sanction(r, p, removed != 0, muted != 0, preset, reason) &&
              room_restore_joined_with(r, p, invite);
    free(reason);
    uint32_t nv = get_u32(rb);
    if (!ok || nv > r->n_items)
        return false;
    for (uint32_t v = 0; v < nv; v++) {
        uint32_t item = get_u32(rb);
        unsigned cast = get_u8(rb);
        if (cast & SNAP_COLLAPSED)
            cast = (cast & ~SNAP_COLLAPSED) | ROOM_VOTE_COLLAPSED;
        if (rb->bad || !room_restore_vote(r, p, item, (int)cast))
            return false;
    }
    return true;
}

static bool decode_op(struct rbuf *rb, struct room *r)
{
    bool null;
    struct op_done done;
    int64_t pid = (int64_t)get_u64(rb);
    char *op = get_str(rb, &null);
    bool ok = copy_fixed(done.event_id, sizeof done.event_id, get_str(rb, &null));
    done.item = get_u32(rb);
    unsigned flags = get_u8(rb);
    done.has_budget = (flags & SNAP_OP_BUDGET) != 0;
    done.invite = (flags & SNAP_OP_INVITE) != 0;
    done.budget_left = (int64_t)get_u64(rb);
    ok = ok && op && flags <= (SNAP_OP_BUDGET | SNAP_OP_INVITE) && !rb->bad &&
         room_restore_op(r, pid, op, &done);
    free(op);
    return ok;
}

static bool decode_invite(struct rbuf *rb, struct room *r)
{
    bool null;
    struct room_invite inv = {.id = get_u32(rb)};
    inv.name = get_str(rb, &null);
    inv.by = (int64_t)get_u64(rb);
    inv.at_ms = (int64_t)get_u64(rb);
    bool ok = copy_fixed(inv.secret_sha256, sizeof inv.secret_sha256, get_str(rb, &null));
    unsigned revoked = get_u8(rb);
    inv.revoked = revoked == 1;
    ok = ok && revoked <= 1 && !rb->bad && room_restore_invite(r, &inv);
    free(inv.name);
    return ok;
}

static bool decode_moderation(struct rbuf *rb, struct room *r)
{
    bool null;
    struct mod_entry m;
    bool ok = copy_fixed(m.event_id, sizeof m.event_id, get_str(rb, &null));
    m.type = (enum event_type)get_u8(rb);
    m.by = (int64_t)get_u64(rb);
    m.at_ms = (int64_t)get_u64(rb);
    m.item = (int64_t)get_u64(rb);
    m.index = (int64_t)get_u64(rb);
    m.seconds = (int64_t)get_u64(rb);
    m.pid = (int64_t)get_u64(rb);
    unsigned hide_posts = get_u8(rb);
    m.hide_posts = hide_posts != 0;
    m.preset = (enum preset)get_u8(rb);
    m.reason = get_str(rb, &null);
    const unsigned char *chain = take(rb, ROOM_CHAIN_BYTES);
    if (chain)
        memcpy(m.chain, chain, ROOM_CHAIN_BYTES);
    m.n_items = get_u32(rb);
    m.items = NULL;
    if (!rb->bad && m.n_items <= MSG_ITEMS_MAX && m.n_items) {
        m.items = xmalloc(m.n_items * sizeof *m.items);
        for (size_t k = 0; k < m.n_items; k++)
            m.items[k] = get_u32(rb);
    }
    m.word = get_str(rb, &null);
    m.label = get_str(rb, &null);
    m.n_words = get_u8(rb);
    bool words_ok = m.n_words <= MSG_THEME_WORDS_MAX;
    for (size_t k = 0; k < m.n_words && words_ok; k++)
        m.words[k] = get_str(rb, &null);
    ok = ok && words_ok && m.n_items <= MSG_ITEMS_MAX && hide_posts <= 1 &&
         m.preset < PRESET__COUNT && chain && !rb->bad && room_restore_moderation(r, &m);
    free(m.reason);
    free(m.items);
    free(m.word);
    free(m.label);
    for (size_t k = 0; words_ok && k < m.n_words; k++)
        free(m.words[k]);
    return ok;
}

static bool decode_theme(struct rbuf *rb, struct room *r)
{
    bool null;
    struct room_theme t = {.word = get_str(rb, &null)};
    t.label = get_str(rb, &null);
    t.into = get_str(rb, &null);
    unsigned hidden = get_u8(rb);
    t.hidden = hidden == 1;
    bool ok = !rb->bad && hidden <= 1 && room_restore_theme(r, &t);
    free(t.word);
    free(t.label);
    free(t.into);
    return ok;
}

static bool decode_stage(struct rbuf *rb, struct room *r)
{
    bool null;
    struct room_stage st = {.spotlight = get_u32(rb), .n_pinned = get_u32(rb)};
    if (rb->bad || st.n_pinned > ROOM_MAX_PINS)
        return false;
    for (size_t i = 0; i < st.n_pinned; i++)
        st.pinned[i] = get_u32(rb);
    st.announcement = get_str(rb, &null);
    st.announced_ms = (int64_t)get_u64(rb);
    st.until_ms = (int64_t)get_u64(rb);
    bool ok = !rb->bad && (null || st.announcement) && room_restore_stage(r, &st);
    free(st.announcement);
    return ok;
}

/* A count, then that many records. The count is bounded by the bytes of the whole snapshot over
 * 'min_bytes' (no record is shorter), so a bogus count cannot make us loop or allocate much. */
static bool decode_list(struct rbuf *rb, struct room *r, size_t min_bytes,
                        bool (*decode_one)(struct rbuf *, struct room *))
{
    uint32_t n = get_u32(rb);
    if (n > rb->len / min_bytes)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (rb->bad || !decode_one(rb, r))
            return false;
    return !rb->bad;
}

struct room *snapshot_decode(const unsigned char *buf, size_t len, const struct room_limits *limits)
{
    struct rbuf rb = {buf, len, 0, false};
    const unsigned char *magic = take(&rb, SNAP_MAGIC_LEN);
    struct jam_config cfg;
    if (!magic || memcmp(magic, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0)
        return NULL;
    if (!decode_config(&rb, &cfg)) {
        jam_config_clear(&cfg);
        return NULL;
    }
    struct room *r = room_new(&cfg, limits);
    jam_config_clear(&cfg);
    bool ok = decode_head(&rb, r) && decode_list(&rb, r, 30, decode_invite) &&
              decode_list(&rb, r, 16, decode_item) && room_restore_merges(r) &&
              decode_list(&rb, r, 30, decode_participant) && decode_list(&rb, r, 20, decode_op) &&
              decode_list(&rb, r, 86, decode_moderation) && decode_stage(&rb, r) &&
              decode_list(&rb, r, 16, decode_theme) && rb.pos == rb.len;
    if (!ok) {
        room_free(r);
        return NULL;
    }
    room_restore_done(r);
    return r;
}
