/* SPDX-License-Identifier: MIT
 * test.h - the whole unit-test harness: TAP-ish lines, then "N passed, N failed".
 * Usage: TEST(name) { CHECK(x == 1); CHECK_EQ_STR(a, b); }  int main(void){ RUN(name); return test_done(); }
 */
#ifndef COJAM_TEST_H
#define COJAM_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed, test_cur_failed;
static const char *test_cur_name;

#define TEST(name) static void name(void)
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_cur_failed = 1;                                                                   \
            fprintf(stderr, "  %s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, test_cur_name,  \
                    #cond);                                                                        \
        }                                                                                          \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            test_cur_failed = 1;                                                                   \
            fprintf(stderr, "  %s:%d: %s: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__,  \
                    test_cur_name, #a, a_, #b, b_);                                                \
        }                                                                                          \
    } while (0)
#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            test_cur_failed = 1;                                                                   \
            fprintf(stderr, "  %s:%d: %s: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__,    \
                    test_cur_name, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                    \
        }                                                                                          \
    } while (0)
#define RUN(name)                                                                                  \
    do {                                                                                           \
        test_cur_name = #name;                                                                     \
        test_cur_failed = 0;                                                                       \
        name();                                                                                    \
        if (test_cur_failed) {                                                                     \
            test_failed++;                                                                         \
            printf("not ok - %s\n", #name);                                                        \
        } else {                                                                                   \
            test_passed++;                                                                         \
            printf("ok - %s\n", #name);                                                            \
        }                                                                                          \
    } while (0)

static inline int test_done(void)
{
    printf("# %d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
