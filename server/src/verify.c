/* SPDX-License-Identifier: MIT
 * verify.c - the verifier of exports and streams (see verify.h).
 */
#include "verify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "keys.h"
#include "room.h"

/* A room rebuilt from entries fed in stream order, and the chain recomputed over them. */
struct rebuild {
    struct room *room;
    struct room_chain chain;
    size_t n;      /* entries fed */
    char why[200]; /* the first entry that did not decode or apply, "" if none */
};

static void rebuild_feed(struct rebuild *b, const char *id, const char *payload, size_t len)
{
    b->n++;
    struct event e;
    struct codec_error ce;
    if (codec_event_decode(payload, len, &e, &ce) < 0) {
        if (!b->why[0])
            snprintf(b->why, sizeof b->why, "event %zu (%s) does not decode: %s", b->n, id,
                     ce.message);
        return;
    }
    room_chain_stored(&b->chain, id, payload, len);
    if (!b->room) {
        struct room_limits limits = {UINT32_MAX, UINT32_MAX};
        if (e.type == EV_JAM_CREATED)
            b->room = room_new(&e.jam, &limits);
        else if (!b->why[0])
            snprintf(b->why, sizeof b->why, "event %zu (%s) is not jam_created", b->n, id);
    }
    if (b->room)
        room_apply(b->room, id, &e, NULL); /* an event without effect is part of the record too */
    event_clear(&e);
}

static void hex_of(const struct room_chain *c, char out[65])
{
    room_chain_hex(c->head, out);
}

/* The moderation log's published head at 'id', or NULL. */
static const char *published_at(const struct export_doc *d, const char *id)
{
    for (size_t i = 0; i < d->n_published; i++)
        if (strcmp(d->published[i].event_id, id) == 0)
            return d->published[i].head;
    return NULL;
}

int verify_export(const struct export_doc *d, FILE *out)
{
    struct rebuild b = {0};
    char hex[65];
    int broken = 0;
    size_t published_ok = 0;
    for (size_t i = 0; i < d->n_events && !broken; i++) {
        const struct stream_entry *e = &d->events[i];
        rebuild_feed(&b, e->id, e->payload, e->len);
        hex_of(&b.chain, hex);
        const char *pub = published_at(d, e->id);
        if (d->heads[i].head[0] && strcmp(d->heads[i].head, hex) != 0) {
            fprintf(out,
                    "BROKEN at event %zu (%s): its content does not give the head listed "
                    "after it (listed %s, recomputed %s): this event was changed\n  %s\n",
                    i + 1, e->id, d->heads[i].head, hex, e->payload);
            broken = 1;
        } else if (pub && strcmp(pub, hex) != 0) {
            fprintf(out,
                    "BROKEN at event %zu (%s): the moderation log published head %s here, "
                    "the events give %s: an event at or before it was changed\n",
                    i + 1, e->id, pub, hex);
            broken = 1;
        } else if (pub) {
            published_ok++;
        }
    }
    if (!broken) {
        hex_of(&b.chain, hex);
        if (strcmp(hex, d->final.head) != 0 || b.chain.n != d->final_events ||
            strcmp(b.chain.id, d->final.event_id) != 0) {
            fprintf(out,
                    "BROKEN: the export's chain head is %s after %llu events (%s), the events "
                    "give %s after %llu (%s)\n",
                    d->final.head, (unsigned long long)d->final_events, d->final.event_id, hex,
                    (unsigned long long)b.chain.n, b.chain.id);
            broken = 1;
        }
    }
    if (!broken && b.why[0]) {
        fprintf(out, "BROKEN: %s\n", b.why);
        broken = 1;
    }
    for (size_t i = 0; i < d->n_items && !broken && b.room; i++) {
        const struct export_item *x = &d->items[i];
        const struct item *it = room_item(b.room, x->id);
        if (!it || it->votes != x->votes || it->hidden != x->hidden) {
            fprintf(out,
                    "BROKEN tally: item %lld has %lld votes%s in the export, the events "
                    "give %lld%s\n",
                    (long long)x->id, (long long)x->votes, x->hidden ? " (hidden)" : "",
                    (long long)(it ? it->votes : -1), it && it->hidden ? " (hidden)" : "");
            broken = 1;
        }
    }
    if (!broken && b.room && d->n_items != b.room->n_items) {
        fprintf(out, "BROKEN tally: the export lists %zu items, the events give %zu\n", d->n_items,
                b.room->n_items);
        broken = 1;
    }
    if (!broken)
        fprintf(out,
                "OK: jam %s, %zu events chained to head %s (%zu published heads of the "
                "moderation log match), tallies of %zu items recomputed\n",
                d->code, d->n_events, d->final.head, published_ok, d->n_items);
    room_free(b.room);
    return broken;
}

/* ---- the live stream ----------------------------------------------------------------------- */

struct stream_check {
    struct rebuild b;
    const struct export_doc *d;
    const char *head;
    size_t reached; /* 1-based index where 'head' was reached, 0 = not (yet) */
    FILE *out;
    int broken;
};

static int on_entry(const char *id, const char *payload, size_t len, void *arg)
{
    struct stream_check *sc = arg;
    rebuild_feed(&sc->b, id, payload, len);
    char hex[65];
    hex_of(&sc->b.chain, hex);
    size_t i = sc->b.n - 1;
    if (sc->d && i < sc->d->n_events) {
        const struct stream_entry *x = &sc->d->events[i];
        const char *want = sc->d->heads[i].head;
        if (strcmp(x->id, id) != 0 || (want[0] && strcmp(want, hex) != 0)) {
            fprintf(sc->out,
                    "BROKEN at stream entry %zu (%s): the export has %s with head %s, "
                    "the stream gives head %s: this entry was changed\n  %.*s\n",
                    i + 1, id, x->id, want, hex, (int)len, payload);
            sc->broken = 1;
            return 1;
        }
    }
    if (sc->head && !sc->reached && strcmp(sc->head, hex) == 0)
        sc->reached = sc->b.n;
    return 0;
}

int verify_stream(const struct store_config *cfg, const char *code, const struct export_doc *d,
                  const char *head, FILE *out)
{
    char key[KEYS_MAX];
    keys_stream(key, code);
    struct stream_check sc = {.d = d, .head = head, .out = out};
    int rc = store_replay(cfg, key, "", on_entry, &sc);
    if (rc < 0) {
        fprintf(out, "cannot read stream %s: %s\n", key, strerror(-rc));
        room_free(sc.b.room);
        return 2;
    }
    if (!sc.broken && d && sc.b.n < d->n_events) {
        fprintf(out,
                "BROKEN: the stream has %zu entries, the export %zu: entry %zu (%s) is "
                "missing\n",
                sc.b.n, d->n_events, sc.b.n + 1, d->events[sc.b.n].id);
        sc.broken = 1;
    }
    if (!sc.broken && head && !sc.reached) {
        fprintf(out, "BROKEN: the stream's %zu entries never reach the published head %s\n", sc.b.n,
                head);
        sc.broken = 1;
    }
    if (!sc.broken) {
        char hex[65];
        hex_of(&sc.b.chain, hex);
        fprintf(out, "OK: stream %s, %zu entries, head %s", key, sc.b.n, hex);
        if (head)
            fprintf(out, " (the published head is reached at entry %zu)", sc.reached);
        if (d)
            fprintf(out, " (the export's %zu events match)", d->n_events);
        fprintf(out, "\n");
    }
    room_free(sc.b.room);
    return sc.broken;
}

/* ---- the command --------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = xrealloc(buf, cap *= 2);
    }
    bool ok = !ferror(f);
    fclose(f);
    if (!ok) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int usage(void)
{
    fprintf(stderr, "usage: cojamd verify EXPORT.json [--redis-host H] [--redis-port P] "
                    "[--redis-unix PATH] [--head HEX]\n"
                    "       cojamd verify --jam CODE --head HEX (--redis-host H [--redis-port P] "
                    "| --redis-unix PATH)\n"
                    "a Redis that wants credentials: [--redis-user U] with the password in\n"
                    "COJAM_REDIS_PASSWORD or the file --redis-password-file F (or\n"
                    "COJAM_REDIS_USER, COJAM_REDIS_PASSWORD_FILE), as cojamd takes them; never\n"
                    "on the command line\n");
    return 2;
}

int verify_main(int argc, char **argv)
{
    const char *file = NULL, *code = NULL, *head = NULL;
    const char *password_file = getenv("COJAM_REDIS_PASSWORD_FILE");
    struct store_config sc = {.port = 6379, .timeout_ms = 5000, .user = getenv("COJAM_REDIS_USER")};
    bool live = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--redis-user") == 0 && v)
            sc.user = v, i++;
        else if (strcmp(a, "--redis-password-file") == 0 && v)
            password_file = v, i++;
        else if (strcmp(a, "--redis-password") == 0) {
            fprintf(stderr, "cojamd verify: --redis-password is not accepted on the command line "
                            "(ps shows it): set COJAM_REDIS_PASSWORD or --redis-password-file\n");
            return 2;
        } else if (strcmp(a, "--redis-host") == 0 && v)
            sc.host = v, live = true, i++;
        else if (strcmp(a, "--redis-port") == 0 && v) {
            char *end = NULL;
            long port = strtol(v, &end, 10);
            if (end == v || *end || port < 1 || port > 65535)
                return usage();
            sc.port = (int)port, i++;
        } else if (strcmp(a, "--redis-unix") == 0 && v)
            sc.unix_path = v, live = true, i++;
        else if (strcmp(a, "--head") == 0 && v && strlen(v) == 64)
            head = v, i++;
        else if (strcmp(a, "--jam") == 0 && v && strlen(v) == MSG_CODE_LEN)
            code = v, i++;
        else if (a[0] != '-' && !file)
            file = a;
        else
            return usage();
    }
    if ((!file && !(code && head && live)) || (file && code))
        return usage();
    char *password = NULL; /* owned when read from a file */
    const char *env_password = getenv("COJAM_REDIS_PASSWORD");
    if (live && password_file) {
        if (env_password) {
            fprintf(stderr, "cojamd verify: both COJAM_REDIS_PASSWORD and a password file are "
                            "set: give one\n");
            return 2;
        }
        if (!(password = config_read_secret_file("redis-password-file", password_file)))
            return 2;
        sc.password = password;
    } else if (live) {
        sc.password = env_password;
    }
    if (sc.user && !sc.password && live) {
        fprintf(stderr, "cojamd verify: --redis-user needs a password: set COJAM_REDIS_PASSWORD or "
                        "--redis-password-file\n");
        return 2;
    }
    int rc;
    if (!file) {
        rc = verify_stream(&sc, code, NULL, head, stdout);
        goto out;
    }
    size_t len;
    char *text = read_file(file, &len);
    if (!text) {
        fprintf(stderr, "cannot read %s: %s\n", file, strerror(errno));
        rc = 2;
        goto out;
    }
    struct export_doc d;
    struct codec_error ce;
    rc = codec_export_decode(text, len, &d, &ce);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "%s: %s (%s)\n", file, ce.message, ce.code);
        rc = 2;
        goto out;
    }
    rc = verify_export(&d, stdout);
    if (live) {
        int lrc = verify_stream(&sc, d.code, &d, head, stdout);
        rc = lrc > rc ? lrc : rc;
    }
    export_doc_clear(&d);
out:
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    return rc;
}
