/* SPDX-License-Identifier: MIT
 * test_alloc.c - alloc.h: zero sizes still give a pointer, copies are whole and NUL-terminated.
 */
#include "alloc.h"
#include "test.h"

TEST(zero_sizes_give_a_pointer)
{
    void *a = xmalloc(0), *b = xcalloc(0, 0), *c = xrealloc(NULL, 0);
    CHECK(a != NULL && b != NULL && c != NULL);
    free(a);
    free(b);
    free(c);
}

TEST(calloc_zeroes_and_realloc_keeps)
{
    unsigned char *p = xcalloc(64, 1);
    int nonzero = 0;
    for (int i = 0; i < 64; i++)
        nonzero += p[i] != 0;
    CHECK_EQ_INT(nonzero, 0);
    memcpy(p, "kept", 5);
    p = xrealloc(p, 1 << 20);
    CHECK_EQ_STR((char *)p, "kept");
    free(p);
}

TEST(strdup_and_memdup_copy)
{
    char src[] = "ab\0cd";
    char *s = xstrdup(src);
    CHECK_EQ_STR(s, "ab");
    CHECK(s != src);
    char *m = xmemdup(src, sizeof src - 1); /* five bytes, one of them a NUL */
    CHECK(memcmp(m, "ab\0cd", 5) == 0);
    CHECK_EQ_INT(m[5], '\0');
    char *e = xmemdup("", 0);
    CHECK_EQ_STR(e, "");
    free(s);
    free(m);
    free(e);
}

int main(void)
{
    RUN(zero_sizes_give_a_pointer);
    RUN(calloc_zeroes_and_realloc_keeps);
    RUN(strdup_and_memdup_copy);
    return test_done();
}
