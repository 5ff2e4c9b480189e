/* SPDX-License-Identifier: MIT
 * api.c - the HTTP API (see api.h). Creating a jam is a write like any other: its jam_created
 * event is appended (with the code added to the set of jams in the same step) before the reply.
 */
#include "api.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "broadcast.h"
#include "codec.h"
#include "config.h"
#include "hub.h"
#include "jam.h"
#include "keys.h"
#include "log.h"
#include "net.h"
#include "now.h"
#include "room.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"
#include "view.h"

#define API_CODE_TRIES 50
/* An export holds the whole stream in memory while it is read (about 250 bytes an event with
 * its head, so 50 MB at this bound) and is encoded on the loop in one go: bounded until it is
 * streamed in pages. A bigger jam answers 413. */
#define API_EXPORT_MAX_EVENTS                                                                      \
    200000 /* 10^6 codes: a few draws find a free one unless the server is near full */

/* A jam_created event waiting for the store. */
struct creation {
    struct pending base;
    uint64_t http_id;
    char code[MSG_CODE_LEN + 1];
    char secret[AUTH_SECRET_CHARS + 1]; /* the moderator secret, returned once */
    struct event ev;                    /* owned */
};

static void creation_free(struct pending *base)
{
    struct creation *c = (struct creation *)base;
    event_clear(&c->ev);
    free(c);
}

static void after_create(struct pending *base, const struct store_result *res,
                         const struct now *now, void *arg)
{
    (void)now;
    struct hub *h = arg;
    struct creation *c = (struct creation *)base;
    smap_del(&h->creating, c->code);
    if (res->err) {
        net_http_reply(h->net, c->http_id, res->err == store_err_fenced ? 409 : 503,
                       view_http_error(res->err, NULL));
    } else {
        struct jam *j = hub_find_jam(h, c->code); /* the tail may have applied it already */
        if (!j) {
            struct room_limits limits = {(uint32_t)h->cfg->max_items,
                                         (uint32_t)h->cfg->max_participants};
            j = hub_add_jam(h, room_new(&c->ev.jam, &limits));
            room_apply(j->room, res->id, &c->ev, NULL);
            h->metrics.applied++;
        }
        log_info("jam %s created (%s)", j->code, res->id);
        net_http_reply(h->net, c->http_id, 201, view_created(c->code, c->secret, h->public_url));
    }
    creation_free(base);
}

/* SHA-256 of the canonical snapshot: equal states, equal digests (crash-recovery tests). It
 * costs 9-15 ms on a 10,000-item jam and the endpoint is public (issue 10: ~135 requests/s
 * saturated the loop), so it is computed once per state: only room_apply changes the state, and
 * each apply moves last_id. */
static char *digest(struct jam *j)
{
    const struct room *r = j->room;
    if (!j->digest || strcmp(j->digest_id, r->last_id) != 0) {
        unsigned char *buf;
        size_t len;
        char hex[65];
        snapshot_encode(r, true, &buf, &len);
        auth_sha256_hex(buf, len, hex);
        free(buf);
        free(j->digest);
        j->digest = view_digest(r->last_id, r->n_events, hex);
        memcpy(j->digest_id, r->last_id, sizeof j->digest_id);
    }
    return xstrdup(j->digest);
}

/* Whether this jam's exports need no secret now: the server's --public-exports or the jam's own
 * setting (set_exports), and no count hidden by a reveal mode (the stream holds every vote). */
static bool exports_public(const struct hub *h, const struct jam *j)
{
    return (h->cfg->public_exports || j->room->cfg.settings.public_exports) &&
           !room_hidden_kinds(j->room);
}

/* GET .../results encodes every visible item (public, like the digest): one encoding per state,
 * kept for a tick at most since its clock moves (the snapshot body's rule, jam_cache_max_age_ms). */
static char *results(struct hub *h, struct jam *j, const struct now *now)
{
    const struct room *r = j->room;
    if (!j->results || strcmp(j->results_id, r->last_id) != 0 ||
        now->ms - j->results_ms >= jam_cache_max_age_ms(h->cfg)) {
        free(j->results);
        j->results = view_results(r, now->wall_ms, exports_public(h, j));
        memcpy(j->results_id, r->last_id, sizeof j->results_id);
        j->results_ms = now->ms;
    }
    return xstrdup(j->results);
}

static bool admin_ok(const struct hub *h, const char *auth)
{
    const char *prefix = "Bearer ";
    size_t n = strlen(h->admin_token);
    if (strncmp(auth, prefix, strlen(prefix)) != 0)
        return false;
    auth += strlen(prefix);
    return strlen(auth) == n && auth_equal(auth, h->admin_token, n);
}

static void create_jam(struct hub *h, const struct http_request *req, const struct now *now)
{
    if (!admin_ok(h, req->auth)) {
        net_http_reply(h->net, req->id, 401,
                       view_http_error("unauthorized", "a valid admin token is needed"));
        return;
    }
    struct creation *c = xcalloc(1, sizeof *c);
    c->base.done = after_create;
    c->base.free = creation_free;
    struct codec_error ce;
    if (codec_jam_config_decode(req->body, req->body_len, &c->ev.jam, &ce) < 0) {
        creation_free(&c->base);
        net_http_reply(h->net, req->id, 400, view_http_error(ce.code, ce.message));
        return;
    }
    int tries = 0;
    do {
        if (auth_random_code(c->code) < 0 || ++tries > API_CODE_TRIES) {
            creation_free(&c->base);
            net_http_reply(h->net, req->id, 503, view_http_error("internal", "no free join code"));
            return;
        }
    } while (hub_find_jam(h, c->code) || smap_get(&h->creating, c->code));
    if (auth_random_secret(c->secret) < 0) {
        creation_free(&c->base);
        net_http_reply(h->net, req->id, 503, view_http_error("internal", "no randomness"));
        return;
    }
    memcpy(c->ev.jam.code, c->code, sizeof c->code);
    auth_sha256_hex(c->secret, strlen(c->secret), c->ev.jam.secret_sha256);
    c->ev.type = EV_JAM_CREATED;
    c->ev.at_ms = now->wall_ms;
    c->http_id = req->id;
    char key[KEYS_MAX], code[MSG_CODE_LEN + 1];
    memcpy(code, c->code, sizeof code);
    keys_stream(key, code);
    char *json = codec_event_encode(&c->ev);
    store_track(h->store, key, ""); /* a new stream: nothing to catch up on */
    int rc = hub_append(h, key, json, KEYS_JAMS, code, &c->base, now->ms);
    free(json);
    if (rc < 0) {
        net_http_reply(h->net, req->id, 503, view_http_error("storage_unavailable", NULL));
        return;
    }
    smap_put(&h->creating, code, (void *)1);
}

/* ---- export: the stream read back in pages, then encoded with the state ------------------ */

struct export_read {
    struct pending base;
    struct hub *hub;
    uint64_t http_id;
    struct jam *jam;             /* borrowed: jams live until shutdown */
    struct stream_entry *events; /* owned, payloads too */
    uint8_t (*heads)[ROOM_CHAIN_BYTES];
    size_t n, cap;
    struct room_chain chain; /* recomputed over what was read */
};

static void export_free(struct pending *base)
{
    struct export_read *x = (struct export_read *)base;
    for (size_t i = 0; i < x->n; i++)
        free(x->events[i].payload);
    free(x->events);
    free(x->heads);
    free(x);
}

static void after_export_read(struct pending *base, const struct store_result *res,
                              const struct now *now, void *arg);

/* Read the next page after the last entry read. Returns false (and replied, freed) on failure. */
static bool export_next(struct export_read *x, const struct now *now)
{
    struct hub *h = x->hub;
    uint64_t ctx = pending_next_ctx(&h->pending);
    const char *after = x->n ? x->events[x->n - 1].id : "0-0";
    if (store_read(h->store, x->jam->key, after, x->n == 0, STORE_READ_MAX, ctx, now->ms) < 0) {
        net_http_reply(h->net, x->http_id, 503, view_http_error("storage_unavailable", NULL));
        export_free(&x->base);
        return false;
    }
    pending_add(&h->pending, ctx, &x->base);
    return true;
}

static void after_export_read(struct pending *base, const struct store_result *res,
                              const struct now *now, void *arg)
{
    (void)arg;
    struct export_read *x = (struct export_read *)base;
    struct hub *h = x->hub;
    if (res->err) {
        net_http_reply(h->net, x->http_id, 503, view_http_error(res->err, NULL));
        export_free(base);
        return;
    }
    if (x->n + res->n_entries > API_EXPORT_MAX_EVENTS) {
        net_http_reply(h->net, x->http_id, 413,
                       view_http_error("too_large", "the jam has too many events to export"));
        export_free(base);
        return;
    }
    if (x->n + res->n_entries > x->cap) {
        x->cap = (x->n + res->n_entries) * 2;
        x->events = xrealloc(x->events, x->cap * sizeof *x->events);
        x->heads = xrealloc(x->heads, x->cap * sizeof *x->heads);
    }
    for (size_t i = 0; i < res->n_entries; i++) {
        struct stream_entry *e = &x->events[x->n];
        *e = res->entries[i];
        e->payload = xmemdup(res->entries[i].payload, res->entries[i].len + 1);
        room_chain_stored(&x->chain, e->id, e->payload, e->len);
        memcpy(x->heads[x->n], x->chain.head, ROOM_CHAIN_BYTES);
        x->n++;
    }
    if (res->n_entries == STORE_READ_MAX) {
        export_next(x, now);
        return;
    }
    /* Reads share the appends' pipeline, so the room has applied exactly what was read. */
    const struct room *r = x->jam->room;
    if (x->chain.n != r->chain.n || memcmp(x->chain.head, r->chain.head, ROOM_CHAIN_BYTES) != 0)
        log_error("jam %s: the stream's chain (%llu events) differs from the applied one (%llu)",
                  x->jam->code, (unsigned long long)x->chain.n, (unsigned long long)r->chain.n);
    net_http_reply(h->net, x->http_id, 200,
                   view_export(r, x->events, (const uint8_t(*)[ROOM_CHAIN_BYTES])x->heads, x->n,
                               now->wall_ms));
    export_free(base);
}

/* The admin token, or the jam's moderator secret, as "Authorization: Bearer <it>"; anyone when
 * the organiser made exports public (--public-exports). */
static bool may_export(const struct hub *h, const struct jam *j, const char *auth)
{
    const char *prefix = "Bearer ";
    /* The stream holds every vote: while counts are hidden from the public (a reveal mode), an
     * export is the moderators' and the admin's only. */
    if (exports_public(h, j) || admin_ok(h, auth))
        return true;
    return strncmp(auth, prefix, strlen(prefix)) == 0 &&
           auth_secret_matches(auth + strlen(prefix), j->room->cfg.secret_sha256);
}

/* The caller checked may_export(). */
static void export_jam(struct hub *h, const struct http_request *req, struct jam *j,
                       const struct now *now)
{
    struct export_read *x = xcalloc(1, sizeof *x);
    x->base.done = after_export_read;
    x->base.free = export_free;
    x->hub = h;
    x->http_id = req->id;
    x->jam = j;
    export_next(x, now);
}

/* The per-address limits (hub.h) for a request that names a jam code or carries the admin
 * token: refused with 429 while its address has used up its failed guesses (before anything is
 * checked, so the answer tells nothing), or when 'kind' (a lookup) is over its rate. */
static bool refused_by_address(struct hub *h, const struct http_request *req, enum hub_admit kind,
                               int64_t now_ms)
{
    int64_t wait = hub_admit(h, ADMIT_GUESS, req->addr, now_ms);
    if (!wait && kind != ADMIT_GUESS)
        wait = hub_admit(h, kind, req->addr, now_ms);
    if (!wait)
        return false;
    net_http_reply_429(h->net, req->id, wait,
                       view_http_error("rate_limited", "too many requests from this address"));
    return true;
}

/* GET /api/jams/<code>[/log|/digest|/results|/export|/export.csv] */
static void jam_resource(struct hub *h, const struct http_request *req, const char *code,
                         const char *rest, const struct now *now)
{
    if (refused_by_address(h, req, ADMIT_LOOKUP, now->ms))
        return;
    struct jam *j = hub_find_jam(h, code);
    bool exporting = strcmp(rest, "/export") == 0 || strcmp(rest, "/export.csv") == 0;
    if (!j) {
        hub_guess_failed(h, req->addr, "no_such_jam (HTTP)", now->ms);
        net_http_reply(h->net, req->id, 404, view_http_error("no_such_jam", NULL));
    } else if (exporting && !may_export(h, j, req->auth)) {
        hub_guess_failed(h, req->addr, "export: bad secret or token", now->ms);
        net_http_reply(h->net, req->id, 401,
                       view_http_error("unauthorized", "the admin token or the moderator secret"));
    } else if (!rest[0])
        net_http_reply(h->net, req->id, 200, view_summary(j->room, now->wall_ms, h->public_url));
    else if (strcmp(rest, "/log") == 0)
        net_http_reply(h->net, req->id, 200, view_modlog(j->room));
    else if (strcmp(rest, "/digest") == 0)
        net_http_reply(h->net, req->id, 200, digest(j));
    else if (strcmp(rest, "/results") == 0)
        net_http_reply(h->net, req->id, 200, results(h, j, now));
    else if (strcmp(rest, "/export") == 0)
        export_jam(h, req, j, now);
    else if (strcmp(rest, "/export.csv") == 0)
        net_http_reply_as(h->net, req->id, 200, "text/csv; charset=utf-8",
                          view_export_csv(j->room));
    else
        net_http_reply(h->net, req->id, 404, view_http_error("not_found", "no such resource"));
}

/* GET /metrics: the admin token, or anyone with --metrics-public 1. Open sessions by role are
 * counted here rather than kept: a scrape every few seconds walks the sessions once. */
static void metrics_page(struct hub *h, const struct http_request *req, const struct now *now)
{
    if (!h->cfg->metrics_public && !admin_ok(h, req->auth)) {
        if (refused_by_address(h, req, ADMIT_GUESS, now->ms))
            return;
        hub_guess_failed(h, req->addr, "metrics: bad admin token", now->ms);
        net_http_reply(h->net, req->id, 401,
                       view_http_error("unauthorized", "a valid admin token is needed"));
        return;
    }
    struct metrics_labels conns = {0};
    uint64_t v;
    for (size_t pos = 0; imap_next(&h->sessions, &pos, NULL, &v);) {
        const struct session *s = (const struct session *)(uintptr_t)v;
        metrics_count(&conns, s->jam ? role_name(s->role) : "unjoined", 1);
    }
    struct metrics_gauges g = {&conns,
                               h->jams.used,
                               h->storage_up,
                               broadcast_period_ms(h),
                               (int64_t)(h->period.cpu_share * 100 + 0.5),
                               (int64_t)(h->period.write_us * 1000 + 0.5),
                               store_batches(h->store),
                               net_partial_writes(h->net)};
    net_http_reply_as(h->net, req->id, 200, "text/plain; version=0.0.4; charset=utf-8",
                      metrics_encode(&h->metrics, &g));
}

int api_on_http_headers(const struct http_request *req, char **body, int64_t *retry_ms, void *arg)
{
    struct hub *h = arg;
    int64_t now_ms = net_now_ms();
    if (strcmp(req->path, "/metrics") == 0) {
        *body = view_http_error("bad_method", "use GET");
        return 405;
    }
    if (strcmp(req->path, "/api/jams") != 0) {
        *body = view_http_error("not_found", "no such resource");
        return 404;
    }
    if ((*retry_ms = hub_admit(h, ADMIT_GUESS, req->addr, now_ms)) > 0) {
        *body = view_http_error("rate_limited", "too many failed attempts from this address");
        return 429;
    }
    if (!admin_ok(h, req->auth)) {
        hub_guess_failed(h, req->addr, "bad admin token", now_ms);
        *body = view_http_error("unauthorized", "a valid admin token is needed");
        return 401;
    }
    return 0;
}

void api_on_http(const struct http_request *req, void *arg)
{
    struct hub *h = arg;
    const struct now now = net_now();
    const char *path = req->path;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strcmp(path, "/healthz") == 0) {
        net_http_reply(h->net, req->id, h->ready ? 200 : 503,
                       view_health(h->ready ? "ready" : "recovering", net_clients(h->net),
                                   h->jams.used, h->storage_up, broadcast_period_ms(h),
                                   (int)(h->period.cpu_share * 100 + 0.5)));
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        if (get)
            metrics_page(h, req, &now);
        else
            net_http_reply(h->net, req->id, 405, view_http_error("bad_method", "use GET"));
        return;
    }
    if (!h->ready) {
        net_http_reply(h->net, req->id, 503,
                       view_http_error("recovering", "the server is recovering its state"));
        return;
    }
    if (strcmp(path, "/api/jams") == 0) {
        if (post)
            create_jam(h, req, &now);
        else
            net_http_reply(h->net, req->id, 405, view_http_error("bad_method", "use POST"));
        return;
    }
    char code[16] = "", rest[16] = "";
    if (get && sscanf(path, "/api/jams/%15[0-9]%15s", code, rest) >= 1 &&
        strlen(code) == MSG_CODE_LEN) {
        jam_resource(h, req, code, rest, &now);
        return;
    }
    net_http_reply(h->net, req->id, 404, view_http_error("not_found", "no such resource"));
}
