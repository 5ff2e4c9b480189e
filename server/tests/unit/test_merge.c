/* SPDX-License-Identifier: MIT
 * test_merge.c - merging duplicates (proto/messages.md, "Merging duplicates"): the target counts
 * each voter of its group once (its votes by phase too), budgets are refunded for the votes that
 * collapsed in the phase they were spent, duplicates refuse votes, the refusals of merge and
 * unmerge, and the property: over seeded random vote histories, merge then unmerge gives back the
 * state before (its canonical digest), replay of a stream with merges gives the same snapshot
 * bytes, the snapshot keeps merges and collapsed votes, and the votes by phase agree with the
 * counts and budgets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "codec.h"
#include "room.h"
#include "snapshot.h"
#include "test.h"

#include "room_kit.h"

static struct msg mk(enum msg_type t, const char *op)
{
    struct msg m = {.type = t};
    snprintf(m.op, sizeof m.op, "%s", op);
    return m;
}

static unsigned op_seq;

static const char *vote(struct room *r, int64_t pid, enum msg_type t, uint32_t item)
{
    struct msg m = mk(t, "");
    snprintf(m.op, sizeof m.op, "v%u", ++op_seq);
    m.item = item;
    return write_msg(r, pid, ROLE_CITIZEN, &m, 5000, NULL);
}

static const char *merge(struct room *r, int64_t mod, uint32_t *items, size_t n, uint32_t into)
{
    struct msg m = mk(MSG_MERGE, "");
    snprintf(m.op, sizeof m.op, "m%u", ++op_seq);
    m.items = items;
    m.n_items = n;
    m.item = into;
    m.reason = "the same";
    return write_msg(r, mod, ROLE_MODERATOR, &m, 5000, NULL);
}

static const char *unmerge(struct room *r, int64_t mod, uint32_t item)
{
    struct msg m = mk(MSG_UNMERGE, "");
    snprintf(m.op, sizeof m.op, "u%u", ++op_seq);
    m.item = item;
    return write_msg(r, mod, ROLE_MODERATOR, &m, 5000, NULL);
}

static uint32_t post(struct room *r, int64_t pid, enum role role, enum kind k, uint32_t parent)
{
    struct msg m = mk(MSG_POST, "");
    snprintf(m.op, sizeof m.op, "p%u", ++op_seq);
    m.kind = k;
    m.text = "Shade at the bus stops";
    m.parent = parent;
    struct room_result res = {0};
    CHECK(write_msg(r, pid, role, &m, 5000, &res) == NULL);
    return res.item;
}

static void set_phase(struct room *r, int64_t mod, enum phase ph)
{
    struct msg m = mk(MSG_SET_PHASE, "");
    snprintf(m.op, sizeof m.op, "ph%u", ++op_seq);
    m.phase = ph;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 5000, NULL) == NULL);
}

static const char *ok(const char *err)
{
    return err ? err : "ok";
}

TEST(merge_counts_each_voter_once_and_refunds_the_collapsed_votes)
{
    struct room *r = new_room(3);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A"),
            b = join(r, ROLE_CITIZEN, "B"), c = join(r, ROLE_CITIZEN, "C");
    struct msg s = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 1000, NULL) == NULL);
    uint32_t i1 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             i2 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             i3 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0);
    CHECK_EQ_STR(ok(vote(r, a, MSG_VOTE, i1)), "ok");
    CHECK_EQ_STR(ok(vote(r, a, MSG_VOTE, i2)), "ok");
    CHECK_EQ_STR(ok(vote(r, b, MSG_VOTE, i2)), "ok");
    CHECK_EQ_STR(ok(vote(r, c, MSG_VOTE, i3)), "ok");
    CHECK_EQ_INT(r->total_votes, 4);
    uint32_t dups[] = {i2, i3};
    CHECK_EQ_STR(ok(merge(r, mod, dups, 2, i1)), "ok");
    CHECK_EQ_INT(room_item(r, i1)->votes, 3); /* A, B and C: A once */
    CHECK_EQ_INT(room_item(r, i2)->merged_into, i1);
    CHECK_EQ_INT(room_item(r, i3)->merged_into, i1);
    CHECK_EQ_INT(r->total_votes, 3);
    CHECK_EQ_INT(r->n_visible, 1);
    CHECK_EQ_INT(room_budget_left(r, room_participant(r, a)), 2); /* one point back */
    CHECK_EQ_INT(room_budget_left(r, room_participant(r, b)), 2);
    CHECK(room_vote_collapsed(r, a, i2) && !room_vote_collapsed(r, a, i1));
    uint32_t top[4];
    CHECK_EQ_INT(room_top(r, KIND_PROBLEM, 4, top), 1);
    CHECK_EQ_INT(top[0], i1);
    CHECK_EQ_INT(r->modlog[r->n_modlog - 1].type, EV_MERGED);
    CHECK_EQ_STR(r->modlog[r->n_modlog - 1].reason, "the same");

    /* Duplicates take no votes; the target takes one per participant. */
    CHECK_EQ_STR(ok(vote(r, c, MSG_VOTE, i2)), "item_merged");
    CHECK_EQ_STR(ok(vote(r, a, MSG_UNVOTE, i2)), "item_merged");
    CHECK_EQ_STR(ok(vote(r, b, MSG_VOTE, i1)), "already_voted"); /* B's vote for 2 counts */
    /* B retracts through the target: its vote for 2 goes, and its point comes back. */
    CHECK_EQ_STR(ok(vote(r, b, MSG_UNVOTE, i1)), "ok");
    CHECK_EQ_INT(room_item(r, i1)->votes, 2);
    CHECK_EQ_INT(room_item(r, i2)->votes, 1);
    CHECK_EQ_INT(room_budget_left(r, room_participant(r, b)), 3);
    CHECK_EQ_STR(ok(vote(r, b, MSG_UNVOTE, i1)), "not_voted");
    CHECK_EQ_STR(ok(vote(r, b, MSG_VOTE, i1)), "ok"); /* now on the target itself */
    CHECK_EQ_INT(room_item(r, i1)->votes, 3);

    /* Unmerging the target undoes the whole group; B's vote cast meanwhile stays on 1. */
    CHECK_EQ_STR(ok(unmerge(r, mod, i1)), "ok");
    CHECK_EQ_INT(room_item(r, i1)->votes, 2);
    CHECK_EQ_INT(room_item(r, i2)->votes, 1);
    CHECK_EQ_INT(room_item(r, i3)->votes, 1);
    CHECK(!room_item(r, i2)->merged_into && !room_item(r, i1)->n_merged);
    CHECK_EQ_INT(r->total_votes, 4);
    CHECK_EQ_INT(r->n_visible, 3);
    CHECK_EQ_INT(room_budget_left(r, room_participant(r, a)), 1);
    CHECK(!room_vote_collapsed(r, a, i2));
    CHECK_EQ_STR(ok(unmerge(r, mod, i1)), "not_merged");
    room_free(r);
}

TEST(refunds_go_to_the_phase_the_vote_was_spent_in)
{
    struct room *r = new_room(2);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg s = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 1000, NULL) == NULL);
    set_phase(r, mod, PHASE_IDEATE);
    uint32_t x = post(r, mod, ROLE_MODERATOR, KIND_IDEA, 0),
             y = post(r, mod, ROLE_MODERATOR, KIND_IDEA, 0);
    CHECK_EQ_STR(ok(vote(r, a, MSG_VOTE, y)), "ok"); /* spent in ideate (index 1) */
    set_phase(r, mod, PHASE_DESIGN);
    CHECK_EQ_STR(ok(vote(r, a, MSG_VOTE, x)), "ok"); /* spent in design (index 2) */
    struct participant *p = room_participant(r, a);
    CHECK(p->used[1] == 1 && p->used[2] == 1);
    uint32_t dups[] = {y};
    CHECK_EQ_STR(ok(merge(r, mod, dups, 1, x)), "ok");
    /* The vote on the target counts; the one on y collapsed: ideate's point comes back. */
    CHECK(p->used[1] == 0 && p->used[2] == 1);
    CHECK_EQ_INT(room_item(r, x)->votes, 1);
    CHECK_EQ_STR(ok(unmerge(r, mod, y)), "ok"); /* a duplicate: it alone leaves */
    CHECK(p->used[1] == 1 && p->used[2] == 1);
    CHECK_EQ_INT(room_item(r, y)->votes, 1);
    room_free(r);
}

/* The target's votes by phase (results, exports, CSV) count each voter of its group once, in the
 * phase its counted vote was cast, as its total does; a duplicate's, the votes cast on it. */
TEST(a_targets_votes_by_phase_count_its_groups_voters)
{
    struct room *r = new_room(2);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A"),
            b = join(r, ROLE_CITIZEN, "B");
    struct msg s = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 1000, NULL) == NULL);
    set_phase(r, mod, PHASE_IDEATE);
    uint32_t x = post(r, mod, ROLE_MODERATOR, KIND_IDEA, 0),
             y = post(r, mod, ROLE_MODERATOR, KIND_IDEA, 0);
    CHECK_EQ_STR(ok(vote(r, a, MSG_VOTE, y)), "ok"); /* ideate (index 1), collapses at the merge */
    CHECK_EQ_STR(ok(vote(r, b, MSG_VOTE, y)), "ok"); /* ideate, B's one vote in the group */
    set_phase(r, mod, PHASE_DESIGN);
    CHECK_EQ_STR(ok(vote(r, a, MSG_VOTE, x)), "ok"); /* design (index 2), A's counted one */
    uint32_t dups[] = {y};
    CHECK_EQ_STR(ok(merge(r, mod, dups, 1, x)), "ok");
    size_t n = r->cfg.n_agenda;
    uint32_t *by = xcalloc(r->n_items * n, sizeof *by);
    room_votes_by_phase(r, by);
    CHECK_EQ_INT(room_item(r, x)->votes, 2);
    CHECK(by[(x - 1) * n + 1] == 1 && by[(x - 1) * n + 2] == 1); /* B in ideate, A in design */
    CHECK(by[(y - 1) * n + 1] == 2 && by[(y - 1) * n + 2] == 0); /* cast on y: both in ideate */
    CHECK_EQ_STR(ok(unmerge(r, mod, x)), "ok");
    memset(by, 0, r->n_items * n * sizeof *by);
    room_votes_by_phase(r, by);
    CHECK(by[(x - 1) * n + 1] == 0 && by[(x - 1) * n + 2] == 1); /* its own vote again */
    free(by);
    room_free(r);
}

TEST(merge_and_unmerge_refusals)
{
    struct room *r = new_room_with(0, true);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg s = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 1000, NULL) == NULL);
    uint32_t p1 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             p2 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             p3 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             p4 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             pending = post(r, a, ROLE_CITIZEN, KIND_PROBLEM, 0);
    CHECK(room_item(r, pending)->pending);
    struct msg h = mk(MSG_HIDE, "h");
    h.item = p4;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &h, 1000, NULL) == NULL);
    uint32_t one[1];
    one[0] = p2;
    struct msg cm = mk(MSG_MERGE, "cm");
    cm.items = one;
    cm.n_items = 1;
    cm.item = p1;
    CHECK_EQ_STR(ok(write_msg(r, a, ROLE_CITIZEN, &cm, 1000, NULL)), "forbidden");
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, 99)), "no_such_item");
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p4)), "item_hidden");
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, pending)), "item_pending");
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p2)), "bad_value"); /* into itself */
    one[0] = p4;
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p1)), "item_hidden");
    one[0] = pending;
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p1)), "item_pending");
    one[0] = p2;
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p1)), "ok");
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p3)), "item_merged"); /* already merged */
    one[0] = p3;
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p2)), "item_merged"); /* into a duplicate */
    one[0] = p1;
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p3)), "has_duplicates"); /* a target */
    one[0] = p3;
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p1)), "ok"); /* a second merge into the same target */
    CHECK_EQ_INT(room_item(r, p1)->n_merged, 2);
    CHECK_EQ_STR(ok(unmerge(r, mod, p4)), "not_merged");
    CHECK_EQ_STR(ok(unmerge(r, mod, 99)), "no_such_item");
    /* A duplicate is not hidden, spotlighted, pinned or built upon. */
    struct msg hd = mk(MSG_HIDE, "hd");
    hd.item = p2;
    CHECK_EQ_STR(ok(write_msg(r, mod, ROLE_MODERATOR, &hd, 1000, NULL)), "item_merged");
    struct msg sp = mk(MSG_SPOTLIGHT, "sp");
    sp.item = p2;
    CHECK_EQ_STR(ok(write_msg(r, mod, ROLE_MODERATOR, &sp, 1000, NULL)), "item_merged");
    struct msg pin = mk(MSG_PIN, "pin");
    pin.item = p3;
    CHECK_EQ_STR(ok(write_msg(r, mod, ROLE_MODERATOR, &pin, 1000, NULL)), "item_merged");
    set_phase(r, mod, PHASE_IDEATE);
    struct msg idea = mk(MSG_POST, "idea");
    idea.kind = KIND_IDEA;
    idea.text = "Trees";
    idea.parent = p2;
    CHECK_EQ_STR(ok(write_msg(r, mod, ROLE_MODERATOR, &idea, 1000, NULL)), "bad_parent");
    /* Different kinds never merge. */
    uint32_t i1 = post(r, mod, ROLE_MODERATOR, KIND_IDEA, 0);
    one[0] = i1;
    CHECK_EQ_STR(ok(merge(r, mod, one, 1, p1)), "merge_kind");
    room_free(r);
}

static const char *stage_op(struct room *r, int64_t mod, enum msg_type t, uint32_t item)
{
    struct msg m = mk(t, "");
    snprintf(m.op, sizeof m.op, "st%u", ++op_seq);
    m.item = item;
    return write_msg(r, mod, ROLE_MODERATOR, &m, 5000, NULL);
}

/* What a merge does to the stage (proto/messages.md, "Merging duplicates"): a duplicate leaves the
 * spotlight and the pins (the spotlight is left empty, not moved to the target; the other pins
 * keep their order; the target keeps its place), and its unmerge puts it back where it was unless
 * that was taken since: the spotlight only if still empty, its pin at its old place if there is
 * room. Kept through a snapshot, so a process restarted between the two restores it the same. */
TEST(a_merge_takes_duplicates_off_the_stage_and_unmerge_puts_them_back)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo");
    struct msg s = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 1000, NULL) == NULL);
    uint32_t p1 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             p2 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             p3 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             p4 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0),
             p5 = post(r, mod, ROLE_MODERATOR, KIND_PROBLEM, 0);
    CHECK_EQ_STR(ok(stage_op(r, mod, MSG_SPOTLIGHT, p2)), "ok");
    CHECK_EQ_STR(ok(stage_op(r, mod, MSG_PIN, p4)), "ok");
    CHECK_EQ_STR(ok(stage_op(r, mod, MSG_PIN, p3)), "ok");
    CHECK_EQ_STR(ok(stage_op(r, mod, MSG_PIN, p1)), "ok");
    uint32_t dups[] = {p2, p3};
    CHECK_EQ_STR(ok(merge(r, mod, dups, 2, p1)), "ok");
    CHECK_EQ_INT(r->stage.spotlight, 0); /* cleared, not moved to the target */
    CHECK_EQ_INT(r->stage.n_pinned, 2);
    CHECK(r->stage.pinned[0] == p4 && r->stage.pinned[1] == p1);

    /* Through a snapshot: the restored room puts them back the same. */
    unsigned char *bytes;
    size_t len;
    snapshot_encode(r, true, &bytes, &len);
    struct room *back = snapshot_decode(bytes, len, &r->limits);
    free(bytes);
    CHECK(back != NULL);
    if (back) {
        CHECK_EQ_STR(ok(unmerge(back, mod, p1)), "ok");
        CHECK_EQ_INT(back->stage.spotlight, p2);
        CHECK_EQ_INT(back->stage.n_pinned, 3);
        CHECK(back->stage.pinned[0] == p4 && back->stage.pinned[1] == p3 &&
              back->stage.pinned[2] == p1);
        room_free(back);
    }

    /* Taken since: a newer spotlight stays; the pin goes back if there is room. */
    CHECK_EQ_STR(ok(stage_op(r, mod, MSG_SPOTLIGHT, p5)), "ok");
    CHECK_EQ_STR(ok(unmerge(r, mod, p2)), "ok"); /* the duplicate alone */
    CHECK_EQ_INT(r->stage.spotlight, p5);
    CHECK_EQ_INT(r->stage.n_pinned, 2);
    CHECK_EQ_STR(ok(unmerge(r, mod, p3)), "ok");
    CHECK_EQ_INT(r->stage.n_pinned, 3);
    CHECK(r->stage.pinned[0] == p4 && r->stage.pinned[1] == p3 && r->stage.pinned[2] == p1);
    /* A second merge and unmerge of p2 does not bring back what the first one had. */
    uint32_t again[] = {p2};
    CHECK_EQ_STR(ok(merge(r, mod, again, 1, p1)), "ok");
    CHECK_EQ_STR(ok(unmerge(r, mod, p2)), "ok");
    CHECK_EQ_INT(r->stage.spotlight, p5);
    room_free(r);
}

/* ---- the property ------------------------------------------------------------------------ */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng_state >> 33) % n);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The canonical digest of what a merge may change: every item's count, visibility and group,
 * each kind's whole ranking, every participant's budget use per phase and its votes (with the
 * phase and the collapsed mark), the totals. */
static void outcome_digest(const struct room *r, char hex[65])
{
    char *buf = xmalloc(1 << 16);
    size_t n = 0, cap = 1 << 16;
#define OUT(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        OUT("i%u:%d:%d:%u:%u;", it->id, it->votes, it->hidden, it->merged_into, it->n_merged);
    }
    uint32_t ids[64];
    for (int k = 0; k < KIND__COUNT; k++) {
        size_t got = room_top(r, (enum kind)k, 64, ids);
        OUT("k%d:", k);
        for (size_t i = 0; i < got; i++)
            OUT("%u,", ids[i]);
    }
    for (size_t i = 0; i < r->n_participants; i++) {
        const struct participant *p = r->participants[i];
        OUT("p%lld:", (long long)p->pid);
        for (int k = 0; k < JAM_MAX_PHASES; k++)
            OUT("%u,", p->used[k]);
        uint32_t v[64];
        size_t nv = p->n_voted < 64 ? p->n_voted : 64;
        if (nv)
            memcpy(v, p->voted, nv * sizeof *v); /* p->voted is NULL before the first vote */
        qsort(v, nv, sizeof *v, cmp_u32);
        for (size_t j = 0; j < nv; j++) {
            int idx = -1;
            room_vote_index(r, p->pid, v[j], &idx);
            OUT("%u@%d%s,", v[j], idx, room_vote_collapsed(r, p->pid, v[j]) ? "c" : "");
        }
        OUT("b%lld;", (long long)room_budget_left(r, p));
    }
    OUT("t%lld:v%u", (long long)r->total_votes, r->n_visible);
#undef OUT
    CHECK(n < cap);
    auth_sha256_hex(buf, n < cap ? n : cap, hex);
    free(buf);
}

/* The invariants of the vote state, from the votes alone: each participant's budget use in a
 * phase is its counted (not collapsed) votes cast in it; an item's count is the votes cast on it,
 * a target's the distinct voters of its group; the total is the sum of the counts that count.
 * The counts by phase (results, exports) agree: each item's row sums to its count, and in each
 * phase the rows of the items that count (not duplicates) sum to the budget points used in it,
 * so a target's row has each voter of its group once, in the phase its counted vote was cast. */
static void check_invariants(const struct room *r)
{
    size_t n_agenda = r->cfg.n_agenda;
    uint32_t *by_phase = xcalloc(r->n_items * n_agenda + 1, sizeof *by_phase);
    uint32_t counted[JAM_MAX_PHASES] = {0}, spent[JAM_MAX_PHASES] = {0};
    room_votes_by_phase(r, by_phase);
    for (size_t i = 0; i < r->n_items; i++) {
        int64_t sum = 0;
        for (size_t k = 0; k < n_agenda; k++) {
            sum += by_phase[i * n_agenda + k];
            if (!r->items[i]->merged_into)
                counted[k] += by_phase[i * n_agenda + k];
        }
        CHECK_EQ_INT(sum, r->items[i]->votes);
    }
    for (size_t k = 0; k < r->n_participants; k++)
        for (size_t j = 0; j < n_agenda; j++)
            spent[j] += r->participants[k]->used[j];
    CHECK(memcmp(counted, spent, sizeof counted) == 0);
    free(by_phase);

    int64_t total = 0;
    for (size_t i = 0; i < r->n_items; i++) {
        const struct item *it = r->items[i];
        int32_t want = 0;
        for (size_t k = 0; k < r->n_participants; k++) {
            const struct participant *p = r->participants[k];
            bool in = false;
            for (size_t v = 0; v < p->n_voted; v++) {
                const struct item *x = room_item(r, p->voted[v]);
                in = in || x == it || (it->n_merged && x->merged_into == it->id);
            }
            want += in;
        }
        CHECK_EQ_INT(it->votes, want);
        if (!it->merged_into)
            total += it->votes;
    }
    CHECK_EQ_INT(r->total_votes, total);
    for (size_t k = 0; k < r->n_participants; k++) {
        const struct participant *p = r->participants[k];
        uint32_t used[JAM_MAX_PHASES] = {0};
        for (size_t v = 0; v < p->n_voted; v++) {
            int idx;
            CHECK(room_vote_index(r, p->pid, p->voted[v], &idx));
            if (!room_vote_collapsed(r, p->pid, p->voted[v]))
                used[idx]++;
        }
        CHECK(memcmp(used, p->used, sizeof used) == 0);
    }
}

/* The stream, as stored: ids and the events' canonical encodings. */
struct tape {
    char id[512][24];
    char *json[512];
    size_t n;
};

static const char *taped(struct room *r, struct tape *t, int64_t pid, enum role role, struct msg *m)
{
    struct event e;
    const char *err = room_check(r, pid, role, m, &e);
    if (err)
        return err;
    e.at_ms = 5000 + (int64_t)t->n;
    CHECK(t->n < 512);
    snprintf(t->id[t->n], sizeof t->id[0], "%llu-0", ++seq);
    t->json[t->n] = codec_event_encode(&e);
    err = room_apply(r, t->id[t->n], &e, NULL);
    t->n++;
    event_clear(&e);
    return err;
}

static int64_t taped_join(struct room *r, struct tape *t, enum role role)
{
    struct msg m = {.type = MSG_JOIN, .as = role, .nickname = role == ROLE_MODERATOR ? "Mo" : NULL};
    struct event e;
    CHECK(room_check_join(r, &m, &e) == NULL);
    e.at_ms = 4000;
    snprintf(t->id[t->n], sizeof t->id[0], "%llu-0", ++seq);
    t->json[t->n] = codec_event_encode(&e);
    CHECK(room_apply(r, t->id[t->n], &e, NULL) == NULL);
    t->n++;
    int64_t pid = e.pid;
    event_clear(&e);
    return pid;
}

static const char *taped_unmerge(struct room *r, struct tape *t, int64_t mod, uint32_t item)
{
    struct msg m = mk(MSG_UNMERGE, "");
    snprintf(m.op, sizeof m.op, "um%u", ++op_seq);
    m.item = item;
    return taped(r, t, mod, ROLE_MODERATOR, &m);
}

static bool any_collapsed(const struct room *r)
{
    for (size_t k = 0; k < r->n_participants; k++)
        for (size_t v = 0; v < r->participants[k]->n_voted; v++)
            if (room_vote_collapsed(r, r->participants[k]->pid, r->participants[k]->voted[v]))
                return true;
    return false;
}

static void random_votes(struct room *r, struct tape *t, const int64_t *cit, size_t n_cit,
                         size_t rounds)
{
    for (size_t i = 0; i < rounds; i++) {
        struct msg m = mk(rnd(3) ? MSG_VOTE : MSG_UNVOTE, "");
        snprintf(m.op, sizeof m.op, "rv%u", ++op_seq);
        m.item = 1 + rnd((uint32_t)r->n_items);
        taped(r, t, cit[rnd((uint32_t)n_cit)], ROLE_CITIZEN, &m);
    }
}

static void snapshot_bytes(const struct room *r, unsigned char **out, size_t *len)
{
    snapshot_encode(r, true, out, len);
}

TEST(merge_then_unmerge_is_the_identity_over_random_histories)
{
    unsigned cases = 0, collapsed_cases = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        rng_state = seed;
        struct room *r = new_room(rnd(4)); /* 0 = unlimited */
        struct tape t = {.n = 0};
        int64_t mod = taped_join(r, &t, ROLE_MODERATOR), cit[6];
        for (size_t i = 0; i < 6; i++)
            cit[i] = taped_join(r, &t, ROLE_CITIZEN);
        struct msg m = mk(MSG_START, "s");
        taped(r, &t, mod, ROLE_MODERATOR, &m);
        m = mk(MSG_SET_PHASE, "ph1");
        m.phase = PHASE_IDEATE;
        taped(r, &t, mod, ROLE_MODERATOR, &m);
        for (int i = 0; i < 7; i++) {
            m = mk(MSG_POST, "");
            snprintf(m.op, sizeof m.op, "pi%d", i);
            m.kind = KIND_IDEA;
            m.text = "An idea";
            CHECK(taped(r, &t, cit[rnd(6)], ROLE_CITIZEN, &m) == NULL);
        }
        random_votes(r, &t, cit, 6, 30);
        m = mk(MSG_SET_PHASE, "ph2");
        m.phase = PHASE_DESIGN;
        taped(r, &t, mod, ROLE_MODERATOR, &m);
        random_votes(r, &t, cit, 6, 30);
        check_invariants(r);

        /* A random target and a random set of other items. */
        uint32_t target = 1 + rnd(7), dups[6];
        size_t n_dups = 0;
        for (uint32_t id = 1; id <= 7; id++)
            if (id != target && rnd(2))
                dups[n_dups++] = id;
        if (!n_dups)
            dups[n_dups++] = target == 7 ? 1 : target + 1;
        char before[65], after[65], merged[65];
        outcome_digest(r, before);
        m = mk(MSG_MERGE, "");
        snprintf(m.op, sizeof m.op, "mg%u", ++op_seq);
        m.items = dups;
        m.n_items = n_dups;
        m.item = target;
        CHECK_EQ_STR(ok(taped(r, &t, mod, ROLE_MODERATOR, &m)), "ok");
        check_invariants(r);
        outcome_digest(r, merged);
        collapsed_cases += any_collapsed(r);

        /* The snapshot keeps the merge exactly. */
        unsigned char *a, *b;
        size_t alen, blen;
        struct room_limits lim = {100, 100};
        snapshot_bytes(r, &a, &alen);
        struct room *copy = snapshot_decode(a, alen, &lim);
        CHECK(copy != NULL);
        if (copy) {
            snapshot_bytes(copy, &b, &blen);
            CHECK(blen == alen && memcmp(a, b, alen) == 0);
            free(b);
            char c[65];
            outcome_digest(copy, c);
            CHECK_EQ_STR(c, merged);
            room_free(copy);
        }
        free(a);

        /* Unmerged right away (the target, or each duplicate in turn): the state before. */
        if (rnd(2)) {
            CHECK_EQ_STR(ok(taped_unmerge(r, &t, mod, target)), "ok");
        } else {
            for (size_t i = 0; i < n_dups; i++)
                CHECK_EQ_STR(ok(taped_unmerge(r, &t, mod, dups[i])), "ok");
        }
        outcome_digest(r, after);
        CHECK_EQ_STR(after, before);
        check_invariants(r);

        /* Merged again, votes in between, then unmerged: the invariants hold throughout. */
        m = mk(MSG_MERGE, "");
        snprintf(m.op, sizeof m.op, "mg%u", ++op_seq);
        m.items = dups;
        m.n_items = n_dups;
        m.item = target;
        CHECK_EQ_STR(ok(taped(r, &t, mod, ROLE_MODERATOR, &m)), "ok");
        random_votes(r, &t, cit, 6, 20);
        check_invariants(r);
        CHECK_EQ_STR(ok(taped_unmerge(r, &t, mod, rnd(2) ? target : dups[0])), "ok");
        random_votes(r, &t, cit, 6, 10);
        check_invariants(r);

        /* Replay of the stream (decoded from its stored bytes) gives the same snapshot bytes. */
        struct room *re = new_room(r->cfg.settings.votes_per_phase);
        for (size_t i = 0; i < t.n; i++) {
            struct event e;
            CHECK(codec_event_decode(t.json[i], strlen(t.json[i]), &e, NULL) == 0);
            room_apply(re, t.id[i], &e, NULL); /* refusals refuse again, the same way */
            event_clear(&e);
        }
        unsigned char *x, *y;
        size_t xlen, ylen;
        snapshot_bytes(r, &x, &xlen);
        snapshot_bytes(re, &y, &ylen);
        CHECK(xlen == ylen && memcmp(x, y, xlen) == 0);
        free(x);
        free(y);
        room_free(re);
        for (size_t i = 0; i < t.n; i++)
            free(t.json[i]);
        room_free(r);
        cases++;
    }
    CHECK_EQ_INT(cases, 300);
    CHECK(collapsed_cases > 100); /* most histories had something to collapse or move */
}

int main(void)
{
    RUN(merge_counts_each_voter_once_and_refunds_the_collapsed_votes);
    RUN(refunds_go_to_the_phase_the_vote_was_spent_in);
    RUN(a_targets_votes_by_phase_count_its_groups_voters);
    RUN(merge_and_unmerge_refusals);
    RUN(a_merge_takes_duplicates_off_the_stage_and_unmerge_puts_them_back);
    RUN(merge_then_unmerge_is_the_identity_over_random_histories);
    return test_done();
}
