/* SPDX-License-Identifier: MIT
 * words.h - the jam's words, for the word cloud and live themes: the meaningful words of the
 * visible items (stop words of English, German, French and Spanish removed), how many items use
 * each, and themes (items grouped by the frequent word they share, each with its count and its
 * most-voted item). Incremental: adding an item costs its own words, never a pass over the jam.
 * Pure: no I/O, no clock; the same calls give the same answers.
 *
 * A word is a run of letters and digits (any byte of a multi-byte UTF-8 character except the
 * Latin-1 and General Punctuation blocks counts as a letter, so every script is split at spaces
 * and punctuation), folded to lower case for ASCII and Latin-1 (A-Z, À-Þ), 3-40 characters long,
 * not all digits and not a stop word. Scripts without spaces between words (Chinese, Japanese)
 * come out as whole phrases: that is the known limit of this rule.
 */
#ifndef COJAM_WORDS_H
#define COJAM_WORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORDS_MAX_BYTES 80 /* a word's longest UTF-8 form: 40 characters of up to 2 bytes here */

struct words;

struct words *words_new(void);
/* words_free(NULL) is a no-op. */
void words_free(struct words *w);

/* Item 'id' (> 0, < 2^31) with 'text' becomes visible: each of its distinct words counts it
 * once. Adding an id already present replaces its words (after words_remove). */
void words_add(struct words *w, uint32_t id, const char *text, size_t len);
/* Item 'id' leaves (hidden): its words stop counting it. No-op when absent. */
void words_remove(struct words *w, uint32_t id);

struct word_count {
    const char *word; /* borrowed: valid until the next words_add/words_remove/words_free */
    uint32_t items;   /* visible items that use it */
};
/* The 'k' most used words that are not hidden, most items first, then the word seen first.
 * Returns how many. */
size_t words_top(const struct words *w, size_t k, struct word_count *out);

struct theme {
    const char *word; /* borrowed, as in word_count */
    uint32_t items;   /* items in the theme */
    uint32_t top;     /* its item with the most votes (smaller id among equals) */
};
/* Up to 'k' themes: the most used words in order, each taking the items that contain it (or a word
 * merged into it) and no earlier theme's word, so an item is in at most one theme; a word left
 * with fewer than 2 items makes no theme; hidden and merged-away words make none. votes(id, ctx)
 * gives an item's votes. Looks at no more than the postings of the first 4k words and of the words
 * merged into others. Returns how many themes were written to 'out'. */
size_t words_themes(struct words *w, size_t k, uint32_t (*votes)(uint32_t id, void *ctx), void *ctx,
                    struct theme *out);

/* The moderators' rules (proto/messages.md, "Themes"; room.c keeps them in the jam's state, this
 * module only applies them). A hidden word makes no theme and leaves words_top; its items may fall
 * into later themes. A word merged into 'into' makes no theme of its own: its items count in
 * into's theme, each once (NULL: its own again). Unknown words are remembered for items to come.
 * Chains are the caller's to refuse: 'into' must not itself be merged. */
void words_set_hidden(struct words *w, const char *word, bool hidden);
void words_set_merged(struct words *w, const char *word, const char *into);
/* True when 's' is exactly one word in its folded form (what words_top and themes show). */
bool words_is_word(const struct words *w, const char *s);

/* Up to 'k' visible items most like 'text', most alike first (the smaller id among equals): the
 * cosine of the two word sets, each word weighted by its rarity, idf = ln(1 + items / items using
 * it), so that sharing "shade" counts for more than sharing "city" in a jam about a city. An item
 * must reach 'min_score' (0..1) and pass accept(id, ctx) (NULL accepts all). Looks only at the
 * posting lists of the words of 'text'. Returns how many ids were written to 'out'. */
size_t words_similar(struct words *w, const char *text, size_t len, double min_score,
                     bool (*accept)(uint32_t id, void *ctx), void *ctx, size_t k, uint32_t *out);

/* Split 'text' into its words (as defined above, stop words removed), calling each(word, n, ctx)
 * for every one, repeats included; 'w' only lends its stop-word set. */
void words_split(const struct words *w, const char *text, size_t len,
                 void (*each)(const char *word, size_t n, void *ctx), void *ctx);

#endif
