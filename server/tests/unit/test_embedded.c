/* SPDX-License-Identifier: MIT
 * test_embedded.c - reading /proc/<pid>/stat, the identity (pid, start time, parent, state) by
 * which a leftover redis-server and the cojamd holding a data directory are recognised: command
 * names with spaces and parentheses, zombies, truncated text; and this process's own entry.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "embedded.h"
#include "test.h"

TEST(parses_the_fields_after_the_command_name)
{
    struct embedded_proc p;
    const char *line = "19225 (redis-server) S 1 19211 3889 0 -1 4194560 927 0 2 0 2 3 0 0 20 0 5 "
                       "0 36917 62283776 2868 18446744073709551615 0 0\n";
    CHECK_EQ_INT(embedded_parse_stat(line, &p), 0);
    CHECK_EQ_STR(p.comm, "redis-server");
    CHECK(p.state == 'S');
    CHECK_EQ_INT(p.ppid, 1);
    CHECK_EQ_INT(p.start, 36917);
}

TEST(a_command_name_with_spaces_and_parentheses)
{
    /* A process may call itself anything: only the last ')' ends the name. */
    struct embedded_proc p;
    const char *line = "42 (a) Z 7 (b) R) Z 77 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0\n";
    CHECK_EQ_INT(embedded_parse_stat(line, &p), 0);
    CHECK_EQ_STR(p.comm, "a) Z 7 (b) R");
    CHECK(p.state == 'Z');
    CHECK_EQ_INT(p.ppid, 77);
    CHECK_EQ_INT(p.start, 123456);
}

TEST(truncated_or_garbled_text_is_refused)
{
    struct embedded_proc p;
    CHECK_EQ_INT(embedded_parse_stat("", &p), -EINVAL);
    CHECK_EQ_INT(embedded_parse_stat("12 redis-server S 1 2 3", &p), -EINVAL);
    CHECK_EQ_INT(embedded_parse_stat("12 (redis-server)", &p), -EINVAL);
    CHECK_EQ_INT(embedded_parse_stat("12 (redis-server) S x", &p), -EINVAL);
    CHECK_EQ_INT(embedded_parse_stat("12 (redis-server) S 1 2 3 4 5 6 7 8 9", &p), -EINVAL);
}

TEST(this_process_reads_as_itself)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)getpid());
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    struct embedded_proc p;
    CHECK_EQ_INT(embedded_parse_stat(buf, &p), 0);
    CHECK(p.state == 'R');
    CHECK_EQ_INT(p.ppid, getppid());
    CHECK(p.start > 0);
    CHECK_EQ_STR(p.comm, "test_embedded");
}

int main(void)
{
    RUN(parses_the_fields_after_the_command_name);
    RUN(a_command_name_with_spaces_and_parentheses);
    RUN(truncated_or_garbled_text_is_refused);
    RUN(this_process_reads_as_itself);
    return test_done();
}
