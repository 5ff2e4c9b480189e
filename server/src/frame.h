/* SPDX-License-Identifier: MIT
 * frame.h - refcounted, immutable outbound frames with FRAME_HEADROOM bytes before the payload
 * (the transport writes its WebSocket header there). One broadcast frame is encoded once and
 * shared by every member's queue; the last unref frees it.
 */
#ifndef COJAM_FRAME_H
#define COJAM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADROOM 32 /* >= LWS_PRE; net.c checks it */

/* Which WebSocket frame of a message this is: a whole message, or the first, a middle or the last
 * fragment of one (a large snapshot: the session's own head, the shared body's pieces, its own
 * tail). A middle piece is shared by every session it goes to: lws writes the same header bytes
 * into its headroom for each of them. */
enum frame_part { FRAME_WHOLE = 0, FRAME_FIRST, FRAME_MIDDLE, FRAME_LAST };

struct frame {
    int refs;
    enum frame_part part; /* FRAME_WHOLE unless set */
    size_t len;           /* payload bytes */
    unsigned char buf[];  /* FRAME_HEADROOM + len + 1 (NUL after the payload) */
};

/* A new frame holding a copy of 'data' with one reference. */
struct frame *frame_new(const char *data, size_t len);
/* A new frame that takes ownership of a malloc'd NUL-terminated string (copied, then freed). */
struct frame *frame_from_string(char *s);
struct frame *frame_ref(struct frame *f);
/* Drop one reference; frees at zero. frame_unref(NULL) is a no-op. */
void frame_unref(struct frame *f);
static inline unsigned char *frame_payload(struct frame *f)
{
    return f->buf + FRAME_HEADROOM;
}
/* Write the RFC 6455 header of a server's frame (unmasked; opcode and FIN by f->part) into the
 * headroom just before the payload; '*start' is where the frame begins. Returns the frame's length
 * on the wire. The same bytes every time: a shared frame is written for each member in turn. */
size_t frame_wire(struct frame *f, unsigned char **start);

#endif
