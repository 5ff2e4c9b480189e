/* SPDX-License-Identifier: MIT
 * frame.c - refcounted outbound frames (see frame.h). Single-threaded: the loop owns all frames.
 */
#include "frame.h"

#include <string.h>

#include "alloc.h"

struct frame *frame_new(const char *data, size_t len)
{
    struct frame *f = xmalloc(sizeof *f + FRAME_HEADROOM + len + 1);
    f->refs = 1;
    f->part = FRAME_WHOLE;
    f->len = len;
    memcpy(f->buf + FRAME_HEADROOM, data, len);
    f->buf[FRAME_HEADROOM + len] = '\0';
    return f;
}

struct frame *frame_from_string(char *s)
{
    struct frame *f = frame_new(s, strlen(s));
    free(s);
    return f;
}

struct frame *frame_ref(struct frame *f)
{
    f->refs++;
    return f;
}

void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}
