/* SPDX-License-Identifier: MIT
 * test_stream.c - stream ids: the one parser (digits, 64-bit parts, the length bound, nothing
 * else) and the one order (numeric by ms then seq; malformed ids as 0-0).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "test.h"

static bool parses(const char *s, uint64_t ms, uint64_t seq)
{
    struct stream_id id = {99, 99};
    return stream_id_parse(s, &id) && id.ms == ms && id.seq == seq;
}

static bool refused(const char *s)
{
    struct stream_id id = {99, 99};
    return !stream_id_parse(s, &id) && id.ms == 0 && id.seq == 0;
}

TEST(parse_valid)
{
    CHECK(parses("0-0", 0, 0));
    CHECK(parses("1700000000123-45", 1700000000123ull, 45));
    CHECK(parses("007-010", 7, 10));
    CHECK(parses("18446744073709551615-18446744073709551615", UINT64_MAX, UINT64_MAX));
    CHECK_EQ_INT(strlen("18446744073709551615-18446744073709551615"), MSG_EVENT_ID_MAX);
}

TEST(parse_overflow)
{
    CHECK(refused("18446744073709551616-0"));
    CHECK(refused("0-18446744073709551616"));
    CHECK(refused("99999999999999999999-0"));
    CHECK(refused("184467440737095516150-0"));
}

TEST(parse_malformed)
{
    static const char *const bad[] = {
        "",      "-",
        "1",     "1-",
        "-1",    "1-2-3",
        "a-1",   "1-a",
        " 1-1",  "1-1 ",
        "+1-1",  "1-+1",
        "-1-1",  "1--1",
        "1_1",   "1-1\n",
        "0x1-1", "1.0-1",
        "１-1",  "0000000000000000000000000000000000000001-1", /* 42 characters: over the bound */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!refused(bad[i]))
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
        CHECK(refused(bad[i]));
    }
    CHECK(refused(NULL));
}

/* Moved from test_room.c. */
TEST(id_compare)
{
    CHECK(stream_id_cmp("1-0", "1-1") < 0);
    CHECK(stream_id_cmp("10-0", "9-5") > 0);
    CHECK(stream_id_cmp("5-5", "5-5") == 0);
    CHECK(stream_id_cmp("junk", "0-0") == 0);
}

TEST(order_is_numeric)
{
    CHECK(stream_id_cmp("9-0", "10-0") < 0); /* not by characters */
    CHECK(stream_id_cmp("1-9", "1-10") < 0);
    CHECK(stream_id_cmp("2-0", "1-99") > 0);
    CHECK(stream_id_cmp("007-1", "7-1") == 0);
    CHECK(stream_id_cmp("18446744073709551614-0", "18446744073709551615-0") < 0);
    CHECK(stream_id_cmp("0-18446744073709551615", "0-0") > 0);
    CHECK(stream_id_cmp("0-0", "0-18446744073709551615") < 0);
    CHECK(stream_id_cmp("", "0-1") < 0);
    CHECK(stream_id_cmp("1-x", "0-0") == 0);
}

static int cmp_ptr(const void *a, const void *b)
{
    return stream_id_cmp(*(const char *const *)a, *(const char *const *)b);
}

TEST(order_sorts_consistently)
{
    const char *ids[] = {"10-0",  "2-3", "2-10", "1-0",
                         "100-0", "2-2", "0-5",  "18446744073709551615-0"};
    const char *want[] = {"0-5",  "1-0",  "2-2",   "2-3",
                          "2-10", "10-0", "100-0", "18446744073709551615-0"};
    size_t n = sizeof ids / sizeof ids[0];
    qsort(ids, n, sizeof ids[0], cmp_ptr);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_STR(ids[i], want[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int a = stream_id_cmp(want[i], want[j]), b = stream_id_cmp(want[j], want[i]);
            CHECK((a > 0) - (a < 0) == -((b > 0) - (b < 0)));
            CHECK((i < j) == (a < 0));
        }
}

int main(void)
{
    RUN(parse_valid);
    RUN(parse_overflow);
    RUN(parse_malformed);
    RUN(id_compare);
    RUN(order_is_numeric);
    RUN(order_sorts_consistently);
    return test_done();
}
