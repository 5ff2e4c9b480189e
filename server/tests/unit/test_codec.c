/* SPDX-License-Identifier: MIT
 * test_codec.c - the codec against the protocol's test vectors (proto/examples, proto/invalid)
 * plus direct tests: event round trips of every type, code-point limits, depth bombs, jam config
 * limits and defaults. Reads the vector files with Jansson directly; no network, no Redis.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "equal.h"
#include "msg.h"
#include "test.h"

#ifndef PROTO_DIR
#error "PROTO_DIR must name the proto/ directory"
#endif

/* ------------------------------------------------------------------------------------------ */
/* Helpers */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Decodes 's' and returns the error code, or "ok". */
static const char *decode_code(const char *s)
{
    static char code[32];
    struct msg m;
    struct codec_error err;
    if (codec_decode(s, strlen(s), &m, &err) == 0) {
        msg_clear(&m);
        return "ok";
    }
    snprintf(code, sizeof code, "%s", err.code ? err.code : "(null)");
    return code;
}

static const char *jam_code(const char *s)
{
    static char code[32];
    struct jam_config c;
    struct codec_error err;
    if (codec_jam_config_decode(s, strlen(s), &c, &err) == 0) {
        jam_config_clear(&c);
        return "ok";
    }
    snprintf(code, sizeof code, "%s", err.code ? err.code : "(null)");
    return code;
}

static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    return s;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Test vectors */

TEST(examples_round_trip)
{
    DIR *d = opendir(PROTO_DIR "/examples");
    CHECK(d != NULL);
    if (!d)
        return;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t nl = strlen(name);
        if (nl < 6 || strcmp(name + nl - 5, ".json") != 0 || has_prefix(name, "http-") ||
            has_prefix(name, "server-"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/examples/%s", PROTO_DIR, name);
        size_t len;
        char *text = read_file(path, &len);
        CHECK(text != NULL);
        if (!text)
            continue;
        struct msg m1, m2;
        struct codec_error err;
        int rc = codec_decode(text, len, &m1, &err);
        if (rc != 0)
            fprintf(stderr, "  %s: %s (%s)\n", name, err.code, err.message);
        CHECK_EQ_INT(rc, 0);
        if (rc == 0) {
            char *enc = codec_encode_msg(&m1);
            CHECK(enc != NULL);
            CHECK_EQ_INT(codec_decode(enc, strlen(enc), &m2, &err), 0);
            if (!equal_msg(&m1, &m2))
                fprintf(stderr, "  %s: round trip differs: %s\n", name, enc);
            CHECK(equal_msg(&m1, &m2));
            char *enc2 = codec_encode_msg(&m2);
            CHECK_EQ_STR(enc2, enc); /* canonical: encoding is a fixed point */
            free(enc);
            free(enc2);
            msg_clear(&m2);
            msg_clear(&m1);
        }
        free(text);
        n++;
    }
    closedir(d);
    CHECK(n >= 17);
}

TEST(examples_every_type_present)
{
    for (int t = MSG_JOIN; t < MSG__COUNT; t++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/examples/%s.json", PROTO_DIR,
                 msg_type_name((enum msg_type)t));
        size_t len;
        char *text = read_file(path, &len);
        CHECK(text != NULL);
        if (!text)
            continue;
        struct msg m;
        struct codec_error err;
        CHECK_EQ_INT(codec_decode(text, len, &m, &err), 0);
        CHECK_EQ_INT(m.type, t);
        msg_clear(&m);
        free(text);
    }
}

TEST(http_create_example)
{
    size_t len;
    char *text = read_file(PROTO_DIR "/examples/http-create-jam.json", &len);
    CHECK(text != NULL);
    if (!text)
        return;
    struct jam_config c;
    struct codec_error err;
    CHECK_EQ_INT(codec_jam_config_decode(text, len, &c, &err), 0);
    CHECK_EQ_STR(c.title, "Cooler streets");
    CHECK_EQ_STR(c.question, "How do we keep our streets cool in summer?");
    CHECK_EQ_INT(c.n_agenda, 3);
    CHECK_EQ_INT(c.agenda[0].phase, PHASE_EXPLORE);
    CHECK_EQ_INT(c.agenda[0].duration_s, 600);
    CHECK_EQ_INT(c.agenda[1].phase, PHASE_IDEATE);
    CHECK_EQ_INT(c.agenda[2].phase, PHASE_RESULTS);
    CHECK_EQ_INT(c.agenda[2].duration_s, 0);
    CHECK(c.settings.anonymous_allowed);
    CHECK_EQ_INT(c.settings.votes_per_phase, 5);
    CHECK_EQ_INT(c.settings.min_text, 2);
    CHECK_EQ_INT(c.settings.max_text, 500);
    CHECK_EQ_STR(c.code, "");
    CHECK_EQ_STR(c.secret_sha256, "");
    jam_config_clear(&c);
    free(text);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

TEST(invalid_vectors_rejected)
{
    DIR *d = opendir(PROTO_DIR "/invalid");
    CHECK(d != NULL);
    if (!d)
        return;
    static const char *const all_codes[] = {"bad_json",    "too_deep",     "duplicate_key",
                                            "bad_message", "unknown_type", "too_long",
                                            "too_short",   "bad_value"};
    bool covered[8] = {false};
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/invalid/%s", PROTO_DIR, de->d_name);
        json_error_t jerr;
        json_t *v = json_load_file(path, 0, &jerr);
        CHECK(v != NULL);
        if (!v)
            continue;
        const char *expect = json_string_value(json_object_get(v, "expect"));
        json_t *raw = json_object_get(v, "raw");
        json_t *raw_hex = json_object_get(v, "raw_hex");
        CHECK(expect != NULL);
        CHECK((raw != NULL) != (raw_hex != NULL));
        char *bytes = NULL;
        size_t len = 0;
        if (raw && json_is_string(raw)) {
            len = json_string_length(raw);
            bytes = malloc(len + 1);
            memcpy(bytes, json_string_value(raw), len);
        } else if (raw_hex && json_is_string(raw_hex)) {
            const char *h = json_string_value(raw_hex);
            size_t hl = strlen(h);
            CHECK(hl % 2 == 0);
            bytes = malloc(hl / 2 + 1);
            for (size_t i = 0; i + 1 < hl; i += 2)
                bytes[len++] = (char)(hexval(h[i]) * 16 + hexval(h[i + 1]));
        }
        if (bytes && expect) {
            struct msg m;
            struct codec_error err;
            int rc = codec_decode(bytes, len, &m, &err);
            CHECK_EQ_INT(rc, -1);
            if (rc == 0) {
                fprintf(stderr, "  %s: accepted\n", de->d_name);
                msg_clear(&m);
            } else {
                if (!err.code || strcmp(err.code, expect) != 0)
                    fprintf(stderr, "  %s: got %s (%s), expected %s\n", de->d_name, err.code,
                            err.message, expect);
                CHECK_EQ_STR(err.code, expect);
                CHECK(err.message[0] != '\0');
                for (int i = 0; i < 8; i++)
                    if (strcmp(expect, all_codes[i]) == 0)
                        covered[i] = true;
            }
        }
        free(bytes);
        json_decref(v);
        n++;
    }
    closedir(d);
    CHECK(n >= 30);
    for (int i = 0; i < 8; i++) {
        if (!covered[i])
            fprintf(stderr, "  no invalid vector for %s\n", all_codes[i]);
        CHECK(covered[i]);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Client messages */

TEST(encode_is_canonical)
{
    const char *in = "{ \"parent\": 3, \"text\": \"Shaded bus stops\", \"kind\": \"idea\", "
                     "\"op\": \"c1-7\", \"type\": \"post\" }";
    struct msg m;
    struct codec_error err;
    CHECK_EQ_INT(codec_decode(in, strlen(in), &m, &err), 0);
    char *s = codec_encode_msg(&m);
    CHECK_EQ_STR(s, "{\"type\":\"post\",\"op\":\"c1-7\",\"kind\":\"idea\",\"text\":\"Shaded bus "
                    "stops\",\"parent\":3}");
    free(s);
    msg_clear(&m);

    const char *join = "{\"type\":\"join\",\"code\":\" 482-913 \",\"as\":\"citizen\","
                       "\"nickname\":\"  Ana Lu  \"}";
    CHECK_EQ_INT(codec_decode(join, strlen(join), &m, &err), 0);
    CHECK_EQ_STR(m.code, "482913");
    CHECK_EQ_STR(m.nickname, "Ana Lu");
    s = codec_encode_msg(&m);
    CHECK_EQ_STR(s, "{\"type\":\"join\",\"code\":\"482913\",\"as\":\"citizen\",\"nickname\":\"Ana "
                    "Lu\"}");
    free(s);
    msg_clear(&m);
}

TEST(decoded_fields)
{
    struct msg m;
    struct codec_error err;
    const char *s = "{\"type\":\"hide\",\"op\":\"m.1:x_Y-9\",\"item\":9007199254740993,"
                    "\"reason\":\"\"}";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), 0);
    CHECK_EQ_INT(m.type, MSG_HIDE);
    CHECK_EQ_STR(m.op, "m.1:x_Y-9");
    CHECK(m.item == 9007199254740993LL);
    CHECK_EQ_STR(m.reason, "");
    msg_clear(&m);

    s = "{\"type\":\"ping\"}";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), 0);
    CHECK(!m.has_t);
    msg_clear(&m);
    s = "{\"type\":\"ping\",\"t\":-5}";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), 0);
    CHECK(m.has_t);
    CHECK_EQ_INT(m.t, -5);
    msg_clear(&m);

    /* Bracket characters inside strings do not count as nesting. */
    s = "{\"type\":\"post\",\"op\":\"a\",\"kind\":\"problem\",\"text\":\"[[[[[{{{{{\\\"[[[[\"}";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), 0);
    CHECK_EQ_STR(m.text, "[[[[[{{{{{\"[[[[");
    msg_clear(&m);

    /* text may contain \n. */
    CHECK_EQ_STR(
        decode_code("{\"type\":\"post\",\"op\":\"a\",\"kind\":\"idea\",\"text\":\"a\\nb\"}"), "ok");
    /* a moderator rejoining with a token needs no secret, and a token alone is a join. */
    CHECK_EQ_STR(decode_code("{\"type\":\"join\",\"token\":\"x.y\",\"as\":\"moderator\"}"), "ok");
    CHECK_EQ_STR(decode_code("{\"type\":\"join\",\"token\":\"x.y\"}"), "ok");
    CHECK_EQ_STR(decode_code("{\"type\":\"join\",\"token\":\"\"}"), "too_short");
    CHECK_EQ_STR(decode_code("{\"type\":\"extend\",\"op\":\"a\",\"seconds\":3600}"), "ok");
    CHECK_EQ_STR(decode_code("{\"type\":\"extend\",\"op\":\"a\",\"seconds\":1}"), "ok");
    CHECK_EQ_STR(decode_code("{\"type\":\"vote\",\"op\":\"a\",\"item\":-0}"), "bad_value");
    CHECK_EQ_STR(decode_code("{\"type\":\"sync\",\"x\":1}"), "bad_message");
    CHECK_EQ_STR(decode_code("[]"), "bad_message");
    CHECK_EQ_STR(decode_code("null"), "bad_message");
    CHECK_EQ_STR(decode_code("  "), "bad_json");
}

TEST(error_carries_op)
{
    struct msg m;
    struct codec_error err;
    const char *s = "{\"type\":\"vote\",\"op\":\"c1-8\",\"item\":\"x\"}";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), -1);
    CHECK_EQ_STR(err.code, "bad_message");
    CHECK_EQ_STR(err.op, "c1-8");
    CHECK(strstr(err.message, "item") != NULL);

    s = "{\"type\":\"extend\",\"op\":\"c1-9\",\"seconds\":0}";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), -1);
    CHECK_EQ_STR(err.code, "bad_value");
    CHECK_EQ_STR(err.op, "c1-9");
    CHECK(strstr(err.message, "seconds") != NULL);

    s = "{\"type\":\"vote\",\"op\":\"c1-10\",\"item\":1,\"extra\":true}";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), -1);
    CHECK_EQ_STR(err.op, "c1-10");
    CHECK(strstr(err.message, "extra") != NULL);

    s = "{\"type\":\"frobnicate\",\"op\":\"c1-11\"}";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), -1);
    CHECK_EQ_STR(err.code, "unknown_type");
    CHECK_EQ_STR(err.op, "c1-11");

    s = "{\"type\":\"vote\",\"op\":\"bad op\",\"item\":1}";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), -1);
    CHECK_EQ_STR(err.code, "bad_value");
    CHECK_EQ_STR(err.op, "");

    s = "{\"type\":\"vote\",\"op\":\"x\"";
    CHECK_EQ_INT(codec_decode(s, strlen(s), &m, &err), -1);
    CHECK_EQ_STR(err.code, "bad_json");
    CHECK_EQ_STR(err.op, "");
}

TEST(code_points_not_bytes)
{
    /* 40 four-byte emoji (160 bytes) fit a nickname; 41 do not. */
    char *nick40 = repeat("\xF0\x9F\x98\x80", 40), *nick41 = repeat("\xF0\x9F\x98\x80", 41);
    char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"type\":\"join\",\"code\":\"482913\",\"as\":\"citizen\","
             "\"nickname\":\"%s\"}",
             nick40);
    CHECK_EQ_STR(decode_code(buf), "ok");
    snprintf(buf, sizeof buf,
             "{\"type\":\"join\",\"code\":\"482913\",\"as\":\"citizen\","
             "\"nickname\":\"%s\"}",
             nick41);
    CHECK_EQ_STR(decode_code(buf), "too_long");
    /* 40 ASCII + surrounding spaces: trimmed first, so it fits. */
    char *a40 = repeat("a", 40);
    snprintf(buf, sizeof buf,
             "{\"type\":\"join\",\"code\":\"482913\",\"as\":\"citizen\","
             "\"nickname\":\"   %s   \"}",
             a40);
    CHECK_EQ_STR(decode_code(buf), "ok");
    /* A \u escape counts as one code point; a surrogate pair as one too. */
    char *esc = repeat("\\ud83d\\ude00", 40);
    snprintf(buf, sizeof buf,
             "{\"type\":\"join\",\"code\":\"482913\",\"as\":\"citizen\","
             "\"nickname\":\"%s\"}",
             esc);
    CHECK_EQ_STR(decode_code(buf), "ok");
    free(nick40);
    free(nick41);
    free(a40);
    free(esc);

    /* text: 2000 three-byte code points (6000 bytes) pass, 2001 do not. */
    char *t2000 = repeat("\xE2\x82\xAC", 2000), *t2001 = repeat("\xE2\x82\xAC", 2001);
    char *big = malloc(16384);
    snprintf(big, 16384, "{\"type\":\"post\",\"op\":\"a\",\"kind\":\"idea\",\"text\":\"%s\"}",
             t2000);
    CHECK_EQ_STR(decode_code(big), "ok");
    snprintf(big, 16384, "{\"type\":\"post\",\"op\":\"a\",\"kind\":\"idea\",\"text\":\"%s\"}",
             t2001);
    CHECK_EQ_STR(decode_code(big), "too_long");
    free(t2000);
    free(t2001);

    /* reason: 200 two-byte code points pass, 201 do not. */
    char *r200 = repeat("\xC3\xA9", 200), *r201 = repeat("\xC3\xA9", 201);
    snprintf(big, 16384, "{\"type\":\"hide\",\"op\":\"a\",\"item\":1,\"reason\":\"%s\"}", r200);
    CHECK_EQ_STR(decode_code(big), "ok");
    snprintf(big, 16384, "{\"type\":\"hide\",\"op\":\"a\",\"item\":1,\"reason\":\"%s\"}", r201);
    CHECK_EQ_STR(decode_code(big), "too_long");
    free(r200);
    free(r201);

    /* op is exactly 64 allowed characters at most. */
    char *op64 = repeat("a", 64);
    snprintf(big, 16384, "{\"type\":\"start\",\"op\":\"%s\"}", op64);
    CHECK_EQ_STR(decode_code(big), "ok");
    free(op64);
    /* A non-ASCII op has the right length but the wrong characters. */
    CHECK_EQ_STR(decode_code("{\"type\":\"start\",\"op\":\"\xC3\xA9\"}"), "bad_value");
    free(big);

    /* U+0085 (C1) and U+007F are control characters; U+00A0 is not. */
    CHECK_EQ_STR(decode_code("{\"type\":\"join\",\"code\":\"482913\",\"as\":\"citizen\","
                             "\"nickname\":\"a\\u007fb\"}"),
                 "bad_value");
    CHECK_EQ_STR(decode_code("{\"type\":\"join\",\"code\":\"482913\",\"as\":\"citizen\","
                             "\"nickname\":\"a\\u00a0b\"}"),
                 "ok");
}

TEST(depth_bomb_rejected_fast)
{
    size_t n = 100000;
    char *s = malloc(n);
    memset(s, '[', n);
    struct msg m;
    struct codec_error err;
    clock_t t0 = clock();
    CHECK_EQ_INT(codec_decode(s, n, &m, &err), -1);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_EQ_STR(err.code, "too_deep");
    CHECK(secs < 0.05);

    struct event e;
    CHECK_EQ_INT(codec_event_decode(s, n, &e, &err), -1);
    CHECK_EQ_STR(err.code, "too_deep");
    struct jam_config c;
    CHECK_EQ_INT(codec_jam_config_decode(s, n, &c, &err), -1);
    CHECK_EQ_STR(err.code, "too_deep");
    free(s);

    /* Exactly 4 levels pass the depth check (and fail later for the type). */
    CHECK_EQ_STR(decode_code("{\"type\":\"ping\",\"t\":[[[1]]]}"), "bad_message");
    CHECK_EQ_STR(decode_code("{\"type\":\"ping\",\"t\":[[[[1]]]]}"), "too_deep");
    /* A nested object bomb of '{"a":' is also caught. */
    char *o = repeat("{\"a\":", 20000);
    CHECK_EQ_STR(decode_code(o), "too_deep");
    free(o);
}

TEST(not_nul_terminated)
{
    const char buf[] = "{\"type\":\"sync\"}{\"garbage";
    struct msg m;
    struct codec_error err;
    CHECK_EQ_INT(codec_decode(buf, 15, &m, &err), 0);
    CHECK_EQ_INT(m.type, MSG_SYNC);
    msg_clear(&m);
    CHECK_EQ_INT(codec_decode(buf, 14, &m, &err), -1);
    CHECK_EQ_STR(err.code, "bad_json");
    CHECK_EQ_INT(codec_decode(buf, 0, &m, &err), -1);
    CHECK_EQ_STR(err.code, "bad_json");
    CHECK_EQ_INT(codec_decode(NULL, 0, &m, NULL), -1);
}

TEST(encode_every_type)
{
    for (int t = MSG_JOIN; t < MSG__COUNT; t++) {
        struct msg m;
        memset(&m, 0, sizeof m);
        m.type = (enum msg_type)t;
        strcpy(m.op, "op-1");
        strcpy(m.code, "123456");
        m.as = ROLE_MODERATOR;
        m.secret = strdup("s3cret");
        m.kind = KIND_PLEDGE;
        m.text = strdup("I will water the trees");
        m.parent = 4;
        m.item = 2;
        m.phase = PHASE_DIFFUSE;
        m.seconds = 60;
        m.pid = 3;
        m.invite = 4;
        if (t == MSG_INVITE)
            m.nickname = strdup("Bea");
        if (t >= MSG_RENAME_THEME && t <= MSG_UNHIDE_THEME) {
            m.word = strdup("shade");
            m.label = t == MSG_RENAME_THEME ? strdup("Shade") : NULL;
            if (t == MSG_MERGE_THEMES) {
                m.words[0] = strdup("trees");
                m.words[1] = strdup("tree");
                m.n_words = 2;
            }
        }
        uint32_t ids[] = {5, 2};
        if (t == MSG_APPROVE || t == MSG_REJECT || t == MSG_CLAIM || t == MSG_RELEASE ||
            t == MSG_MERGE) {
            m.items = malloc(sizeof ids);
            memcpy(m.items, ids, sizeof ids);
            m.n_items = 2;
        }
        m.has_t = true;
        m.t = 77;
        char *s = codec_encode_msg(&m);
        struct msg back;
        struct codec_error err;
        CHECK(s != NULL);
        if (!s) {
            msg_clear(&m);
            continue;
        }
        int rc = codec_decode(s, strlen(s), &back, &err);
        if (rc != 0)
            fprintf(stderr, "  %s: %s %s\n", s, err.code, err.message);
        CHECK_EQ_INT(rc, 0);
        if (rc == 0) {
            CHECK_EQ_INT(back.type, t);
            char *s2 = codec_encode_msg(&back);
            CHECK_EQ_STR(s2, s);
            free(s2);
            msg_clear(&back);
        }
        free(s);
        msg_clear(&m);
    }
    struct msg none;
    memset(&none, 0, sizeof none);
    CHECK(codec_encode_msg(&none) == NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Events */

static void check_event_round_trip(const struct event *e)
{
    char *s = codec_event_encode(e);
    CHECK(s != NULL);
    if (!s)
        return;
    struct event back;
    struct codec_error err;
    int rc = codec_event_decode(s, strlen(s), &back, &err);
    if (rc != 0)
        fprintf(stderr, "  %s: %s (%s)\n", s, err.code, err.message);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        if (!equal_event(e, &back))
            fprintf(stderr, "  event differs after round trip: %s\n", s);
        CHECK(equal_event(e, &back));
        char *s2 = codec_event_encode(&back);
        CHECK_EQ_STR(s2, s);
        free(s2);
        event_clear(&back);
    }
    free(s);
}

static struct event writer_event(enum event_type t)
{
    struct event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.at_ms = 1700000000123LL;
    e.by = 7;
    strcpy(e.op, "c1-7");
    return e;
}

TEST(event_round_trip_every_type)
{
    struct event e;

    memset(&e, 0, sizeof e);
    e.type = EV_JAM_CREATED;
    e.at_ms = 1700000000000LL;
    strcpy(e.jam.code, "482913");
    e.jam.title = strdup("Cooler streets");
    e.jam.question = strdup("How do we keep\nour streets cool?");
    e.jam.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 600};
    e.jam.agenda[1] = (struct agenda_step){PHASE_IDEATE, 0};
    e.jam.agenda[2] = (struct agenda_step){PHASE_RESULTS, 86400};
    e.jam.n_agenda = 3;
    e.jam.settings = (struct jam_settings){false, 0, 1, 2000, false, false};
    strcpy(e.jam.secret_sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    check_event_round_trip(&e);
    event_clear(&e);

    memset(&e, 0, sizeof e);
    e.type = EV_JOINED;
    e.at_ms = 1;
    e.pid = 7;
    e.role = ROLE_CITIZEN;
    e.nickname = strdup("Ana \xF0\x9F\x98\x80");
    check_event_round_trip(&e);
    event_clear(&e);
    memset(&e, 0, sizeof e);
    e.type = EV_JOINED;
    e.pid = 8;
    e.role = ROLE_MODERATOR;
    e.anonymous = true;
    check_event_round_trip(&e); /* nickname null */
    event_clear(&e);

    e = writer_event(EV_POSTED);
    e.kind = KIND_REFINEMENT;
    e.text = strdup("multi\nline \"quoted\" \\ text");
    e.parent = 3;
    check_event_round_trip(&e);
    event_clear(&e);
    e = writer_event(EV_POSTED);
    e.kind = KIND_PROBLEM;
    e.text = strdup("no parent");
    check_event_round_trip(&e);
    event_clear(&e);

    static const enum event_type item_events[] = {EV_VOTED, EV_UNVOTED, EV_UNHIDDEN};
    for (size_t i = 0; i < 3; i++) {
        e = writer_event(item_events[i]);
        e.item = 12;
        check_event_round_trip(&e);
        event_clear(&e);
    }
    static const enum event_type plain_events[] = {EV_STARTED, EV_PAUSED, EV_RESUMED};
    for (size_t i = 0; i < 3; i++) {
        e = writer_event(plain_events[i]);
        check_event_round_trip(&e);
        event_clear(&e);
    }
    e = writer_event(EV_PHASE_SET);
    e.index = 2;
    check_event_round_trip(&e);
    event_clear(&e);
    e = writer_event(EV_EXTENDED);
    e.seconds = 3600;
    check_event_round_trip(&e);
    event_clear(&e);
    e = writer_event(EV_HIDDEN);
    e.item = 5;
    e.reason = strdup("off topic");
    check_event_round_trip(&e);
    event_clear(&e);
    e = writer_event(EV_HIDDEN);
    e.item = 5;
    check_event_round_trip(&e); /* reason null */
    event_clear(&e);
    e = writer_event(EV_HIDDEN);
    e.item = 5;
    e.reason = strdup("");
    check_event_round_trip(&e);
    event_clear(&e);

    memset(&e, 0, sizeof e);
    e.type = EV_PHASE_ENDED;
    e.at_ms = 5;
    e.index = 4;
    check_event_round_trip(&e);
    event_clear(&e);

    e = writer_event(EV_MERGED);
    e.item = 3;
    e.items = malloc(2 * sizeof *e.items);
    e.items[0] = 9;
    e.items[1] = 4;
    e.n_items = 2;
    e.reason = strdup("same idea");
    check_event_round_trip(&e);
    char *ms = codec_event_encode(&e);
    CHECK_EQ_STR(ms, "{\"t\":\"merged\",\"at\":1700000000123,\"by\":7,\"op\":\"c1-7\","
                     "\"items\":[9,4],\"into\":3,\"reason\":\"same idea\"}");
    free(ms);
    event_clear(&e);
    e = writer_event(EV_REVEAL_SET);
    e.reveal = REVEAL_PER_PHASE;
    check_event_round_trip(&e);
    ms = codec_event_encode(&e);
    CHECK_EQ_STR(ms, "{\"t\":\"reveal_set\",\"at\":1700000000123,\"by\":7,\"op\":\"c1-7\","
                     "\"mode\":\"per_phase\"}");
    free(ms);
    event_clear(&e);
    e = writer_event(EV_EXPORTS_SET);
    e.public_exports = true;
    check_event_round_trip(&e);
    event_clear(&e);
    e = writer_event(EV_ORDER_SET);
    e.order = ORDER_FAIR;
    check_event_round_trip(&e);
    ms = codec_event_encode(&e);
    CHECK(strstr(ms, "\"order\":\"fair\"") != NULL);
    free(ms);
    event_clear(&e);
    e = writer_event(EV_THEME_RENAMED);
    e.word = strdup("shade");
    e.label = strdup("Shade & trees");
    check_event_round_trip(&e);
    ms = codec_event_encode(&e);
    CHECK_EQ_STR(ms, "{\"t\":\"theme_renamed\",\"at\":1700000000123,\"by\":7,\"op\":\"c1-7\","
                     "\"word\":\"shade\",\"label\":\"Shade & trees\"}");
    free(ms);
    event_clear(&e);
    e = writer_event(EV_THEMES_MERGED);
    e.word = strdup("shade");
    e.words[0] = strdup("trees");
    e.words[1] = strdup("tree");
    e.n_words = 2;
    check_event_round_trip(&e);
    ms = codec_event_encode(&e);
    CHECK_EQ_STR(ms, "{\"t\":\"themes_merged\",\"at\":1700000000123,\"by\":7,\"op\":\"c1-7\","
                     "\"words\":[\"trees\",\"tree\"],\"into\":\"shade\"}");
    free(ms);
    event_clear(&e);
    static const enum event_type one_word[] = {EV_THEME_UNMERGED, EV_THEME_HIDDEN,
                                               EV_THEME_UNHIDDEN};
    for (size_t i = 0; i < 3; i++) {
        e = writer_event(one_word[i]);
        e.word = strdup("city");
        check_event_round_trip(&e);
        event_clear(&e);
    }
    memset(&e, 0, sizeof e); /* the server's showings: no writer */
    e.type = EV_SHOWINGS;
    e.at_ms = 3;
    e.n_items = 3;
    e.items = malloc(3 * sizeof *e.items);
    e.counts = malloc(3 * sizeof *e.counts);
    for (uint32_t i = 0; i < 3; i++)
        e.items[i] = 2 * i + 1, e.counts[i] = 10 + i;
    check_event_round_trip(&e);
    ms = codec_event_encode(&e);
    CHECK_EQ_STR(ms, "{\"t\":\"showings\",\"at\":3,\"items\":[1,3,5],\"counts\":[10,11,12]}");
    free(ms);
    event_clear(&e);
    {
        struct codec_error ce;
        static const char *const bad[] = {
            "{\"t\":\"showings\",\"at\":3,\"items\":[1,3],\"counts\":[1]}",
            "{\"t\":\"showings\",\"at\":3,\"items\":[1],\"counts\":[0]}",
            "{\"t\":\"showings\",\"at\":3,\"items\":[1]}",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            CHECK(codec_event_decode(bad[i], strlen(bad[i]), &e, &ce) < 0);
            event_clear(&e);
        }
    }
    memset(&e, 0, sizeof e);
    e.type = EV_JAM_CREATED;
    e.at_ms = 2;
    strcpy(e.jam.code, "000002");
    e.jam.title = strdup("T");
    e.jam.question = strdup("Q");
    e.jam.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 60};
    e.jam.n_agenda = 1;
    e.jam.settings = (struct jam_settings){true, 5, 2, 500, false, true};
    check_event_round_trip(&e); /* a jam created with public exports */
    ms = codec_event_encode(&e);
    CHECK(strstr(ms, "\"public_exports\":true") != NULL);
    free(ms);
    event_clear(&e);
    e = writer_event(EV_INVITE_CREATED);
    e.invite = 3;
    e.nickname = strdup("Bea (city council)");
    memset(e.invite_sha256, 'a', 64);
    check_event_round_trip(&e);
    ms = codec_event_encode(&e);
    CHECK(strstr(ms, "\"invite\":3,\"name\":\"Bea (city council)\",\"secret_sha256\":\"aaaa") !=
          NULL);
    free(ms);
    event_clear(&e);
    e = writer_event(EV_INVITE_REVOKED);
    e.invite = 3;
    check_event_round_trip(&e);
    event_clear(&e);
    memset(&e, 0, sizeof e);
    e.type = EV_JOINED; /* a moderator who joined with invite 3 */
    e.at_ms = 5;
    e.pid = 9;
    e.role = ROLE_MODERATOR;
    e.nickname = strdup("Bea");
    e.invite = 3;
    check_event_round_trip(&e);
    ms = codec_event_encode(&e);
    CHECK(strstr(ms, "\"invite\":3") != NULL);
    free(ms);
    event_clear(&e);
    e = writer_event(EV_UNMERGED);
    e.item = 9;
    check_event_round_trip(&e);
    event_clear(&e);

    memset(&e, 0, sizeof e);
    CHECK(codec_event_encode(&e) == NULL);
}

TEST(event_field_names)
{
    struct event e = writer_event(EV_POSTED);
    e.kind = KIND_IDEA;
    e.text = strdup("Shaded bus stops");
    char *s = codec_event_encode(&e);
    CHECK_EQ_STR(s, "{\"t\":\"posted\",\"at\":1700000000123,\"by\":7,\"op\":\"c1-7\",\"kind\":"
                    "\"idea\",\"text\":\"Shaded bus stops\",\"parent\":null}");
    free(s);
    event_clear(&e);

    memset(&e, 0, sizeof e);
    e.type = EV_JAM_CREATED;
    e.at_ms = 1;
    strcpy(e.jam.code, "000001");
    e.jam.title = strdup("T");
    e.jam.question = strdup("Q");
    e.jam.agenda[0] = (struct agenda_step){PHASE_DESIGN, 60};
    e.jam.n_agenda = 1;
    e.jam.settings = (struct jam_settings){true, 5, 2, 500, false, false};
    s = codec_event_encode(&e);
    CHECK_EQ_STR(s, "{\"t\":\"jam_created\",\"at\":1,\"code\":\"000001\",\"title\":\"T\","
                    "\"question\":\"Q\",\"agenda\":[{\"phase\":\"design\",\"duration_s\":60}],"
                    "\"settings\":{\"anonymous_allowed\":true,\"votes_per_phase\":5,"
                    "\"min_text\":2,\"max_text\":500},\"secret_sha256\":\"\"}");
    free(s);
    event_clear(&e);
}

static const char *event_code(const char *s)
{
    static char code[32];
    struct event e;
    struct codec_error err;
    if (codec_event_decode(s, strlen(s), &e, &err) == 0) {
        event_clear(&e);
        return "ok";
    }
    snprintf(code, sizeof code, "%s", err.code ? err.code : "(null)");
    return code;
}

TEST(event_decode_tolerant_but_typed)
{
    /* Unknown fields are ignored (forward compatibility of the stored log). */
    CHECK_EQ_STR(event_code("{\"t\":\"voted\",\"at\":1,\"by\":2,\"op\":\"x\",\"item\":3,"
                            "\"weight\":2,\"extra\":{\"a\":[1]}}"),
                 "ok");
    CHECK_EQ_STR(event_code("{\"t\":\"phase_ended\",\"at\":1,\"index\":0,\"future\":null}"), "ok");
    /* Known fields are typed. */
    CHECK_EQ_STR(event_code("{\"t\":\"voted\",\"at\":\"1\",\"by\":2,\"op\":\"x\",\"item\":3}"),
                 "bad_message");
    CHECK_EQ_STR(event_code("{\"t\":\"voted\",\"at\":1,\"by\":2,\"op\":\"x\",\"item\":3.5}"),
                 "bad_message");
    CHECK_EQ_STR(event_code("{\"t\":\"voted\",\"at\":1,\"by\":2,\"item\":3}"), "bad_message");
    CHECK_EQ_STR(event_code("{\"t\":\"joined\",\"at\":1,\"pid\":2,\"role\":\"citizen\","
                            "\"nickname\":5,\"anonymous\":false}"),
                 "bad_message");
    CHECK_EQ_STR(event_code("{\"t\":\"joined\",\"at\":1,\"pid\":2,\"role\":\"king\","
                            "\"nickname\":null,\"anonymous\":false}"),
                 "bad_value");
    CHECK_EQ_STR(event_code("{\"t\":\"posted\",\"at\":1,\"by\":2,\"op\":\"x\",\"kind\":\"idea\","
                            "\"text\":\"t\",\"parent\":\"1\"}"),
                 "bad_message");
    CHECK_EQ_STR(event_code("{\"t\":\"exploded\",\"at\":1}"), "unknown_type");
    CHECK_EQ_STR(event_code("{\"at\":1}"), "bad_message");
    CHECK_EQ_STR(event_code("{\"t\":\"voted\",\"t\":\"voted\"}"), "duplicate_key");
    CHECK_EQ_STR(event_code("{\"t\":\"voted\",\"at\":1,\"by\":2,\"op\":\"x\",\"item\":3"),
                 "bad_json");
    char *longop = repeat("o", 65), buf[256];
    snprintf(buf, sizeof buf, "{\"t\":\"started\",\"at\":1,\"by\":2,\"op\":\"%s\"}", longop);
    CHECK_EQ_STR(event_code(buf), "too_long");
    free(longop);
    CHECK_EQ_STR(event_code("{\"t\":\"jam_created\",\"at\":1,\"code\":\"1234567\",\"title\":\"T\","
                            "\"question\":\"Q\",\"agenda\":[{\"phase\":\"explore\","
                            "\"duration_s\":0}],\"secret_sha256\":\"ab\"}"),
                 "bad_value");
    /* Settings absent from a stored jam_created get the defaults. */
    const char *jc = "{\"t\":\"jam_created\",\"at\":1,\"code\":\"123456\",\"title\":\"T\","
                     "\"question\":\"Q\",\"agenda\":[{\"phase\":\"explore\",\"duration_s\":0,"
                     "\"color\":\"red\"}],\"secret_sha256\":\"ab\",\"v\":2}";
    struct event e;
    struct codec_error err;
    CHECK_EQ_INT(codec_event_decode(jc, strlen(jc), &e, &err), 0);
    CHECK_EQ_INT(e.jam.settings.votes_per_phase, 5);
    CHECK_EQ_INT(e.jam.settings.max_text, 500);
    CHECK(e.jam.settings.anonymous_allowed);
    CHECK_EQ_STR(e.jam.secret_sha256, "ab");
    event_clear(&e);
}

/* ------------------------------------------------------------------------------------------ */
/* Jam configuration */

TEST(jam_config_defaults_and_limits)
{
    const char *min = "{\"title\":\"T\",\"question\":\"Q\",\"agenda\":[{\"phase\":\"ideate\","
                      "\"duration_s\":86400}]}";
    struct jam_config c;
    struct codec_error err;
    CHECK_EQ_INT(codec_jam_config_decode(min, strlen(min), &c, &err), 0);
    CHECK(c.settings.anonymous_allowed);
    CHECK_EQ_INT(c.settings.votes_per_phase, 5);
    CHECK_EQ_INT(c.settings.min_text, 2);
    CHECK_EQ_INT(c.settings.max_text, 500);
    CHECK_EQ_INT(c.n_agenda, 1);
    CHECK_EQ_INT(c.agenda[0].duration_s, 86400);
    jam_config_clear(&c);

    const char *partial = "{\"title\":\"T\",\"question\":\"Q\",\"agenda\":[{\"phase\":\"ideate\","
                          "\"duration_s\":0}],\"settings\":{\"max_text\":2000,"
                          "\"anonymous_allowed\":false}}";
    CHECK_EQ_INT(codec_jam_config_decode(partial, strlen(partial), &c, &err), 0);
    CHECK(!c.settings.anonymous_allowed);
    CHECK_EQ_INT(c.settings.votes_per_phase, 5);
    CHECK_EQ_INT(c.settings.min_text, 2);
    CHECK_EQ_INT(c.settings.max_text, 2000);
    jam_config_clear(&c);

#define AG1 "\"agenda\":[{\"phase\":\"explore\",\"duration_s\":60}]"
#define TQ "\"title\":\"T\",\"question\":\"Q\","
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[]}"), "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[{\"phase\":\"explore\",\"duration_s\":1},"
                          "{\"phase\":\"ideate\",\"duration_s\":1},{\"phase\":\"design\","
                          "\"duration_s\":1},{\"phase\":\"diffuse\",\"duration_s\":1},"
                          "{\"phase\":\"results\",\"duration_s\":1}]}"),
                 "ok");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[{\"phase\":\"explore\",\"duration_s\":1},"
                          "{\"phase\":\"ideate\",\"duration_s\":1},{\"phase\":\"design\","
                          "\"duration_s\":1},{\"phase\":\"diffuse\",\"duration_s\":1},"
                          "{\"phase\":\"results\",\"duration_s\":1},{\"phase\":\"explore\","
                          "\"duration_s\":1}]}"),
                 "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[{\"phase\":\"explore\",\"duration_s\":1},"
                          "{\"phase\":\"explore\",\"duration_s\":2}]}"),
                 "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[{\"phase\":\"lobby\",\"duration_s\":1}]}"),
                 "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[{\"phase\":\"explore\",\"duration_s\":86401}]}"),
                 "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[{\"phase\":\"explore\",\"duration_s\":-1}]}"),
                 "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[{\"phase\":\"explore\",\"duration_s\":1.5}]}"),
                 "bad_message");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[{\"phase\":\"explore\"}]}"), "bad_message");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[{\"phase\":\"explore\",\"duration_s\":1,"
                          "\"x\":1}]}"),
                 "bad_message");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":[\"explore\"]}"), "bad_message");
    CHECK_EQ_STR(jam_code("{" TQ "\"agenda\":{}}"), "bad_message");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"settings\":{\"votes_per_phase\":1001}}"), "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"settings\":{\"votes_per_phase\":0}}"), "ok");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"settings\":{\"min_text\":0}}"), "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"settings\":{\"max_text\":2001}}"), "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"settings\":{\"min_text\":600}}"), "bad_value");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"settings\":{\"min_text\":500,\"max_text\":500}}"), "ok");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"settings\":{\"anonymous_allowed\":1}}"), "bad_message");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"settings\":{\"colour\":1}}"), "bad_message");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"settings\":[]}"), "bad_message");
    CHECK_EQ_STR(jam_code("{" TQ AG1 ",\"code\":\"123456\"}"), "bad_message");
    CHECK_EQ_STR(jam_code("{\"question\":\"Q\"," AG1 "}"), "bad_message");
    CHECK_EQ_STR(jam_code("{\"title\":\"\",\"question\":\"Q\"," AG1 "}"), "too_short");
    CHECK_EQ_STR(jam_code("{\"title\":\"T\",\"question\":\"\"," AG1 "}"), "too_short");
    CHECK_EQ_STR(jam_code("{\"title\":\"a\\tb\",\"question\":\"Q\"," AG1 "}"), "bad_value");
    CHECK_EQ_STR(jam_code("{\"title\":\"T\",\"question\":\"line\\nbreak\"," AG1 "}"), "ok");
    CHECK_EQ_STR(jam_code("{" TQ AG1 "," AG1 "}"), "duplicate_key");
    CHECK_EQ_STR(jam_code("[]"), "bad_message");

    char *t120 = repeat("\xC3\xA9", 120), *t121 = repeat("\xC3\xA9", 121);
    char *q500 = repeat("\xE2\x82\xAC", 500), *q501 = repeat("\xE2\x82\xAC", 501);
    char *buf = malloc(8192);
    snprintf(buf, 8192, "{\"title\":\"%s\",\"question\":\"%s\"," AG1 "}", t120, q500);
    CHECK_EQ_STR(jam_code(buf), "ok");
    snprintf(buf, 8192, "{\"title\":\"%s\",\"question\":\"Q\"," AG1 "}", t121);
    CHECK_EQ_STR(jam_code(buf), "too_long");
    snprintf(buf, 8192, "{\"title\":\"T\",\"question\":\"%s\"," AG1 "}", q501);
    CHECK_EQ_STR(jam_code(buf), "too_long");
    free(buf);
    free(t120);
    free(t121);
    free(q500);
    free(q501);
#undef AG1
#undef TQ
}

TEST(name_tables)
{
    CHECK_EQ_STR(msg_type_name(MSG_SET_PHASE), "set_phase");
    CHECK(msg_type_name(MSG_NONE) == NULL);
    CHECK(msg_type_name(MSG__COUNT) == NULL);
    CHECK_EQ_STR(role_name(ROLE_SCREEN), "screen");
    CHECK(role_name(ROLE_NONE) == NULL);
    CHECK_EQ_STR(kind_role_name(KIND_PROBLEM), "explorer");
    CHECK_EQ_STR(kind_role_name(KIND_IDEA), "ideator");
    CHECK_EQ_STR(kind_role_name(KIND_REFINEMENT), "designer");
    CHECK_EQ_STR(kind_role_name(KIND_PLEDGE), "diffuser");
    CHECK_EQ_STR(phase_name(PHASE_RESULTS), "results");
    CHECK_EQ_STR(event_type_name(EV_PHASE_ENDED), "phase_ended");
    CHECK(event_type_name(EV_NONE) == NULL);
    for (int k = 0; k < KIND__COUNT; k++)
        CHECK_EQ_INT(kind_from_name(kind_name((enum kind)k)), k);
    for (int p = 0; p < PHASE__COUNT; p++)
        CHECK_EQ_INT(phase_from_name(phase_name((enum phase)p)), p);
    for (int r = ROLE_CITIZEN; r <= ROLE_SCREEN; r++)
        CHECK_EQ_INT(role_from_name(role_name((enum role)r)), r);
    CHECK_EQ_INT(kind_from_name("Idea"), -1);
    CHECK_EQ_INT(phase_from_name(""), -1);
    CHECK_EQ_INT(role_from_name(NULL), -1);

    struct msg m;
    memset(&m, 0, sizeof m);
    msg_clear(&m); /* safe on a zeroed struct */
    struct event e;
    memset(&e, 0, sizeof e);
    event_clear(&e);
}

/* A tree bigger than the decoder's scratch arena (32 KiB: a showings event of MSG_SHOWINGS_MAX
 * items is 2,000 Jansson integers, some 70 KiB) decodes as well, and so do the small ones after. */
TEST(trees_beyond_the_arena)
{
    struct event e = {.type = EV_SHOWINGS, .at_ms = 3, .n_items = MSG_SHOWINGS_MAX};
    e.items = malloc(e.n_items * sizeof *e.items);
    e.counts = malloc(e.n_items * sizeof *e.counts);
    for (uint32_t i = 0; i < e.n_items; i++)
        e.items[i] = i + 1, e.counts[i] = 7 + i;
    char *big = codec_event_encode(&e);
    for (int round = 0; round < 3; round++) {
        struct event back;
        struct codec_error ce;
        CHECK(codec_event_decode(big, strlen(big), &back, &ce) == 0);
        CHECK_EQ_INT(back.n_items, MSG_SHOWINGS_MAX);
        CHECK(back.items && back.items[MSG_SHOWINGS_MAX - 1] == MSG_SHOWINGS_MAX);
        CHECK(back.counts && back.counts[0] == 7);
        event_clear(&back);
        const char *small = "{\"t\":\"voted\",\"at\":1,\"by\":2,\"op\":\"o\",\"item\":3}";
        CHECK(codec_event_decode(small, strlen(small), &back, &ce) == 0);
        CHECK(back.type == EV_VOTED && back.item == 3 && strcmp(back.op, "o") == 0);
        event_clear(&back);
    }
    free(big);
    event_clear(&e);
}

int main(void)
{
    RUN(examples_round_trip);
    RUN(examples_every_type_present);
    RUN(http_create_example);
    RUN(invalid_vectors_rejected);
    RUN(encode_is_canonical);
    RUN(decoded_fields);
    RUN(error_carries_op);
    RUN(code_points_not_bytes);
    RUN(depth_bomb_rejected_fast);
    RUN(not_nul_terminated);
    RUN(encode_every_type);
    RUN(event_round_trip_every_type);
    RUN(event_field_names);
    RUN(event_decode_tolerant_but_typed);
    RUN(jam_config_defaults_and_limits);
    RUN(name_tables);
    RUN(trees_beyond_the_arena);
    return test_done();
}
