/* SPDX-License-Identifier: MIT
 * fuzz_codec.c - libFuzzer target for codec.c: every input goes to codec_decode,
 * codec_event_decode and codec_jam_config_decode. Whatever decodes must survive
 * encode -> decode unchanged and encode to the same bytes twice, and its encoding (jsonw's) must be
 * what Jansson itself dumps for the same document (the chain hashes those bytes); any difference
 * aborts.
 * Also built with gcc and tests/fuzz/replay.c to replay the corpus inside `make test`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "equal.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_codec: %s: %s\n", what, detail ? detail : "(null)");
    abort();
}

/* jsonw writes what json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) would: Jansson reading our
 * encoding and dumping it again gives the same bytes. */
static void check_jansson_agrees(const char *enc)
{
    json_t *o = json_loads(enc, 0, NULL);
    char *again = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (!again || strcmp(again, enc) != 0)
        die("encoding differs from Jansson's", enc);
    free(again);
    json_decref(o);
}

/* Invariants every decoded message keeps whatever the input. */
static void check_msg(const struct msg *m, const struct codec_error *err)
{
    if (m->type <= MSG_NONE || m->type >= MSG__COUNT)
        die("type out of range", err->message);
    if (m->type == MSG_JOIN && !m->token && strlen(m->code) != MSG_CODE_LEN)
        die("join without a 6-digit code", m->code);
    if (m->nickname && (m->nickname[0] == ' ' || m->nickname[0] == '\0'))
        die("nickname not trimmed", m->nickname);
    if (m->type == MSG_EXTEND && (m->seconds < 1 || m->seconds > MSG_EXTEND_MAX_S))
        die("extend out of range", "");
}

static void fuzz_msg(const char *text, size_t size)
{
    struct msg m1, m2;
    struct codec_error err;
    if (codec_decode(text, size, &m1, &err) != 0) {
        if (!err.code || !err.message[0])
            die("error without code or message", err.code);
        return;
    }
    check_msg(&m1, &err);
    char *enc = codec_encode_msg(&m1);
    if (!enc)
        die("encode failed", "");
    check_jansson_agrees(enc);
    if (codec_decode(enc, strlen(enc), &m2, &err) != 0)
        die("re-decode failed", enc);
    if (!equal_msg(&m1, &m2))
        die("round trip differs", enc);
    char *enc2 = codec_encode_msg(&m2);
    if (!enc2 || strcmp(enc, enc2) != 0)
        die("encoding not canonical", enc);
    free(enc2);
    free(enc);
    msg_clear(&m2);
    msg_clear(&m1);
}

static void event_round_trip(const struct event *e1)
{
    struct event e2;
    struct codec_error err;
    char *enc = codec_event_encode(e1);
    if (!enc)
        die("event encode failed", "");
    check_jansson_agrees(enc);
    if (codec_event_decode(enc, strlen(enc), &e2, &err) != 0)
        die("event re-decode failed", enc);
    if (!equal_event(e1, &e2))
        die("event round trip differs", enc);
    char *enc2 = codec_event_encode(&e2);
    if (!enc2 || strcmp(enc, enc2) != 0)
        die("event encoding not canonical", enc);
    free(enc2);
    free(enc);
    event_clear(&e2);
}

static void fuzz_event(const char *text, size_t size)
{
    struct event e;
    struct codec_error err;
    if (codec_event_decode(text, size, &e, &err) != 0)
        return;
    event_round_trip(&e);
    event_clear(&e);
}

/* A decoded jam body goes through the jam_created event, the only encoder of a jam config. */
static void fuzz_jam(const char *text, size_t size)
{
    struct event e;
    struct codec_error err;
    memset(&e, 0, sizeof e);
    if (codec_jam_config_decode(text, size, &e.jam, &err) != 0)
        return;
    if (e.jam.n_agenda < 1 || e.jam.n_agenda > JAM_MAX_PHASES ||
        e.jam.settings.min_text > e.jam.settings.max_text ||
        e.jam.settings.max_text > MSG_TEXT_HARD_MAX)
        die("jam config invariant", e.jam.title);
    e.type = EV_JAM_CREATED;
    e.at_ms = 1;
    memcpy(e.jam.code, "123456", 7);
    event_round_trip(&e);
    event_clear(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy into an exact-size heap buffer so ASan catches any read past 'size'. */
    char *text = malloc(size ? size : 1);
    if (size)
        memcpy(text, data, size);
    fuzz_msg(text, size);
    fuzz_event(text, size);
    fuzz_jam(text, size);
    free(text);
    return 0;
}
