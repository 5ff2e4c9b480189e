/* SPDX-License-Identifier: MIT
 * words.c - the jam's words: a tokenizer over UTF-8, one stop-word set for the four languages the
 * web client speaks, and per word the items that use it (a posting list) ranked by rank.c.
 */
#include "words.h"

#include "alloc.h"
#include "hash.h"
#include "rank.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Words of 3 or more characters only: shorter ones are almost all function words in these
 * languages, and the list below need not carry them. One set for all four languages, since a jam
 * may mix them; a word that is a stop word in one and meaningful in another ("die", "war") is lost
 * in both, which costs the cloud little. Sources: the usual Snowball lists, cut to what appears in
 * short civic proposals. */
static const char *const STOP_WORDS[] = {
    /* English */
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "and",
    "any",
    "are",
    "around",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "can",
    "could",
    "did",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "every",
    "few",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "had",
    "has",
    "have",
    "having",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "into",
    "its",
    "itself",
    "just",
    "let",
    "like",
    "make",
    "many",
    "more",
    "most",
    "much",
    "must",
    "myself",
    "need",
    "needs",
    "nor",
    "not",
    "now",
    "off",
    "once",
    "only",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "too",
    "under",
    "until",
    "use",
    "very",
    "was",
    "way",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "less",
    "lot",
    "lots",
    "want",
    "please",
    "etc",
    "don",
    "doesn",
    "didn",
    "isn",
    "aren",
    "wasn",
    "won",
    "wouldn",
    "shouldn",
    /* German */
    "aber",
    "alle",
    "allem",
    "allen",
    "aller",
    "alles",
    "als",
    "also",
    "am",
    "andere",
    "anderen",
    "auch",
    "auf",
    "aus",
    "bei",
    "beim",
    "bin",
    "bis",
    "bitte",
    "damit",
    "dann",
    "das",
    "dass",
    "dem",
    "den",
    "denn",
    "der",
    "des",
    "dich",
    "die",
    "dies",
    "diese",
    "diesem",
    "diesen",
    "dieser",
    "dieses",
    "doch",
    "dort",
    "durch",
    "ein",
    "eine",
    "einem",
    "einen",
    "einer",
    "eines",
    "etwas",
    "euch",
    "für",
    "gegen",
    "gibt",
    "hat",
    "hatte",
    "hier",
    "hin",
    "ich",
    "ihr",
    "ihre",
    "ihrem",
    "ihren",
    "ihrer",
    "im",
    "immer",
    "ist",
    "jede",
    "jedem",
    "jeden",
    "jeder",
    "jedes",
    "kann",
    "kein",
    "keine",
    "können",
    "man",
    "mehr",
    "mein",
    "meine",
    "mit",
    "muss",
    "nach",
    "nicht",
    "noch",
    "nur",
    "oder",
    "ohne",
    "schon",
    "sehr",
    "sein",
    "seine",
    "sich",
    "sie",
    "sind",
    "soll",
    "sollte",
    "sondern",
    "über",
    "um",
    "und",
    "uns",
    "unser",
    "unsere",
    "unter",
    "viel",
    "viele",
    "vom",
    "von",
    "vor",
    "war",
    "waren",
    "was",
    "weil",
    "wenn",
    "werden",
    "wie",
    "wir",
    "wird",
    "wo",
    "zum",
    "zur",
    "zwischen",
    /* French */
    "aux",
    "avec",
    "avoir",
    "beaucoup",
    "bien",
    "car",
    "ce",
    "cela",
    "ces",
    "cet",
    "cette",
    "chaque",
    "comme",
    "dans",
    "des",
    "donc",
    "dont",
    "elle",
    "elles",
    "encore",
    "est",
    "et",
    "être",
    "faire",
    "faut",
    "leur",
    "leurs",
    "lui",
    "mais",
    "mes",
    "moi",
    "moins",
    "même",
    "nos",
    "notre",
    "nous",
    "par",
    "pas",
    "peut",
    "plus",
    "pour",
    "pourquoi",
    "quand",
    "que",
    "quel",
    "quelle",
    "quelles",
    "quels",
    "qui",
    "sans",
    "ses",
    "son",
    "sont",
    "sous",
    "sur",
    "tous",
    "tout",
    "toute",
    "toutes",
    "très",
    "une",
    "vers",
    "vos",
    "votre",
    "vous",
    "était",
    "été",
    "ici",
    "ils",
    "les",
    "aussi",
    "avons",
    "fait",
    /* Spanish */
    "algo",
    "algunos",
    "ante",
    "antes",
    "aquí",
    "así",
    "cada",
    "como",
    "con",
    "contra",
    "cual",
    "cuando",
    "del",
    "desde",
    "donde",
    "dos",
    "durante",
    "ella",
    "ellas",
    "ellos",
    "entre",
    "era",
    "eres",
    "esa",
    "esas",
    "ese",
    "eso",
    "esos",
    "esta",
    "está",
    "están",
    "estas",
    "este",
    "esto",
    "estos",
    "fue",
    "hace",
    "hacer",
    "hay",
    "las",
    "los",
    "más",
    "mis",
    "mucho",
    "muchos",
    "muy",
    "nada",
    "nos",
    "nosotros",
    "nuestra",
    "nuestro",
    "otra",
    "otro",
    "otros",
    "para",
    "pero",
    "poco",
    "por",
    "porque",
    "puede",
    "qué",
    "que",
    "sea",
    "ser",
    "sin",
    "sobre",
    "son",
    "sus",
    "también",
    "tan",
    "tanto",
    "tiene",
    "todo",
    "todos",
    "una",
    "uno",
    "unos",
    "usted",
    "vez",
    "hacia",
    "hasta",
    "tener",
};

struct word {
    uint32_t id;    /* 1.., in the order words were first seen */
    uint32_t *post; /* owned: ids of the visible items that use it, unordered */
    uint32_t n_post, cap_post;
    uint32_t into; /* a moderator's merge: the word id whose theme its items count in, 0 = none */
    bool hidden;   /* a moderator's hide: no theme, not in the cloud */
    char text[];   /* NUL-terminated */
};

struct entry { /* an item's words, to uncount them on words_remove */
    uint32_t *word_ids;
    uint32_t n;
    bool present;
};

struct words {
    struct smap stop;    /* stop word -> (void *)1 */
    struct smap by_text; /* word -> owned struct word */
    struct word **by_id; /* borrowed from by_text; by_id[id - 1] */
    size_t n_words, cap_words;
    struct rank *by_items; /* word id, score = items using it */
    struct entry *items;   /* owned; indexed by item id */
    size_t cap_items;
    uint32_t *claimed; /* owned; per item id: the themes pass that took it */
    uint32_t pass;
    uint32_t *seen; /* owned; per item id: the theme candidate that last counted it */
    uint32_t seen_pass;
    uint32_t *merged; /* owned: ids of the words merged into another (at most a room's rules) */
    size_t n_merged, cap_merged;
    size_t n_items; /* visible items counted */
    double *acc;    /* owned; per item id: words_similar's candidate mark, 0 outside a call */
};

/* ------------------------------------------------------------------------------------------ */
/* Tokenizer                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Length of the separator at s[i..n), 0 when s[i] starts part of a word. ASCII: anything but a
 * letter, a digit or "'" inside a word (handled by the caller). U+0080-U+00BF (Latin-1 symbols and
 * punctuation: « » ¿ ¡ NBSP), × and ÷, and U+2000-U+206F (General Punctuation: ’ “ ” – — …) are
 * separators; every other multi-byte character is a letter. Invalid UTF-8 bytes separate. */
static size_t separator_len(const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    if (c < 0x80)
        return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') ? 0 : 1;
    if (c == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0xBF)
        return 2;
    if (c == 0xC3 && i + 1 < n && (s[i + 1] == 0x97 || s[i + 1] == 0xB7))
        return 2;
    if (c == 0xE2 && i + 2 < n && (s[i + 1] == 0x80 || (s[i + 1] == 0x81 && s[i + 2] <= 0xAF)))
        return 3;
    if (c >= 0xC2 && c <= 0xF4) {
        size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (i + len > n)
            return n - i;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return k;
        return 0;
    }
    return 1; /* a stray continuation byte or an invalid lead */
}

static size_t char_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static bool is_stop(const struct smap *stop, const char *w)
{
    return smap_get(stop, w) != NULL;
}

static void split_with(const struct smap *stop, const char *text, size_t len,
                       void (*each)(const char *word, size_t n, void *ctx), void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    char buf[WORDS_MAX_BYTES + 1];
    size_t i = 0;
    while (i < len) {
        size_t sep = separator_len(s, i, len);
        if (sep) {
            i += sep;
            continue;
        }
        size_t b = 0, chars = 0;
        bool digits_only = true, too_long = false;
        while (i < len && !separator_len(s, i, len)) {
            size_t cl = char_len(s[i]);
            if (b + cl > WORDS_MAX_BYTES || chars == 40)
                too_long = true;
            if (!too_long) {
                for (size_t k = 0; k < cl; k++)
                    buf[b + k] = (char)s[i + k];
                if (cl == 1 && s[i] >= 'A' && s[i] <= 'Z')
                    buf[b] = (char)(s[i] | 0x20);
                else if (cl == 2 && s[i] == 0xC3 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9E)
                    buf[b + 1] = (char)(s[i + 1] + 0x20); /* À-Þ -> à-þ */
                if (!(cl == 1 && s[i] >= '0' && s[i] <= '9'))
                    digits_only = false;
                b += cl;
                chars++;
            }
            i += cl;
        }
        buf[b] = '\0';
        if (!too_long && chars >= 3 && !digits_only && !is_stop(stop, buf))
            each(buf, b, ctx);
    }
}

static void stop_init(struct smap *stop)
{
    smap_init(stop);
    for (size_t i = 0; i < sizeof(STOP_WORDS) / sizeof(STOP_WORDS[0]); i++)
        smap_put(stop, STOP_WORDS[i], (void *)1);
}

void words_split(const struct words *w, const char *text, size_t len,
                 void (*each)(const char *word, size_t n, void *ctx), void *ctx)
{
    split_with(&w->stop, text, len, each, ctx);
}

/* ------------------------------------------------------------------------------------------ */
/* Counting                                                                                    */
/* ------------------------------------------------------------------------------------------ */

struct words *words_new(void)
{
    struct words *w = xcalloc(1, sizeof(*w));
    stop_init(&w->stop);
    smap_init(&w->by_text);
    w->by_items = rank_new(0x30d5u);
    return w;
}

static void free_word(void *p)
{
    struct word *wd = p;
    free(wd->post);
    free(wd);
}

void words_free(struct words *w)
{
    if (!w)
        return;
    smap_deinit(&w->stop, NULL);
    smap_deinit(&w->by_text, free_word);
    free(w->by_id);
    rank_free(w->by_items);
    for (size_t i = 0; i < w->cap_items; i++)
        free(w->items[i].word_ids);
    free(w->items);
    free(w->claimed);
    free(w->seen);
    free(w->merged);
    free(w->acc);
    free(w);
}

static struct word *intern(struct words *w, const char *text, size_t n)
{
    struct word *wd = smap_get(&w->by_text, text);
    if (wd)
        return wd;
    wd = xcalloc(1, sizeof(*wd) + n + 1);
    memcpy(wd->text, text, n + 1);
    if (w->n_words == w->cap_words) {
        w->cap_words = w->cap_words ? 2 * w->cap_words : 64;
        w->by_id = xrealloc(w->by_id, w->cap_words * sizeof(*w->by_id));
    }
    w->by_id[w->n_words++] = wd;
    wd->id = (uint32_t)w->n_words;
    smap_put(&w->by_text, wd->text, wd);
    return wd;
}

struct adding {
    struct words *w;
    struct entry *e;
};

static void add_word(const char *text, size_t n, void *ctx)
{
    struct adding *a = ctx;
    struct word *wd = intern(a->w, text, n);
    struct entry *e = a->e;
    for (uint32_t i = 0; i < e->n; i++)
        if (e->word_ids[i] == wd->id)
            return; /* counted once per item */
    e->word_ids = xrealloc(e->word_ids, (e->n + 1) * sizeof(*e->word_ids));
    e->word_ids[e->n++] = wd->id;
    if (wd->n_post == wd->cap_post) {
        wd->cap_post = wd->cap_post ? 2 * wd->cap_post : 4;
        wd->post = xrealloc(wd->post, wd->cap_post * sizeof(*wd->post));
    }
    uint32_t item = (uint32_t)(e - a->w->items);
    wd->post[wd->n_post++] = item;
    if (wd->n_post == 1)
        rank_insert(a->w->by_items, wd->id, 1);
    else
        rank_set(a->w->by_items, wd->id, wd->n_post);
}

void words_add(struct words *w, uint32_t id, const char *text, size_t len)
{
    if (id == 0 || id >= (1u << 31))
        return;
    words_remove(w, id);
    if (id >= w->cap_items) {
        size_t cap = w->cap_items ? w->cap_items : 64;
        while (cap <= id)
            cap *= 2;
        w->items = xrealloc(w->items, cap * sizeof(*w->items));
        memset(w->items + w->cap_items, 0, (cap - w->cap_items) * sizeof(*w->items));
        w->claimed = xrealloc(w->claimed, cap * sizeof(*w->claimed));
        memset(w->claimed + w->cap_items, 0, (cap - w->cap_items) * sizeof(*w->claimed));
        w->seen = xrealloc(w->seen, cap * sizeof(*w->seen));
        memset(w->seen + w->cap_items, 0, (cap - w->cap_items) * sizeof(*w->seen));
        w->acc = xrealloc(w->acc, cap * sizeof(*w->acc));
        for (size_t i = w->cap_items; i < cap; i++)
            w->acc[i] = 0;
        w->cap_items = cap;
    }
    struct entry *e = &w->items[id];
    e->present = true;
    e->n = 0;
    w->n_items++;
    struct adding a = {w, e};
    split_with(&w->stop, text, len, add_word, &a);
}

void words_remove(struct words *w, uint32_t id)
{
    if (id >= w->cap_items || !w->items[id].present)
        return;
    struct entry *e = &w->items[id];
    for (uint32_t i = 0; i < e->n; i++) {
        struct word *wd = w->by_id[e->word_ids[i] - 1];
        for (uint32_t k = 0; k < wd->n_post; k++)
            if (wd->post[k] == id) {
                wd->post[k] = wd->post[--wd->n_post];
                break;
            }
        if (wd->n_post == 0)
            rank_remove(w->by_items, wd->id);
        else
            rank_set(w->by_items, wd->id, wd->n_post);
    }
    free(e->word_ids);
    *e = (struct entry){0};
    w->n_items--;
}

size_t words_top(const struct words *w, size_t k, struct word_count *out)
{
    uint32_t ids[64];
    size_t got = 0;
    for (size_t from = 0; got < k; from += 64) {
        size_t n = rank_range(w->by_items, from, 64, ids);
        for (size_t i = 0; i < n && got < k; i++) {
            const struct word *wd = w->by_id[ids[i] - 1];
            if (!wd->hidden)
                out[got++] = (struct word_count){wd->text, wd->n_post};
        }
        if (n < 64)
            break;
    }
    return got;
}

/* ---- moderators' rules and themes ---------------------------------------------------------- */

struct canon {
    const char *want;
    size_t n_words;
    bool same;
};

static void canon_word(const char *text, size_t n, void *ctx)
{
    struct canon *c = ctx;
    c->n_words++;
    c->same = strlen(c->want) == n && memcmp(c->want, text, n) == 0;
}

bool words_is_word(const struct words *w, const char *s)
{
    struct canon c = {s, 0, false};
    split_with(&w->stop, s, strlen(s), canon_word, &c);
    return c.n_words == 1 && c.same;
}

void words_set_hidden(struct words *w, const char *word, bool hidden)
{
    intern(w, word, strlen(word))->hidden = hidden;
}

void words_set_merged(struct words *w, const char *word, const char *into)
{
    struct word *wd = intern(w, word, strlen(word));
    uint32_t to = into ? intern(w, into, strlen(into))->id : 0;
    if (!wd->into && to) {
        if (w->n_merged == w->cap_merged) {
            w->cap_merged = w->cap_merged ? 2 * w->cap_merged : 8;
            w->merged = xrealloc(w->merged, w->cap_merged * sizeof(*w->merged));
        }
        w->merged[w->n_merged++] = wd->id;
    } else if (wd->into && !to) {
        for (size_t i = 0; i < w->n_merged; i++)
            if (w->merged[i] == wd->id) {
                w->merged[i] = w->merged[--w->n_merged];
                break;
            }
    }
    wd->into = to;
}

struct candidate {
    struct word *wd;
    uint32_t est; /* its postings and those of the words merged into it: the order of themes */
    uint32_t pos; /* its place in the ranking of words (ties) */
};

static int candidate_cmp(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->est != y->est)
        return x->est > y->est ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The theme word 'wd' would make of the items no earlier theme took: its own postings and those
 * of the (visible) words merged into it, each item once. Returns the theme, items < 2 = none. */
static struct theme count_theme(struct words *w, struct word *wd,
                                uint32_t (*votes)(uint32_t id, void *ctx), void *ctx)
{
    if (++w->seen_pass == 0) {
        memset(w->seen, 0, w->cap_items * sizeof(*w->seen));
        w->seen_pass = 1;
    }
    struct theme t = {wd->text, 0, 0};
    uint32_t best = 0;
    for (size_t m = 0; m <= w->n_merged; m++) {
        const struct word *src = wd;
        if (m < w->n_merged) {
            src = w->by_id[w->merged[m] - 1];
            if (src->into != wd->id || src->hidden)
                continue;
        }
        for (uint32_t p = 0; p < src->n_post; p++) {
            uint32_t item = src->post[p];
            if (w->claimed[item] == w->pass || w->seen[item] == w->seen_pass)
                continue;
            w->seen[item] = w->seen_pass;
            t.items++;
            uint32_t v = votes ? votes(item, ctx) : 0;
            if (!t.top || v > best || (v == best && item < t.top)) {
                t.top = item;
                best = v;
            }
        }
    }
    return t;
}

static void claim_theme(struct words *w, const struct word *wd)
{
    for (size_t m = 0; m <= w->n_merged; m++) {
        const struct word *src = wd;
        if (m < w->n_merged) {
            src = w->by_id[w->merged[m] - 1];
            if (src->into != wd->id || src->hidden)
                continue;
        }
        for (uint32_t p = 0; p < src->n_post; p++)
            w->claimed[src->post[p]] = w->pass;
    }
}

static uint32_t merged_postings(const struct words *w, const struct word *wd)
{
    uint32_t n = wd->n_post;
    for (size_t m = 0; m < w->n_merged; m++) {
        const struct word *src = w->by_id[w->merged[m] - 1];
        if (src->into == wd->id && !src->hidden)
            n += src->n_post;
    }
    return n;
}

size_t words_themes(struct words *w, size_t k, uint32_t (*votes)(uint32_t id, void *ctx), void *ctx,
                    struct theme *out)
{
    if (k == 0)
        return 0;
    if (++w->pass == 0) { /* wrapped: forget every old mark */
        memset(w->claimed, 0, w->cap_items * sizeof(*w->claimed));
        w->pass = 1;
    }
    /* The candidates: the first 4k words of the ranking that are neither hidden nor merged into
     * another, and every word others are merged into (it may rank low on its own). Ordered by
     * their postings with those merged in, an upper bound of the theme's items, then by rank:
     * without rules this is the ranking itself. */
    size_t cap = 4 * k + w->n_merged, n_cand = 0;
    struct candidate *cand = xmalloc(cap * sizeof(*cand));
    uint32_t ids[64];
    for (size_t from = 0; from < 4 * k; from += 64) {
        size_t n = rank_range(w->by_items, from, 64, ids);
        for (size_t i = 0; i < n && from + i < 4 * k; i++) {
            struct word *wd = w->by_id[ids[i] - 1];
            if (!wd->hidden && !wd->into)
                cand[n_cand++] = (struct candidate){wd, merged_postings(w, wd),
                                                    (uint32_t)(from + i)};
        }
        if (n < 64)
            break;
    }
    for (size_t m = 0; m < w->n_merged; m++) {
        struct word *to = w->by_id[w->by_id[w->merged[m] - 1]->into - 1];
        bool known = to->hidden || to->into;
        for (size_t c = 0; c < n_cand && !known; c++)
            known = cand[c].wd == to;
        if (!known)
            cand[n_cand++] = (struct candidate){to, merged_postings(w, to), UINT32_MAX};
    }
    qsort(cand, n_cand, sizeof(*cand), candidate_cmp);
    size_t got = 0;
    for (size_t c = 0; c < n_cand && got < k; c++) {
        struct theme t = count_theme(w, cand[c].wd, votes, ctx);
        if (t.items < 2)
            continue;
        claim_theme(w, cand[c].wd);
        out[got++] = t;
    }
    free(cand);
    return got;
}

/* ---- similar items --------------------------------------------------------------------------- */

static void count_word(const char *text, size_t n, void *ctx)
{
    (void)text;
    (void)n;
    (*(size_t *)ctx)++;
}

static double idf(const struct words *w, const struct word *wd)
{
    return log(1.0 + (double)w->n_items / (double)(wd->n_post ? wd->n_post : 1));
}

struct query {
    const struct words *w;
    const struct word *found[64]; /* the distinct words of the text the jam knows */
    size_t n;
};

static void query_word(const char *text, size_t n, void *ctx)
{
    (void)n;
    struct query *q = ctx;
    const struct word *wd = smap_get(&q->w->by_text, text);
    if (!wd || !wd->n_post || q->n == sizeof(q->found) / sizeof(q->found[0]))
        return;
    for (size_t i = 0; i < q->n; i++)
        if (q->found[i] == wd)
            return;
    q->found[q->n++] = wd;
}

size_t words_similar(struct words *w, const char *text, size_t len, double min_score,
                     bool (*accept)(uint32_t id, void *ctx), void *ctx, size_t k, uint32_t *out)
{
    struct query q = {.w = w};
    split_with(&w->stop, text, len, query_word, &q);
    /* The query's own words the jam does not know still count in its norm. */
    size_t all = 0; /* words of the text, repeats included: an upper bound of its distinct ones */
    split_with(&w->stop, text, len, count_word, &all);
    double qnorm = 0;
    for (size_t i = 0; i < q.n; i++)
        qnorm += idf(w, q.found[i]) * idf(w, q.found[i]);
    size_t unknown = all > q.n ? all - q.n : 0;
    double rarest = log(1.0 + (double)w->n_items); /* an unknown word is as rare as a word can be */
    qnorm += (double)unknown * rarest * rarest;
    if (q.n == 0 || qnorm <= 0)
        return 0;

    /* Candidates come from the postings of the query's rarer words: a word in more than one item
     * in 16 adds little weight (idf <= ln 17) and its postings would be most of the cost (at 10,000
     * items, one such word lists thousands). Only when every word is that common are they used.
     * Each candidate's dot product is then exact, over its own words. */
    size_t rare_cap = w->n_items / 16 > 64 ? w->n_items / 16 : 64;
    bool any_rare = false;
    for (size_t i = 0; i < q.n; i++)
        any_rare |= q.found[i]->n_post <= rare_cap;
    size_t n_touched = 0, cap_touched = 0;
    uint32_t *touched = NULL;
    for (size_t i = 0; i < q.n; i++) {
        if (any_rare && q.found[i]->n_post > rare_cap)
            continue;
        for (uint32_t p = 0; p < q.found[i]->n_post; p++) {
            uint32_t item = q.found[i]->post[p];
            if (w->acc[item] != 0)
                continue;
            if (n_touched == cap_touched) {
                cap_touched = cap_touched ? 2 * cap_touched : 64;
                touched = xrealloc(touched, cap_touched * sizeof(*touched));
            }
            touched[n_touched++] = item;
            w->acc[item] = 1; /* seen */
        }
    }
    double best_score[16];
    size_t got = 0;
    if (k > sizeof(best_score) / sizeof(best_score[0]))
        k = sizeof(best_score) / sizeof(best_score[0]);
    for (size_t t = 0; t < n_touched; t++) {
        uint32_t item = touched[t];
        w->acc[item] = 0;
        if (accept && !accept(item, ctx))
            continue;
        const struct entry *e = &w->items[item];
        double inorm = 0, dot = 0;
        for (uint32_t i = 0; i < e->n; i++) {
            const struct word *wd = w->by_id[e->word_ids[i] - 1];
            double x = idf(w, wd);
            inorm += x * x;
            for (size_t j = 0; j < q.n; j++)
                if (q.found[j] == wd)
                    dot += x * x;
        }
        double score = dot / sqrt(qnorm * inorm);
        if (score < min_score)
            continue;
        /* Insert into the best k, best first, the smaller id first among equals. */
        size_t at = got;
        while (at > 0 &&
               (score > best_score[at - 1] || (score == best_score[at - 1] && item < out[at - 1])))
            at--;
        if (at >= k)
            continue;
        size_t last = got < k ? got : k - 1;
        for (size_t m = last; m > at; m--) {
            out[m] = out[m - 1];
            best_score[m] = best_score[m - 1];
        }
        out[at] = item;
        best_score[at] = score;
        if (got < k)
            got++;
    }
    free(touched);
    return got;
}
