/* SPDX-License-Identifier: MIT
 * test_sentinel.c - the sentinels' list (--sentinels), the primary's address in a sentinel's
 * reply, master names, and the retry delay between rounds.
 */
#include <errno.h>
#include <string.h>

#include "sentinel.h"
#include "test.h"

TEST(list_of_three)
{
    struct sentinel_addr a[SENTINEL_MAX];
    size_t n = 99;
    CHECK_EQ_INT(sentinel_parse_list("127.0.0.1:26379, 127.0.0.1:26380 ,s3.example.org:5000", a,
                                     SENTINEL_MAX, &n),
                 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(a[0].host, "127.0.0.1");
    CHECK_EQ_INT(a[0].port, 26379);
    CHECK_EQ_STR(a[1].host, "127.0.0.1");
    CHECK_EQ_INT(a[1].port, 26380);
    CHECK_EQ_STR(a[2].host, "s3.example.org");
    CHECK_EQ_INT(a[2].port, 5000);
}

TEST(list_ipv6_in_brackets)
{
    struct sentinel_addr a[2];
    size_t n;
    CHECK_EQ_INT(sentinel_parse_list("[::1]:26379", a, 2, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(a[0].host, "::1");
    CHECK_EQ_INT(a[0].port, 26379);
    CHECK_EQ_INT(sentinel_parse_list("::1:26379", a, 2, &n), -EINVAL); /* ambiguous */
}

TEST(list_refused)
{
    struct sentinel_addr a[2];
    size_t n;
    const char *bad[] = {"",
                         "host",
                         "host:",
                         ":26379",
                         "host:0",
                         "host:65536",
                         "host:263x",
                         "host:+1",
                         "a:1,",
                         ",a:1",
                         "a:1,,b:2",
                         "a b:1",
                         "a:1,b:2,c:3" /* over max */,
                         "[]:1",
                         "host:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = sentinel_parse_list(bad[i], a, 2, &n);
        if (rc != -EINVAL)
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
        CHECK_EQ_INT(rc, -EINVAL);
    }
    CHECK_EQ_INT(sentinel_parse_list(NULL, a, 2, &n), -EINVAL);
    char longhost[SENTINEL_HOST_MAX + 8];
    memset(longhost, 'h', SENTINEL_HOST_MAX + 1);
    memcpy(longhost + SENTINEL_HOST_MAX + 1, ":1", 3);
    CHECK_EQ_INT(sentinel_parse_list(longhost, a, 2, &n), -EINVAL);
    longhost[SENTINEL_HOST_MAX] = ':';
    memcpy(longhost + SENTINEL_HOST_MAX + 1, "1", 2);
    CHECK_EQ_INT(sentinel_parse_list(longhost, a, 2, &n), 0); /* exactly the longest host */
}

TEST(reply)
{
    struct sentinel_addr a;
    CHECK_EQ_INT(sentinel_parse_reply("127.0.0.1xx", 9, "6380zz", 4, &a), 0);
    CHECK_EQ_STR(a.host, "127.0.0.1");
    CHECK_EQ_INT(a.port, 6380);
    CHECK_EQ_INT(sentinel_parse_reply("", 0, "6380", 4, &a), -EINVAL);
    CHECK_EQ_INT(sentinel_parse_reply("h", 1, "", 0, &a), -EINVAL);
    CHECK_EQ_INT(sentinel_parse_reply("h", 1, "-1", 2, &a), -EINVAL);
    CHECK_EQ_INT(sentinel_parse_reply("h", 1, "70000", 5, &a), -EINVAL);
    CHECK_EQ_INT(sentinel_parse_reply("h\n", 2, "1", 1, &a), -EINVAL);
}

TEST(master_names)
{
    CHECK(sentinel_name_ok("cojam"));
    CHECK(sentinel_name_ok("my-primary_1.eu"));
    CHECK(!sentinel_name_ok(""));
    CHECK(!sentinel_name_ok(NULL));
    CHECK(!sentinel_name_ok("two words"));
    CHECK(!sentinel_name_ok("a\r\nPING"));
    char name[SENTINEL_NAME_MAX + 2];
    memset(name, 'n', sizeof name);
    name[SENTINEL_NAME_MAX] = '\0';
    CHECK(sentinel_name_ok(name));
    name[SENTINEL_NAME_MAX] = 'n';
    name[SENTINEL_NAME_MAX + 1] = '\0';
    CHECK(!sentinel_name_ok(name));
}

TEST(replicas_usable_for_the_tail)
{
    CHECK(sentinel_replica_usable("slave", "ok"));
    CHECK(!sentinel_replica_usable("slave", "err"));
    CHECK(!sentinel_replica_usable("s_down,slave", "ok"));
    CHECK(!sentinel_replica_usable("slave,o_down", "ok"));
    CHECK(!sentinel_replica_usable("s_down,slave,disconnected", "ok"));
    CHECK(!sentinel_replica_usable("slave,disconnected", "ok"));
    CHECK(!sentinel_replica_usable("master", "ok"));
    CHECK(!sentinel_replica_usable("slaves", "ok")); /* a whole word, not a prefix */
    CHECK(!sentinel_replica_usable("", "ok"));
    CHECK(!sentinel_replica_usable(NULL, "ok"));
    CHECK(!sentinel_replica_usable("slave", NULL));
}

TEST(backoff_doubles_to_its_cap_with_jitter)
{
    int step = 0;
    int64_t lo = sentinel_backoff_ms(&step, 0);
    CHECK_EQ_INT(step, SENTINEL_BACKOFF_MIN_MS);
    CHECK_EQ_INT(lo, SENTINEL_BACKOFF_MIN_MS / 2);
    int64_t hi = sentinel_backoff_ms(&step, SENTINEL_BACKOFF_MIN_MS * 2 - 1);
    CHECK_EQ_INT(step, SENTINEL_BACKOFF_MIN_MS * 2);
    CHECK_EQ_INT(hi, SENTINEL_BACKOFF_MIN_MS + SENTINEL_BACKOFF_MIN_MS * 2 - 1);
    for (int i = 0; i < 20; i++) {
        int64_t d = sentinel_backoff_ms(&step, 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1));
        CHECK(step <= SENTINEL_BACKOFF_MAX_MS);
        CHECK(d >= step / 2 && d < step / 2 + step);
    }
    CHECK_EQ_INT(step, SENTINEL_BACKOFF_MAX_MS);
    step = 0; /* a success resets it */
    CHECK_EQ_INT(sentinel_backoff_ms(&step, 0), SENTINEL_BACKOFF_MIN_MS / 2);
}

int main(void)
{
    RUN(list_of_three);
    RUN(list_ipv6_in_brackets);
    RUN(list_refused);
    RUN(reply);
    RUN(master_names);
    RUN(replicas_usable_for_the_tail);
    RUN(backoff_doubles_to_its_cap_with_jitter);
    return test_done();
}
