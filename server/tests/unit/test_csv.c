/* SPDX-License-Identifier: MIT
 * test_csv.c - RFC 4180 quoting (commas, quotes, line breaks), CRLF rows, empty cells, and the
 * formula-injection guard on text cells only.
 */
#include <stdlib.h>

#include "csv.h"
#include "test.h"

static char *row(const char *a, const char *b)
{
    struct csv c = {0};
    csv_text(&c, a);
    csv_text(&c, b);
    csv_end_row(&c);
    return csv_take(&c);
}

#define CHECK_ROW(a, b, want)                                                                      \
    do {                                                                                           \
        char *got_ = row(a, b);                                                                    \
        CHECK_EQ_STR(got_, want);                                                                  \
        free(got_);                                                                                \
    } while (0)

TEST(plain_and_empty)
{
    CHECK_ROW("Bus stops", "Ana", "Bus stops,Ana\r\n");
    CHECK_ROW(NULL, "", ",\r\n");
    struct csv c = {0};
    char *s = csv_take(&c);
    CHECK_EQ_STR(s, "");
    free(s);
}

TEST(quoting)
{
    CHECK_ROW("shade, water", "x", "\"shade, water\",x\r\n");
    CHECK_ROW("say \"no\"", "x", "\"say \"\"no\"\"\",x\r\n");
    CHECK_ROW("two\nlines", "cr\rhere", "\"two\nlines\",\"cr\rhere\"\r\n");
    CHECK_ROW("\"", "x", "\"\"\"\",x\r\n");
}

TEST(formula_guard)
{
    CHECK_ROW("=HYPERLINK(\"http://x\")", "+1", "\"'=HYPERLINK(\"\"http://x\"\")\",'+1\r\n");
    CHECK_ROW("-2+3", "@SUM(A1)", "'-2+3,'@SUM(A1)\r\n");
    CHECK_ROW("\tcmd", "a=b", "'\tcmd,a=b\r\n");
    CHECK_ROW("\r=1", "x", "\"'\r=1\",x\r\n");
}

TEST(numbers_and_rows)
{
    struct csv c = {0};
    csv_text(&c, "id");
    csv_text(&c, "votes");
    csv_end_row(&c);
    csv_int(&c, 7);
    csv_int(&c, -3);
    csv_end_row(&c);
    char *s = csv_take(&c);
    CHECK_EQ_STR(s, "id,votes\r\n7,-3\r\n");
    free(s);
}

int main(void)
{
    RUN(plain_and_empty);
    RUN(quoting);
    RUN(formula_guard);
    RUN(numbers_and_rows);
    return test_done();
}
