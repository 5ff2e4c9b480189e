/* SPDX-License-Identifier: MIT
 * test_jsonw.c - the JSON writer against Jansson as the oracle: the same keys and values dumped by
 * json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) give the same bytes (the event chain hashes
 * them), for every ASCII byte in a string, UTF-8 text, the int64 range and nesting.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "test.h"

static char *jansson_dump(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

TEST(every_ascii_byte_escapes_as_jansson_does)
{
    for (int c = 1; c < 128; c++) {
        char s[] = {'a', (char)c, 'b', (char)c, '\0'};
        struct jsonw w;
        jsonw_init(&w);
        jsonw_object(&w);
        jsonw_key(&w, s);
        jsonw_str(&w, s);
        jsonw_end_object(&w);
        size_t len;
        char *got = jsonw_take(&w, &len);
        json_t *o = json_object();
        json_object_set_new(o, s, json_string(s));
        char *want = jansson_dump(o);
        CHECK_EQ_STR(got, want);
        CHECK_EQ_INT(len, strlen(want));
        free(got);
        free(want);
    }
}

TEST(utf8_text_stays_as_it_is)
{
    const char *texts[] = {
        "",    "h\xc3\xa9llo", "\xe2\x80\xa8 line sep", "\xf0\x9f\x98\x80 smile", "a/b</script>",
        "\x7f"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        struct jsonw w;
        jsonw_init(&w);
        jsonw_array(&w);
        jsonw_str(&w, texts[i]);
        jsonw_end_array(&w);
        char *got = jsonw_take(&w, NULL);
        json_t *a = json_array();
        json_array_append_new(a, json_string(texts[i]));
        char *want = jansson_dump(a);
        CHECK_EQ_STR(got, want);
        free(got);
        free(want);
    }
}

/* Bytes that are not well-formed UTF-8 (Jansson refuses such a string: json_string gives NULL)
 * come out as U+FFFD, one per byte that starts no sequence, so the document is still JSON that
 * Jansson reads back; the well-formed neighbours stay as they are. Every two-byte string that
 * Jansson accepts is written as Jansson writes it. */
TEST(malformed_utf8_is_replaced)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\x80", "[\"\xef\xbf\xbd\"]"},                 /* a lone continuation byte */
        {"a\xc3", "[\"a\xef\xbf\xbd\"]"},               /* cut before its end */
        {"\xc0\xaf", "[\"\xef\xbf\xbd\xef\xbf\xbd\"]"}, /* an overlong '/' */
        {"\xe0\x80\xaf", "[\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]"}, /* overlong, 3 bytes */
        {"\xed\xa0\x80", "[\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]"}, /* a surrogate */
        {"\xf4\x90\x80\x80x",
         "[\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx\"]"}, /* > U+10FFFF */
        {"\xff\"\xc3\xa9", "[\"\xef\xbf\xbd\\\"\xc3\xa9\"]"}, /* then a quote and an e-acute */
        {"\xf0\x9f\x98\x80\xf0\x9f", "[\"\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK(json_string(cases[i].in) == NULL); /* what Jansson could not have written */
        struct jsonw w;
        jsonw_init(&w);
        jsonw_array(&w);
        jsonw_str(&w, cases[i].in);
        jsonw_end_array(&w);
        size_t len;
        char *got = jsonw_take(&w, &len);
        CHECK_EQ_STR(got, cases[i].want);
        json_error_t err;
        json_t *back = json_loadb(got, len, 0, &err);
        CHECK(back != NULL);
        json_decref(back);
        free(got);
    }
    for (unsigned a = 0x80; a <= 0xff; a++) {
        for (unsigned b = 0x01; b <= 0xff; b++) {
            char in[3] = {(char)a, (char)b, 0};
            json_t *str = json_string(in);
            if (!str)
                continue;
            json_t *arr = json_array();
            json_array_append_new(arr, str);
            char *want = jansson_dump(arr);
            struct jsonw w;
            jsonw_init(&w);
            jsonw_array(&w);
            jsonw_str(&w, in);
            jsonw_end_array(&w);
            char *got = jsonw_take(&w, NULL);
            CHECK_EQ_STR(got, want);
            free(got);
            free(want);
        }
    }
}

TEST(integers_booleans_null_and_nesting)
{
    const int64_t ints[] = {0, 1, -1, 9, 10, 1700000020000, INT64_MAX, INT64_MIN, -1234567890123};
    struct jsonw w;
    jsonw_init(&w);
    jsonw_object(&w);
    json_t *o = json_object(), *a = json_array();
    jsonw_key(&w, "ints");
    jsonw_array(&w);
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        jsonw_int(&w, ints[i]);
        json_array_append_new(a, json_integer(ints[i]));
    }
    jsonw_end_array(&w);
    json_object_set_new(o, "ints", a);
    jsonw_key(&w, "t");
    jsonw_bool(&w, true);
    json_object_set_new(o, "t", json_true());
    jsonw_key(&w, "f");
    jsonw_bool(&w, false);
    json_object_set_new(o, "f", json_false());
    jsonw_key(&w, "n");
    jsonw_str(&w, NULL);
    json_object_set_new(o, "n", json_null());
    jsonw_key(&w, "empty");
    jsonw_array(&w);
    jsonw_end_array(&w);
    json_object_set_new(o, "empty", json_array());
    jsonw_key(&w, "objs");
    jsonw_array(&w);
    json_t *objs = json_array();
    for (int i = 0; i < 3; i++) {
        jsonw_object(&w);
        jsonw_key(&w, "i");
        jsonw_int(&w, i);
        jsonw_end_object(&w);
        json_t *x = json_object();
        json_object_set_new(x, "i", json_integer(i));
        json_array_append_new(objs, x);
    }
    jsonw_end_array(&w);
    json_object_set_new(o, "objs", objs);
    jsonw_key(&w, "last");
    jsonw_object(&w);
    jsonw_end_object(&w);
    json_object_set_new(o, "last", json_object());
    jsonw_end_object(&w);
    char *got = jsonw_take(&w, NULL), *want = jansson_dump(o);
    CHECK_EQ_STR(got, want);
    free(got);
    free(want);
}

TEST(long_documents_grow_and_take_resets)
{
    struct jsonw w;
    jsonw_init(&w);
    jsonw_array(&w);
    json_t *a = json_array();
    char text[700];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    for (int i = 0; i < 50; i++) {
        text[i] = '"';
        jsonw_str(&w, text);
        json_array_append_new(a, json_string(text));
    }
    jsonw_end_array(&w);
    size_t len;
    char *got = jsonw_take(&w, &len), *want = jansson_dump(a);
    CHECK_EQ_STR(got, want);
    CHECK_EQ_INT(len, strlen(want));
    CHECK(w.buf == NULL && w.len == 0 && !w.comma);
    free(got);
    char *empty = jsonw_take(&w, &len); /* nothing written: an empty string, not NULL */
    CHECK_EQ_STR(empty, "");
    CHECK_EQ_INT(len, 0);
    free(empty);
    free(want);
}

int main(void)
{
    RUN(every_ascii_byte_escapes_as_jansson_does);
    RUN(utf8_text_stays_as_it_is);
    RUN(malformed_utf8_is_replaced);
    RUN(integers_booleans_null_and_nesting);
    RUN(long_documents_grow_and_take_resets);
    return test_done();
}
