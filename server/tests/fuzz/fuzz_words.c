/* SPDX-License-Identifier: MIT
 * fuzz_words.c - libFuzzer target for words.c: any bytes split into words that are 3-40 characters,
 * at most WORDS_MAX_BYTES, NUL-free, valid UTF-8 and stable (splitting a word again gives itself);
 * counting the input as an item and removing it leaves no word behind.
 * Also built with gcc and tests/fuzz/replay.c to replay the corpus inside `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "words.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *word)
{
    fprintf(stderr, "fuzz_words: %s: '%s'\n", what, word);
    abort();
}

static struct words *w; /* made once: its stop-word set is all words_split needs */

struct again {
    const char *want;
    int seen;
};

static void check_again(const char *word, size_t n, void *ctx)
{
    struct again *a = ctx;
    if (strlen(a->want) != n || memcmp(word, a->want, n) != 0)
        die("a word splits into something else", word);
    a->seen++;
}

static void check_word(const char *word, size_t n, void *ctx)
{
    (void)ctx;
    if (n == 0 || n > WORDS_MAX_BYTES || strlen(word) != n)
        die("bad length", word);
    size_t chars = 0;
    for (size_t i = 0; i < n; chars++) {
        unsigned char c = (unsigned char)word[i];
        size_t len = c < 0x80                 ? 1
                     : c >= 0xC2 && c < 0xE0  ? 2
                     : c >= 0xE0 && c < 0xF0  ? 3
                     : c >= 0xF0 && c <= 0xF4 ? 4
                                              : 0;
        if (!len || i + len > n)
            die("invalid UTF-8 lead", word);
        for (size_t k = 1; k < len; k++)
            if (((unsigned char)word[i + k] & 0xC0) != 0x80)
                die("invalid UTF-8 continuation", word);
        if (len == 1 && c >= 'A' && c <= 'Z')
            die("not folded", word);
        i += len;
    }
    if (chars < 3 || chars > 40)
        die("bad character count", word);
    struct again a = {word, 0};
    words_split(w, word, n, check_again, &a);
    if (a.seen != 1)
        die("a word does not split into itself", word);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!w)
        w = words_new();
    words_split(w, (const char *)data, size, check_word, NULL);
    words_add(w, 1, (const char *)data, size);
    words_add(w, 2, (const char *)data, size);
    struct word_count top[4];
    size_t n = words_top(w, 4, top);
    for (size_t i = 0; i < n; i++)
        if (top[i].items != 2)
            die("an item's word not counted once per item", top[i].word);
    words_remove(w, 1);
    words_remove(w, 2);
    if (words_top(w, 4, top) != 0)
        die("words left after removing every item", top[0].word);
    return 0;
}
