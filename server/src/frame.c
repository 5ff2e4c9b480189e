/* SPDX-License-Identifier: MIT
 * frame.c - refcounted outbound frames (see frame.h). Single-threaded: the loop owns all frames.
 */
#include "frame.h"

#include <stddef.h>
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

size_t frame_wire(struct frame *f, unsigned char **start)
{
    /* TEXT or CONTINUATION, FIN on the whole message's last frame (RFC 6455 5.2, 5.4). */
    static const unsigned char first_byte[] = {
        [FRAME_WHOLE] = 0x81, [FRAME_FIRST] = 0x01, [FRAME_MIDDLE] = 0x00, [FRAME_LAST] = 0x80};
    unsigned char *p = frame_payload(f);
    size_t len = f->len, head;
    if (len < 126) {
        head = 2;
        p[-1] = (unsigned char)len;
    } else if (len <= 0xffff) {
        head = 4;
        p[-3] = 126;
        p[-2] = (unsigned char)(len >> 8);
        p[-1] = (unsigned char)len;
    } else {
        head = 10;
        p[-9] = 127;
        for (int i = 0; i < 8; i++)
            p[-1 - i] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    p[-(ptrdiff_t)head] = first_byte[f->part];
    *start = p - head;
    return head + len;
}
