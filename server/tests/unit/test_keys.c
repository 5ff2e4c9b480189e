/* SPDX-License-Identifier: MIT
 * test_keys.c - the Redis key schema of keys.h: the names proto/messages.md gives, and
 * keys_stream_code accepting exactly the event streams of 6-digit jams.
 */
#include <string.h>

#include "keys.h"
#include "test.h"

TEST(key_names)
{
    char k[KEYS_MAX];
    CHECK_EQ_STR(KEYS_JAMS, "cojam:jams");
    CHECK_EQ_STR(KEYS_TOKEN_KEY, "cojam:token-key");
    keys_stream(k, "482913");
    CHECK_EQ_STR(k, "cojam:jam:482913:events");
    keys_snapshot(k, "482913");
    CHECK_EQ_STR(k, "cojam:jam:482913:snapshot");
    keys_jam(k, "482913", "lease");
    CHECK_EQ_STR(k, "cojam:jam:482913:lease");
    keys_jam(k, "482913", "epoch");
    CHECK_EQ_STR(k, "cojam:jam:482913:epoch");
    keys_stream(k, "4829130000"); /* never more than the 6 digits of a code */
    CHECK_EQ_STR(k, "cojam:jam:482913:events");
    CHECK(strlen("cojam:jam:482913:snapshot") < KEYS_MAX);
}

TEST(stream_code_round_trip)
{
    char k[KEYS_MAX], code[7] = "xxxxxx";
    static const char *const codes[] = {"000000", "123456", "999999"};
    for (size_t i = 0; i < 3; i++) {
        keys_stream(k, codes[i]);
        CHECK(keys_stream_code(k, code));
        CHECK_EQ_STR(code, codes[i]);
    }
}

TEST(stream_code_refuses_other_keys)
{
    static const char *const bad[] = {
        "cojam:jams",
        "cojam:token-key",
        "cojam:jam:123456:snapshot",
        "cojam:jam:123456:lease",
        "cojam:jam:123456:epoch",
        "cojam:jam:12345:events",
        "cojam:jam:1234567:events",
        "cojam:jam:12a456:events",
        "cojam:jam:12345 :events",
        "cojam:jam:123456:eventsx",
        "cojam:jam:123456:events:",
        "xcojam:jam:123456:events",
        "Cojam:jam:123456:events",
        "cojam:jam:123456-events",
        "cojam:jam::events",
        "",
        "cojam:jam:-12345:events",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char code[7] = "keep!";
        bool ok = keys_stream_code(bad[i], code);
        if (ok)
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
        CHECK(!ok);
        CHECK_EQ_STR(code, "keep!"); /* untouched on refusal */
    }
}

int main(void)
{
    RUN(key_names);
    RUN(stream_code_round_trip);
    RUN(stream_code_refuses_other_keys);
    return test_done();
}
