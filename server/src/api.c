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
#include "codec.h"
#include "config.h"
#include "hub.h"
#include "jam.h"
#include "keys.h"
#include "log.h"
#include "net.h"
#include "now.h"
#include "room.h"
#include "store.h"
#include "view.h"

#define API_CODE_TRIES 50 /* 10^6 codes: a few draws find a free one unless the server is near full */

/* A jam_created event waiting for the store. */
struct creation {
    struct pending base;
    uint64_t http_id;
    char code[MSG_CODE_LEN + 1];
    char secret[AUTH_SECRET_CHARS + 1]; /* the moderator secret, returned once */
    struct event ev;                     /* owned */
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
        struct room_limits limits = {(uint32_t)h->cfg->max_items,
                                     (uint32_t)h->cfg->max_participants};
        struct jam *j = hub_add_jam(h, room_new(&c->ev.jam, &limits));
        room_apply(j->room, res->id, &c->ev, NULL);
        room_delta_reset(j->room);
        store_track(h->store, j->key, res->id);
        log_info("jam %s created (%s)", j->code, res->id);
        net_http_reply(h->net, c->http_id, 201, view_created(c->code, c->secret, h->public_url));
    }
    creation_free(base);
}

/* SHA-256 of the canonical snapshot: equal states, equal digests (crash-recovery tests). */
static char *digest(const struct room *r)
{
    unsigned char *buf;
    size_t len;
    char hex[65];
    room_snapshot_encode(r, true, &buf, &len);
    auth_sha256_hex(buf, len, hex);
    free(buf);
    return view_digest(r->last_id, r->n_events, hex);
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

/* GET /api/jams/<code>[/log|/digest] */
static void jam_resource(struct hub *h, const struct http_request *req, const char *code,
                         const char *rest, const struct now *now)
{
    struct jam *j = hub_find_jam(h, code);
    if (!j)
        net_http_reply(h->net, req->id, 404, view_http_error("no_such_jam", NULL));
    else if (!rest[0])
        net_http_reply(h->net, req->id, 200, view_summary(j->room, now->wall_ms, h->public_url));
    else if (strcmp(rest, "/log") == 0)
        net_http_reply(h->net, req->id, 200, view_modlog(j->room));
    else if (strcmp(rest, "/digest") == 0)
        net_http_reply(h->net, req->id, 200, digest(j->room));
    else
        net_http_reply(h->net, req->id, 404, view_http_error("not_found", "no such resource"));
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
                                   h->jams.used, h->storage_up));
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
