/* SPDX-License-Identifier: MIT
 * net.c - the transport on libwebsockets 4.1.6 (see net.h): lws's default poll loop on one thread,
 * static files from the web root, /api and /healthz as callback mounts, the WebSocket protocol
 * with our own Origin check and message-size cap (lws has neither), one frame written per
 * WRITEABLE, and one lws_sul timer for the tick. Everything else is the hub's business.
 */
#include "net.h"

#include <errno.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "frame.h"
#include "hash.h"
#include "log.h"
#include "session.h"

_Static_assert(FRAME_HEADROOM >= LWS_PRE, "frames need LWS_PRE bytes of headroom");

#define HTTP_BODY_MAX 16384 /* POST /api/jams bodies (proto/messages.md) */

struct net {
    struct lws_context *ctx;
    struct net_config cfg;
    struct net_callbacks cbs;
    char *origins;            /* owned copy of the allowlist, NULL = own origin */
    lws_sorted_usec_list_t sul;
    atomic_int stop;      /* set by net_stop: a signal handler or another thread; lock-free */
    size_t clients;
    uint64_t churn;           /* connections accepted, established or closed: join storms */
    struct imap http;         /* request id -> struct lws * waiting for a reply */
    struct imap http_wsi;     /* struct lws * -> struct http_req * (owned) */
    uint64_t next_http_id;
    struct lws_http_mount mounts[3];
    struct lws_protocol_vhost_options mimes[4];
};

/* lws gives each callback the context; the net is its user pointer. */
static struct net *net_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

int64_t net_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t net_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t net_clients(const struct net *n)
{
    return n->clients;
}

/* ---- WebSocket ----------------------------------------------------------------------------- */

static bool origin_allowed(struct net *n, struct lws *wsi)
{
    char origin[256], host[256];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
        return true; /* not a browser: Origin protects browsers' users, not servers */
    if (n->origins) {
        if (strcmp(n->origins, "*") == 0)
            return true;
        size_t len = strlen(origin);
        for (const char *p = n->origins; *p;) {
            const char *comma = strchr(p, ',');
            size_t plen = comma ? (size_t)(comma - p) : strlen(p);
            while (plen && p[plen - 1] == ' ')
                plen--;
            if (plen == len && strncmp(p, origin, len) == 0)
                return true;
            if (!comma)
                break;
            p = comma + 1;
            while (*p == ' ')
                p++;
        }
        return false;
    }
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
        return false;
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                               : NULL;
    return rest && strcasecmp(rest, host) == 0;
}

static int on_filter(struct net *n, struct lws *wsi)
{
    char uri[64];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0) {
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "WebSocket endpoint is /ws");
        return -1;
    }
    if (!origin_allowed(n, wsi)) {
        log_info("refused a WebSocket handshake from a foreign Origin");
        lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "Origin not allowed");
        return -1;
    }
    return 0;
}

static int on_established(struct net *n, struct lws *wsi, struct session *s)
{
    session_init(s, 0, wsi, net_now_ms());
    n->clients++;
    n->churn++;
    n->cbs.on_open(s, n->cbs.arg);
    return 0;
}

static int close_with(struct lws *wsi, int code, const char *reason)
{
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    return -1;
}

/* A message over the cap is read to its end before the close, at most this much of it: closing
 * with its rest unread makes the kernel answer with a reset, and the client sees 1006, not 1009. */
#define DISCARD_MAX (1u << 20)

/* Reassemble fragments up to the cap, then hand over one message. */
static int on_receive(struct net *n, struct lws *wsi, struct session *s, const char *in, size_t len)
{
    bool ends = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    if (s->close_code)
        return 0;
    if (lws_frame_is_binary(wsi))
        return close_with(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "text frames only");
    if (s->rx_discard || s->rx_len + len > n->cfg.max_message_bytes) {
        s->rx_discard += s->rx_discard ? len : s->rx_len + len;
        free(s->rx); /* nothing of it is kept */
        s->rx = NULL;
        s->rx_len = s->rx_cap = 0;
        if (ends || s->rx_discard > DISCARD_MAX)
            return close_with(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
        return 0;
    }
    if (s->rx_len + len + 1 > s->rx_cap) {
        s->rx_cap = s->rx_len + len + 1 < 1024 ? 1024 : s->rx_len + len + 1;
        s->rx = xrealloc(s->rx, s->rx_cap);
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!ends)
        return 0;
    s->rx[s->rx_len] = '\0';
    size_t total = s->rx_len;
    s->rx_len = 0;
    n->cbs.on_message(s, s->rx, total, n->cbs.arg);
    /* Idle connections are the many: they keep no receive buffer between messages. */
    free(s->rx);
    s->rx = NULL;
    s->rx_cap = 0;
    return 0;
}

/* lws 4.1.6 hands send() at most rx_buffer_size + LWS_PRE + 4 bytes per write (output.c) and keeps
 * the rest of a longer frame to send at the next POLLOUT; a close frame from the peer parsed in
 * between makes it drop the connection at once, half a frame sent and no close frame back
 * (ops-ws.c, "Closing on peer close due to pending tx": the client sees 1006). So while a frame
 * is partly sent, nothing is read: the peer's close waits in the socket until the frame is whole.
 * lws runs WRITEABLE only once its buffer is empty, so that is where reading resumes. */
static int on_writeable(struct net *n, struct lws *wsi, struct session *s)
{
    if (s->rx_paused) {
        s->rx_paused = false;
        lws_rx_flow_control(wsi, 1);
    }
    if (s->close_code)
        return close_with(wsi, s->close_code, s->close_reason);
    bool more = false;
    struct frame *f = n->cbs.next_frame(s, &more, n->cbs.arg);
    if (f) {
        int w = lws_write(wsi, frame_payload(f), f->len, LWS_WRITE_TEXT);
        frame_unref(f);
        if (w < 0)
            return -1;
        if (lws_partial_buffered(wsi)) {
            s->rx_paused = true; /* lws asks for the next POLLOUT itself */
            lws_rx_flow_control(wsi, 0);
        }
    }
    if (more || s->close_code)
        lws_callback_on_writable(wsi);
    return 0;
}

/* lws 4.1.6 sends CLOSED also for handshakes it never established (refused in on_filter: a wrong
 * path, a foreign Origin), with a zeroed or no session: only sessions that on_established
 * initialised (conn set) are counted and closed, or the count of clients would drift below zero. */
static int on_closed(struct net *n, struct lws *wsi, struct session *s)
{
    n->churn++;
    if (!s || s->conn != wsi)
        return 0;
    n->cbs.on_close(s, n->cbs.arg);
    session_deinit(s);
    s->conn = NULL;
    n->clients--;
    return 0;
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct net *n = lws_get_context(wsi) ? net_of(wsi) : NULL;
    struct session *s = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        n->churn++;
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        n->churn++;
        return on_filter(n, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(n, wsi, s);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(n, wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(n, wsi, s);
    case LWS_CALLBACK_CLOSED:
        return on_closed(n, wsi, s);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (n)
            n->cbs.on_wake(n->cbs.arg);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

void net_want_write(struct session *s)
{
    lws_callback_on_writable(s->conn);
}

void net_close(struct session *s)
{
    lws_callback_on_writable(s->conn);
}

/* ---- HTTP API ------------------------------------------------------------------------------ */

/* One HTTP request being read or answered. Kept by us, keyed by its wsi, not in lws's
 * per-connection user space: lws frees that space at HTTP_DROP_PROTOCOL and may still deliver
 * callbacks after it (a keep-alive connection closed by the client), so we own nothing there. */
struct http_req {
    uint64_t id;            /* 0 = not dispatched yet or already answered */
    char path[128];
    char auth[256];
    bool post;
    bool too_large;
    char *body;             /* owned */
    size_t body_len;
    int status;
    char *reply;            /* owned */
};

static struct http_req *http_req_of(struct net *n, struct lws *wsi)
{
    uint64_t v;
    return imap_get(&n->http_wsi, (uint64_t)(uintptr_t)wsi, &v) ? (struct http_req *)(uintptr_t)v
                                                                 : NULL;
}

static void http_req_free(struct net *n, struct lws *wsi)
{
    struct http_req *q = http_req_of(n, wsi);
    if (!q)
        return;
    if (q->id)
        imap_del(&n->http, q->id);
    imap_del(&n->http_wsi, (uint64_t)(uintptr_t)wsi);
    free(q->body);
    free(q->reply);
    free(q);
}

static void dispatch_http(struct net *n, struct lws *wsi, struct http_req *q)
{
    q->id = ++n->next_http_id;
    imap_put(&n->http, q->id, (uint64_t)(uintptr_t)wsi);
    struct http_request req = {
        .id = q->id,
        .method = q->post ? "POST" : "GET",
        .path = q->path,
        .auth = q->auth,
        .body = q->body ? q->body : "",
        .body_len = q->body_len,
    };
    n->cbs.on_http(&req, n->cbs.arg);
}

static int http_write_reply(struct lws *wsi, struct http_req *q)
{
    size_t len = q->reply ? strlen(q->reply) : 0;
    unsigned char *buf = xmalloc(LWS_PRE + 1024 + len);
    unsigned char *start = buf + LWS_PRE, *ptr = start, *end = buf + LWS_PRE + 1024;
    int rc = -1;
    if (lws_add_http_common_headers(wsi, (unsigned)q->status, "application/json", len, &ptr, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &ptr, end) ||
        lws_finalize_write_http_header(wsi, start, &ptr, end))
        goto out;
    memcpy(start, q->reply ? q->reply : "", len);
    if (lws_write(wsi, start, len, LWS_WRITE_HTTP_FINAL) != (int)len)
        goto out;
    rc = lws_http_transaction_completed(wsi) ? -1 : 0;
out:
    free(buf);
    return rc;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct net *n = net_of(wsi);
    struct http_req *q = http_req_of(n, wsi);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        http_req_free(n, wsi); /* a previous request on this keep-alive connection */
        q = xcalloc(1, sizeof *q);
        imap_put(&n->http_wsi, (uint64_t)(uintptr_t)wsi, (uint64_t)(uintptr_t)q);
        if (lws_hdr_copy(wsi, q->path, sizeof q->path, WSI_TOKEN_GET_URI) <= 0) {
            if (lws_hdr_copy(wsi, q->path, sizeof q->path, WSI_TOKEN_POST_URI) <= 0) {
                lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
                return -1;
            }
            q->post = true;
        }
        lws_hdr_copy(wsi, q->auth, sizeof q->auth, WSI_TOKEN_HTTP_AUTHORIZATION);
        if (!q->post)
            dispatch_http(n, wsi, q);
        return 0;
    case LWS_CALLBACK_HTTP_BODY:
        if (!q)
            return -1;
        if (q->body_len + len > HTTP_BODY_MAX) {
            q->too_large = true;
            return 0;
        }
        q->body = xrealloc(q->body, q->body_len + len + 1);
        memcpy(q->body + q->body_len, in, len);
        q->body_len += len;
        q->body[q->body_len] = '\0';
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!q)
            return -1;
        if (q->too_large) {
            lws_return_http_status(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, "body over 16 KiB");
            return -1;
        }
        dispatch_http(n, wsi, q);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!q || !q->reply)
            return 0;
        {
            int rc = http_write_reply(wsi, q);
            http_req_free(n, wsi);
            return rc;
        }
    case LWS_CALLBACK_CLOSED_HTTP:
        http_req_free(n, wsi);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

void net_http_reply(struct net *n, uint64_t req_id, int status, char *body)
{
    uint64_t v;
    if (!imap_get(&n->http, req_id, &v)) {
        free(body);
        return;
    }
    struct lws *wsi = (struct lws *)(uintptr_t)v;
    struct http_req *q = http_req_of(n, wsi);
    imap_del(&n->http, req_id);
    if (!q) {
        free(body);
        return;
    }
    q->id = 0;
    free(q->reply);
    q->reply = body;
    q->status = status;
    lws_callback_on_writable(wsi);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void on_sul_tick(lws_sorted_usec_list_t *sul)
{
    struct net *n = lws_container_of(sul, struct net, sul);
    n->cbs.on_tick(net_now_ms(), n->cbs.tick_arg);
    lws_sul_schedule(n->ctx, 0, &n->sul, on_sul_tick, (lws_usec_t)n->cfg.tick_ms * LWS_US_PER_MS);
}

static const struct lws_protocols protocols[] = {
    /* First: WebSocket upgrades that name no subprotocol get this one. */
    /* rx_buffer_size is allocated per connection at the handshake (lws ops-ws.c), so it is most
     * of an idle connection's memory; longer messages arrive in pieces that on_receive
     * reassembles. 2048, not less: at 512 lws 4.1.6 spun in recv(len 0) after a raw handshake
     * test under ASan (e2e 10-transport). */
    {"cojam.v1", callback_ws, sizeof(struct session), 2048, 0, NULL, 0},
    {"cojam-http", callback_http, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Ping idle connections after 30 s, hang up after 60 s without an answer (proto/messages.md). */
static const lws_retry_bo_t retry = {
    .secs_since_valid_ping = 30,
    .secs_since_valid_hangup = 60,
};

int net_new(const struct net_config *cfg, const struct net_callbacks *cbs, struct net **out)
{
    struct net *n = xcalloc(1, sizeof *n);
    n->cfg = *cfg;
    n->cbs = *cbs;
    n->origins = cfg->allowed_origins ? xstrdup(cfg->allowed_origins) : NULL;
    imap_init(&n->http);
    imap_init(&n->http_wsi);

    /* lws answers 415 for extensions it does not know; these are the ones the web client uses. */
    static const char *const mime[][2] = {
        {".mjs", "text/javascript"}, {".svg", "image/svg+xml"}, {".webmanifest", "application/manifest+json"},
        {".json", "application/json"}};
    for (int i = 0; i < 4; i++) {
        n->mimes[i].next = i < 3 ? &n->mimes[i + 1] : NULL;
        n->mimes[i].name = mime[i][0];
        n->mimes[i].value = mime[i][1];
    }
    struct lws_http_mount *m = n->mounts;
    m[0].mountpoint = "/api";
    m[0].mountpoint_len = 4;
    m[0].origin_protocol = LWSMPRO_CALLBACK;
    m[0].protocol = "cojam-http";
    m[0].mount_next = &m[1];
    m[1].mountpoint = "/healthz";
    m[1].mountpoint_len = 8;
    m[1].origin_protocol = LWSMPRO_CALLBACK;
    m[1].protocol = "cojam-http";
    m[1].mount_next = &m[2];
    m[2].mountpoint = "/";
    m[2].mountpoint_len = 1;
    m[2].origin = cfg->web_root;
    m[2].def = "index.html";
    m[2].origin_protocol = LWSMPRO_FILE;
    m[2].extra_mimetypes = n->mimes;
    m[2].cache_max_age = 60;
    m[2].cache_reusable = 1;
    m[2].cache_revalidate = 1;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = cfg->listen_host;
    info.protocols = protocols;
    info.mounts = m;
    info.user = n;
    info.retry_and_idle_policy = &retry;
    info.pt_serv_buf_size = 16384; /* above 16 KiB breaks HTTP/2 file serving (STACK-NOTES) */
    info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
                   LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = 10;
    lws_set_log_level(LLL_ERR, NULL);
    n->ctx = lws_create_context(&info);
    if (!n->ctx) {
        log_error("cannot listen on %s:%d", cfg->listen_host, cfg->port);
        imap_deinit(&n->http);
        imap_deinit(&n->http_wsi);
        free(n->origins);
        free(n);
        return -EADDRINUSE;
    }
    lws_sul_schedule(n->ctx, 0, &n->sul, on_sul_tick, (lws_usec_t)cfg->tick_ms * LWS_US_PER_MS);
    *out = n;
    return 0;
}

/* lws's poll loop costs O(open sockets) per pass: at 5,000 clients one poll() scan takes about
 * 0.5 ms of kernel time, and every incoming vote and every storage completion would start a pass
 * of its own (load-tests/results/PROFILE.md: poll() 15-47% of the server's cycles). With many
 * clients the loop therefore pauses briefly after each pass and lets events gather, so one scan
 * serves many of them: by default 0.2 us per client, at most 2 ms, which is also the most it adds
 * to any latency. */
static void pace(const struct net *n, uint64_t churn_before)
{
    long us = n->cfg.loop_pace_us;
    /* Never while connections come and go: lws accepts and upgrades them a pass at a time, so a
     * pause per pass would stretch a join storm of 5,000 to seconds. */
    if (n->churn != churn_before)
        return;
    if (us < 0)
        us = (long)(n->clients / 5) > 2000 ? 2000 : (long)(n->clients / 5);
    if (us >= 50) {
        struct timespec ts = {0, us * 1000};
        nanosleep(&ts, NULL);
    }
}

void net_run(struct net *n)
{
    uint64_t churn = n->churn;
    while (!atomic_load_explicit(&n->stop, memory_order_relaxed) && lws_service(n->ctx, 0) >= 0) {
        pace(n, churn);
        churn = n->churn;
    }
}

void net_stop(struct net *n)
{
    atomic_store_explicit(&n->stop, 1, memory_order_relaxed);
    lws_cancel_service(n->ctx);
}

void net_wake(struct net *n)
{
    lws_cancel_service(n->ctx);
}

void net_free(struct net *n)
{
    if (!n)
        return;
    lws_context_destroy(n->ctx);
    imap_deinit(&n->http);
    imap_deinit(&n->http_wsi);
    free(n->origins);
    free(n);
}
