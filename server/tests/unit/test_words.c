/* SPDX-License-Identifier: MIT
 * test_words.c - unit tests for words.c: splitting (case, accents, punctuation, scripts, stop
 * words of four languages, limits), counting once per item, hiding, the top words and themes.
 */
#include "test.h"
#include "words.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct joined {
    char buf[512];
};

static void join_word(const char *word, size_t n, void *ctx)
{
    struct joined *j = ctx;
    size_t at = strlen(j->buf);
    snprintf(j->buf + at, sizeof(j->buf) - at, "%s%.*s", at ? "|" : "", (int)n, word);
}

static const char *split(const char *text)
{
    static struct joined j;
    struct words *w = words_new();
    j.buf[0] = '\0';
    words_split(w, text, strlen(text), join_word, &j);
    words_free(w);
    return j.buf;
}

TEST(split_folds_and_drops)
{
    CHECK_EQ_STR(split("No shade at the Bus Stops!"), "shade|bus|stops");
    CHECK_EQ_STR(split("Mehr Bäume für die INNENSTADT – überdachte Haltestellen"),
                 "bäume|innenstadt|überdachte|haltestellen");
    CHECK_EQ_STR(split("L'été, «les arrêts» n’ont pas d’ombre…"), "arrêts|ont|ombre");
    CHECK_EQ_STR(split("¿Más árboles en las paradas? ÁRBOLES"), "árboles|paradas|árboles");
    /* Digits-only words and words shorter than 3 characters go; words with digits stay. */
    CHECK_EQ_STR(split("2024 bus 42 A1 line U2 b12"), "bus|line|b12");
    /* Right-to-left scripts are kept as they are (no case), split at spaces. */
    CHECK_EQ_STR(split("مظلات في محطات"), "مظلات|محطات");
    /* Over 40 characters: not a word (a pasted link or a run of letters). */
    CHECK_EQ_STR(split("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa trees"), "trees");
    CHECK_EQ_STR(split(""), "");
    CHECK_EQ_STR(split("the and und les los"), "");
}

TEST(split_survives_invalid_utf8)
{
    const char bad[] = "ab\xc3\x28"
                       "cde \xe2\x80 fgh\xff"
                       "ijk \xf0\x9f";
    struct joined j = {{0}};
    struct words *w = words_new();
    words_split(w, bad, sizeof(bad) - 1, join_word, &j);
    words_free(w);
    CHECK_EQ_STR(j.buf, "cde|fgh|ijk");
}

TEST(counts_once_per_item_and_hide_uncounts)
{
    struct words *w = words_new();
    words_add(w, 1, "shade shade shade at bus stops", 30);
    words_add(w, 2, "more shade please", 17);
    words_add(w, 3, "bus lanes", 9);
    struct word_count top[8];
    CHECK_EQ_INT(words_top(w, 8, top),
                 4); /* shade bus stops lanes: "more", "please" are stop words */
    CHECK_EQ_STR(top[0].word, "shade");
    CHECK_EQ_INT(top[0].items, 2);
    CHECK_EQ_STR(top[1].word, "bus"); /* 2 items, seen after "shade" */
    CHECK_EQ_INT(top[1].items, 2);
    CHECK_EQ_STR(top[2].word, "stops");
    words_remove(w, 1);
    words_remove(w, 1); /* no-op */
    CHECK_EQ_INT(words_top(w, 8, top), 3);
    CHECK_EQ_INT(top[0].items, 1);
    /* Unhide: the same id comes back with its words. */
    words_add(w, 1, "shade shade shade at bus stops", 30);
    CHECK_EQ_INT(words_top(w, 1, top), 1);
    CHECK_EQ_STR(top[0].word, "shade");
    CHECK_EQ_INT(top[0].items, 2);
    words_free(w);
    words_free(NULL);
}

static uint32_t votes_of(uint32_t id, void *ctx)
{
    return ((const uint32_t *)ctx)[id];
}

TEST(themes_are_disjoint_and_name_the_top_item)
{
    struct words *w = words_new();
    uint32_t votes[8] = {0, 3, 9, 1, 4, 0, 7, 2};
    words_add(w, 1, "shade at bus stops", 18);
    words_add(w, 2, "trees for shade", 15);
    words_add(w, 3, "shade sails on the square", 25);
    words_add(w, 4, "bus lanes on main street", 24);
    words_add(w, 5, "night bus", 9);
    words_add(w, 6, "bike lanes", 10);
    words_add(w, 7, "a lonely idea", 13);
    struct theme t[4];
    size_t n = words_themes(w, 4, votes_of, votes, t);
    /* shade: 1 2 3 (top 2); bus: 4 5 (1 was taken); lanes: 6 alone (4 taken) -> no theme. */
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(t[0].word, "shade");
    CHECK_EQ_INT(t[0].items, 3);
    CHECK_EQ_INT(t[0].top, 2);
    CHECK_EQ_STR(t[1].word, "bus");
    CHECK_EQ_INT(t[1].items, 2);
    CHECK_EQ_INT(t[1].top, 4);
    /* Asked again, the same answer (the claim marks of the last pass are forgotten). */
    CHECK_EQ_INT(words_themes(w, 4, votes_of, votes, t), 2);
    CHECK_EQ_INT(t[1].items, 2);
    CHECK_EQ_INT(words_themes(w, 1, votes_of, votes, t), 1);
    words_free(w);
}

/* Moderators' rules: a hidden word makes no theme and leaves the cloud, its items fall into later
 * themes; a merged word's items count in its target's theme once each, wherever the target ranks;
 * undoing either gives the first answer back. */
TEST(hidden_and_merged_words_reshape_the_themes)
{
    struct words *w = words_new();
    uint32_t votes[9] = {0, 3, 9, 1, 4, 0, 7, 2, 0};
    words_add(w, 1, "shade at bus stops", 18);
    words_add(w, 2, "trees for shade", 15);
    words_add(w, 3, "shade sails on the square", 25);
    words_add(w, 4, "bus lanes on main street", 24);
    words_add(w, 5, "night bus", 9);
    words_add(w, 6, "bike lanes", 10);
    words_add(w, 7, "trees in the square", 19);
    struct theme t[4];
    struct word_count c[16];
    words_set_hidden(w, "shade", true);
    size_t n = words_themes(w, 4, votes_of, votes, t);
    /* bus: 1 4 5 (top 4); trees: 2 7 (top 2); square: 3 alone (7 taken); lanes: 6 alone. */
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(t[0].word, "bus");
    CHECK_EQ_INT(t[0].items, 3);
    CHECK_EQ_INT(t[0].top, 4);
    CHECK_EQ_STR(t[1].word, "trees");
    CHECK_EQ_INT(t[1].items, 2);
    size_t nc = words_top(w, 16, c);
    for (size_t i = 0; i < nc; i++)
        CHECK(strcmp(c[i].word, "shade") != 0);
    words_set_hidden(w, "shade", false);
    CHECK_EQ_STR(words_top(w, 16, c) ? c[0].word : "", "shade");
    /* lanes (items 4, 6) and square (3, 7) into trees (2, 7): 2 3 4 6 7, each once, counted
     * before shade (1 2 3), which keeps only item 1 and makes no theme; bus keeps 1 and 5. */
    words_set_merged(w, "lanes", "trees");
    words_set_merged(w, "square", "trees");
    n = words_themes(w, 4, votes_of, votes, t);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(t[0].word, "trees");
    CHECK_EQ_INT(t[0].items, 5);
    CHECK_EQ_INT(t[0].top, 2);
    CHECK_EQ_STR(t[1].word, "bus");
    CHECK_EQ_INT(t[1].items, 2);
    CHECK_EQ_INT(t[1].top, 1);
    /* A hidden source adds nothing (trees: 2 3 7); a hidden target hides the merged theme. */
    words_set_hidden(w, "lanes", true);
    n = words_themes(w, 4, votes_of, votes, t);
    CHECK_EQ_STR(t[0].word, "trees");
    CHECK_EQ_INT(t[0].items, 3);
    words_set_hidden(w, "lanes", false);
    words_set_hidden(w, "trees", true);
    n = words_themes(w, 4, votes_of, votes, t);
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(t[i].word, "trees") != 0 && strcmp(t[i].word, "square") != 0);
    words_set_hidden(w, "trees", false);
    words_set_merged(w, "lanes", NULL);
    words_set_merged(w, "square", NULL);
    n = words_themes(w, 4, votes_of, votes, t);
    CHECK_EQ_STR(t[0].word, "shade");
    CHECK_EQ_INT(t[0].items, 3);
    /* Rules may name words no item uses yet. */
    words_set_merged(w, "canopy", "shade");
    words_add(w, 8, "a canopy for the market", 23);
    CHECK_EQ_INT(words_themes(w, 4, votes_of, votes, t) ? t[0].items : 0, 4);
    CHECK(words_is_word(w, "shade") && !words_is_word(w, "Shade") && !words_is_word(w, "the") &&
          !words_is_word(w, "two words") && !words_is_word(w, "ab"));
    words_free(w);
}

static bool odd_only(uint32_t id, void *ctx)
{
    (void)ctx;
    return id % 2 == 1;
}

TEST(similar_items_share_rare_words)
{
    struct words *w = words_new();
    const char *texts[] = {"",
                           "No shade at the bus stops",
                           "Bike lanes on Main Street",
                           "Shade trees for the school yard",
                           "More bus lines at night",
                           "Bus stops without any shade",
                           "Free water fountains in the city"};
    for (uint32_t id = 1; id <= 6; id++)
        words_add(w, id, texts[id], strlen(texts[id]));
    uint32_t out[3];
    const char *q = "Bus stops have no shade";
    size_t n = words_similar(w, q, strlen(q), 0.3, NULL, NULL, 3, out);
    CHECK(n >= 2);
    CHECK_EQ_INT(out[0], 1); /* all three words shared, the shortest text: first */
    CHECK_EQ_INT(out[1], 5);
    for (size_t i = 0; i < n; i++)
        CHECK(out[i] != 2 && out[i] != 6); /* nothing in common */
    /* The filter (same kind, not hidden...) and k. */
    n = words_similar(w, q, strlen(q), 0.3, odd_only, NULL, 3, out);
    CHECK(n >= 2 && out[0] == 1 && out[1] == 5);
    CHECK_EQ_INT(words_similar(w, q, strlen(q), 0.0, NULL, NULL, 1, out), 1);
    CHECK_EQ_INT(out[0], 1);
    /* Nothing shared, only stop words, or too little in common: nothing. */
    const char *none = "Concerts in the park";
    CHECK_EQ_INT(words_similar(w, none, strlen(none), 0.3, NULL, NULL, 3, out), 0);
    CHECK_EQ_INT(words_similar(w, "the and for", 11, 0.0, NULL, NULL, 3, out), 0);
    const char *weak = "City park festival music stage lights bus";
    CHECK_EQ_INT(words_similar(w, weak, strlen(weak), 0.5, NULL, NULL, 3, out), 0);
    /* Hidden items are not in it; asking twice gives the same answer (the scratch is reset). */
    words_remove(w, 1);
    n = words_similar(w, q, strlen(q), 0.3, NULL, NULL, 3, out);
    CHECK(n >= 1 && out[0] == 5);
    CHECK(words_similar(w, q, strlen(q), 0.3, NULL, NULL, 3, out) == n && out[0] == 5);
    words_free(w);
}

int main(void)
{
    RUN(split_folds_and_drops);
    RUN(split_survives_invalid_utf8);
    RUN(counts_once_per_item_and_hide_uncounts);
    RUN(themes_are_disjoint_and_name_the_top_item);
    RUN(hidden_and_merged_words_reshape_the_themes);
    RUN(similar_items_share_rare_words);
    return test_done();
}
