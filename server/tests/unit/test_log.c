/* SPDX-License-Identifier: MIT
 * test_log.c - the logger's level names and filtering, its line format, and a message longer than
 * its line buffer; stderr is captured so the test prints nothing of its own.
 */
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "log.h"
#include "test.h"

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

TEST(level_names)
{
    CHECK_EQ_INT(log_level_from_name("debug"), LOG_DEBUG);
    CHECK_EQ_INT(log_level_from_name("info"), LOG_INFO);
    CHECK_EQ_INT(log_level_from_name("warn"), LOG_WARN);
    CHECK_EQ_INT(log_level_from_name("error"), LOG_ERROR);
    CHECK_EQ_INT(log_level_from_name("warning"), -1);
    CHECK_EQ_INT(log_level_from_name("INFO"), -1);
    CHECK_EQ_INT(log_level_from_name(""), -1);
}

TEST(filtering)
{
    struct capture c;
    log_set_level(LOG_WARN);
    capture_begin(&c, 2);
    log_debug("d %d", 1);
    log_info("i %d", 2);
    log_warn("w %d", 3);
    log_error("e %d", 4);
    char *text = capture_end(&c);
    CHECK_EQ_INT(count_lines(text), 2);
    CHECK(strstr(text, "warn  w 3\n") != NULL);
    CHECK(strstr(text, "error e 4\n") != NULL);
    CHECK(strstr(text, " i 2") == NULL && strstr(text, " d 1") == NULL);
    free(text);

    log_set_level(LOG_DEBUG);
    capture_begin(&c, 2);
    log_debug("d %d", 1);
    text = capture_end(&c);
    CHECK(strstr(text, "debug d 1\n") != NULL);
    free(text);

    log_set_level(LOG_ERROR);
    capture_begin(&c, 2);
    log_warn("hidden");
    text = capture_end(&c);
    CHECK_EQ_STR(text, "");
    free(text);
    log_set_level(LOG_INFO);
}

TEST(line_format)
{
    struct capture c;
    capture_begin(&c, 2);
    log_info("hello %s", "world");
    char *text = capture_end(&c);
    /* 2024-01-02T03:04:05.678Z info  hello world */
    CHECK(strlen(text) == 24 + 1 + 5 + 1 + 11 + 1);
    CHECK(text[4] == '-' && text[10] == 'T' && text[19] == '.' && text[23] == 'Z');
    CHECK(strcmp(text + 24, " info  hello world\n") == 0);
    free(text);
}

TEST(long_message_is_cut)
{
    char *big = malloc(10000);
    memset(big, 'x', 9999);
    big[9999] = '\0';
    struct capture c;
    capture_begin(&c, 2);
    log_error("%s", big);
    char *text = capture_end(&c);
    CHECK_EQ_INT(count_lines(text), 1);
    CHECK(strlen(text) < 2048 + 64);
    free(text);
    free(big);
}

int main(void)
{
    RUN(level_names);
    RUN(filtering);
    RUN(line_format);
    RUN(long_message_is_cut);
    return test_done();
}
