/* SPDX-License-Identifier: MIT
 * test_room_themes.c - the moderators' theme rules in the room (issue 12.2): rename_theme,
 * merge_themes/unmerge_theme and hide_theme/unhide_theme checked and applied from the state,
 * moderators only, once per op, in the public log, and the same after a replay of the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "room.h"
#include "snapshot.h"
#include "test.h"
#include "words.h"

#include "room_kit.h"

static struct msg mk(enum msg_type t, const char *op, const char *word)
{
    struct msg m = {.type = t, .word = (char *)word};
    snprintf(m.op, sizeof m.op, "%s", op);
    return m;
}

/* A running explore phase with items about shade, trees and buses. */
static struct room *jam(int64_t *mod, int64_t *cit)
{
    static const char *const texts[] = {
        "shade at bus stops",
        "trees for shade",
        "shade sails on the square",
        "bus lanes on main street",
        "night bus",
        "more trees in the square",
        "plant trees",
    };
    struct room *r = new_room(0);
    *mod = join(r, ROLE_MODERATOR, "Mo");
    *cit = join(r, ROLE_CITIZEN, "Ci");
    struct msg s = mk(MSG_START, "s", NULL);
    CHECK(write_msg(r, *mod, ROLE_MODERATOR, &s, 1000, NULL) == NULL);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct msg p = mk(MSG_POST, "", NULL);
        snprintf(p.op, sizeof p.op, "p%zu", i);
        p.kind = KIND_PROBLEM;
        p.text = (char *)texts[i];
        CHECK(write_msg(r, *cit, ROLE_CITIZEN, &p, 1000, NULL) == NULL);
    }
    return r;
}

static size_t themes(struct room *r, struct theme *t)
{
    return words_themes(r->words, 8, NULL, NULL, t);
}

TEST(rename_merge_hide_apply_and_undo)
{
    int64_t mod, cit;
    struct room *r = jam(&mod, &cit);
    struct theme t[8];
    /* Without rules: trees 2 6 7, shade 1 3 (2 taken), bus 4 5 (1 taken). */
    CHECK_EQ_INT(themes(r, t), 3);
    CHECK_EQ_STR(t[0].word, "shade");
    uint64_t v = r->words_version;

    struct msg m = mk(MSG_RENAME_THEME, "r1", "shade");
    m.label = "Shade & cool";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 2000, NULL) == NULL);
    CHECK(r->words_version > v);
    CHECK_EQ_STR(room_theme(r, "shade")->label, "Shade & cool");
    CHECK_EQ_INT(r->modlog[r->n_modlog - 1].type, EV_THEME_RENAMED);
    CHECK_EQ_STR(r->modlog[r->n_modlog - 1].label, "Shade & cool");
    /* The same op again has no second effect. */
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 2000, NULL) == room_err_duplicate_op);
    m = mk(MSG_RENAME_THEME, "r2", "shade");
    m.label = "";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 2001, NULL) == NULL);
    CHECK(room_theme(r, "shade") == NULL); /* nothing left to say: the rule is gone */

    /* Merge bus into shade: shade 1 2 3 4 5 before trees 6 7. */
    m = mk(MSG_MERGE_THEMES, "m1", "shade");
    m.words[0] = "bus";
    m.n_words = 1;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 2002, NULL) == NULL);
    CHECK_EQ_INT(themes(r, t), 2);
    CHECK_EQ_STR(t[0].word, "shade");
    CHECK_EQ_INT(t[0].items, 5);
    CHECK_EQ_STR(t[1].word, "trees");
    CHECK_EQ_INT(t[1].items, 2);
    /* No chains, no twice. */
    m = mk(MSG_MERGE_THEMES, "m2", "bus");
    m.words[0] = "trees";
    m.n_words = 1;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 2003, NULL), "theme_merged");
    m = mk(MSG_MERGE_THEMES, "m3", "trees");
    m.words[0] = "shade";
    m.n_words = 1;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 2003, NULL), "theme_merged");
    m = mk(MSG_MERGE_THEMES, "m4", "trees");
    m.words[0] = "bus";
    m.n_words = 1;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 2003, NULL), "theme_merged");
    m = mk(MSG_UNMERGE_THEME, "u1", "trees");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 2003, NULL), "not_merged");
    m = mk(MSG_UNMERGE_THEME, "u2", "bus");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 2004, NULL) == NULL);
    CHECK_EQ_INT(themes(r, t), 3);
    CHECK_EQ_INT(r->n_themes, 0);

    /* Hide trees: its items fall into later themes; the cloud loses it; unhide brings it back. */
    m = mk(MSG_HIDE_THEME, "h1", "trees");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 2005, NULL) == NULL);
    m = mk(MSG_HIDE_THEME, "h2", "trees");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 2005, NULL), "theme_hidden");
    size_t n = themes(r, t);
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(t[i].word, "trees") != 0);
    CHECK_EQ_STR(t[0].word, "shade");
    CHECK_EQ_INT(t[0].items, 3); /* 1 2 3: item 2 is no longer trees' */
    struct word_count c[40];
    size_t nc = words_top(r->words, 40, c);
    for (size_t i = 0; i < nc; i++)
        CHECK(strcmp(c[i].word, "trees") != 0);
    m = mk(MSG_UNHIDE_THEME, "h3", "trees");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 2006, NULL) == NULL);
    m = mk(MSG_UNHIDE_THEME, "h4", "trees");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 2006, NULL), "not_hidden");
    CHECK_EQ_STR(themes(r, t) ? t[0].word : "", "shade");

    /* Words are judged by the tokenizer: folded, one word, no stop word. */
    m = mk(MSG_HIDE_THEME, "w1", "Trees");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 2007, NULL), "not_a_word");
    m = mk(MSG_HIDE_THEME, "w2", "the");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 2007, NULL), "not_a_word");
    m = mk(MSG_HIDE_THEME, "w3", "two words");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 2007, NULL), "not_a_word");
    room_free(r);
}

TEST(citizens_cannot_and_the_stream_judges)
{
    int64_t mod, cit;
    struct room *r = jam(&mod, &cit);
    struct msg m = mk(MSG_HIDE_THEME, "x", "shade");
    CHECK_EQ_STR(write_msg(r, cit, ROLE_CITIZEN, &m, 2000, NULL), "forbidden");
    /* A stored event by a citizen (forged, or its author's role misjudged) has no effect. */
    struct event e = {.type = EV_THEME_HIDDEN, .by = cit, .at_ms = 2000, .word = "shade"};
    snprintf(e.op, sizeof e.op, "x");
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    CHECK_EQ_STR(room_apply(r, id, &e, NULL), "forbidden");
    CHECK_EQ_INT(r->n_themes, 0);
    /* Two processes' checks passed on the same state: the second stored loses. */
    struct event a = {.type = EV_THEME_HIDDEN, .by = mod, .at_ms = 2000, .word = "shade"};
    snprintf(a.op, sizeof a.op, "a");
    struct event b = a;
    snprintf(b.op, sizeof b.op, "b");
    snprintf(id, sizeof id, "%llu-0", ++seq);
    CHECK(room_apply(r, id, &a, NULL) == NULL);
    snprintf(id, sizeof id, "%llu-0", ++seq);
    CHECK_EQ_STR(room_apply(r, id, &b, NULL), "theme_hidden");
    /* The rules are bounded. */
    char words[MSG_THEME_RULES_MAX + 1][16];
    const char *err = NULL;
    for (int i = 0; i < MSG_THEME_RULES_MAX && !err; i++) {
        snprintf(words[i], sizeof words[i], "word%c%c", 'a' + i / 26, 'a' + i % 26);
        struct msg h = mk(MSG_HIDE_THEME, "", words[i]);
        snprintf(h.op, sizeof h.op, "hh%d", i);
        err = write_msg(r, mod, ROLE_MODERATOR, &h, 2100, NULL);
    }
    CHECK_EQ_STR(err, "too_many_themes");
    CHECK_EQ_INT(r->n_themes, MSG_THEME_RULES_MAX);
    room_free(r);
}

/* Every theme event through the codec as stored, then the whole stream replayed into a fresh room:
 * the same rules, the same canonical snapshot. */
TEST(theme_rules_replay_to_the_same_state)
{
    int64_t mod, cit;
    struct room *r = new_room(0);
    struct room *copy = NULL;
    char **ids = NULL, **stored = NULL;
    size_t n = 0;
    mod = join(r, ROLE_MODERATOR, "Mo");
    cit = join(r, ROLE_CITIZEN, "Ci");
    struct msg script[16];
    size_t ns = 0;
    script[ns++] = mk(MSG_START, "s", NULL);
    static const char *const texts[] = {"shade at bus stops", "trees for shade", "night bus",
                                        "bus lanes", "plant trees"};
    for (size_t i = 0; i < 5; i++) {
        struct msg p = mk(MSG_POST, "", NULL);
        snprintf(p.op, sizeof p.op, "p%zu", i);
        p.kind = KIND_PROBLEM;
        p.text = (char *)texts[i];
        script[ns++] = p;
    }
    struct msg m = mk(MSG_RENAME_THEME, "r", "bus");
    m.label = "Buses";
    script[ns++] = m;
    m = mk(MSG_MERGE_THEMES, "m", "shade");
    m.words[0] = "trees";
    m.words[1] = "plant";
    m.n_words = 2;
    script[ns++] = m;
    script[ns++] = mk(MSG_UNMERGE_THEME, "u", "plant");
    script[ns++] = mk(MSG_HIDE_THEME, "h", "lanes");
    for (size_t i = 0; i < ns; i++) {
        int64_t pid = script[i].type == MSG_POST ? cit : mod;
        struct event e;
        CHECK(room_check(r, pid, pid == mod ? ROLE_MODERATOR : ROLE_CITIZEN, &script[i], &e) ==
              NULL);
        e.at_ms = 3000;
        char *json = codec_event_encode(&e);
        struct event back;
        struct codec_error ce;
        CHECK(codec_event_decode(json, strlen(json), &back, &ce) == 0);
        char id[32];
        snprintf(id, sizeof id, "%llu-0", ++seq);
        CHECK(room_apply(r, id, &back, NULL) == NULL);
        ids = realloc(ids, (n + 1) * sizeof *ids);
        stored = realloc(stored, (n + 1) * sizeof *stored);
        ids[n] = strdup(id);
        stored[n++] = json;
        event_clear(&e);
        event_clear(&back);
    }
    CHECK_EQ_INT(r->n_themes, 3); /* bus labelled, trees merged, plant's rule gone, lanes hidden */
    CHECK(room_theme(r, "plant") == NULL);
    struct theme t[8];
    size_t nt = themes(r, t);
    CHECK(nt >= 1 && strcmp(t[0].word, "shade") == 0 && t[0].items == 3); /* 1 2 5 */

    /* Replay: the joins as events, then the stored entries. */
    copy = new_room(0);
    join(copy, ROLE_MODERATOR, "Mo");
    join(copy, ROLE_CITIZEN, "Ci");
    for (size_t i = 0; i < n; i++) {
        struct event e;
        struct codec_error ce;
        CHECK(codec_event_decode(stored[i], strlen(stored[i]), &e, &ce) == 0);
        CHECK(room_apply(copy, ids[i], &e, NULL) == NULL);
        event_clear(&e);
    }
    CHECK_EQ_INT(copy->n_themes, r->n_themes);
    struct theme u[8];
    CHECK_EQ_INT(themes(copy, u), nt);
    for (size_t i = 0; i < nt; i++)
        CHECK(strcmp(t[i].word, u[i].word) == 0 && t[i].items == u[i].items);
    CHECK_EQ_STR(room_theme(copy, "bus")->label, "Buses");
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
        free(stored[i]);
    }
    free(ids);
    free(stored);
    room_free(copy);
    room_free(r);
}

int main(void)
{
    RUN(rename_merge_hide_apply_and_undo);
    RUN(citizens_cannot_and_the_stream_judges);
    RUN(theme_rules_replay_to_the_same_state);
    return test_done();
}
