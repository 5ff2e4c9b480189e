/*
 * ws: the WebSocket client.  A minimal RFC 6455 client on one epoll set: non-blocking connect()
 * from 127.0.0.(1 + k) (IP_BIND_ADDRESS_NO_PORT), HTTP upgrade with the Sec-WebSocket-Accept
 * check, masked client frames, unmasked or masked server frames with 7/16/64-bit lengths,
 * fragmentation, ping -> pong, close.  Writes that do not fit the socket are buffered and flushed
 * on EPOLLOUT.  It knows nothing of cojam: whole text messages and failures go to the callbacks
 * given to ws_init().
 */
#ifndef LG_WS_H
#define LG_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A connection's life.  ws moves it IDLE -> TCP -> HS -> JOINING (handshake accepted) and to
 * CLOSED; JOINING -> JOINED is the protocol layer's (the join was answered).  */
enum { CS_IDLE, CS_TCP, CS_HS, CS_JOINING, CS_JOINED, CS_CLOSED };

typedef struct ws_target ws_target_t;

typedef struct ws_conn {
    int fd;
    const ws_target_t *tgt; /* where ws_connect() sent it */
    uint8_t state, want_out, in_frag, mop;
    char key[25];  /* Sec-WebSocket-Key, base64 */
    uint8_t *rbuf; /* bytes of an incomplete frame */
    uint32_t rlen, rcap;
    uint8_t *mbuf; /* a fragmented message being reassembled */
    uint32_t mlen, mcap;
    uint8_t *wbuf; /* bytes the socket did not take yet */
    uint32_t wlen, wcap;
} ws_conn_t;

/* Where to connect.  The pointer handed to ws_init() (the default target) is read at every connect
 * (port may change). */
struct ws_target {
    char host[64];
    int port;
    char path[128];
    const char *origin; /* NULL: no Origin header */
    int sources;        /* source addresses 127.0.0.1 .. 127.0.0.sources */
};

typedef struct {
    void (*on_open)(ws_conn_t *c);                          /* handshake accepted, state JOINING */
    void (*on_text)(ws_conn_t *c, const char *s, size_t n); /* one whole text message */
    void (*on_bytes)(ws_conn_t *c, size_t n);               /* n bytes received (handshake included) */
    void (*on_close_frame)(ws_conn_t *c, int code);         /* the server's close frame (1005: no code); may be NULL */
    void (*on_fail)(ws_conn_t *c, const char *why);         /* must end with ws_close(c) */
} ws_events_t;

/* Creates the epoll set; dies on failure. */
void ws_init(const ws_target_t *target, const ws_events_t *ev);

/* Starts a non-blocking connect to target (NULL: the default target) from source address (src_idx mod
 * the target's sources) on a zeroed c.  NULL when under way; else why it failed: with c->fd < 0
 * nothing was opened, else the caller must close it (on_fail is not called here). */
const char *ws_connect(ws_conn_t *c, int src_idx, const ws_target_t *target);

/* Sends one masked frame (buffered if the socket is full); a send error calls on_fail. */
void ws_send(ws_conn_t *c, int opcode, const void *data, size_t n);
/* Sends one text message: a text frame, or what ws_set_text_out() installed (a framing, sio.h). */
void ws_text(ws_conn_t *c, const char *s, size_t n);
void ws_set_text_out(void (*out)(ws_conn_t *c, const char *s, size_t n));

/* Closes the socket and frees the buffers, without any callback; c becomes CLOSED. */
void ws_close(ws_conn_t *c);

/* Waits up to timeout_us (< 0: not at all) and serves every ready connection. */
void ws_poll(int64_t timeout_us);

/* pings answered so far */
uint64_t ws_pings(void);

#endif
