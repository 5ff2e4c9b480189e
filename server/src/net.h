/* SPDX-License-Identifier: MIT
 * net.h - the transport: the one module that includes libwebsockets. It owns the lws context,
 * the HTTP mounts (static web root, /api, /healthz), the WebSocket protocol on /ws with Origin
 * check, fragment reassembly with a size cap, the write pump (one frame per WRITEABLE) and the
 * housekeeping timer. It reports upward only through the callbacks main.c registers.
 */
#ifndef COJAM_NET_H
#define COJAM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "now.h"

struct session;
struct frame;
struct period_sample;

struct http_request {
    uint64_t id;        /* for net_http_reply; valid until replied or the client left */
    const char *method; /* "GET" or "POST" */
    const char *path;   /* full path, e.g. "/api/jams/482913" */
    const char *auth;   /* Authorization header value or "" */
    const char *body;   /* POST body (NUL-terminated) or "" */
    size_t body_len;
    uint64_t addr; /* the peer's IPv4 address + 1, as session.h's addr */
};

struct net_callbacks {
    void *arg;
    void (*on_open)(struct session *s, void *arg);
    /* One complete text message ('text' valid only during the call). */
    void (*on_message)(struct session *s, const char *text, size_t len, void *arg);
    /* The next frame to write: returns a new reference or NULL when nothing is due; sets *more
     * when another frame is due after this one. */
    struct frame *(*next_frame)(struct session *s, bool *more, void *arg);
    /* The connection is gone; the session is freed right after this returns. */
    void (*on_close)(struct session *s, void *arg);
    /* Another thread called net_wake(). */
    void (*on_wake)(void *arg);
    /* At most tick_ms apart; now_ms is monotonic. Gets 'tick_arg'. Returns in how many ms it
     * wants the next tick, sooner than tick_ms when something falls due before (a broadcast):
     * net calls it then, or tick_ms later if that is sooner, and at once when the last
     * broadcast's frames are all written (net_push). */
    int64_t (*on_tick)(int64_t now_ms, void *arg);
    void *tick_arg;
    /* An API request: reply now or later with net_http_reply(). */
    void (*on_http)(const struct http_request *req, void *arg);
    /* A POST's headers, before its body is read ('body' is "" then): 0 to read the body, or an
     * HTTP status (401) with its body in *body (malloc'd, taken) to refuse the request without
     * reading it; the connection is closed after that reply. For 429, *retry_ms says when to come
     * back (Retry-After). NULL: always read. */
    int (*on_http_headers)(const struct http_request *req, char **body, int64_t *retry_ms,
                           void *arg);
};

struct net_config {
    const char *listen_host; /* borrowed */
    int port;
    const char *web_root;        /* borrowed */
    const char *allowed_origins; /* borrowed: comma list, "*" = any, NULL = own origin */
    const char *own_origin;      /* borrowed: "scheme://host[:port]" of --public-url, the default */
    size_t max_message_bytes;
    long max_connections;       /* TCP connections in all; <= 0: ulimit -n minus NET_FD_RESERVE */
    long max_conns_per_address; /* TCP connections from one IP address; <= 0: no cap */
    long write_timeout_s; /* sent data not taken by the peer this long: dropped; <= 0: never */
    long tcp_send_buffer; /* SO_SNDBUF of each connection; <= 0: the kernel sizes it */
    long ping_interval_s; /* nothing read this long: a ping; as long again: dropped; <= 0: never */
    long handshakes_per_address; /* connections from one address not (yet) WebSocket; <= 0: any */
    const char *tls_cert;        /* borrowed: PEM certificate chain file; NULL = plain HTTP */
    const char *tls_key;         /* borrowed: its PEM private key file (set with tls_cert) */
    int tick_ms;
    bool libev;        /* lws on a libev loop (epoll), else lws's own poll loop */
    long loop_pace_us; /* poll loop only: -1 = by the number of clients, 0 = off */
};

/* Descriptors kept free below ulimit -n when max_connections is automatic: Redis connections,
 * the embedded server's pipes, log and data files, lws's own pipe, a margin. */
#define NET_FD_RESERVE 512
/* Connections kept for plain HTTP (/healthz, the API, static files) when WebSocket sessions are
 * at their share of max_connections. */
#define NET_HTTP_RESERVE 64
/* Connections from one address that are not (yet) WebSocket sessions: handshakes in progress,
 * HTTP requests, keep-alive HTTP connections. Beyond, 503 (main.c scales it with
 * --admission-scale, 0 = no limit, as the other per-address limits). lws 4.1.6 gives each of them a timer
 * in one sorted list that every accept walks (lws_dll2_add_sorted): 20,000 hostile connections
 * opened and reopened from 20 addresses kept thousands there and took 52% of the loop, the
 * victim got no pong within 10 s (load-tests/conn-flood-bench.py). 128 at once from one NAT
 * address is still hundreds of phones joining per second. */
#define NET_HANDSHAKES_PER_ADDRESS 128

struct net;

/* Pure: the Origin check. 'origin' is the handshake's header (NULL = none was sent), 'allowlist'
 * is --allowed-origins (NULL = only 'own'; "*" = any), 'own' the server's own origin. */
bool net_origin_allowed(const char *origin, const char *allowlist, const char *own);
/* Pure: the origin ("scheme://host[:port]", lower case, no path) of an http(s) URL into 'out';
 * returns -EINVAL when 'url' is not http(s)://host... or the origin does not fit. */
int net_url_origin(const char *url, char *out, size_t size);

/* Reads the certificate chain and key files and checks that they belong together, as a TLS
 * server would load them. Returns 0 (with the certificate's subject and end date in 'what'), or
 * -EINVAL with OpenSSL's reason in 'what'. */
int net_tls_check(const char *cert, const char *key, char *what, size_t size);

/* TLS when cfg->tls_cert is set: TLS 1.2 and later only, ALPN http/1.1, HSTS on every HTTP
 * reply. Returns 0, -EINVAL for an unusable certificate or key, -EADDRINUSE when it cannot
 * listen. */
int net_new(const struct net_config *cfg, const struct net_callbacks *cbs, struct net **out);
void net_free(struct net *n);
/* Run the loop until net_stop(). */
void net_run(struct net *n);
/* Ask the loop to stop (signal-safe: sets a flag and wakes the loop). */
void net_stop(struct net *n);
/* Signal-safe (SIGTERM): from now on every new TCP connection is refused with 503 "draining"
 * (Retry-After: 10) on the raw socket, and net_is_draining() is true, for the loop's tick to
 * finish what is in flight, close the sessions and net_stop(). A second call stops at once. */
void net_drain(struct net *n);
bool net_is_draining(const struct net *n);
/* Signal-safe (SIGHUP): the loop reads the certificate and key files again, and connections made
 * after that get the new certificate; open ones keep theirs. A pair that does not load or match
 * is logged and the old one kept. Without TLS: logged, nothing else. */
void net_reload_tls(struct net *n);
/* Thread-safe: wake the loop; on_wake runs on the loop thread. */
void net_wake(struct net *n);

/* Ask for a WRITEABLE callback on this session. */
void net_want_write(struct session *s);
/* A broadcast frame is due to this session: written from the end of this tick on, a slice at a
 * time, if nothing else is pending for it then, else as net_want_write; 'first': ahead of the
 * sessions pushed before it in this tick (so pushing a list this way writes it in reverse).
 * Only from the loop thread, in a tick. */
void net_push(struct session *s, bool first);
/* Pushed frames are still being written: a new broadcast waits for them (net_push). */
bool net_pushing(const struct net *n);
/* Send a close frame with s->close_code at the next writeable, then drop the connection. */
void net_close(struct session *s);
/* Reply to an HTTP request. Takes ownership of 'body' (malloc'd). A reply to a request whose
 * client has gone is dropped. */
void net_http_reply(struct net *n, uint64_t req_id, int status, char *body);
/* The same with another Content-Type than application/json ('type' is a string constant). */
void net_http_reply_as(struct net *n, uint64_t req_id, int status, const char *type, char *body);
/* The same with status 429 and "Retry-After: <retry_ms in whole seconds, rounded up>". */
void net_http_reply_429(struct net *n, uint64_t req_id, int64_t retry_ms, char *body);
/* Monotonic and wall-clock milliseconds. */
int64_t net_now_ms(void);
int64_t net_wall_ms(void);
/* Both, for an event entering the loop (then passed down, never read again below). */
static inline struct now net_now(void)
{
    return (struct now){net_now_ms(), net_wall_ms()};
}
/* Number of open WebSocket sessions. */
size_t net_clients(const struct net *n);
/* Frames the socket did not take whole, ever: the transport sent the rest at a later POLLOUT. */
uint64_t net_partial_writes(const struct net *n);
/* What the loop measured since the previous call (or since net_run began): its thread's CPU
 * time per pass, split by whether the pass wrote frames, and the frames written; wall_us up to
 * monotonic 'now_ms'. Loop thread only. */
void net_loop_sample(struct net *n, int64_t now_ms, struct period_sample *out);

#endif
