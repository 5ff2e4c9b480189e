/* SPDX-License-Identifier: MIT
 * codec.c - JSON text <-> struct msg / struct event / struct jam_config (proto/messages.md).
 * Owns every static check: depth (a bracket pre-scan, before Jansson builds anything), duplicate
 * keys, UTF-8, types, unknown fields, code-point lengths, ranges and formats. It knows nothing of
 * a jam's state. Trade-off: client messages are decoded strictly (unknown fields are errors),
 * stored events tolerantly (unknown fields are ignored) so that an older server can replay a log.
 */
#include "codec.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "jsonw.h"

/* ------------------------------------------------------------------------------------------ */
/* Errors and small helpers */

static int fail(struct codec_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct codec_error *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static void err_reset(struct codec_error *err)
{
    err->code = NULL;
    err->message[0] = '\0';
    err->op[0] = '\0';
}

/* A key copied from the input into an error message: printable ASCII only, at most 32 bytes, so
 * the message stays valid UTF-8 and short whatever the client sent. */
static const char *safe_key(const char *key, char buf[40])
{
    size_t i = 0;
    for (; i < 32 && key[i]; i++) {
        unsigned char c = (unsigned char)key[i];
        buf[i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    if (key[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* UTF-8 (the input has already been validated by Jansson) */

static size_t cp_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

/* Control characters are Unicode category Cc: U+0000-U+001F, U+007F and U+0080-U+009F (the C1
 * range, encoded as C2 80..C2 9F). */
static bool has_control(const char *s, size_t n, bool allow_newline)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' && allow_newline)
            continue;
        if (c < 0x20 || c == 0x7F)
            return true;
        if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9F)
            return true;
    }
    return false;
}

static bool is_op_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

/* ------------------------------------------------------------------------------------------ */
/* A scratch arena for Jansson's trees */

/* A decoded tree lives only inside one decode call, and Jansson allocates each object, table,
 * key and value on its own (a vote event: some 14 mallocs and as many frees; a million of them at
 * start-up). While a message or an event is decoded, they come from this thread's bump arena and
 * are dropped together at the end; what does not fit, or is allocated outside a decode, is
 * malloc's. Jansson's allocator is process-wide, so arena_free tells the two apart by address:
 * an arena's blocks never leave the decode (and so the thread) that made them. */
#define ARENA_BYTES (32 * 1024)
#define ARENA_ALIGN 16

/* Under AddressSanitizer the arena is poisoned but for the blocks handed out, each followed by a
 * poisoned red zone, and all of it again at the end of the decode: a read past a block, or of a
 * tree's string kept after its decode, is reported as for malloc's blocks (the libFuzzer and ASan
 * builds run the arena the release build runs). */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_REDZONE ARENA_ALIGN
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ARENA_REDZONE 0
#endif

struct arena {
    _Alignas(ARENA_ALIGN) unsigned char buf[ARENA_BYTES];
    size_t used;
    bool on;
};
static _Thread_local struct arena the_arena;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void *arena_malloc(size_t n)
{
    struct arena *a = &the_arena;
    if (!a->on || n >= ARENA_BYTES || n + ARENA_REDZONE > ARENA_BYTES - a->used)
        return malloc(n);
    size_t need = (n + ARENA_REDZONE + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    void *p = a->buf + a->used;
    a->used = need < ARENA_BYTES - a->used ? a->used + need : ARENA_BYTES;
    ASAN_UNPOISON_MEMORY_REGION(p, n);
    return p;
}

static void arena_free(void *p)
{
    uintptr_t b = (uintptr_t)the_arena.buf, q = (uintptr_t)p;
    if (q >= b && q < b + ARENA_BYTES)
        return;
    free(p);
}

static void arena_install(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

static void arena_begin(void)
{
    pthread_once(&arena_once, arena_install);
    ASAN_POISON_MEMORY_REGION(the_arena.buf, ARENA_BYTES);
    the_arena.on = true;
    the_arena.used = 0;
}

static void arena_end(void)
{
    the_arena.on = false;
    the_arena.used = 0;
    ASAN_POISON_MEMORY_REGION(the_arena.buf, ARENA_BYTES);
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing */

/* Nesting depth of objects and arrays, counted outside strings, without building anything. It is
 * exact for valid JSON and harmless for invalid JSON (Jansson rejects that afterwards). It runs
 * first so that a bomb of 100k '[' costs one linear pass, not Jansson's 2048-level recursion. */
static bool exceeds_depth(const char *s, size_t n, int max_depth)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return false;
}

static json_t *parse(const char *text, size_t len, struct codec_error *err)
{
    if (!text || len == 0) {
        fail(err, "bad_json", "empty message");
        return NULL;
    }
    if (exceeds_depth(text, len, MSG_MAX_DEPTH)) {
        fail(err, "too_deep", "nesting deeper than %d levels", MSG_MAX_DEPTH);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root)
        return root;
    switch (json_error_code(&jerr)) {
    case json_error_duplicate_key:
        fail(err, "duplicate_key", "an object has a key twice");
        break;
    case json_error_numeric_overflow:
        /* A number Jansson cannot hold (beyond int64 or double) is outside every range. */
        fail(err, "bad_value", "number out of range at position %d", jerr.position);
        break;
    default:
        fail(err, "bad_json", "invalid JSON at position %d", jerr.position);
        break;
    }
    return NULL;
}

/* 'text' parsed as a JSON object (a new reference), or NULL with 'err' set; 'what' names it in
 * the message ("a message", "an event", "the body"). */
static json_t *parse_object(const char *text, size_t len, const char *what, struct codec_error *err)
{
    json_t *o = parse(text, len, err);
    if (o && !json_is_object(o)) {
        fail(err, "bad_message", "%s must be a JSON object", what);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The start of every decoder: 'err' (or 'scratch' when the caller passed none) reset, 'out'
 * zeroed. Returns the error record to use. */
static struct codec_error *begin(struct codec_error *err, struct codec_error *scratch, void *out,
                                 size_t size)
{
    if (!err)
        err = scratch;
    err_reset(err);
    memset(out, 0, size);
    return err;
}

/* Every key of 'o' must be in 'allowed' (NULL-terminated). */
static int check_keys(json_t *o, const char *const *allowed, const char *where,
                      struct codec_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0) {
                ok = true;
                break;
            }
        if (!ok) {
            char buf[40];
            return fail(err, "bad_message", "unknown field '%s'%s%s", safe_key(key, buf),
                        where[0] ? " in " : "", where);
        }
    }
    return 0;
}

/* The readers below return 1 when the field is present and valid, 0 when it is absent and not
 * required, -1 with 'err' filled otherwise. */

enum ctl { CTL_ANY, CTL_NONE, CTL_NEWLINE };

struct str_rule {
    size_t min_cp, max_cp; /* code points */
    enum ctl ctl;
};

static int get_str(json_t *o, const char *key, bool required, struct str_rule rule,
                   const char **out, size_t *out_len, struct codec_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return fail(err, "bad_message", "field '%s' is missing", key);
        return 0;
    }
    if (!json_is_string(v))
        return fail(err, "bad_message", "field '%s' must be a string", key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    size_t cps = cp_count(s, n);
    if (cps < rule.min_cp)
        return fail(err, "too_short", "field '%s' is shorter than %zu code points", key,
                    rule.min_cp);
    if (cps > rule.max_cp)
        return fail(err, "too_long", "field '%s' is longer than %zu code points", key, rule.max_cp);
    if (rule.ctl != CTL_ANY && has_control(s, n, rule.ctl == CTL_NEWLINE))
        return fail(err, "bad_value", "field '%s' contains a control character", key);
    *out = s;
    *out_len = n;
    return 1;
}

static int get_int(json_t *o, const char *key, bool required, int64_t min, int64_t max,
                   int64_t *out, struct codec_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return fail(err, "bad_message", "field '%s' is missing", key);
        return 0;
    }
    if (!json_is_integer(v))
        return fail(err, "bad_message", "field '%s' must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return fail(err, "bad_value", "field '%s' must be between %lld and %lld", key,
                    (long long)min, (long long)max);
    *out = (int64_t)x;
    return 1;
}

/* remove, reinstate, mute and unmute name their participant by `pid`, or by one of its items
 * (`item`: the author of that item), exactly one of the two: a console knows items, not pids. */
static int get_target(json_t *o, struct msg *m, struct codec_error *err)
{
    if (json_object_get(o, "pid") && json_object_get(o, "item"))
        return fail(err, "bad_message", "give 'pid' or 'item', not both");
    if (json_object_get(o, "item"))
        return get_int(o, "item", true, 1, INT64_MAX, &m->item, err);
    return get_int(o, "pid", true, 1, INT64_MAX, &m->pid, err);
}

/* A display name (a join's nickname, an invite's name): trimmed of spaces, then 1 to MSG_NICK_MAX
 * code points without control characters, into a new '*out'. */
static int get_display_name(json_t *o, const char *key, bool required, char **out,
                            struct codec_error *err)
{
    const char *s;
    size_t n;
    int r = get_str(o, key, required, (struct str_rule){0, (size_t)-1, CTL_ANY}, &s, &n, err);
    if (r != 1)
        return r;
    while (n > 0 && s[0] == ' ')
        s++, n--;
    while (n > 0 && s[n - 1] == ' ')
        n--;
    size_t cps = cp_count(s, n);
    if (cps < 1)
        return fail(err, "too_short", "field '%s' is empty", key);
    if (cps > MSG_NICK_MAX)
        return fail(err, "too_long", "field '%s' is longer than %d code points", key, MSG_NICK_MAX);
    if (has_control(s, n, false))
        return fail(err, "bad_value", "field '%s' contains a control character", key);
    *out = xmemdup(s, n);
    return 1;
}

static int get_bool(json_t *o, const char *key, bool required, bool *out, struct codec_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return fail(err, "bad_message", "field '%s' is missing", key);
        return 0;
    }
    if (!json_is_boolean(v))
        return fail(err, "bad_message", "field '%s' must be true or false", key);
    *out = json_is_true(v);
    return 1;
}

/* A string naming an enum value (kind, phase, role); 'from_name' maps it or returns -1. */
static int get_name(json_t *o, const char *key, bool required, int (*from_name)(const char *),
                    int *out, struct codec_error *err)
{
    const char *s;
    size_t n;
    struct str_rule any = {0, (size_t)-1, CTL_ANY};
    int r = get_str(o, key, required, any, &s, &n, err);
    if (r <= 0)
        return r;
    int x = from_name(s);
    if (x < 0 || strlen(s) != n)
        return fail(err, "bad_value", "field '%s' has an unknown value", key);
    *out = x;
    return 1;
}

/* op: 1-64 characters from [A-Za-z0-9._:-]. 'min' is 0 for stored events. */
static int get_op(json_t *o, bool required, size_t min, char out[MSG_OP_MAX + 1],
                  struct codec_error *err)
{
    const char *s;
    size_t n;
    struct str_rule rule = {min, MSG_OP_MAX, CTL_ANY};
    int r = get_str(o, "op", required, rule, &s, &n, err);
    if (r <= 0)
        return r;
    for (size_t i = 0; i < n; i++)
        if (!is_op_char((unsigned char)s[i]))
            return fail(err, "bad_value", "field 'op' may only hold A-Z a-z 0-9 . _ : -");
    memcpy(out, s, n + 1);
    return 1;
}

/* Copies a valid "op" into err->op before anything else is checked, so that every later error
 * of this message can carry it. Reports nothing itself. */
static void peek_op(json_t *o, struct codec_error *err)
{
    struct codec_error scratch;
    char op[MSG_OP_MAX + 1];
    if (get_op(o, false, 1, op, &scratch) == 1)
        memcpy(err->op, op, sizeof op);
}

/* "<ms>-<seq>", each part 1-20 digits. */
static bool is_event_id(const char *s, size_t n)
{
    size_t i = 0, a = 0, b = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, a++;
    if (i >= n || s[i] != '-')
        return false;
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, b++;
    return i == n && a >= 1 && a <= 20 && b >= 1 && b <= 20;
}

/* ------------------------------------------------------------------------------------------ */
/* Client messages */

#define NO_OP false
#define WITH_OP true

static const struct {
    bool has_op;
    const char *keys[9];
} specs[MSG__COUNT] = {
    [MSG_JOIN] = {NO_OP,
                  {"type", "code", "as", "nickname", "anonymous", "secret", "token",
                   "last_event_id", NULL}},
    [MSG_POST] = {WITH_OP, {"type", "op", "kind", "text", "parent", "on_behalf", NULL}},
    [MSG_VOTE] = {WITH_OP, {"type", "op", "item", NULL}},
    [MSG_UNVOTE] = {WITH_OP, {"type", "op", "item", NULL}},
    [MSG_START] = {WITH_OP, {"type", "op", NULL}},
    [MSG_SET_PHASE] = {WITH_OP, {"type", "op", "phase", NULL}},
    [MSG_PAUSE] = {WITH_OP, {"type", "op", NULL}},
    [MSG_RESUME] = {WITH_OP, {"type", "op", NULL}},
    [MSG_EXTEND] = {WITH_OP, {"type", "op", "seconds", NULL}},
    [MSG_HIDE] = {WITH_OP, {"type", "op", "item", "items", "reason", "preset", NULL}},
    [MSG_UNHIDE] = {WITH_OP, {"type", "op", "item", NULL}},
    [MSG_SYNC] = {NO_OP, {"type", NULL}},
    [MSG_PING] = {NO_OP, {"type", "t", NULL}},
    [MSG_REMOVE] = {WITH_OP, {"type", "op", "pid", "item", "reason", "preset", "hide_posts", NULL}},
    [MSG_REINSTATE] = {WITH_OP, {"type", "op", "pid", "item", NULL}},
    [MSG_MUTE] = {WITH_OP, {"type", "op", "pid", "item", "reason", "preset", NULL}},
    [MSG_UNMUTE] = {WITH_OP, {"type", "op", "pid", "item", NULL}},
    [MSG_SPOTLIGHT] = {WITH_OP, {"type", "op", "item", NULL}},
    [MSG_UNSPOTLIGHT] = {WITH_OP, {"type", "op", NULL}},
    [MSG_PIN] = {WITH_OP, {"type", "op", "item", NULL}},
    [MSG_UNPIN] = {WITH_OP, {"type", "op", "item", NULL}},
    [MSG_ANNOUNCE] = {WITH_OP, {"type", "op", "text", "duration_s", NULL}},
    [MSG_UNANNOUNCE] = {WITH_OP, {"type", "op", NULL}},
    [MSG_SIMILAR] = {NO_OP, {"type", "kind", "text", NULL}},
    [MSG_APPROVE] = {WITH_OP, {"type", "op", "items", NULL}},
    [MSG_REJECT] = {WITH_OP, {"type", "op", "items", "reason", "preset", NULL}},
    [MSG_CLAIM] = {WITH_OP, {"type", "op", "items", NULL}},
    [MSG_RELEASE] = {WITH_OP, {"type", "op", "items", NULL}},
    [MSG_MERGE] = {WITH_OP, {"type", "op", "items", "into", "reason", NULL}},
    [MSG_UNMERGE] = {WITH_OP, {"type", "op", "item", NULL}},
    [MSG_SET_REVEAL] = {WITH_OP, {"type", "op", "mode", NULL}},
    [MSG_SET_EXPORTS] = {WITH_OP, {"type", "op", "public", NULL}},
    [MSG_INVITE] = {WITH_OP, {"type", "op", "name", NULL}},
    [MSG_REVOKE_INVITE] = {WITH_OP, {"type", "op", "invite", NULL}},
    [MSG_DISCOVER] = {NO_OP, {"type", NULL}},
    [MSG_SET_ORDER] = {WITH_OP, {"type", "op", "order", NULL}},
    [MSG_RENAME_THEME] = {WITH_OP, {"type", "op", "word", "label", NULL}},
    [MSG_MERGE_THEMES] = {WITH_OP, {"type", "op", "words", "into", NULL}},
    [MSG_UNMERGE_THEME] = {WITH_OP, {"type", "op", "word", NULL}},
    [MSG_HIDE_THEME] = {WITH_OP, {"type", "op", "word", NULL}},
    [MSG_UNHIDE_THEME] = {WITH_OP, {"type", "op", "word", NULL}},
};

/* `items` of approve, reject, claim, release and a bulk hide: 1 to 'max' distinct item ids
 * (integers >= 1), kept in the order given; a stored event's list is read by the same rule. */
static int get_items_max(json_t *o, bool required, size_t max, uint32_t **out, size_t *n_out,
                         struct codec_error *err)
{
    json_t *a = json_object_get(o, "items");
    if (!a) {
        if (required)
            return fail(err, "bad_message", "field 'items' is missing");
        return 0;
    }
    if (!json_is_array(a))
        return fail(err, "bad_message", "field 'items' must be an array of item ids");
    size_t n = json_array_size(a);
    if (n < 1 || n > max)
        return fail(err, "bad_value", "field 'items' must hold 1 to %zu item ids", max);
    uint32_t *ids = xmalloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v)) {
            free(ids);
            return fail(err, "bad_message", "items[%zu] must be an integer", i);
        }
        json_int_t x = json_integer_value(v);
        if (x < 1 || x > UINT32_MAX) {
            free(ids);
            return fail(err, "bad_value", "items[%zu] must be an item id", i);
        }
        for (size_t k = 0; k < i; k++)
            if (ids[k] == (uint32_t)x) {
                free(ids);
                return fail(err, "bad_value", "field 'items' names item %lld twice", (long long)x);
            }
        ids[i] = (uint32_t)x;
    }
    *out = ids;
    *n_out = n;
    return 1;
}

static int get_items(json_t *o, bool required, uint32_t **out, size_t *n_out,
                     struct codec_error *err)
{
    return get_items_max(o, required, MSG_ITEMS_MAX, out, n_out, err);
}

/* A showings event: 'items' (1 to MSG_SHOWINGS_MAX distinct ids) and 'counts', as many integers
 * from 1 to UINT32_MAX, the showings of each. */
static int get_showings(json_t *o, struct event *e, struct codec_error *err)
{
    if (get_items_max(o, true, MSG_SHOWINGS_MAX, &e->items, &e->n_items, err) < 0)
        return -1;
    json_t *a = json_object_get(o, "counts");
    if (!json_is_array(a) || json_array_size(a) != e->n_items)
        return fail(err, "bad_message", "field 'counts' must be an array as long as 'items'");
    e->counts = xmalloc(e->n_items * sizeof *e->counts);
    for (size_t i = 0; i < e->n_items; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > UINT32_MAX)
            return fail(err, "bad_value", "counts[%zu] must be an integer from 1", i);
        e->counts[i] = (uint32_t)json_integer_value(v);
    }
    return 0;
}

static void set_items(struct jsonw *o, const uint32_t *ids, size_t n)
{
    jsonw_key(o, "items");
    jsonw_array(o);
    for (size_t i = 0; i < n; i++)
        jsonw_int(o, ids[i]);
    jsonw_end_array(o);
}

/* A theme's word: 1-40 code points, no control characters (room_check judges whether it is one
 * word in its folded form, words_is_word). */
static int get_theme_word(json_t *o, const char *key, char **out, struct codec_error *err)
{
    const char *s;
    size_t n;
    if (get_str(o, key, true, (struct str_rule){1, 40, CTL_NONE}, &s, &n, err) < 0)
        return -1;
    *out = xmemdup(s, n);
    return 0;
}

/* The fields of the theme messages and events, the same in both: word (merge: words and into),
 * rename: label (0-MSG_THEME_LABEL_MAX code points, "" = back to the word). */
static int get_theme(json_t *o, bool merge, bool rename, char **word, char **label, char **words,
                     size_t *n_words, struct codec_error *err)
{
    if (!merge) {
        if (get_theme_word(o, "word", word, err) < 0)
            return -1;
        if (!rename)
            return 0;
        const char *s;
        size_t n;
        if (get_str(o, "label", true, (struct str_rule){0, MSG_THEME_LABEL_MAX, CTL_NONE}, &s, &n,
                    err) < 0)
            return -1;
        *label = xmemdup(s, n);
        return 0;
    }
    if (get_theme_word(o, "into", word, err) < 0)
        return -1;
    json_t *a = json_object_get(o, "words");
    if (!json_is_array(a))
        return fail(err, "bad_message", "field 'words' must be an array of words");
    size_t n = json_array_size(a);
    if (n < 1 || n > MSG_THEME_WORDS_MAX)
        return fail(err, "bad_value", "field 'words' must hold 1 to %d words", MSG_THEME_WORDS_MAX);
    for (size_t i = 0; i < n; i++) {
        json_t *wrap = json_pack("{sO}", "w", json_array_get(a, i));
        int r = get_theme_word(wrap, "w", &words[i], err);
        json_decref(wrap);
        if (r < 0)
            return -1;
        *n_words = i + 1;
        if (strcmp(words[i], *word) == 0)
            return fail(err, "bad_value", "a theme cannot be merged into itself");
        for (size_t k = 0; k < i; k++)
            if (strcmp(words[k], words[i]) == 0)
                return fail(err, "bad_value", "field 'words' names '%s' twice", words[i]);
    }
    return 0;
}

static void set_str(struct jsonw *o, const char *key, const char *v);

static void set_theme(struct jsonw *o, bool merge, const char *word, const char *label,
                      char *const *words, size_t n_words)
{
    if (merge) {
        jsonw_key(o, "words");
        jsonw_array(o);
        for (size_t i = 0; i < n_words; i++)
            jsonw_str(o, words[i]);
        jsonw_end_array(o);
        set_str(o, "into", word);
        return;
    }
    set_str(o, "word", word);
    set_str(o, "label", label);
}

/* The optional reason (free text) and preset of hide, remove and mute. */
static int get_reason(json_t *o, struct msg *m, struct codec_error *err)
{
    const char *s;
    size_t n;
    int r, x;
    if ((r = get_str(o, "reason", false, (struct str_rule){0, MSG_REASON_MAX, CTL_NONE}, &s, &n,
                     err)) < 0)
        return -1;
    if (r == 1)
        m->reason = xmemdup(s, n);
    if ((r = get_name(o, "preset", false, preset_from_name, &x, err)) < 0)
        return -1;
    if (r == 1)
        m->preset = (enum preset)x;
    return 0;
}

static int decode_join(json_t *o, struct msg *m, struct codec_error *err)
{
    const char *s;
    size_t n;
    int r;
    const struct str_rule any_rule = {0, (size_t)-1, CTL_ANY};

    if ((r = get_str(o, "token", false, (struct str_rule){1, MSG_TOKEN_MAX, CTL_NONE}, &s, &n,
                     err)) < 0)
        return -1;
    bool has_token = r == 1;
    if (has_token)
        m->token = xmemdup(s, n);

    if ((r = get_str(o, "code", !has_token, any_rule, &s, &n, err)) < 0)
        return -1;
    if (r == 1) {
        size_t digits = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ' || s[i] == '-')
                continue;
            if (s[i] < '0' || s[i] > '9' || digits == MSG_CODE_LEN)
                return fail(err, "bad_value", "field 'code' must be %d digits", MSG_CODE_LEN);
            m->code[digits++] = s[i];
        }
        if (digits != MSG_CODE_LEN)
            return fail(err, "bad_value", "field 'code' must be %d digits", MSG_CODE_LEN);
        m->code[digits] = '\0';
    }

    int as = ROLE_NONE;
    if ((r = get_name(o, "as", !has_token, role_from_name, &as, err)) < 0)
        return -1;
    m->as = (enum role)as;

    if (get_display_name(o, "nickname", false, &m->nickname, err) < 0)
        return -1;

    if (get_bool(o, "anonymous", false, &m->anonymous, err) < 0)
        return -1;

    /* Required for a moderator joining without a token; a token carries the role. */
    bool need_secret = m->as == ROLE_MODERATOR && !has_token;
    if ((r = get_str(o, "secret", need_secret, (struct str_rule){1, MSG_SECRET_MAX, CTL_ANY}, &s,
                     &n, err)) < 0)
        return -1;
    if (r == 1)
        m->secret = xmemdup(s, n);

    if ((r = get_str(o, "last_event_id", false, (struct str_rule){1, MSG_EVENT_ID_MAX, CTL_ANY}, &s,
                     &n, err)) < 0)
        return -1;
    if (r == 1) {
        if (!is_event_id(s, n))
            return fail(err, "bad_value", "field 'last_event_id' must look like \"<ms>-<seq>\"");
        memcpy(m->last_event_id, s, n + 1);
    }
    return 0;
}

static int decode_fields(json_t *o, struct msg *m, struct codec_error *err)
{
    const char *s;
    size_t n;
    int r, x;

    if (specs[m->type].has_op && get_op(o, true, 1, m->op, err) < 0)
        return -1;

    switch (m->type) {
    case MSG_JOIN:
        return decode_join(o, m, err);
    case MSG_POST:
        if (get_name(o, "kind", true, kind_from_name, &x, err) < 0)
            return -1;
        m->kind = (enum kind)x;
        if (get_str(o, "text", true, (struct str_rule){1, MSG_TEXT_HARD_MAX, CTL_NEWLINE}, &s, &n,
                    err) < 0)
            return -1;
        m->text = xmemdup(s, n);
        if (get_int(o, "parent", false, 1, INT64_MAX, &m->parent, err) < 0)
            return -1;
        if ((r = get_str(o, "on_behalf", false, (struct str_rule){0, MSG_NICK_MAX, CTL_NONE}, &s,
                         &n, err)) < 0)
            return -1;
        if (r == 1)
            m->on_behalf = xmemdup(s, n);
        return 0;
    case MSG_SIMILAR:
        if (get_name(o, "kind", true, kind_from_name, &x, err) < 0)
            return -1;
        m->kind = (enum kind)x;
        if (get_str(o, "text", true, (struct str_rule){1, MSG_TEXT_HARD_MAX, CTL_NEWLINE}, &s, &n,
                    err) < 0)
            return -1;
        m->text = xmemdup(s, n);
        return 0;
    case MSG_VOTE:
    case MSG_UNVOTE:
    case MSG_UNHIDE:
    case MSG_SPOTLIGHT:
    case MSG_PIN:
    case MSG_UNPIN:
    case MSG_UNMERGE:
        return get_int(o, "item", true, 1, INT64_MAX, &m->item, err) < 0 ? -1 : 0;
    case MSG_SET_REVEAL:
        if (get_name(o, "mode", true, reveal_from_name, &x, err) < 0)
            return -1;
        m->reveal = (enum reveal)x;
        return 0;
    case MSG_SET_EXPORTS:
        return get_bool(o, "public", true, &m->public_exports, err) < 0 ? -1 : 0;
    case MSG_INVITE:
        return get_display_name(o, "name", true, &m->nickname, err) < 0 ? -1 : 0;
    case MSG_REVOKE_INVITE:
        return get_int(o, "invite", true, 1, MSG_INVITES_MAX, &m->invite, err) < 0 ? -1 : 0;
    case MSG_SET_ORDER:
        if (get_name(o, "order", true, order_from_name, &x, err) < 0)
            return -1;
        m->order = (enum order)x;
        return 0;
    case MSG_RENAME_THEME:
    case MSG_MERGE_THEMES:
    case MSG_UNMERGE_THEME:
    case MSG_HIDE_THEME:
    case MSG_UNHIDE_THEME:
        return get_theme(o, m->type == MSG_MERGE_THEMES, m->type == MSG_RENAME_THEME, &m->word,
                         &m->label, m->words, &m->n_words, err);
    case MSG_MERGE: /* the duplicates and the item they merge into */
        if (get_items(o, true, &m->items, &m->n_items, err) < 0 ||
            get_int(o, "into", true, 1, INT64_MAX, &m->item, err) < 0)
            return -1;
        return get_reason(o, m, err);
    case MSG_HIDE: /* one item, or a bulk hide of several: exactly one of the two */
        if (json_object_get(o, "item") && json_object_get(o, "items"))
            return fail(err, "bad_message", "give 'item' or 'items', not both");
        if (json_object_get(o, "items") ? get_items(o, true, &m->items, &m->n_items, err) < 0
                                        : get_int(o, "item", true, 1, INT64_MAX, &m->item, err) < 0)
            return -1;
        return get_reason(o, m, err);
    case MSG_APPROVE:
    case MSG_CLAIM:
    case MSG_RELEASE:
        return get_items(o, true, &m->items, &m->n_items, err) < 0 ? -1 : 0;
    case MSG_REJECT:
        if (get_items(o, true, &m->items, &m->n_items, err) < 0)
            return -1;
        return get_reason(o, m, err);
    case MSG_REMOVE:
        if (get_target(o, m, err) < 0 || get_reason(o, m, err) < 0)
            return -1;
        return get_bool(o, "hide_posts", false, &m->hide_posts, err) < 0 ? -1 : 0;
    case MSG_MUTE:
        if (get_target(o, m, err) < 0)
            return -1;
        return get_reason(o, m, err);
    case MSG_REINSTATE:
    case MSG_UNMUTE:
        return get_target(o, m, err) < 0 ? -1 : 0;
    case MSG_ANNOUNCE:
        if (get_str(o, "text", true, (struct str_rule){1, MSG_ANNOUNCE_MAX, CTL_NONE}, &s, &n,
                    err) < 0)
            return -1;
        m->text = xmemdup(s, n);
        return get_int(o, "duration_s", false, 1, MSG_ANNOUNCE_MAX_S, &m->seconds, err) < 0 ? -1
                                                                                            : 0;
    case MSG_SET_PHASE:
        if (get_name(o, "phase", true, phase_from_name, &x, err) < 0)
            return -1;
        m->phase = (enum phase)x;
        return 0;
    case MSG_EXTEND:
        return get_int(o, "seconds", true, 1, MSG_EXTEND_MAX_S, &m->seconds, err) < 0 ? -1 : 0;
    case MSG_PING:
        if ((r = get_int(o, "t", false, INT64_MIN, INT64_MAX, &m->t, err)) < 0)
            return -1;
        m->has_t = r == 1;
        return 0;
    case MSG_START:
    case MSG_PAUSE:
    case MSG_RESUME:
    case MSG_SYNC:
    case MSG_DISCOVER:
    case MSG_UNSPOTLIGHT:
    case MSG_UNANNOUNCE:
        return 0;
    default:
        return fail(err, "internal", "unhandled message type");
    }
}

static int decode_tree(const char *text, size_t len, struct msg *out, struct codec_error *err)
{
    struct codec_error scratch;
    err = begin(err, &scratch, out, sizeof *out);
    json_t *o = parse_object(text, len, "a message", err);
    if (!o)
        return -1;
    int rc = -1;
    peek_op(o, err);

    json_t *t = json_object_get(o, "type");
    if (!t || !json_is_string(t)) {
        fail(err, "bad_message", "field 'type' is missing or not a string");
        goto done;
    }
    const char *type = json_string_value(t);
    for (int i = MSG_NONE + 1; i < MSG__COUNT; i++)
        if (strcmp(type, msg_type_name((enum msg_type)i)) == 0 &&
            strlen(type) == json_string_length(t)) {
            out->type = (enum msg_type)i;
            break;
        }
    if (out->type == MSG_NONE) {
        char buf[40];
        fail(err, "unknown_type", "unknown message type '%s'", safe_key(type, buf));
        goto done;
    }
    if (check_keys(o, specs[out->type].keys, "", err) < 0)
        goto done;
    rc = decode_fields(o, out, err);

done:
    json_decref(o);
    if (rc < 0)
        msg_clear(out);
    return rc;
}

int codec_decode(const char *text, size_t len, struct msg *out, struct codec_error *err)
{
    arena_begin();
    int rc = decode_tree(text, len, out, err);
    arena_end();
    return rc;
}

/* Encoding writes the text directly (jsonw: the bytes json_dumps would give, without the tree). */
static void set_str(struct jsonw *o, const char *key, const char *v)
{
    if (v) {
        jsonw_key(o, key);
        jsonw_str(o, v);
    }
}

static void set_str_or_null(struct jsonw *o, const char *key, const char *v)
{
    jsonw_key(o, key);
    jsonw_str(o, v);
}

static void set_int(struct jsonw *o, const char *key, int64_t v)
{
    jsonw_key(o, key);
    jsonw_int(o, v);
}

/* A count, null when not positive (a post's parent, an announcement's duration). */
static void set_positive_or_null(struct jsonw *o, const char *key, int64_t v)
{
    jsonw_key(o, key);
    if (v > 0)
        jsonw_int(o, v);
    else
        jsonw_null(o);
}

static void set_bool(struct jsonw *o, const char *key, bool v)
{
    jsonw_key(o, key);
    jsonw_bool(o, v);
}

static void open_object(struct jsonw *o)
{
    jsonw_init(o);
    jsonw_object(o);
}

static char *dump(struct jsonw *o)
{
    jsonw_end_object(o);
    return jsonw_take(o, NULL);
}

char *codec_encode_msg(const struct msg *m)
{
    const char *type = msg_type_name(m->type);
    if (!type)
        return NULL;
    struct jsonw w, *o = &w;
    open_object(o);
    set_str(o, "type", type);
    if (specs[m->type].has_op)
        set_str(o, "op", m->op);
    switch (m->type) {
    case MSG_JOIN:
        if (m->code[0])
            set_str(o, "code", m->code);
        set_str(o, "as", role_name(m->as));
        set_str(o, "nickname", m->nickname);
        if (m->anonymous)
            set_bool(o, "anonymous", true);
        set_str(o, "secret", m->secret);
        set_str(o, "token", m->token);
        if (m->last_event_id[0])
            set_str(o, "last_event_id", m->last_event_id);
        break;
    case MSG_POST:
        set_str(o, "kind", kind_name(m->kind));
        set_str(o, "text", m->text);
        if (m->parent > 0)
            set_int(o, "parent", m->parent);
        set_str(o, "on_behalf", m->on_behalf);
        break;
    case MSG_VOTE:
    case MSG_UNVOTE:
    case MSG_UNHIDE:
    case MSG_SPOTLIGHT:
    case MSG_PIN:
    case MSG_UNPIN:
    case MSG_UNMERGE:
        set_int(o, "item", m->item);
        break;
    case MSG_SET_REVEAL:
        set_str(o, "mode", reveal_name(m->reveal));
        break;
    case MSG_SET_EXPORTS:
        set_bool(o, "public", m->public_exports);
        break;
    case MSG_INVITE:
        set_str(o, "name", m->nickname);
        break;
    case MSG_REVOKE_INVITE:
        set_int(o, "invite", m->invite);
        break;
    case MSG_SET_ORDER:
        set_str(o, "order", order_name(m->order));
        break;
    case MSG_RENAME_THEME:
    case MSG_MERGE_THEMES:
    case MSG_UNMERGE_THEME:
    case MSG_HIDE_THEME:
    case MSG_UNHIDE_THEME:
        set_theme(o, m->type == MSG_MERGE_THEMES, m->word, m->label, m->words, m->n_words);
        break;
    case MSG_MERGE:
        set_items(o, m->items, m->n_items);
        set_int(o, "into", m->item);
        set_str(o, "reason", m->reason);
        break;
    case MSG_HIDE:
    case MSG_REJECT:
        if (m->items)
            set_items(o, m->items, m->n_items);
        else
            set_int(o, "item", m->item);
        set_str(o, "reason", m->reason);
        set_str(o, "preset", preset_name(m->preset));
        break;
    case MSG_APPROVE:
    case MSG_CLAIM:
    case MSG_RELEASE:
        set_items(o, m->items, m->n_items);
        break;
    case MSG_REMOVE:
    case MSG_MUTE:
        set_int(o, m->item ? "item" : "pid", m->item ? m->item : m->pid);
        set_str(o, "reason", m->reason);
        set_str(o, "preset", preset_name(m->preset));
        if (m->hide_posts)
            set_bool(o, "hide_posts", true);
        break;
    case MSG_REINSTATE:
    case MSG_UNMUTE:
        set_int(o, m->item ? "item" : "pid", m->item ? m->item : m->pid);
        break;
    case MSG_ANNOUNCE:
        set_str(o, "text", m->text);
        if (m->seconds > 0)
            set_int(o, "duration_s", m->seconds);
        break;
    case MSG_SET_PHASE:
        set_str(o, "phase", phase_name(m->phase));
        break;
    case MSG_EXTEND:
        set_int(o, "seconds", m->seconds);
        break;
    case MSG_PING:
        if (m->has_t)
            set_int(o, "t", m->t);
        break;
    case MSG_SIMILAR:
        set_str(o, "kind", kind_name(m->kind));
        set_str(o, "text", m->text);
        break;
    default:
        break;
    }
    return dump(o);
}

/* ------------------------------------------------------------------------------------------ */
/* Jam configuration (POST /api/jams body, and the jam_created event) */

static const char *const jam_body_keys[] = {"title", "question", "agenda", "settings", NULL};
static const char *const step_keys[] = {"phase", "duration_s", NULL};
static const char *const settings_keys[] = {
    "anonymous_allowed", "votes_per_phase", "min_text", "max_text",
    "premoderation",     "public_exports",  NULL};

/* Reads title, question, agenda and settings from 'o' into 'c'. 'strict' rejects unknown keys in
 * the nested objects (HTTP); the event decoder passes false. Absent settings get the defaults. */
static int decode_jam_fields(json_t *o, struct jam_config *c, bool strict, struct codec_error *err)
{
    const char *s;
    size_t n;
    int64_t x;

    if (get_str(o, "title", true, (struct str_rule){1, MSG_TITLE_MAX, CTL_NONE}, &s, &n, err) < 0)
        return -1;
    c->title = xmemdup(s, n);
    if (get_str(o, "question", true, (struct str_rule){1, MSG_QUESTION_MAX, CTL_NEWLINE}, &s, &n,
                err) < 0)
        return -1;
    c->question = xmemdup(s, n);

    json_t *agenda = json_object_get(o, "agenda");
    if (!agenda)
        return fail(err, "bad_message", "field 'agenda' is missing");
    if (!json_is_array(agenda))
        return fail(err, "bad_message", "field 'agenda' must be an array");
    size_t count = json_array_size(agenda);
    if (count < 1 || count > JAM_MAX_PHASES)
        return fail(err, "bad_value", "field 'agenda' must have 1 to %d phases", JAM_MAX_PHASES);
    bool seen[PHASE__COUNT] = {false};
    for (size_t i = 0; i < count; i++) {
        json_t *step = json_array_get(agenda, i);
        if (!json_is_object(step))
            return fail(err, "bad_message", "agenda[%zu] must be an object", i);
        if (strict && check_keys(step, step_keys, "agenda", err) < 0)
            return -1;
        int p;
        if (get_name(step, "phase", true, phase_from_name, &p, err) < 0)
            return -1;
        if (seen[p])
            return fail(err, "bad_value", "agenda: phase '%s' appears twice",
                        phase_name((enum phase)p));
        seen[p] = true;
        if (get_int(step, "duration_s", true, 0, MSG_DURATION_MAX_S, &x, err) < 0)
            return -1;
        c->agenda[i].phase = (enum phase)p;
        c->agenda[i].duration_s = (uint32_t)x;
    }
    c->n_agenda = (unsigned)count;

    c->settings.anonymous_allowed = true;
    c->settings.votes_per_phase = 5;
    c->settings.min_text = 2;
    c->settings.max_text = 500;
    json_t *st = json_object_get(o, "settings");
    if (st) {
        if (!json_is_object(st))
            return fail(err, "bad_message", "field 'settings' must be an object");
        if (strict && check_keys(st, settings_keys, "settings", err) < 0)
            return -1;
        if (get_bool(st, "anonymous_allowed", false, &c->settings.anonymous_allowed, err) < 0)
            return -1;
        x = c->settings.votes_per_phase;
        if (get_int(st, "votes_per_phase", false, 0, MSG_VOTES_PER_PHASE_MAX, &x, err) < 0)
            return -1;
        c->settings.votes_per_phase = (uint32_t)x;
        x = c->settings.min_text;
        if (get_int(st, "min_text", false, 1, MSG_TEXT_HARD_MAX, &x, err) < 0)
            return -1;
        c->settings.min_text = (uint32_t)x;
        x = c->settings.max_text;
        if (get_int(st, "max_text", false, 1, MSG_TEXT_HARD_MAX, &x, err) < 0)
            return -1;
        c->settings.max_text = (uint32_t)x;
        if (c->settings.min_text > c->settings.max_text)
            return fail(err, "bad_value", "settings: min_text must not exceed max_text");
        if (get_bool(st, "premoderation", false, &c->settings.premoderation, err) < 0)
            return -1;
        if (get_bool(st, "public_exports", false, &c->settings.public_exports, err) < 0)
            return -1;
    }
    return 0;
}

int codec_jam_config_decode(const char *text, size_t len, struct jam_config *out,
                            struct codec_error *err)
{
    struct codec_error scratch;
    err = begin(err, &scratch, out, sizeof *out);
    json_t *o = parse_object(text, len, "the body", err);
    if (!o)
        return -1;
    int rc = -1;
    if (check_keys(o, jam_body_keys, "", err) == 0)
        rc = decode_jam_fields(o, out, true, err);
    json_decref(o);
    if (rc < 0)
        jam_config_clear(out);
    return rc;
}

static void encode_jam_fields(struct jsonw *o, const struct jam_config *c)
{
    set_str(o, "title", c->title);
    set_str(o, "question", c->question);
    jsonw_key(o, "agenda");
    jsonw_array(o);
    for (unsigned i = 0; i < c->n_agenda && i < JAM_MAX_PHASES; i++) {
        jsonw_object(o);
        set_str(o, "phase", phase_name(c->agenda[i].phase));
        set_int(o, "duration_s", c->agenda[i].duration_s);
        jsonw_end_object(o);
    }
    jsonw_end_array(o);
    jsonw_key(o, "settings");
    jsonw_object(o);
    set_bool(o, "anonymous_allowed", c->settings.anonymous_allowed);
    set_int(o, "votes_per_phase", c->settings.votes_per_phase);
    set_int(o, "min_text", c->settings.min_text);
    set_int(o, "max_text", c->settings.max_text);
    /* Only when on: a jam_created event of a jam without it keeps the bytes it was stored (and
     * chained) with before the setting existed. */
    if (c->settings.premoderation)
        set_bool(o, "premoderation", true);
    if (c->settings.public_exports) /* the same: only when on */
        set_bool(o, "public_exports", true);
    jsonw_end_object(o);
}

/* ------------------------------------------------------------------------------------------ */
/* Events */

/* Which events carry "by" and "op" (written on behalf of a session). */
static bool event_has_writer(enum event_type t)
{
    switch (t) {
    case EV_POSTED:
    case EV_VOTED:
    case EV_UNVOTED:
    case EV_STARTED:
    case EV_PAUSED:
    case EV_RESUMED:
    case EV_PHASE_SET:
    case EV_EXTENDED:
    case EV_HIDDEN:
    case EV_UNHIDDEN:
    case EV_REMOVED:
    case EV_REINSTATED:
    case EV_MUTED:
    case EV_UNMUTED:
    case EV_SPOTLIGHTED:
    case EV_UNSPOTLIGHTED:
    case EV_PINNED:
    case EV_UNPINNED:
    case EV_ANNOUNCED:
    case EV_UNANNOUNCED:
    case EV_APPROVED:
    case EV_REJECTED:
    case EV_CLAIMED:
    case EV_RELEASED:
    case EV_MERGED:
    case EV_UNMERGED:
    case EV_REVEAL_SET:
    case EV_EXPORTS_SET:
    case EV_INVITE_CREATED:
    case EV_INVITE_REVOKED:
    case EV_ORDER_SET:
    case EV_THEME_RENAMED:
    case EV_THEMES_MERGED:
    case EV_THEME_UNMERGED:
    case EV_THEME_HIDDEN:
    case EV_THEME_UNHIDDEN:
        return true;
    default:
        return false;
    }
}

/* A string field that may be null: 1 = string, 0 = null or absent. */
static int get_nullable_str(json_t *o, const char *key, char **out, struct codec_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(err, "bad_message", "field '%s' must be a string or null", key);
    *out = xmemdup(json_string_value(v), json_string_length(v));
    return 1;
}

/* An event's optional preset: absent = none. */
static int get_event_preset(json_t *o, struct event *e, struct codec_error *err)
{
    int x, r = get_name(o, "preset", false, preset_from_name, &x, err);
    if (r == 1)
        e->preset = (enum preset)x;
    return r < 0 ? -1 : 0;
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static int decode_event_fields(json_t *o, struct event *e, struct codec_error *err)
{
    const char *s;
    size_t n;
    int x;
    const struct str_rule any_rule = {0, (size_t)-1, CTL_ANY};

    if (get_int(o, "at", true, 0, INT64_MAX, &e->at_ms, err) < 0)
        return -1;
    if (event_has_writer(e->type)) {
        if (get_int(o, "by", true, 0, INT64_MAX, &e->by, err) < 0)
            return -1;
        if (get_op(o, true, 0, e->op, err) < 0)
            return -1;
    }
    switch (e->type) {
    case EV_JAM_CREATED:
        if (get_str(o, "code", true, any_rule, &s, &n, err) < 0)
            return -1;
        if (n != MSG_CODE_LEN || strspn(s, "0123456789") != n)
            return fail(err, "bad_value", "field 'code' must be %d digits", MSG_CODE_LEN);
        memcpy(e->jam.code, s, n + 1);
        if (get_str(o, "secret_sha256", true, (struct str_rule){0, 64, CTL_ANY}, &s, &n, err) < 0)
            return -1;
        if (!is_lower_hex(s, n))
            return fail(err, "bad_value", "field 'secret_sha256' must be lowercase hex");
        memcpy(e->jam.secret_sha256, s, n + 1);
        return decode_jam_fields(o, &e->jam, false, err);
    case EV_JOINED:
        if (get_int(o, "pid", true, 0, INT64_MAX, &e->pid, err) < 0)
            return -1;
        if (get_name(o, "role", true, role_from_name, &x, err) < 0)
            return -1;
        e->role = (enum role)x;
        if (get_nullable_str(o, "nickname", &e->nickname, err) < 0)
            return -1;
        if (get_int(o, "invite", false, 1, MSG_INVITES_MAX, &e->invite, err) < 0)
            return -1;
        return get_bool(o, "anonymous", true, &e->anonymous, err) < 0 ? -1 : 0;
    case EV_POSTED: {
        if (get_name(o, "kind", true, kind_from_name, &x, err) < 0)
            return -1;
        e->kind = (enum kind)x;
        if (get_str(o, "text", true, any_rule, &s, &n, err) < 0)
            return -1;
        e->text = xmemdup(s, n);
        json_t *p = json_object_get(o, "parent");
        if (p && !json_is_null(p) && get_int(o, "parent", true, 1, INT64_MAX, &e->parent, err) < 0)
            return -1;
        if (get_str(o, "on_behalf", false, any_rule, &s, &n, err) < 0)
            return -1;
        if (json_object_get(o, "on_behalf"))
            e->on_behalf = xmemdup(s, n);
        return 0;
    }
    case EV_VOTED:
    case EV_UNVOTED:
    case EV_UNHIDDEN:
    case EV_SPOTLIGHTED:
    case EV_PINNED:
    case EV_UNPINNED:
    case EV_UNMERGED:
        return get_int(o, "item", true, 1, INT64_MAX, &e->item, err) < 0 ? -1 : 0;
    case EV_REVEAL_SET:
        if (get_name(o, "mode", true, reveal_from_name, &x, err) < 0)
            return -1;
        e->reveal = (enum reveal)x;
        return 0;
    case EV_EXPORTS_SET:
        return get_bool(o, "public", true, &e->public_exports, err) < 0 ? -1 : 0;
    case EV_INVITE_CREATED:
        if (get_int(o, "invite", true, 1, MSG_INVITES_MAX, &e->invite, err) < 0 ||
            get_str(o, "name", true, any_rule, &s, &n, err) < 0)
            return -1;
        e->nickname = xmemdup(s, n);
        if (get_str(o, "secret_sha256", true, (struct str_rule){64, 64, CTL_ANY}, &s, &n, err) < 0)
            return -1;
        if (!is_lower_hex(s, n))
            return fail(err, "bad_value", "field 'secret_sha256' must be lowercase hex");
        memcpy(e->invite_sha256, s, n + 1);
        return 0;
    case EV_INVITE_REVOKED:
        return get_int(o, "invite", true, 1, MSG_INVITES_MAX, &e->invite, err) < 0 ? -1 : 0;
    case EV_ORDER_SET:
        if (get_name(o, "order", true, order_from_name, &x, err) < 0)
            return -1;
        e->order = (enum order)x;
        return 0;
    case EV_THEME_RENAMED:
    case EV_THEMES_MERGED:
    case EV_THEME_UNMERGED:
    case EV_THEME_HIDDEN:
    case EV_THEME_UNHIDDEN:
        return get_theme(o, e->type == EV_THEMES_MERGED, e->type == EV_THEME_RENAMED, &e->word,
                         &e->label, e->words, &e->n_words, err);
    case EV_SHOWINGS:
        return get_showings(o, e, err);
    case EV_MERGED:
        if (get_items(o, true, &e->items, &e->n_items, err) < 0 ||
            get_int(o, "into", true, 1, INT64_MAX, &e->item, err) < 0)
            return -1;
        return get_nullable_str(o, "reason", &e->reason, err) < 0 ? -1 : 0;
    case EV_HIDDEN:
        if (json_object_get(o, "items") ? get_items(o, true, &e->items, &e->n_items, err) < 0
                                        : get_int(o, "item", true, 1, INT64_MAX, &e->item, err) < 0)
            return -1;
        if (get_nullable_str(o, "reason", &e->reason, err) < 0)
            return -1;
        return get_event_preset(o, e, err);
    case EV_APPROVED:
    case EV_CLAIMED:
    case EV_RELEASED:
        return get_items(o, true, &e->items, &e->n_items, err) < 0 ? -1 : 0;
    case EV_REJECTED:
        if (get_items(o, true, &e->items, &e->n_items, err) < 0 ||
            get_nullable_str(o, "reason", &e->reason, err) < 0)
            return -1;
        return get_event_preset(o, e, err);
    case EV_REMOVED:
        if (get_int(o, "pid", true, 1, INT64_MAX, &e->pid, err) < 0 ||
            get_nullable_str(o, "reason", &e->reason, err) < 0 || get_event_preset(o, e, err) < 0)
            return -1;
        return get_bool(o, "hide_posts", true, &e->hide_posts, err) < 0 ? -1 : 0;
    case EV_MUTED:
        if (get_int(o, "pid", true, 1, INT64_MAX, &e->pid, err) < 0 ||
            get_nullable_str(o, "reason", &e->reason, err) < 0)
            return -1;
        return get_event_preset(o, e, err);
    case EV_REINSTATED:
    case EV_UNMUTED:
        return get_int(o, "pid", true, 1, INT64_MAX, &e->pid, err) < 0 ? -1 : 0;
    case EV_ANNOUNCED: {
        if (get_str(o, "text", true, any_rule, &s, &n, err) < 0)
            return -1;
        e->text = xmemdup(s, n);
        json_t *d = json_object_get(o, "duration_s");
        if (d && !json_is_null(d) &&
            get_int(o, "duration_s", true, 1, MSG_ANNOUNCE_MAX_S, &e->seconds, err) < 0)
            return -1;
        return 0;
    }
    case EV_UNSPOTLIGHTED:
    case EV_UNANNOUNCED:
        return 0;
    case EV_PHASE_SET:
    case EV_PHASE_ENDED:
        return get_int(o, "index", true, 0, JAM_MAX_PHASES - 1, &e->index, err) < 0 ? -1 : 0;
    case EV_EXTENDED:
        return get_int(o, "seconds", true, 1, MSG_EXTEND_MAX_S, &e->seconds, err) < 0 ? -1 : 0;
    case EV_STARTED:
    case EV_PAUSED:
    case EV_RESUMED:
        return 0;
    default:
        return fail(err, "internal", "unhandled event type");
    }
}

static int event_decode_tree(const char *text, size_t len, struct event *out,
                             struct codec_error *err)
{
    struct codec_error scratch;
    err = begin(err, &scratch, out, sizeof *out);
    json_t *o = parse_object(text, len, "an event", err);
    if (!o)
        return -1;
    int rc = -1;
    json_t *t = json_object_get(o, "t");
    if (!t || !json_is_string(t)) {
        fail(err, "bad_message", "field 't' is missing or not a string");
        goto done;
    }
    for (int i = EV_NONE + 1; i < EV__COUNT; i++)
        if (strcmp(json_string_value(t), event_type_name((enum event_type)i)) == 0 &&
            strlen(json_string_value(t)) == json_string_length(t)) {
            out->type = (enum event_type)i;
            break;
        }
    if (out->type == EV_NONE) {
        char buf[40];
        fail(err, "unknown_type", "unknown event type '%s'", safe_key(json_string_value(t), buf));
        goto done;
    }
    rc = decode_event_fields(o, out, err);

done:
    json_decref(o);
    if (rc < 0)
        event_clear(out);
    return rc;
}

int codec_event_decode(const char *text, size_t len, struct event *out, struct codec_error *err)
{
    arena_begin();
    int rc = event_decode_tree(text, len, out, err);
    arena_end();
    return rc;
}

char *codec_event_encode(const struct event *e)
{
    const char *t = event_type_name(e->type);
    if (!t)
        return NULL;
    struct jsonw w, *o = &w;
    open_object(o);
    set_str(o, "t", t);
    set_int(o, "at", e->at_ms);
    if (event_has_writer(e->type)) {
        set_int(o, "by", e->by);
        set_str(o, "op", e->op);
    }
    switch (e->type) {
    case EV_JAM_CREATED:
        set_str(o, "code", e->jam.code);
        encode_jam_fields(o, &e->jam);
        set_str(o, "secret_sha256", e->jam.secret_sha256);
        break;
    case EV_JOINED:
        set_int(o, "pid", e->pid);
        set_str(o, "role", role_name(e->role));
        set_str_or_null(o, "nickname", e->nickname);
        if (e->invite)
            set_int(o, "invite", e->invite);
        set_bool(o, "anonymous", e->anonymous);
        break;
    case EV_POSTED:
        set_str(o, "kind", kind_name(e->kind));
        set_str(o, "text", e->text);
        set_positive_or_null(o, "parent", e->parent);
        set_str(o, "on_behalf", e->on_behalf);
        break;
    case EV_VOTED:
    case EV_UNVOTED:
    case EV_UNHIDDEN:
    case EV_SPOTLIGHTED:
    case EV_PINNED:
    case EV_UNPINNED:
    case EV_UNMERGED:
        set_int(o, "item", e->item);
        break;
    case EV_REVEAL_SET:
        set_str(o, "mode", reveal_name(e->reveal));
        break;
    case EV_EXPORTS_SET:
        set_bool(o, "public", e->public_exports);
        break;
    case EV_INVITE_CREATED:
        set_int(o, "invite", e->invite);
        set_str(o, "name", e->nickname);
        set_str(o, "secret_sha256", e->invite_sha256);
        break;
    case EV_INVITE_REVOKED:
        set_int(o, "invite", e->invite);
        break;
    case EV_ORDER_SET:
        set_str(o, "order", order_name(e->order));
        break;
    case EV_THEME_RENAMED:
    case EV_THEMES_MERGED:
    case EV_THEME_UNMERGED:
    case EV_THEME_HIDDEN:
    case EV_THEME_UNHIDDEN:
        set_theme(o, e->type == EV_THEMES_MERGED, e->word, e->label, e->words, e->n_words);
        break;
    case EV_SHOWINGS: {
        set_items(o, e->items, e->n_items);
        jsonw_key(o, "counts");
        jsonw_array(o);
        for (size_t i = 0; i < e->n_items; i++)
            jsonw_int(o, e->counts ? e->counts[i] : 0);
        jsonw_end_array(o);
        break;
    }
    case EV_MERGED:
        set_items(o, e->items, e->n_items);
        set_int(o, "into", e->item);
        set_str_or_null(o, "reason", e->reason);
        break;
    case EV_HIDDEN:
    case EV_REJECTED:
        if (e->items)
            set_items(o, e->items, e->n_items);
        else
            set_int(o, "item", e->item);
        set_str_or_null(o, "reason", e->reason);
        set_str(o, "preset", preset_name(e->preset));
        break;
    case EV_APPROVED:
    case EV_CLAIMED:
    case EV_RELEASED:
        set_items(o, e->items, e->n_items);
        break;
    case EV_REMOVED:
        set_int(o, "pid", e->pid);
        set_str_or_null(o, "reason", e->reason);
        set_bool(o, "hide_posts", e->hide_posts);
        set_str(o, "preset", preset_name(e->preset));
        break;
    case EV_MUTED:
        set_int(o, "pid", e->pid);
        set_str_or_null(o, "reason", e->reason);
        set_str(o, "preset", preset_name(e->preset));
        break;
    case EV_REINSTATED:
    case EV_UNMUTED:
        set_int(o, "pid", e->pid);
        break;
    case EV_ANNOUNCED:
        set_str(o, "text", e->text);
        set_positive_or_null(o, "duration_s", e->seconds);
        break;
    case EV_PHASE_SET:
    case EV_PHASE_ENDED:
        set_int(o, "index", e->index);
        break;
    case EV_EXTENDED:
        set_int(o, "seconds", e->seconds);
        break;
    default:
        break;
    }
    return dump(o);
}

/* ---- exports (read by the verifier) -------------------------------------------------------- */

static bool copy_head(struct export_head *h, json_t *id, json_t *head)
{
    memset(h, 0, sizeof *h);
    if (!json_is_string(id) || json_string_length(id) > MSG_EVENT_ID_MAX || !json_is_string(head) ||
        json_string_length(head) != 64)
        return false;
    memcpy(h->event_id, json_string_value(id), json_string_length(id));
    memcpy(h->head, json_string_value(head), 64);
    return true;
}

int codec_export_decode(const char *text, size_t len, struct export_doc *out,
                        struct codec_error *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fail(err, "bad_json", "invalid JSON at line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    json_t *jam = json_object_get(root, "jam"), *chain = json_object_get(root, "chain");
    json_t *events = json_object_get(root, "events"), *items = json_object_get(root, "items");
    json_t *mods = json_object_get(root, "moderation"), *code = json_object_get(jam, "code");
    const char *format = json_string_value(json_object_get(root, "format"));
    if (!format || strcmp(format, "cojam-export/1") != 0 || !json_is_string(code) ||
        json_string_length(code) != MSG_CODE_LEN || !json_is_array(events) ||
        !json_is_array(items) || !json_is_array(mods) ||
        !copy_head(&out->final, json_object_get(chain, "event_id"),
                   json_object_get(chain, "head")) ||
        !json_is_integer(json_object_get(chain, "events"))) {
        fail(err, "bad_value",
             "not a cojam-export/1 document (format, jam.code, chain, events, "
             "items, moderation)");
        json_decref(root);
        return -1;
    }
    memcpy(out->code, json_string_value(code), MSG_CODE_LEN);
    out->final_events = (uint64_t)json_integer_value(json_object_get(chain, "events"));
    size_t n = json_array_size(events);
    out->events = xcalloc(n + 1, sizeof *out->events);
    out->heads = xcalloc(n + 1, sizeof *out->heads);
    for (size_t i = 0; i < n; i++, out->n_events++) {
        json_t *e = json_array_get(events, i), *id = json_object_get(e, "id");
        json_t *payload = json_object_get(e, "e");
        if (!json_is_string(id) || json_string_length(id) > MSG_EVENT_ID_MAX ||
            !json_is_string(payload)) {
            fail(err, "bad_value", "events[%zu] needs a string id and e", i);
            goto bad;
        }
        memcpy(out->events[i].id, json_string_value(id), json_string_length(id));
        out->events[i].len = json_string_length(payload);
        out->events[i].payload = xmemdup(json_string_value(payload), out->events[i].len + 1);
        copy_head(&out->heads[i], id, json_object_get(e, "h"));
    }
    n = json_array_size(mods);
    out->published = xcalloc(n + 1, sizeof *out->published);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(mods, i);
        if (copy_head(&out->published[out->n_published], json_object_get(m, "event_id"),
                      json_object_get(m, "chain")))
            out->n_published++;
    }
    n = json_array_size(items);
    out->items = xcalloc(n + 1, sizeof *out->items);
    for (size_t i = 0; i < n; i++, out->n_items++) {
        json_t *it = json_array_get(items, i);
        json_t *id = json_object_get(it, "id"), *votes = json_object_get(it, "votes");
        if (!json_is_integer(id) || !json_is_integer(votes) ||
            !json_is_boolean(json_object_get(it, "hidden"))) {
            fail(err, "bad_value", "items[%zu] needs an integer id and votes, a boolean hidden", i);
            goto bad;
        }
        out->items[i].id = json_integer_value(id);
        out->items[i].votes = json_integer_value(votes);
        out->items[i].hidden = json_is_true(json_object_get(it, "hidden"));
    }
    json_decref(root);
    return 0;
bad:
    json_decref(root);
    export_doc_clear(out);
    return -1;
}

void export_doc_clear(struct export_doc *d)
{
    for (size_t i = 0; i < d->n_events; i++)
        free(d->events[i].payload);
    free(d->events);
    free(d->heads);
    free(d->published);
    free(d->items);
    memset(d, 0, sizeof *d);
}
