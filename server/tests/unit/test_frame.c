/* SPDX-License-Identifier: MIT
 * test_frame.c - refcounted frames: a copy of the data after FRAME_HEADROOM bytes, a NUL after the
 * payload, references counted down to the free (ASan reports a leak or a double free otherwise);
 * the WebSocket header frame_wire writes before the payload.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "frame.h"
#include "test.h"

TEST(copy_headroom_and_nul)
{
    char data[] = "{\"type\":\"pong\"}";
    struct frame *f = frame_new(data, 6);
    data[0] = 'X'; /* the frame holds its own copy */
    CHECK_EQ_INT(f->refs, 1);
    CHECK_EQ_INT(f->len, 6);
    CHECK(frame_payload(f) == f->buf + FRAME_HEADROOM);
    CHECK(memcmp(frame_payload(f), "{\"type", 6) == 0);
    CHECK_EQ_INT(frame_payload(f)[6], '\0');
    CHECK_EQ_STR((const char *)frame_payload(f), "{\"type");
    frame_unref(f);
}

TEST(empty_frame)
{
    struct frame *f = frame_new("", 0);
    CHECK_EQ_INT(f->len, 0);
    CHECK_EQ_INT(frame_payload(f)[0], '\0');
    frame_unref(f);
}

TEST(from_string_takes_the_string)
{
    struct frame *f = frame_from_string(xstrdup("hello")); /* freed by frame_from_string */
    CHECK_EQ_INT(f->len, 5);
    CHECK_EQ_STR((const char *)frame_payload(f), "hello");
    frame_unref(f);
}

TEST(refcount)
{
    struct frame *f = frame_new("abc", 3);
    CHECK(frame_ref(f) == f);
    CHECK(frame_ref(f) == f);
    CHECK_EQ_INT(f->refs, 3);
    frame_unref(f);
    frame_unref(f);
    CHECK_EQ_INT(f->refs, 1);
    CHECK_EQ_STR((const char *)frame_payload(f), "abc");
    frame_unref(f);
    frame_unref(NULL);
}

/* A frame of 'len' bytes of 'x' as 'part', put on the wire: its header is checked against
 * 'head' (RFC 6455 5.2: FIN/opcode byte, then the length in 1, 1+2 or 1+8 bytes, no mask). */
static void check_wire(size_t len, enum frame_part part, const unsigned char *head, size_t head_len)
{
    char *data = xmalloc(len + 1);
    memset(data, 'x', len);
    struct frame *f = frame_new(data, len);
    f->part = part;
    unsigned char *start = NULL;
    size_t wire = frame_wire(f, &start);
    CHECK_EQ_INT(wire, head_len + len);
    CHECK(start == frame_payload(f) - head_len);
    CHECK(memcmp(start, head, head_len) == 0);
    CHECK(memcmp(frame_payload(f), data, len) == 0); /* the payload is left as it was */
    /* A shared frame is written for each member: the same bytes again. */
    unsigned char *again = NULL;
    CHECK_EQ_INT(frame_wire(f, &again), wire);
    CHECK(again == start);
    CHECK(memcmp(again, head, head_len) == 0);
    frame_unref(f);
    free(data);
}

TEST(wire_header_lengths)
{
    check_wire(0, FRAME_WHOLE, (const unsigned char[]){0x81, 0}, 2);
    check_wire(5, FRAME_WHOLE, (const unsigned char[]){0x81, 5}, 2);
    check_wire(125, FRAME_WHOLE, (const unsigned char[]){0x81, 125}, 2);
    check_wire(126, FRAME_WHOLE, (const unsigned char[]){0x81, 126, 0, 126}, 4);
    check_wire(300, FRAME_WHOLE, (const unsigned char[]){0x81, 126, 1, 44}, 4);
    check_wire(65535, FRAME_WHOLE, (const unsigned char[]){0x81, 126, 0xff, 0xff}, 4);
    check_wire(65536, FRAME_WHOLE, (const unsigned char[]){0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 10);
    check_wire(1234567, FRAME_WHOLE,
               (const unsigned char[]){0x81, 127, 0, 0, 0, 0, 0, 0x12, 0xd6, 0x87}, 10);
}

TEST(wire_header_parts)
{
    /* A fragmented message: TEXT without FIN, CONTINUATIONs without FIN, the last with FIN. */
    check_wire(10, FRAME_FIRST, (const unsigned char[]){0x01, 10}, 2);
    check_wire(10, FRAME_MIDDLE, (const unsigned char[]){0x00, 10}, 2);
    check_wire(10, FRAME_LAST, (const unsigned char[]){0x80, 10}, 2);
    check_wire(70000, FRAME_MIDDLE,
               (const unsigned char[]){0x00, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70}, 10);
}

int main(void)
{
    RUN(copy_headroom_and_nul);
    RUN(empty_frame);
    RUN(from_string_takes_the_string);
    RUN(refcount);
    RUN(wire_header_lengths);
    RUN(wire_header_parts);
    return test_done();
}
