/* SPDX-License-Identifier: MIT
 * jsonw.c - the JSON writer (see jsonw.h).
 */
#include "jsonw.h"

#include <string.h>

#include "alloc.h"

#define JSONW_FIRST 256 /* an event's encoding mostly fits */

static void reserve(struct jsonw *w, size_t n)
{
    if (w->len + n + 1 <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : JSONW_FIRST;
    while (cap < w->len + n + 1)
        cap *= 2;
    w->buf = xrealloc(w->buf, cap);
    w->cap = cap;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
    reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void put_char(struct jsonw *w, char c)
{
    reserve(w, 1);
    w->buf[w->len++] = c;
    w->buf[w->len] = '\0';
}

/* Before a value or a key: the separator from the one before at this level. */
static void next(struct jsonw *w)
{
    if (w->comma)
        put_char(w, ',');
    w->comma = true;
}

void jsonw_init(struct jsonw *w)
{
    memset(w, 0, sizeof *w);
}

char *jsonw_take(struct jsonw *w, size_t *len)
{
    reserve(w, 0);
    w->buf[w->len] = '\0';
    char *s = w->buf;
    if (len)
        *len = w->len;
    jsonw_init(w);
    return s;
}

void jsonw_object(struct jsonw *w)
{
    next(w);
    put_char(w, '{');
    w->comma = false;
}

void jsonw_array(struct jsonw *w)
{
    next(w);
    put_char(w, '[');
    w->comma = false;
}

void jsonw_end_object(struct jsonw *w)
{
    put_char(w, '}');
    w->comma = true;
}

void jsonw_end_array(struct jsonw *w)
{
    put_char(w, ']');
    w->comma = true;
}

/* Pairs of a character and the letter of its two-character escape (strchr finds the first of a
 * pair: no letter here is a character that needs escaping). */
#define SHORT_ESCAPES "\"\"\\\\\bb\ff\nn\rr\tt"

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong form, no surrogate,
 * nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

/* Jansson's escaping: '"' and '\\', the five short escapes, other control characters as \u00XX
 * (upper-case hex); '/', DEL and every other code point as they are. A byte that does not begin a
 * well-formed UTF-8 sequence, which Jansson could not hold in a string at all, is written as
 * U+FFFD: whatever a caller hands over, the document is JSON every reader (and the stream's
 * replay) can decode. */
static void put_string(struct jsonw *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    put_char(w, '"');
    const unsigned char *p = (const unsigned char *)s, *run = p;
    for (;;) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        size_t seq = c >= 0x80 ? utf8_seq(p) : 0; /* a NUL ends a sequence early: 0 */
        if (seq) {
            p += seq;
            continue;
        }
        put(w, (const char *)run, (size_t)(p - run));
        if (!c)
            break;
        if (c >= 0x80) {
            put(w, "\xEF\xBF\xBD", 3);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            size_t n = 6;
            const char *short_esc = strchr(SHORT_ESCAPES, c); /* c is one of the pairs' first */
            if (short_esc) {
                esc[1] = short_esc[1];
                n = 2;
            }
            put(w, esc, n);
        }
        run = ++p;
    }
    put_char(w, '"');
}

void jsonw_key(struct jsonw *w, const char *key)
{
    next(w);
    put_string(w, key);
    put_char(w, ':');
    w->comma = false;
}

void jsonw_str(struct jsonw *w, const char *s)
{
    if (!s) {
        jsonw_null(w);
        return;
    }
    next(w);
    put_string(w, s);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    char b[24], *end = b + sizeof b, *p = end;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    next(w);
    put(w, p, (size_t)(end - p));
}

void jsonw_bool(struct jsonw *w, bool v)
{
    next(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(struct jsonw *w)
{
    next(w);
    put(w, "null", 4);
}
