/* SPDX-License-Identifier: MIT
 * test_snapshot.c - the binary snapshot codec: exact round trips (canonical and not), the CJS13
 * bytes pinned, ops and votes restored, and refusal of every truncation and of garbage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "room.h"
#include "snapshot.h"
#include "test.h"
#include "words.h"

#include "room_kit.h"

static struct msg mk(enum msg_type t, const char *op)
{
    struct msg m = {.type = t};
    snprintf(m.op, sizeof m.op, "%s", op);
    return m;
}

/* 'type' on the items ids[0..n) by 'pid' at 'at_ms' (approve, reject, claim, release). */
static const char *queue(struct room *r, int64_t pid, enum msg_type type, const char *op,
                         uint32_t *ids, size_t n, int64_t at_ms)
{
    struct msg q = mk(type, op);
    q.items = ids;
    q.n_items = n;
    return write_msg(r, pid, ROLE_MODERATOR, &q, at_ms, NULL);
}

/* A room with every kind of state: items, hidden (with reason and preset), votes across phases,
 * ops, modlog, anonymous, a muted participant, a spotlight, pins and an announcement, and the
 * review queue of pre-moderation: approved, rejected, pending and claimed items. */
static struct room *busy_room(void)
{
    struct room *r = new_room_with(3, true);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A"),
            b = join(r, ROLE_CITIZEN, NULL);
    struct msg m = mk(MSG_START, "s");
    write_msg(r, mod, ROLE_MODERATOR, &m, 1000, NULL);
    for (int i = 0; i < 4; i++) {
        struct msg p = mk(MSG_POST, "");
        snprintf(p.op, sizeof p.op, "p%d", i);
        p.kind = KIND_PROBLEM;
        p.text = "A problem \u00e9";
        write_msg(r, i % 2 ? a : b, ROLE_CITIZEN, &p, 1000, NULL);
    }
    uint32_t first[] = {1, 2}, all[] = {1, 2, 3, 4};
    CHECK(queue(r, mod, MSG_CLAIM, "c1", first, 2, 1100) == NULL);
    CHECK(queue(r, mod, MSG_APPROVE, "a1", all, 4, 1200) == NULL);
    for (int i = 4; i < 6; i++) {
        struct msg p = mk(MSG_POST, "");
        snprintf(p.op, sizeof p.op, "p%d", i);
        p.kind = KIND_PROBLEM;
        p.text = "Waiting for review";
        write_msg(r, a, ROLE_CITIZEN, &p, 1250, NULL);
    }
    uint32_t five[] = {5}, six[] = {6};
    CHECK(queue(r, mod, MSG_CLAIM, "c5", five, 1, 1300) == NULL);
    struct msg rej = mk(MSG_REJECT, "r6");
    rej.items = six;
    rej.n_items = 1;
    rej.reason = "a name in it";
    rej.preset = PRESET_PERSONAL_DATA;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &rej, 1350, NULL) == NULL);
    for (int i = 1; i <= 3; i++) {
        struct msg v = mk(MSG_VOTE, "");
        snprintf(v.op, sizeof v.op, "v%d", i);
        v.item = 5 - i;
        write_msg(r, a, ROLE_CITIZEN, &v, 1000, NULL);
        write_msg(r, b, ROLE_CITIZEN, &v, 1000, NULL);
    }
    struct msg h = mk(MSG_HIDE, "h");
    h.item = 2;
    h.reason = "spam";
    h.preset = PRESET_OFF_TOPIC;
    write_msg(r, mod, ROLE_MODERATOR, &h, 1500, NULL);
    struct msg mute = mk(MSG_MUTE, "mu");
    mute.pid = b;
    mute.reason = "shouting";
    mute.preset = PRESET_ABUSIVE;
    write_msg(r, mod, ROLE_MODERATOR, &mute, 1600, NULL);
    struct msg spot = mk(MSG_SPOTLIGHT, "sp");
    spot.item = 3;
    write_msg(r, mod, ROLE_MODERATOR, &spot, 1700, NULL);
    for (int i = 4; i >= 3; i--) {
        struct msg pin = mk(MSG_PIN, "");
        snprintf(pin.op, sizeof pin.op, "pin%d", i);
        pin.item = i;
        write_msg(r, mod, ROLE_MODERATOR, &pin, 1800, NULL);
    }
    struct msg ann = mk(MSG_ANNOUNCE, "an");
    ann.text = "Five minutes left";
    ann.seconds = 300;
    write_msg(r, mod, ROLE_MODERATOR, &ann, 1900, NULL);
    struct msg scribe = mk(MSG_POST, "sc");
    scribe.kind = KIND_PROBLEM;
    scribe.text = "No benches near the clinic";
    scribe.on_behalf = "Mrs Okafor";
    write_msg(r, mod, ROLE_MODERATOR, &scribe, 1950, NULL);
    /* A merge: item 8 into 4, the moderator's vote for both collapses to one. */
    struct msg dup = mk(MSG_POST, "p8");
    dup.kind = KIND_PROBLEM;
    dup.text = "A problem again";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &dup, 1960, NULL) == NULL);
    for (uint32_t item = 8; item >= 4; item -= 4) {
        struct msg v = mk(MSG_VOTE, "");
        snprintf(v.op, sizeof v.op, "mv%u", item);
        v.item = item;
        CHECK(write_msg(r, mod, ROLE_MODERATOR, &v, 1970, NULL) == NULL);
    }
    uint32_t eight[] = {8};
    struct msg merge = mk(MSG_MERGE, "mg");
    merge.items = eight;
    merge.n_items = 1;
    merge.item = 4;
    merge.reason = "the same";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &merge, 1980, NULL) == NULL);
    /* Named invites: one joined with, one revoked (an invite's ack is an op of its own kind). */
    int64_t bea_invite, cem_invite;
    const char *err;
    CHECK(mint_invite(r, mod, "i1", "Bea", 1985, &bea_invite) == NULL);
    CHECK(mint_invite(r, mod, "i2", "Cem", 1986, &cem_invite) == NULL);
    CHECK(join_invited(r, bea_invite, &err) > 0 && err == NULL);
    struct msg revoke = mk(MSG_REVOKE_INVITE, "ri2");
    revoke.invite = cem_invite;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &revoke, 1987, NULL) == NULL);
    /* Theme rules: a label, a merge, a hidden word. */
    struct msg ren = mk(MSG_RENAME_THEME, "tr");
    ren.word = "problem";
    ren.label = "Problems";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &ren, 1990, NULL) == NULL);
    struct msg tm = mk(MSG_MERGE_THEMES, "tm");
    tm.word = "problem";
    tm.words[0] = "benches";
    tm.n_words = 1;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &tm, 1991, NULL) == NULL);
    struct msg th = mk(MSG_HIDE_THEME, "th");
    th.word = "review";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &th, 1992, NULL) == NULL);
    struct msg pause = mk(MSG_PAUSE, "pz");
    write_msg(r, mod, ROLE_MODERATOR, &pause, 2000, NULL);
    return r;
}

TEST(snapshot_round_trip_is_exact)
{
    struct room *r = busy_room();
    unsigned char *a, *b;
    size_t alen, blen;
    snapshot_encode(r, true, &a, &alen);
    struct room_limits lim = {100, 100};
    struct room *copy = snapshot_decode(a, alen, &lim);
    CHECK(copy != NULL);
    if (copy) {
        snapshot_encode(copy, true, &b, &blen);
        CHECK_EQ_INT(blen, alen);
        CHECK(blen == alen && memcmp(a, b, alen) == 0);
        free(b);
        /* Derived state is rebuilt, not stored. */
        uint32_t t1[8], t2[8];
        size_t n1 = room_top(r, KIND_PROBLEM, 8, t1), n2 = room_top(copy, KIND_PROBLEM, 8, t2);
        CHECK_EQ_INT(n1, n2);
        CHECK(memcmp(t1, t2, n1 * sizeof *t1) == 0);
        CHECK_EQ_INT(copy->total_votes, r->total_votes);
        CHECK(room_op_done(copy, 2, "v1") != NULL);
        CHECK_EQ_INT(copy->clock.state, CLOCK_PAUSED);
        /* Moderation: the hide's reason, the mute, the stage. */
        CHECK(room_item(copy, 2)->hide_reason &&
              strcmp(room_item(copy, 2)->hide_reason, "spam") == 0);
        CHECK_EQ_INT(room_item(copy, 2)->hide_preset, PRESET_OFF_TOPIC);
        CHECK(room_participant(copy, 3)->muted);
        CHECK_EQ_INT(room_participant(copy, 3)->mod_preset, PRESET_ABUSIVE);
        CHECK_EQ_INT(copy->stage.spotlight, 3);
        CHECK_EQ_INT(copy->stage.n_pinned, 2);
        CHECK_EQ_INT(copy->stage.pinned[0], 4);
        CHECK(room_announcement(copy, 1900 + 299999) != NULL);
        CHECK(room_announcement(copy, 1900 + 300000) == NULL);
        CHECK(room_item(copy, 7) && room_item(copy, 7)->on_behalf &&
              strcmp(room_item(copy, 7)->on_behalf, "Mrs Okafor") == 0);
        /* The queue: pending and claimed, rejected with its reason, approved ones ranked. */
        CHECK(copy->cfg.settings.premoderation);
        CHECK(room_item(copy, 5)->pending && room_item(copy, 5)->claim_by == 1);
        CHECK(room_claim_running(room_item(copy, 5), 1300 + ROOM_CLAIM_MS - 1));
        CHECK(!room_claim_running(room_item(copy, 5), 1300 + ROOM_CLAIM_MS));
        CHECK(room_item(copy, 6)->hidden && room_item(copy, 6)->rejected);
        CHECK_EQ_INT(room_item(copy, 6)->hide_preset, PRESET_PERSONAL_DATA);
        CHECK(!room_item(copy, 1)->pending && !room_item(copy, 1)->claim_by);
        CHECK_EQ_INT(room_item(copy, 5)->at_ms, 1250);
        CHECK_EQ_INT(copy->n_visible, r->n_visible);
        CHECK_EQ_INT(copy->modlog[2].n_items, 4);                       /* the approve of 1-4 */
        CHECK_EQ_INT(copy->modlog[copy->n_modlog - 9].type, EV_POSTED); /* the scribe entry */
        /* The merge: the duplicate, the target's distinct voters, the collapsed vote. */
        CHECK_EQ_INT(room_item(copy, 8)->merged_into, 4);
        CHECK_EQ_INT(room_item(copy, 4)->n_merged, 1);
        CHECK_EQ_INT(room_item(copy, 4)->votes, 3);
        CHECK(room_vote_collapsed(copy, 1, 8) && !room_vote_collapsed(copy, 1, 4));
        CHECK_EQ_INT(room_participant(copy, 1)->used[0], 1);
        CHECK_EQ_INT(copy->modlog[copy->n_modlog - 8].type, EV_MERGED);
        /* The invites: names, hashes, the revocation, who joined with which, the ack's kind. */
        CHECK_EQ_INT(copy->n_invites, 2);
        CHECK_EQ_STR(copy->invites[0].name, "Bea");
        CHECK_EQ_STR(copy->invites[1].secret_sha256, r->invites[1].secret_sha256);
        CHECK(!copy->invites[0].revoked && copy->invites[1].revoked);
        CHECK_EQ_INT(copy->invites[1].at_ms, 1986);
        CHECK_EQ_INT(room_participant(copy, 4)->invite, 1);
        CHECK_EQ_STR(room_participant(copy, 4)->nickname, "Bea");
        CHECK(room_op_done(copy, 1, "i2") && room_op_done(copy, 1, "i2")->invite);
        CHECK_EQ_INT(room_op_done(copy, 1, "i2")->item, 2);
        CHECK_EQ_INT(copy->modlog[copy->n_modlog - 5].type, EV_INVITE_REVOKED);
        CHECK_EQ_INT(copy->modlog[copy->n_modlog - 5].item, 2);
        /* The copy goes on exactly like the original. */
        struct msg resume = mk(MSG_RESUME, "rs");
        CHECK(write_msg(copy, 1, ROLE_MODERATOR, &resume, 3000, NULL) == NULL);
        room_free(copy);
    }
    free(a);
    room_free(r);
}

/* The chain survives a snapshot: restored, then the same tail, it equals the original's. */
TEST(snapshot_keeps_the_event_chain)
{
    struct room *r = busy_room();
    unsigned char *a;
    size_t alen;
    snapshot_encode(r, false, &a, &alen);
    struct room_limits lim = {100, 100};
    struct room *copy = snapshot_decode(a, alen, &lim);
    CHECK(copy != NULL);
    if (copy) {
        CHECK(copy->chain.n == r->chain.n && strcmp(copy->chain.id, r->chain.id) == 0);
        CHECK(memcmp(copy->chain.head, r->chain.head, ROOM_CHAIN_BYTES) == 0);
        CHECK_EQ_INT(copy->n_modlog, r->n_modlog);
        for (size_t i = 0; i < r->n_modlog && i < copy->n_modlog; i++)
            CHECK(memcmp(copy->modlog[i].chain, r->modlog[i].chain, ROOM_CHAIN_BYTES) == 0);
        struct msg resume = mk(MSG_RESUME, "rs");
        unsigned long long at = seq;
        CHECK(write_msg(r, 1, ROLE_MODERATOR, &resume, 3000, NULL) == NULL);
        seq = at; /* the same stream id for the copy */
        CHECK(write_msg(copy, 1, ROLE_MODERATOR, &resume, 3000, NULL) == NULL);
        CHECK(memcmp(copy->chain.head, r->chain.head, ROOM_CHAIN_BYTES) == 0);
        CHECK_EQ_INT(copy->chain.n, r->chain.n);
        room_free(copy);
    }
    free(a);
    room_free(r);
}

TEST(snapshot_decode_rejects_every_truncation_and_garbage)
{
    struct room *r = busy_room();
    unsigned char *a;
    size_t alen;
    snapshot_encode(r, false, &a, &alen);
    struct room_limits lim = {100, 100};
    int accepted = 0;
    for (size_t n = 0; n < alen; n++) {
        struct room *x = snapshot_decode(a, n, &lim);
        accepted += x != NULL;
        room_free(x);
    }
    CHECK_EQ_INT(accepted, 0);
    unsigned char junk[256];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    memcpy(junk, "CJS13", 5);
    CHECK(snapshot_decode(junk, sizeof junk, &lim) == NULL);
    free(a);
    room_free(r);
}

/* The bytes of the format, pinned: the SHA-256 of busy_room()'s canonical encoding in CJS13 (CJS4,
 * which was CJS2 plus removals and the event chain, plus each hidden item's reason and preset, each
 * participant's mute and the reason in force, a preset per log line, and the stage: spotlight,
 * pins and announcement, and each item's scribe provenance; CJS5 plus the premoderation setting,
 * each item's at, pending and rejected marks and claim, and the items of a log line; CJS6 plus each
 * item's merged_into and each vote's collapsed mark; CJS7 plus the reveal mode; CJS8 plus the
 * public_exports setting; CJS9 plus the named invites, each participant's invite and each op's
 * kind of ack, where a merge took each duplicate off the stage, the order and each item's
 * showings; CJS12 plus the theme rules and the theme events' words in the log). The state
 * digest of GET /api/jams/<code>/digest is this hash, so a change here changes every jam's digest. */
#define BUSY_ROOM_SHA256 "8aa27bf290ce37305edfd7cb25d81e4a7970fd138e2e93529670456aa8cc6eeb"

TEST(snapshot_bytes_are_cjs13)
{
    struct room *r = busy_room();
    unsigned char *a;
    size_t alen;
    char hex[65];
    snapshot_encode(r, true, &a, &alen);
    CHECK(alen > 5 && memcmp(a, "CJS13", 5) == 0);
    auth_sha256_hex(a, alen, hex);
    CHECK_EQ_STR(hex, BUSY_ROOM_SHA256);
    free(a);
    room_free(r);
}

/* Recovery stores the cheaper non-canonical encoding; decoding it must give the very state whose
 * canonical bytes the digest hashes, ops and votes included. */
TEST(snapshot_non_canonical_decodes_to_the_same_state)
{
    struct room *r = busy_room();
    unsigned char *a, *b, *c;
    size_t alen, blen, clen;
    struct room_limits lim = {100, 100};
    snapshot_encode(r, true, &a, &alen);
    snapshot_encode(r, false, &b, &blen);
    CHECK_EQ_INT(blen, alen);
    struct room *copy = snapshot_decode(b, blen, &lim);
    CHECK(copy != NULL);
    if (copy) {
        snapshot_encode(copy, true, &c, &clen);
        CHECK(clen == alen && memcmp(a, c, alen) == 0);
        free(c);
        size_t n_ops = 0;
        const struct room_op *o;
        for (size_t pos = 0; (o = room_op_next(r, &pos)) != NULL; n_ops++) {
            const struct op_done *d = room_op_done(copy, o->pid, o->op);
            CHECK(d != NULL);
            if (d) {
                CHECK_EQ_STR(d->event_id, o->done.event_id);
                CHECK_EQ_INT(d->item, o->done.item);
                CHECK_EQ_INT(d->has_budget, o->done.has_budget);
                CHECK_EQ_INT(d->invite, o->done.invite);
                CHECK_EQ_INT(d->budget_left, o->done.budget_left);
            }
        }
        /* s, p0-p5, c1, a1, c5, r6, v1-v3 of each citizen, h, mu, sp, pin4, pin3, an, sc, p8,
         * mv8, mv4, mg, i1, i2, ri2, pz */
        CHECK_EQ_INT(n_ops, 35);
        for (size_t i = 0; i < r->n_participants; i++) {
            const struct participant *p = r->participants[i];
            for (size_t v = 0; v < p->n_voted; v++) {
                int x = -1, y = -2;
                CHECK(room_vote_index(r, p->pid, p->voted[v], &x));
                CHECK(room_vote_index(copy, p->pid, p->voted[v], &y));
                CHECK_EQ_INT(y, x);
            }
        }
        room_free(copy);
    }
    free(a);
    free(b);
    room_free(r);
}

/* A removal survives a snapshot: the participant stays removed, the log keeps whom and why. */
TEST(snapshot_keeps_removals)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg rm = {.type = MSG_REMOVE, .pid = a, .hide_posts = true, .reason = "spam"};
    strcpy(rm.op, "r1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &rm, 5000, NULL) == NULL);
    unsigned char *buf;
    size_t len;
    snapshot_encode(r, false, &buf, &len);
    struct room_limits lim = {100, 100};
    struct room *copy = snapshot_decode(buf, len, &lim);
    CHECK(copy != NULL);
    if (copy) {
        CHECK(room_participant(copy, a)->removed);
        CHECK(!room_participant(copy, mod)->removed);
        CHECK_EQ_INT(copy->n_modlog, 1);
        CHECK_EQ_INT(copy->modlog[0].pid, a);
        CHECK(copy->modlog[0].hide_posts);
        CHECK_EQ_STR(copy->modlog[0].reason, "spam");
    }
    memcpy(buf, "CJS2", 4); /* the format before removals: refused, so the stream is replayed */
    CHECK(snapshot_decode(buf, len, &lim) == NULL);
    free(buf);
    room_free(copy);
    room_free(r);
}

/* The reveal mode survives a snapshot. */
TEST(snapshot_keeps_the_reveal_mode)
{
    struct room *r = busy_room();
    struct msg m = mk(MSG_SET_REVEAL, "rv");
    m.reveal = REVEAL_PER_PHASE;
    CHECK(write_msg(r, 1, ROLE_MODERATOR, &m, 2100, NULL) == NULL);
    unsigned char *a;
    size_t alen;
    snapshot_encode(r, false, &a, &alen);
    struct room_limits lim = {100, 100};
    struct room *copy = snapshot_decode(a, alen, &lim);
    CHECK(copy && copy->reveal == REVEAL_PER_PHASE);
    CHECK(copy && copy->modlog[copy->n_modlog - 1].type == EV_REVEAL_SET &&
          copy->modlog[copy->n_modlog - 1].index == REVEAL_PER_PHASE);
    room_free(copy);
    free(a);
    room_free(r);
}

/* Showings and the order survive a snapshot, and the fair order is rebuilt from them. */
TEST(snapshot_keeps_showings_and_the_order)
{
    struct room *r = busy_room();
    struct event e = {.type = EV_SHOWINGS, .at_ms = 2050, .n_items = 2};
    uint32_t it[] = {2, 3}, cnt[] = {7, 1};
    e.items = it;
    e.counts = cnt;
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    CHECK(room_apply(r, id, &e, NULL) == NULL);
    struct msg m = mk(MSG_SET_ORDER, "or");
    m.order = ORDER_FAIR;
    CHECK(write_msg(r, 1, ROLE_MODERATOR, &m, 2100, NULL) == NULL);
    unsigned char *a;
    size_t alen;
    snapshot_encode(r, false, &a, &alen);
    struct room_limits lim = {100, 100};
    struct room *copy = snapshot_decode(a, alen, &lim);
    CHECK(copy && copy->order == ORDER_FAIR);
    CHECK(copy && copy->items[1]->shown == 7 && copy->items[2]->shown == 1);
    for (int k = 0; copy && k < KIND__COUNT; k++) {
        uint32_t x[8], y[8];
        size_t nx = room_top_by(r, (enum kind)k, ORDER_FAIR, 8, x);
        CHECK_EQ_INT(room_top_by(copy, (enum kind)k, ORDER_FAIR, 8, y), nx);
        CHECK(memcmp(x, y, nx * sizeof *x) == 0);
    }
    CHECK(copy && copy->modlog[copy->n_modlog - 1].type == EV_ORDER_SET);
    room_free(copy);
    free(a);
    room_free(r);
}

/* The theme rules survive a snapshot: the same rules, the same themes and cloud, the log's words. */
TEST(snapshot_keeps_the_theme_rules)
{
    struct room *r = busy_room();
    unsigned char *a, *b;
    size_t alen, blen;
    snapshot_encode(r, false, &a, &alen);
    struct room_limits lim = {100, 100};
    struct room *copy = snapshot_decode(a, alen, &lim);
    CHECK(copy != NULL);
    if (copy) {
        CHECK_EQ_INT(copy->n_themes, 3);
        const struct room_theme *t = room_theme(copy, "problem");
        CHECK(t && t->label && strcmp(t->label, "Problems") == 0 && !t->into && !t->hidden);
        t = room_theme(copy, "benches");
        CHECK(t && t->into && strcmp(t->into, "problem") == 0);
        t = room_theme(copy, "review");
        CHECK(t && t->hidden);
        struct theme x[8], y[8];
        size_t nx = words_themes(r->words, 8, NULL, NULL, x);
        CHECK_EQ_INT(words_themes(copy->words, 8, NULL, NULL, y), nx);
        for (size_t i = 0; i < nx; i++)
            CHECK(strcmp(x[i].word, y[i].word) == 0 && x[i].items == y[i].items);
        struct word_count wx[40], wy[40];
        size_t cx = words_top(copy->words, 40, wy);
        CHECK_EQ_INT(words_top(r->words, 40, wx), cx);
        for (size_t i = 0; i < cx; i++)
            CHECK(strcmp(wx[i].word, wy[i].word) == 0 && strcmp(wy[i].word, "review") != 0);
        const struct mod_entry *m = &copy->modlog[copy->n_modlog - 3];
        CHECK(m->type == EV_THEMES_MERGED && m->n_words == 1 &&
              strcmp(m->words[0], "benches") == 0 && strcmp(m->word, "problem") == 0);
        unsigned char *c;
        size_t clen;
        snapshot_encode(r, true, &c, &clen);
        snapshot_encode(copy, true, &b, &blen);
        CHECK(blen == clen && memcmp(c, b, clen) == 0);
        free(b);
        free(c);
    }
    room_free(copy);
    free(a);
    room_free(r);
}

int main(void)
{
    RUN(snapshot_round_trip_is_exact);
    RUN(snapshot_bytes_are_cjs13);
    RUN(snapshot_non_canonical_decodes_to_the_same_state);
    RUN(snapshot_keeps_removals);
    RUN(snapshot_decode_rejects_every_truncation_and_garbage);
    RUN(snapshot_keeps_the_event_chain); /* last: it moves the ids busy_room() pins */
    RUN(snapshot_keeps_the_reveal_mode);
    RUN(snapshot_keeps_showings_and_the_order);
    RUN(snapshot_keeps_the_theme_rules);
    return test_done();
}
