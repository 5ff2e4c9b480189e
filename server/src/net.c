/* SPDX-License-Identifier: MIT
 * net.c - the transport on libwebsockets 4.1.6 (see net.h): lws's default poll loop on one thread,
 * static files from the web root, /api and /healthz as callback mounts, the WebSocket protocol
 * with our own Origin check and message-size cap (lws has neither), one frame written per
 * WRITEABLE, and one lws_sul timer for the tick. Everything else is the hub's business.
 */
#include "net.h"

#include <errno.h>
#include <libwebsockets.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "auth.h"
#include "evloop.h"
#include "frame.h"
#include "hash.h"
#include "log.h"
#include "period.h"
#include "session.h"

_Static_assert(FRAME_HEADROOM >= LWS_PRE, "frames need LWS_PRE bytes of headroom");

/* Broadcast frames written between two turns of the loop (push_slice): about 2.5 ms of writes on
 * these machines (7-10 us each at 5,000-10,000 clients), against about 1 us for the turn. */
#define NET_PUSH_SLICE 256
#define HTTP_BODY_MAX 16384 /* POST /api/jams bodies (proto/messages.md) */
/* A request's headers must be complete this long after the connection (or the previous request)
 * began, and a POST body this long after its headers: a byte every few seconds keeps lws's own
 * timeouts (reset by every read) from ever firing. proto/messages.md, "Connections". */
#define HTTP_HEADERS_S 10
#define HTTP_BODY_MS 10000
/* Header bytes of one request lws keeps; beyond, it drops the connection without a reply. */
#define HTTP_HEADER_MAX 4096
#define REFUSAL_LOG_MS 10000 /* at most one log line per this long for refused connections */

struct net {
    struct lws_context *ctx;
    struct net_config cfg;
    struct net_callbacks cbs;
    char *origins;    /* owned copy of the allowlist, NULL = own origin */
    char *own_origin; /* owned: the origin of --public-url */
    lws_sorted_usec_list_t sul;
    void *ev;          /* the libev loop lws runs on (evloop.h), or NULL: lws's poll loop */
    void *foreign[1];  /* lws's foreign_loops: one per service thread */
    atomic_int stop;   /* set by net_stop: a signal handler or another thread; lock-free */
    atomic_int reload; /* set by net_reload_tls, the same way */
    atomic_int drain;  /* set by net_drain, the same way: new connections are refused */
    size_t clients;
    uint64_t churn;        /* connections accepted, established or closed: join storms */
    struct imap http;      /* request id -> struct lws * waiting for a reply */
    struct imap http_wsi;  /* struct lws * -> struct http_req * (owned) */
    struct imap conn_addr; /* struct lws * -> its peer's IPv4 address + 1, every connection */
    struct imap per_addr;  /* IPv4 address -> connections open from it */
    struct imap hs_addr;   /* IPv4 address -> its connections not (yet) WebSocket sessions */
    uint64_t accepted;     /* the address + 1 of the connection being adopted, for WSI_CREATE */
    size_t conns;          /* TCP connections open */
    size_t max_conns;      /* the cap in force (cfg.max_connections or from ulimit -n) */
    uint64_t refused;      /* connections refused since the last log line about it */
    int64_t refused_log_ms;
    char root_real[PATH_MAX]; /* the web root, symlinks resolved */
    uint64_t next_http_id;
    struct lws_http_mount mounts[4];
    struct lws_protocol_vhost_options mimes[4];
    struct lws_protocol_vhost_options hsts; /* the header lws adds to every HTTP reply */
    uint64_t writes;                        /* frames written, ever */
    uint64_t partial_writes;                /* of them, those the socket did not take whole */
    struct period_sample load;              /* the loop since the last net_loop_sample */
    int64_t load_from_ms;                   /* when that began */
    struct session_list idle;               /* every WebSocket session, last heard from first */
    struct session_list push;        /* sessions with a broadcast frame to write (net_push) */
    lws_sorted_usec_list_t push_sul; /* the next slice of 'push' (push_slice) */
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

uint64_t net_partial_writes(const struct net *n)
{
    return n->partial_writes;
}

/* ---- WebSocket ----------------------------------------------------------------------------- */

/* An allowlist entry matches the whole header, compared exactly (origins are lower case). */
bool net_origin_allowed(const char *origin, const char *allowlist, const char *own)
{
    if (!origin)
        return true; /* not a browser: Origin protects browsers' users, not servers */
    if (!allowlist)
        return own && strcasecmp(origin, own) == 0;
    if (strcmp(allowlist, "*") == 0)
        return true;
    size_t len = strlen(origin);
    for (const char *p = allowlist; *p;) {
        while (*p == ' ')
            p++;
        const char *comma = strchr(p, ',');
        size_t plen = comma ? (size_t)(comma - p) : strlen(p);
        while (plen && p[plen - 1] == ' ')
            plen--;
        if (plen == len && strncmp(p, origin, len) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

int net_url_origin(const char *url, char *out, size_t size)
{
    size_t scheme = strncasecmp(url, "http://", 7) == 0    ? 7
                    : strncasecmp(url, "https://", 8) == 0 ? 8
                                                           : 0;
    if (!scheme)
        return -EINVAL;
    size_t host = strcspn(url + scheme, "/?#");
    if (!host || scheme + host + 1 > size)
        return -EINVAL;
    for (size_t i = 0; i < scheme + host; i++)
        out[i] = (char)(url[i] >= 'A' && url[i] <= 'Z' ? url[i] - 'A' + 'a' : url[i]);
    out[scheme + host] = '\0';
    return 0;
}

/* The header as lws holds it; a header that is present but does not fit (or cannot be read) is
 * a refusal, never "no Origin": an attacker controls its length. */
static bool origin_ok(struct net *n, struct lws *wsi)
{
    char origin[256];
    int len = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (len <= 0)
        return net_origin_allowed(NULL, n->origins, n->own_origin);
    if (len >= (int)sizeof origin ||
        lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) != len)
        return false;
    return net_origin_allowed(origin, n->origins, n->own_origin);
}

static int on_filter(struct net *n, struct lws *wsi)
{
    char uri[64];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0) {
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "WebSocket endpoint is /ws");
        return -1;
    }
    if (!origin_ok(n, wsi)) {
        log_info("refused a WebSocket handshake from a foreign Origin");
        lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "Origin not allowed");
        return -1;
    }
    /* The last NET_HTTP_RESERVE connections are kept for /healthz and the API. */
    if (n->clients + NET_HTTP_RESERVE >= n->max_conns) {
        lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "server full");
        return -1;
    }
    return 0;
}

/* ---- connections: caps per address and in all ---------------------------------------------- */

static uint64_t peer_key(const struct lws_filter_network_conn_args *a)
{
    if (a && a->cli_addr.ss_family == AF_INET)
        return (uint64_t)((const struct sockaddr_in *)&a->cli_addr)->sin_addr.s_addr + 1;
    return 1; /* not IPv4 (not served: IPv6 is off): one bucket */
}

/* Said before the close, on the raw socket (no HTTP parser has seen it yet): a browser or client
 * gets a status it can show rather than a reset. What the client already sent is read first so
 * that the close is not a reset that discards this reply. */
static void refuse_connection(struct net *n, int fd, const char *why, const char *body)
{
    char reply[256];
    int len = snprintf(reply, sizeof reply,
                       "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                       "Content-Length: %zu\r\nRetry-After: 10\r\nConnection: close\r\n\r\n%s\n",
                       strlen(body) + 1, body);
    char sink[4096];
    while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
    if (send(fd, reply, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        return;
    shutdown(fd, SHUT_WR);
    n->refused++;
    int64_t now = net_now_ms();
    if (now - n->refused_log_ms >= REFUSAL_LOG_MS) {
        log_warn("refused %llu connection(s) in the last %d s: %s (open: %zu of %zu)",
                 (unsigned long long)n->refused, REFUSAL_LOG_MS / 1000, why, n->conns,
                 n->max_conns);
        n->refused = 0;
        n->refused_log_ms = now;
    }
}

/* lws asks before it adopts an accepted socket; the wsi it creates next (WSI_CREATE, in the same
 * call) is the one counted under this address, until its WSI_DESTROY. */
static int on_network_connection(struct net *n, const struct lws_filter_network_conn_args *a,
                                 int fd)
{
    uint64_t key = peer_key(a), count = 0;
    imap_get(&n->per_addr, key, &count);
    if (atomic_load_explicit(&n->drain, memory_order_relaxed)) {
        refuse_connection(n, fd, "draining (SIGTERM)", "draining");
        return -1;
    }
    if (n->conns >= n->max_conns) {
        refuse_connection(n, fd, "--max-connections reached", "too many connections");
        return -1;
    }
    if (n->cfg.max_conns_per_address > 0 && count >= (uint64_t)n->cfg.max_conns_per_address) {
        refuse_connection(n, fd, "--max-conns-per-address reached", "too many connections");
        return -1;
    }
    uint64_t hs = 0;
    imap_get(&n->hs_addr, key, &hs);
    if (n->cfg.handshakes_per_address > 0 && hs >= (uint64_t)n->cfg.handshakes_per_address) {
        refuse_connection(n, fd, "handshakes in progress per address", "too many connections");
        return -1;
    }
    /* A peer that takes nothing of what is sent (a zero window, no acks) is dropped by the
     * kernel after write_timeout_s (Linux applies TCP_USER_TIMEOUT to zero-window probes since
     * 5.1), which frees the send buffer it pins; nothing is added to the write path for it. */
    if (n->cfg.write_timeout_s > 0) {
        unsigned ms = (unsigned)n->cfg.write_timeout_s * 1000u;
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
    }
    /* Each connection's kernel buffer for what its peer has not taken yet: the kernel grows it
     * up to net.ipv4.tcp_wmem's maximum (4 MiB by default) for a peer that reads slowly, which is
     * what a large snapshot to thousands of slow phones can pin at once; an operator can bound it
     * (the frames beyond wait in the session's bounded queue or the jam's ring). */
    if (n->cfg.tcp_send_buffer > 0) {
        int bytes = (int)n->cfg.tcp_send_buffer;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    }
    n->accepted = key;
    return 0;
}

/* conn_addr's value: the address + 1, and this bit once the connection is a WebSocket session. */
#define CONN_UPGRADED (1ull << 63)

static void count_handshake(struct net *n, uint64_t key, int d)
{
    uint64_t hs = 0;
    imap_get(&n->hs_addr, key, &hs);
    if (d > 0)
        imap_put(&n->hs_addr, key, hs + 1);
    else if (hs > 1)
        imap_put(&n->hs_addr, key, hs - 1);
    else
        imap_del(&n->hs_addr, key);
}

static void on_wsi_create(struct net *n, struct lws *wsi)
{
    if (!n->accepted)
        return; /* lws's own (the listener, its pipe) */
    uint64_t count = 0;
    imap_get(&n->per_addr, n->accepted, &count);
    imap_put(&n->per_addr, n->accepted, count + 1);
    imap_put(&n->conn_addr, (uint64_t)(uintptr_t)wsi, n->accepted);
    count_handshake(n, n->accepted, +1);
    n->accepted = 0;
    n->conns++;
}

static void on_wsi_destroy(struct net *n, struct lws *wsi)
{
    uint64_t key, count = 0;
    if (!imap_get(&n->conn_addr, (uint64_t)(uintptr_t)wsi, &key))
        return;
    imap_del(&n->conn_addr, (uint64_t)(uintptr_t)wsi);
    if (!(key & CONN_UPGRADED))
        count_handshake(n, key, -1);
    key &= ~CONN_UPGRADED;
    imap_get(&n->per_addr, key, &count);
    if (count > 1)
        imap_put(&n->per_addr, key, count - 1);
    else
        imap_del(&n->per_addr, key);
    n->conns--;
}

/* Static files: lws's URL cleaner removes "..", but follows symlinks; a file whose real path is
 * outside the web root is not served (404, as if it did not exist). */
static int on_filter_http(struct net *n, struct lws *wsi, const char *uri)
{
    if (!uri || strncmp(uri, "/api", 4) == 0 || strncmp(uri, "/healthz", 8) == 0 ||
        strncmp(uri, "/metrics", 8) == 0)
        return 0;
    char path[PATH_MAX], real[PATH_MAX];
    size_t ulen = strlen(uri);
    if ((size_t)snprintf(path, sizeof path, "%s%s%s", n->cfg.web_root, uri,
                         ulen && uri[ulen - 1] == '/' ? "index.html" : "") >= sizeof path)
        goto refuse;
    if (!realpath(path, real))
        return 0; /* lws answers 404 itself */
    size_t rlen = strlen(n->root_real);
    if (strncmp(real, n->root_real, rlen) == 0 && (real[rlen] == '/' || real[rlen] == '\0'))
        return 0;
refuse:
    log_info("not serving %s: it resolves outside the web root", uri);
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return -1;
}

static int on_established(struct net *n, struct lws *wsi, struct session *s)
{
    session_init(s, 0, wsi, net_now_ms());
    if (!lws_is_ssl(wsi) && lws_get_network_wsi(wsi) == wsi)
        s->sock = lws_get_socket_fd(wsi);
    idle_touch(&n->idle, s, s->opened_ms);
    imap_get(&n->conn_addr, (uint64_t)(uintptr_t)wsi, &s->addr);
    if (s->addr && !(s->addr & CONN_UPGRADED)) {
        count_handshake(n, s->addr, -1);
        imap_put(&n->conn_addr, (uint64_t)(uintptr_t)wsi, s->addr | CONN_UPGRADED);
    }
    s->addr &= ~CONN_UPGRADED;
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

static void arm(struct session *s);

/* Anything read from the peer (a message, a pong) shows it is alive: no ping for another
 * ping_interval_s. */
static void heard(struct net *n, struct session *s)
{
    s->ping_sent = s->ping_due = false;
    idle_touch(&n->idle, s, net_now_ms());
}

/* Keep-alive, from the tick: a ping for each session silent for ping_interval_s, and the sessions
 * that have not answered one within as long again are dropped (no close frame: a peer that does
 * not answer pings is not reading them either). O(1) per session due, nothing for the others. */
static void keep_alive(struct net *n, int64_t now_ms)
{
    if (n->cfg.ping_interval_s <= 0)
        return;
    int64_t quiet_ms = (int64_t)n->cfg.ping_interval_s * 1000;
    struct session *s;
    while ((s = idle_oldest(&n->idle, now_ms, quiet_ms))) {
        if (s->ping_sent) {
            slist_remove(&n->idle, s);
            lws_set_timeout(s->conn, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            continue;
        }
        s->ping_sent = s->ping_due = true;
        idle_touch(&n->idle, s, now_ms);
        arm(s);
    }
}

/* A message over the cap is read to its end before the close, at most this much of it: closing
 * with its rest unread makes the kernel answer with a reset, and the client sees 1006, not 1009. */
#define DISCARD_MAX (1u << 20)

/* Reassemble fragments up to the cap, then hand over one message. */
static int on_receive(struct net *n, struct lws *wsi, struct session *s, const char *in, size_t len)
{
    bool ends = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    heard(n, s);
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
        /* Doubling: a long message arrives in rx_buffer_size pieces (128 bytes, below). */
        size_t need = s->rx_len + len + 1, cap = s->rx_cap < 512 ? 1024 : 2 * s->rx_cap;
        s->rx_cap = cap < need ? need : cap;
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

/* Ask lws for one WRITEABLE, unless one is already due. lws 4.1.6 keeps a request as the
 * POLLOUT bit of the socket and clears it only just before the WRITEABLE callback (a partly sent
 * frame, a pending pong or close keep it set until they are out: "leave POLLOUT active"), so a
 * request is never lost while the connection lives. Asking again costs a pass through lws's
 * pollfd change and its CHANGE_MODE_POLL_FD callback for nothing, once per member per broadcast
 * (2% of cycles at 5,000 clients, issue 16). */
static void arm(struct session *s)
{
    if (s->write_armed)
        return;
    if (lws_callback_on_writable(s->conn) > 0)
        s->write_armed = true;
}

/* 'f' through lws_write (TLS). 1 when lws keeps part of it to send at the next POLLOUT, 0 when
 * it is all out, -1 on error. */
static int send_lws(struct lws *wsi, struct frame *f)
{
    static const int kinds[] = {
        [FRAME_WHOLE] = LWS_WRITE_TEXT,
        [FRAME_FIRST] = LWS_WRITE_TEXT | LWS_WRITE_NO_FIN,
        [FRAME_MIDDLE] = LWS_WRITE_CONTINUATION | LWS_WRITE_NO_FIN,
        [FRAME_LAST] = LWS_WRITE_CONTINUATION,
    };
    if (lws_write(wsi, frame_payload(f), f->len, (enum lws_write_protocol)kinds[f->part]) < 0)
        return -1;
    return lws_partial_buffered(wsi) ? 1 : 0;
}

/* 'f' with its header written here and sent on the socket directly (plain TCP): lws 4.1.6's
 * lws_write around the send cost about as much as the send itself, 5.7% of the loop's cycles at
 * 5,000 clients against 5.9% for __send (issue 16); among it an info-level log call that
 * Debian's build keeps (lws_issue_raw: "ssl_capable_write (%d) says %d") and a pass through the
 * ws role's extension hooks, none of which cojam uses. What the socket does not take goes to lws as
 * bytes already framed (LWS_WRITE_HTTP: ops-ws.c sends those as they are): lws buffers them and
 * sends them first at the next POLLOUT, before a pong or close of its own (service.c, "Priority
 * 1"), just as the rest of a frame it framed itself. So no byte of lws's goes into a frame of
 * ours: the callers write here only when lws holds nothing (push_now checks, and lws runs
 * WRITEABLE only once its buffer is empty). Returns as send_lws. */
static int send_raw(struct lws *wsi, struct session *s, struct frame *f)
{
    unsigned char *start;
    size_t len = frame_wire(f, &start);
    ssize_t w = send(s->sock, start, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w == (ssize_t)len)
        return 0;
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            s->sock = SESSION_SOCK_BROKEN; /* the peer is gone: close at the WRITEABLE */
            return -1;
        }
        w = 0;
    }
    if (lws_write(wsi, start + w, len - (size_t)w, LWS_WRITE_HTTP) < 0)
        return -1;
    return 1;
}

/* The next frame for 's', written: one per call, so that a member's WRITEABLE, like its push,
 * takes one frame and sessions take turns. Asks for another WRITEABLE when more is due. */
static int write_next(struct net *n, struct lws *wsi, struct session *s)
{
    bool more = false;
    struct frame *f = n->cbs.next_frame(s, &more, n->cbs.arg);
    if (f) {
        int partial = s->sock >= 0 ? send_raw(wsi, s, f) : send_lws(wsi, f);
        frame_unref(f);
        if (partial < 0)
            return -1;
        n->writes++;
        if (partial) {
            n->partial_writes++;
            s->rx_paused = true; /* lws asks for the next POLLOUT itself */
            lws_rx_flow_control(wsi, 0);
        }
    }
    if (more || s->close_code)
        arm(s);
    return 0;
}

/* lws 4.1.6 hands send() at most tx_packet_size + LWS_PRE + 4 bytes per write (output.c) and keeps
 * the rest of a longer frame to send at the next POLLOUT; a close frame from the peer parsed in
 * between makes it drop the connection at once, half a frame sent and no close frame back
 * (ops-ws.c, "Closing on peer close due to pending tx": the client sees 1006). So while a frame
 * is partly sent, nothing is read: the peer's close waits in the socket until the frame is whole.
 * lws runs WRITEABLE only once its buffer is empty, so that is where reading resumes. */
static int on_writeable(struct net *n, struct lws *wsi, struct session *s)
{
    s->write_armed = false;
    if (s->sock == SESSION_SOCK_BROKEN)
        return -1;
    if (s->rx_paused) {
        s->rx_paused = false;
        lws_rx_flow_control(wsi, 1);
    }
    if (s->close_code)
        return close_with(wsi, s->close_code, s->close_reason);
    if (s->ping_due) {
        /* Between two messages, or between two fragments of one: RFC 6455 5.4 allows control
         * frames there. Not empty: lws 4.1.6 passes an empty pong to no callback (ops-ws.c). */
        unsigned char ping[LWS_PRE + 2];
        memcpy(ping + LWS_PRE, "ka", 2);
        s->ping_due = false;
        if (lws_write(wsi, ping + LWS_PRE, 2, LWS_WRITE_PING) < 0)
            return -1;
        arm(s);
        return 0;
    }
    return write_next(n, wsi, s);
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
    slist_remove(&n->idle, s);
    slist_remove(&n->push, s);
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
        return on_network_connection(n, user, (int)(intptr_t)in);
    case LWS_CALLBACK_WSI_CREATE:
        if (n)
            on_wsi_create(n, wsi);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (n)
            on_wsi_destroy(n, wsi);
        return 0;
    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
        return on_filter_http(n, wsi, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        n->churn++;
        return on_filter(n, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(n, wsi, s);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(n, wsi, s, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        if (s && s->conn == wsi)
            heard(n, s);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(n, wsi, s);
    case LWS_CALLBACK_CLOSED:
        return on_closed(n, wsi, s);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (n)
            n->cbs.on_wake(n->cbs.arg);
        return 0;
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        /* lws 4.1.6 (lib/tls/tls-server.c) calls protocols[0] with the vhost's SSL_CTX once it is
         * made; lws itself only turns off SSLv2/3 and compression. */
        return auth_tls_policy(user) < 0 ? -1 : 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

void net_want_write(struct session *s)
{
    arm(s);
}

/* A broadcast frame is due to every member at once; most members have nothing else pending, and
 * for them the frame is written from the tick instead of at a WRITEABLE: no POLLOUT on and off
 * around it (on libev one epoll_ctl each way, about 14% of the loop's cycles at 10,000 clients)
 * and no pass through lws's service for it. lws 4.1.6 allows a write outside WRITEABLE (its
 * back-to-back check is compiled out, output.c) and keeps what the socket does not take, asking
 * for POLLOUT itself; a session with anything in progress (a WRITEABLE already due, a partly sent
 * frame, a ping or a close to send) takes the usual way. */
static void push_now(struct net *n, struct session *s)
{
    struct lws *wsi = s->conn;
    if (s->write_armed || s->rx_paused || s->close_code || s->ping_due ||
        lws_partial_buffered(wsi)) {
        arm(s);
        return;
    }
    if (write_next(n, wsi, s) < 0)
        arm(s); /* the write failed: the WRITEABLE that follows fails too and closes it */
}

static void on_sul_push(lws_sorted_usec_list_t *sul);

/* The pushed sessions are written NET_PUSH_SLICE at a time, and the loop goes round between two
 * slices: writing 10,000 frames takes about 100 ms of this machine's core, and the votes, storage
 * replies and acks that arrive meanwhile would otherwise wait for all of it (ack p99 58 ms at
 * 5,000 clients against 18 at 1,000, issue 16). Called from the tick and from push_sul only:
 * lws 4.1.6 re-arms libev's timer for a sul scheduled in a sul's callback (libev.c, hrtimer_cb),
 * not for one scheduled from anywhere else. */
static void push_slice(struct net *n)
{
    struct session *s;
    for (int i = 0; i < NET_PUSH_SLICE && (s = slist_pop(&n->push)); i++)
        push_now(n, s);
    if (n->push.head)
        lws_sul_schedule(n->ctx, 0, &n->push_sul, on_sul_push, 1);
}

static void on_sul_tick(lws_sorted_usec_list_t *sul);

/* When the last slice is out, the tick comes at once: a broadcast that fell due meanwhile waited
 * for these frames (net_pushing). */
static void on_sul_push(lws_sorted_usec_list_t *sul)
{
    struct net *n = lws_container_of(sul, struct net, push_sul);
    push_slice(n);
    if (!n->push.head)
        lws_sul_schedule(n->ctx, 0, &n->sul, on_sul_tick, 1);
}

/* Written at the end of the tick that pushed, the first slice at once (push_slice). */
void net_push(struct session *s, bool first)
{
    struct lws *wsi = s->conn;
    if (!wsi)
        return;
    if (first)
        slist_prepend(&net_of(wsi)->push, s);
    else
        slist_append(&net_of(wsi)->push, s);
}

bool net_pushing(const struct net *n)
{
    return n->push.head != NULL;
}

void net_close(struct session *s)
{
    arm(s);
}

/* ---- HTTP API ------------------------------------------------------------------------------ */

/* One HTTP request being read or answered. Kept by us, keyed by its wsi, not in lws's
 * per-connection user space: lws frees that space at HTTP_DROP_PROTOCOL and may still deliver
 * callbacks after it (a keep-alive connection closed by the client), so we own nothing there. */
struct http_req {
    uint64_t id; /* 0 = not dispatched yet or already answered */
    char path[128];
    char auth[256];
    bool post;
    int64_t body_from_ms; /* when the POST's headers were complete */
    char *body;           /* owned */
    size_t body_len;
    int status;
    const char *type; /* the reply's Content-Type, a constant; NULL = application/json */
    int64_t retry_ms; /* a 429's Retry-After */
    char *reply;      /* owned */
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

static uint64_t wsi_addr(struct net *n, struct lws *wsi)
{
    uint64_t addr = 0;
    imap_get(&n->conn_addr, (uint64_t)(uintptr_t)wsi, &addr);
    return addr;
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
        .addr = wsi_addr(n, wsi),
    };
    n->cbs.on_http(&req, n->cbs.arg);
}

static int http_write_reply(struct lws *wsi, struct http_req *q)
{
    size_t len = q->reply ? strlen(q->reply) : 0;
    unsigned char *buf = xmalloc(LWS_PRE + 1024 + len);
    unsigned char *start = buf + LWS_PRE, *ptr = start, *end = buf + LWS_PRE + 1024;
    int rc = -1;
    char retry[24];
    int retry_len = snprintf(retry, sizeof retry, "%lld", (long long)((q->retry_ms + 999) / 1000));
    if (lws_add_http_common_headers(wsi, (unsigned)q->status,
                                    q->type ? q->type : "application/json", len, &ptr, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &ptr, end) ||
        (q->status == 429 &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                     (const unsigned char *)retry, retry_len, &ptr, end)) ||
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

/* A POST is refused before its body is read when the API would not accept it (on_http_headers:
 * the admin token, first, so that a stranger learns nothing more), when its length is unknown or
 * over the cap: the reply is written at once and the connection closed, the body unread. */
static int post_headers(struct net *n, struct lws *wsi, struct http_request *req,
                        struct http_req *q)
{
    char cl[24] = "";
    char *body = NULL;
    req->addr = wsi_addr(n, wsi);
    int status = n->cbs.on_http_headers
                     ? n->cbs.on_http_headers(req, &body, &q->retry_ms, n->cbs.arg)
                     : 0;
    if (!status && lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
        status = HTTP_STATUS_LENGTH_REQUIRED;
        body = xstrdup("{\"error\":{\"code\":\"length_required\",\"message\":\"a Content-Length "
                       "is needed\"}}");
    } else if (!status && strtoull(cl, NULL, 10) > HTTP_BODY_MAX) {
        status = HTTP_STATUS_REQ_ENTITY_TOO_LARGE;
        body = xstrdup("{\"error\":{\"code\":\"too_large\",\"message\":\"body over 16 KiB\"}}");
    }
    if (!status) {
        q->body_from_ms = net_now_ms();
        return 0;
    }
    q->status = status;
    q->reply = body;
    http_write_reply(wsi, q);
    return -1;
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
        if (!q->post) {
            dispatch_http(n, wsi, q);
            return 0;
        }
        {
            struct http_request req = {
                .method = "POST", .path = q->path, .auth = q->auth, .body = ""};
            return post_headers(n, wsi, &req, q);
        }
    case LWS_CALLBACK_HTTP_BODY:
        if (!q)
            return -1;
        if (net_now_ms() - q->body_from_ms > HTTP_BODY_MS) {
            q->status = HTTP_STATUS_REQUEST_TIMEOUT;
            q->reply = xstrdup("{\"error\":{\"code\":\"timeout\",\"message\":\"body not "
                               "complete within 10 s\"}}");
            http_write_reply(wsi, q);
            return -1;
        }
        if (!len)
            return 0; /* lws announces an empty body with in == NULL */
        if (q->body_len + len > HTTP_BODY_MAX)
            return -1; /* cannot happen: Content-Length was checked and lws reads no further */
        q->body = xrealloc(q->body, q->body_len + len + 1);
        memcpy(q->body + q->body_len, in, len);
        q->body_len += len;
        q->body[q->body_len] = '\0';
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!q)
            return -1;
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

void net_http_reply_429(struct net *n, uint64_t req_id, int64_t retry_ms, char *body)
{
    uint64_t v;
    struct http_req *q = imap_get(&n->http, req_id, &v) ? http_req_of(n, (struct lws *)(uintptr_t)v)
                                                        : NULL;
    if (q)
        q->retry_ms = retry_ms;
    net_http_reply(n, req_id, 429, body);
}

void net_http_reply(struct net *n, uint64_t req_id, int status, char *body)
{
    net_http_reply_as(n, req_id, status, NULL, body);
}

void net_http_reply_as(struct net *n, uint64_t req_id, int status, const char *type, char *body)
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
    q->type = type;
    lws_callback_on_writable(wsi);
}

/* ---- TLS ----------------------------------------------------------------------------------- */

/* The largest certificate chain or key file read for the check: a chain of a few certificates. */
#define TLS_FILE_MAX (256 * 1024)

/* A whole file into a new NUL-terminated buffer, or NULL with the reason in 'why'. */
static char *read_file(const char *path, size_t *len, char *why, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = xmalloc(TLS_FILE_MAX + 1);
    *len = fread(buf, 1, TLS_FILE_MAX + 1, f);
    fclose(f);
    if (*len > TLS_FILE_MAX) {
        snprintf(why, size, "%s: larger than %d bytes", path, TLS_FILE_MAX);
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

int net_tls_check(const char *cert, const char *key, char *what, size_t size)
{
    size_t clen = 0, klen = 0;
    char why[300];
    char *c = read_file(cert, &clen, what, size);
    char *k = c ? read_file(key, &klen, what, size) : NULL;
    int rc = -EINVAL;
    if (k) {
        rc = auth_tls_pair_check(c, clen, k, klen, why, sizeof why);
        if (rc < 0)
            snprintf(what, size, "%s (certificate %s, key %s)", why, cert, key);
        else
            snprintf(what, size, "%s", why);
        explicit_bzero(k, klen);
    }
    free(c);
    free(k);
    return rc;
}

/* lws 4.1.6 replaces a vhost's certificate with lws_tls_cert_updated(): for every vhost created
 * with these two paths it loads them again into the vhost's SSL_CTX. Handshakes that start after
 * it use the new pair (SSL_new copies the context's certificate); open connections keep theirs.
 * It checks nothing itself: a key that does not match would leave the new certificate with the
 * old key and every handshake failing, hence net_tls_check first. */
static void tls_reload(struct net *n)
{
    char what[512];
    if (!n->cfg.tls_cert) {
        log_info("SIGHUP: TLS is off (no --tls-cert): nothing to reload");
        return;
    }
    if (net_tls_check(n->cfg.tls_cert, n->cfg.tls_key, what, sizeof what) < 0) {
        log_error("SIGHUP: the TLS certificate was not replaced, the old one stays: %s", what);
        return;
    }
    if (lws_tls_cert_updated(n->ctx, n->cfg.tls_cert, n->cfg.tls_key, NULL, 0, NULL, 0) != 0) {
        log_error("SIGHUP: libwebsockets did not take the new TLS certificate");
        return;
    }
    log_info("SIGHUP: TLS certificate reloaded: %s", what);
}

void net_reload_tls(struct net *n)
{
    atomic_store_explicit(&n->reload, 1, memory_order_relaxed);
    lws_cancel_service(n->ctx);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void on_sul_tick(lws_sorted_usec_list_t *sul)
{
    struct net *n = lws_container_of(sul, struct net, sul);
    int64_t now_ms = net_now_ms();
    keep_alive(n, now_ms);
    int64_t next_ms = n->cbs.on_tick(now_ms, n->cbs.tick_arg);
    if (next_ms < 1 || next_ms > n->cfg.tick_ms)
        next_ms = next_ms < 1 ? 1 : n->cfg.tick_ms;
    push_slice(n);
    /* From this tick's start: what it and its first slice took is not added to the period. */
    int64_t in_ms = next_ms - (net_now_ms() - now_ms);
    lws_sul_schedule(n->ctx, 0, &n->sul, on_sul_tick,
                     (lws_usec_t)(in_ms < 1 ? 1 : in_ms) * LWS_US_PER_MS);
}

static const struct lws_protocols protocols[] = {
    /* First: WebSocket upgrades that name no subprotocol get this one. */
    /* rx_buffer_size is allocated per connection at the handshake (lws ops-ws.c), so it was the
     * largest part of an idle connection's memory; longer messages arrive in pieces that
     * on_receive reassembles. 128: a control frame's payload (at most 125 bytes, RFC 6455 5.5)
     * fits whole. RSS per idle joined connection after 5,000 joins: 4,123 B at 2048, 2,812 at
     * 512, 2,586 at 256, 2,472 at 128 (load-tests/bench.sh join storm, one run each).
     * tx_packet_size: without it lws 4.1.6 also caps every send() at rx_buffer_size + LWS_PRE + 4
     * bytes, and with 512 a refused handshake's 403 (its security headers are longer than that)
     * spun in a partial send under ASan (e2e 10-transport); 16 KiB sends a snapshot in a few
     * send() calls instead of one per 2 KiB. */
    {"cojam.v1", callback_ws, sizeof(struct session), 128, 0, NULL, 16384},
    {"cojam-http", callback_http, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* No keep-alive of lws's own: keep_alive() pings and hangs up (--ping-interval-s). lws 4.1.6 would
 * re-arm a per-connection timer at each pong and at the handshake, each an insertion into one
 * sorted list of every connection's timers, walked from its head (lws_dll2_add_sorted): at 20,000
 * connections that was 62% of the loop's cycles and the victim got no pong within 10 s
 * (load-tests/conn-flood-bench.py). A policy without a hangup time arms none (wsi-timeout.c). */
static const lws_retry_bo_t retry = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

/* What net_new allocated before the lws context exists (its failure paths, and net_free). */
static void release(struct net *n)
{
    imap_deinit(&n->http);
    imap_deinit(&n->http_wsi);
    imap_deinit(&n->conn_addr);
    imap_deinit(&n->per_addr);
    imap_deinit(&n->hs_addr);
    free(n->origins);
    free(n->own_origin);
    free(n);
}

int net_new(const struct net_config *cfg, const struct net_callbacks *cbs, struct net **out)
{
    struct net *n = xcalloc(1, sizeof *n);
    n->cfg = *cfg;
    n->cbs = *cbs;
    n->idle.kind = SESSION_LIST_IDLE;
    n->push.kind = SESSION_LIST_PUSH;
    n->origins = cfg->allowed_origins ? xstrdup(cfg->allowed_origins) : NULL;
    n->own_origin = cfg->own_origin ? xstrdup(cfg->own_origin) : NULL;
    imap_init(&n->http);
    imap_init(&n->http_wsi);
    imap_init(&n->conn_addr);
    imap_init(&n->per_addr);
    imap_init(&n->hs_addr);
    if (!realpath(cfg->web_root, n->root_real)) {
        log_error("web root %s: %s", cfg->web_root, strerror(errno));
        release(n);
        return -ENOENT;
    }
    n->max_conns = (size_t)cfg->max_connections;
    if (cfg->max_connections <= 0) {
        struct rlimit rl;
        rlim_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
        n->max_conns = fds > 2 * NET_FD_RESERVE ? (size_t)(fds - NET_FD_RESERVE) : (size_t)fds / 2;
    }

    /* lws answers 415 for extensions it does not know; these are the ones the web client uses. */
    static const char *const mime[][2] = {{".mjs", "text/javascript"},
                                          {".svg", "image/svg+xml"},
                                          {".webmanifest", "application/manifest+json"},
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
    m[2].mountpoint = "/metrics";
    m[2].mountpoint_len = 8;
    m[2].origin_protocol = LWSMPRO_CALLBACK;
    m[2].protocol = "cojam-http";
    m[2].mount_next = &m[3];
    m[3].mountpoint = "/";
    m[3].mountpoint_len = 1;
    m[3].origin = cfg->web_root;
    m[3].def = "index.html";
    m[3].origin_protocol = LWSMPRO_FILE;
    m[3].extra_mimetypes = n->mimes;
    m[3].cache_max_age = 60;
    m[3].cache_reusable = 1;
    m[3].cache_revalidate = 1;

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
    info.timeout_secs_ah_idle = HTTP_HEADERS_S;
    info.max_http_header_data = HTTP_HEADER_MAX;
    if (cfg->tls_cert) {
        char what[512];
        if (net_tls_check(cfg->tls_cert, cfg->tls_key, what, sizeof what) < 0) {
            log_error("--tls-cert/--tls-key: %s", what);
            release(n);
            return -EINVAL;
        }
        log_info("TLS certificate: %s", what);
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
        /* TLS 1.2+ is set on lws's SSL_CTX in callback_ws (auth_tls_policy). */
        /* HTTP/1.1 only: lws's HTTP/2 breaks with pt_serv_buf_size above 16 KiB, and WebSockets
         * over HTTP/2 (RFC 8441) is not what browsers use here (STACK-NOTES). */
        info.alpn = "http/1.1";
        /* A year, the value hstspreload.org asks for; no includeSubDomains: other hosts of the
         * organiser's domain are not ours to bind to HTTPS. lws's own LWS_SERVER_OPTION_STS
         * would add includeSubDomains. */
        n->hsts.name = "Strict-Transport-Security:";
        n->hsts.value = "max-age=31536000";
        info.headers = &n->hsts;
    }
    /* libev, epoll underneath: a pass costs what is ready, where lws's poll() scans every
     * connection (at 10,000 clients that scan was about half the loop's cycles, README
     * "Event loops"). lws loads its libev plugin (libwebsockets-evlib-ev) at run time; without
     * it cojamd falls back to the poll loop and says so. */
    lws_set_log_level(LLL_ERR, NULL);
    if (cfg->libev) {
        n->ev = evloop_new();
        n->foreign[0] = n->ev;
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = n->foreign;
        n->ctx = n->ev ? lws_create_context(&info) : NULL;
        if (!n->ctx) {
            log_warn("--event-loop libev: lws did not start on libev (its plugin, package "
                     "libwebsockets-evlib-ev, missing? or the address taken: see below); trying "
                     "lws's poll loop");
            if (n->ev)
                evloop_free(n->ev);
            n->ev = NULL;
            info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
            info.foreign_loops = NULL;
        }
    }
    if (!n->ctx)
        n->ctx = lws_create_context(&info);
    if (!n->ctx) {
        log_error("cannot listen on %s:%d", cfg->listen_host, cfg->port);
        release(n);
        return -EADDRINUSE;
    }
    log_info("connections: at most %zu, %ld from one address%s; event loop %s", n->max_conns,
             cfg->max_conns_per_address, cfg->tls_cert ? "; TLS on" : "",
             n->ev ? "libev (epoll)" : "poll");
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
    if (n->churn != churn_before || n->push.head)
        return; /* nor between two slices of a broadcast (push_slice) */
    if (us < 0)
        us = (long)(n->clients / 5) > 2000 ? 2000 : (long)(n->clients / 5);
    if (us >= 50) {
        struct timespec ts = {0, us * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The loop thread's CPU time: read once per pass, at the loop's own entry point (a pass costs
 * tens of microseconds to milliseconds; this read is a fraction of a microsecond). */
static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One pass's CPU time and frames into the sample period.h reads. */
static void account(struct net *n, int64_t cpu_us, uint64_t writes)
{
    struct period_sample *l = &n->load;
    l->cpu_us += cpu_us;
    l->passes++;
    l->writes += writes;
    if (!writes) {
        l->quiet_cpu_us += cpu_us;
        l->quiet_passes++;
    }
}

void net_loop_sample(struct net *n, int64_t now_ms, struct period_sample *out)
{
    *out = n->load;
    out->wall_us = n->load_from_ms ? (now_ms - n->load_from_ms) * 1000 : 0;
    memset(&n->load, 0, sizeof n->load);
    n->load_from_ms = now_ms;
}

void net_run(struct net *n)
{
    uint64_t churn = n->churn;
    n->load_from_ms = net_now_ms();
    int64_t cpu = thread_cpu_us();
    uint64_t writes = n->writes;
    while (!atomic_load_explicit(&n->stop, memory_order_relaxed) &&
           (n->ev ? (evloop_once(n->ev), 1) : lws_service(n->ctx, 0) >= 0)) {
        if (atomic_exchange_explicit(&n->reload, 0, memory_order_relaxed))
            tls_reload(n);
        int64_t c = thread_cpu_us();
        account(n, c - cpu, n->writes - writes);
        cpu = c;
        writes = n->writes;
        if (!n->ev)
            pace(n, churn);
        churn = n->churn;
    }
}

void net_stop(struct net *n)
{
    atomic_store_explicit(&n->stop, 1, memory_order_relaxed);
    lws_cancel_service(n->ctx);
}

void net_drain(struct net *n)
{
    if (atomic_exchange_explicit(&n->drain, 1, memory_order_relaxed))
        atomic_store_explicit(&n->stop, 1, memory_order_relaxed); /* the second signal */
    lws_cancel_service(n->ctx);
}

bool net_is_draining(const struct net *n)
{
    return atomic_load_explicit(&n->drain, memory_order_relaxed) != 0;
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
    if (n->ev)
        evloop_free(n->ev);
    release(n);
}
