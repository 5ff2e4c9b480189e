/* SPDX-License-Identifier: MIT
 * test_frame.c - refcounted frames: a copy of the data after FRAME_HEADROOM bytes, a NUL after the
 * payload, references counted down to the free (ASan reports a leak or a double free otherwise).
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

int main(void)
{
    RUN(copy_headroom_and_nul);
    RUN(empty_frame);
    RUN(from_string_takes_the_string);
    RUN(refcount);
    return test_done();
}
