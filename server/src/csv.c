/* SPDX-License-Identifier: MIT
 * csv.c - RFC 4180 cells with the formula-injection guard (see csv.h).
 */
#include "csv.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

static void put(struct csv *c, const char *s, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        c->cap = (c->len + n + 1) * 2;
        c->buf = xrealloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    c->buf[c->len] = '\0';
}

static void separate(struct csv *c)
{
    if (c->in_row)
        put(c, ",", 1);
    c->in_row = true;
}

void csv_text(struct csv *c, const char *s)
{
    separate(c);
    if (!s)
        return;
    bool guard = s[0] && strchr("=+-@\t\r", s[0]);
    bool quote = s[strcspn(s, ",\"\r\n")] != '\0';
    if (quote)
        put(c, "\"", 1);
    if (guard)
        put(c, "'", 1);
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "\"");
        put(c, p, n);
        p += n;
        if (*p == '"') {
            put(c, "\"\"", 2);
            p++;
        }
    }
    if (quote)
        put(c, "\"", 1);
}

void csv_int(struct csv *c, long long v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", v);
    separate(c);
    put(c, num, (size_t)n);
}

void csv_end_row(struct csv *c)
{
    put(c, "\r\n", 2);
    c->in_row = false;
}

char *csv_take(struct csv *c)
{
    char *s = c->buf ? c->buf : xstrdup("");
    *c = (struct csv){0};
    return s;
}
