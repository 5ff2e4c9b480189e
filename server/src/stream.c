/* SPDX-License-Identifier: MIT
 * stream.c - stream ids (see stream.h).
 */
#include "stream.h"

#include <string.h>

/* One decimal part of an id: at least one digit, no overflow. */
static const char *parse_part(const char *s, uint64_t *v)
{
    const char *start = s;
    *v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (*v > (UINT64_MAX - d) / 10)
            return NULL;
        *v = *v * 10 + d;
    }
    return s == start ? NULL : s;
}

bool stream_id_parse(const char *s, struct stream_id *out)
{
    const char *p;
    if (s && strlen(s) <= MSG_EVENT_ID_MAX && (p = parse_part(s, &out->ms)) && *p == '-' &&
        (p = parse_part(p + 1, &out->seq)) && *p == '\0')
        return true;
    out->ms = out->seq = 0;
    return false;
}

int stream_id_cmp(const char *a, const char *b)
{
    struct stream_id x, y;
    stream_id_parse(a, &x);
    stream_id_parse(b, &y);
    if (x.ms != y.ms)
        return x.ms < y.ms ? -1 : 1;
    return x.seq < y.seq ? -1 : x.seq > y.seq;
}

void stream_id_copy(char dst[MSG_EVENT_ID_MAX + 1], const char *src)
{
    size_t n = strnlen(src, MSG_EVENT_ID_MAX);
    memcpy(dst, src, n);
    dst[n] = '\0';
}
