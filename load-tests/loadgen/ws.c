/* ws: the WebSocket client (contracts in ws.h). */
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base.h"
#include "measure.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_MSG (64u << 20)

static int ep = -1;
static const ws_target_t *tgt;
static ws_events_t evs_cb;
static uint64_t pings;
static uint8_t rx[1 << 18];

void ws_init(const ws_target_t *target, const ws_events_t *ev)
{
    tgt = target;
    evs_cb = *ev;
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
}

uint64_t ws_pings(void) { return pings; }

static void set_events(ws_conn_t *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

void ws_close(ws_conn_t *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = CS_CLOSED;
    free(c->rbuf);
    free(c->mbuf);
    free(c->wbuf);
    c->rbuf = c->mbuf = c->wbuf = NULL;
    c->rlen = c->rcap = c->mlen = c->mcap = c->wlen = c->wcap = 0;
}

static void fail(ws_conn_t *c, const char *why) { evs_cb.on_fail(c, why); }

static void conn_write(ws_conn_t *c, const uint8_t *p, size_t n)
{
    if (c->state == CS_CLOSED) return;
    if (c->wlen == 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                fail(c, "send_error");
                return;
            }
            w = 0;
        }
        p += w;
        n -= (size_t)w;
        if (n == 0) return;
    }
    buf_reserve(&c->wbuf, &c->wcap, c->wlen + n);
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += (uint32_t)n;
    if (!c->want_out) {
        c->want_out = 1;
        set_events(c, EPOLLIN | EPOLLOUT);
    }
}

static void conn_flush(ws_conn_t *c)
{
    while (c->wlen) {
        ssize_t w = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            fail(c, "send_error");
            return;
        }
        memmove(c->wbuf, c->wbuf + w, c->wlen - (size_t)w);
        c->wlen -= (uint32_t)w;
    }
    if (c->want_out) {
        c->want_out = 0;
        set_events(c, EPOLLIN);
    }
}

/* a masked client frame */
void ws_send(ws_conn_t *c, int opcode, const void *data, size_t n)
{
    uint8_t stackbuf[2048], *buf = stackbuf;
    size_t total = n + 14;
    if (total > sizeof stackbuf) {
        buf = malloc(total);
        if (!buf) die("out of memory");
    }
    size_t h = 0;
    buf[h++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        buf[h++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        buf[h++] = 0x80 | 126;
        buf[h++] = (uint8_t)(n >> 8);
        buf[h++] = (uint8_t)n;
    } else {
        buf[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) buf[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint64_t r = rnd64();
    uint8_t mk[4];
    memcpy(mk, &r, 4);
    memcpy(buf + h, mk, 4);
    h += 4;
    const uint8_t *src = data;
    for (size_t i = 0; i < n; i++) buf[h + i] = src[i] ^ mk[i & 3];
    conn_write(c, buf, h + n);
    if (buf != stackbuf) free(buf);
}

static void (*text_out)(ws_conn_t *c, const char *s, size_t n);

void ws_set_text_out(void (*out)(ws_conn_t *c, const char *s, size_t n)) { text_out = out; }

void ws_text(ws_conn_t *c, const char *s, size_t n)
{
    if (text_out) text_out(c, s, n);
    else ws_send(c, 1, s, n);
}

static bool handle_frame(ws_conn_t *c, bool fin, int opcode, uint8_t *pl, size_t n)
{
    switch (opcode) {
    case 0x9: /* ping */
        pings++;
        ws_send(c, 0xA, pl, n);
        return true;
    case 0xA: return true;
    case 0x8: {
        char name[32];
        int code = n >= 2 ? (pl[0] << 8 | pl[1]) : 1005;
        snprintf(name, sizeof name, "close_%d", code);
        if (evs_cb.on_close_frame) evs_cb.on_close_frame(c, code);
        uint8_t cb[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        if (code != 1005) ws_send(c, 0x8, cb, 2);
        else ws_send(c, 0x8, NULL, 0);
        fail(c, name);
        return false;
    }
    case 0x1:
    case 0x2:
        if (c->in_frag) {
            fail(c, "protocol_new_message_inside_fragmented");
            return false;
        }
        if (fin) {
            if (opcode == 0x2) err_str("binary_frame");
            else evs_cb.on_text(c, (const char *)pl, n);
            return c->state != CS_CLOSED;
        }
        c->in_frag = 1;
        c->mop = (uint8_t)opcode;
        c->mlen = 0;
        /* fallthrough */
    case 0x0:
        if (!c->in_frag) {
            fail(c, "protocol_unexpected_continuation");
            return false;
        }
        if ((size_t)c->mlen + n > MAX_MSG) {
            fail(c, "message_too_big");
            return false;
        }
        buf_reserve(&c->mbuf, &c->mcap, c->mlen + n);
        memcpy(c->mbuf + c->mlen, pl, n);
        c->mlen += (uint32_t)n;
        if (fin) {
            c->in_frag = 0;
            if (c->mop == 0x2) err_str("binary_frame");
            else evs_cb.on_text(c, (const char *)c->mbuf, c->mlen);
            if (c->state == CS_CLOSED) return false;
            if (c->mcap > 65536) {
                free(c->mbuf);
                c->mbuf = NULL;
                c->mcap = 0;
            }
            c->mlen = 0;
        }
        return true;
    default: fail(c, "protocol_bad_opcode"); return false;
    }
}

static void ws_accept_for(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char buf[64];
    unsigned char dig[SHA_DIGEST_LENGTH];
    size_t kl = strlen(key);
    memcpy(buf, key, kl);
    memcpy(buf + kl, guid, sizeof guid - 1);
    SHA1((unsigned char *)buf, kl + sizeof guid - 1, dig);
    EVP_EncodeBlock((unsigned char *)out, dig, SHA_DIGEST_LENGTH);
}

/* returns bytes consumed */
static size_t process_bytes(ws_conn_t *c, uint8_t *p, size_t len)
{
    size_t off = 0;
    if (c->state == CS_HS) {
        uint8_t *e = memmem(p, len, "\r\n\r\n", 4);
        if (!e) {
            if (len > 16384) fail(c, "handshake_too_long");
            return 0;
        }
        size_t hl = (size_t)(e - p) + 4;
        if (len < 12 || memcmp(p, "HTTP/1.1 101", 12)) {
            char name[48];
            snprintf(name, sizeof name, "handshake_http_%.3s", len >= 12 ? (char *)p + 9 : "???");
            fail(c, name);
            return len;
        }
        char expect[29] = {0};
        ws_accept_for(c->key, expect);
        /* case-insensitive header search */
        bool ok = false;
        for (size_t i = 0; i + 22 < hl; i++) {
            if ((p[i] == 's' || p[i] == 'S') && !strncasecmp((char *)p + i, "sec-websocket-accept:", 21)) {
                const char *v = (char *)p + i + 21;
                while (*v == ' ') v++;
                ok = !strncmp(v, expect, 28);
                break;
            }
        }
        if (!ok) {
            fail(c, "handshake_bad_accept");
            return len;
        }
        c->state = CS_JOINING;
        evs_cb.on_open(c);
        off = hl;
    }
    while (len - off >= 2) {
        uint8_t b0 = p[off], b1 = p[off + 1];
        uint64_t plen = b1 & 0x7f;
        size_t h = 2;
        if (plen == 126) {
            if (len - off < 4) break;
            plen = (uint64_t)p[off + 2] << 8 | p[off + 3];
            h = 4;
        } else if (plen == 127) {
            if (len - off < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = plen << 8 | p[off + 2 + i];
            h = 10;
        }
        bool masked = b1 & 0x80;
        if (masked) h += 4;
        if (len - off < h) break;
        if (plen > MAX_MSG) {
            fail(c, "frame_too_big");
            return len;
        }
        if (len - off - h < plen) break;
        uint8_t *pl = p + off + h;
        if (masked) {
            uint8_t *mk = pl - 4;
            for (uint64_t i = 0; i < plen; i++) pl[i] ^= mk[i & 3];
        }
        if ((b0 & 0x70) != 0) {
            fail(c, "protocol_rsv_bits");
            return len;
        }
        if (!handle_frame(c, b0 & 0x80, b0 & 0x0f, pl, (size_t)plen) || c->state == CS_CLOSED) return len;
        off += h + (size_t)plen;
    }
    return off;
}

static void on_readable(ws_conn_t *c)
{
    for (int iter = 0; iter < 4 && c->state != CS_CLOSED; iter++) {
        uint8_t *dst;
        size_t room;
        if (c->rlen) {
            buf_reserve(&c->rbuf, &c->rcap, (size_t)c->rlen + 65536);
            dst = c->rbuf + c->rlen;
            room = c->rcap - c->rlen;
        } else {
            dst = rx;
            room = sizeof rx;
        }
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            fail(c, errno == ECONNRESET ? "disconnect_reset" : "recv_error");
            return;
        }
        if (n == 0) {
            fail(c, "disconnect_eof");
            return;
        }
        evs_cb.on_bytes(c, (size_t)n);
        uint8_t *base;
        size_t len;
        if (c->rlen) {
            c->rlen += (uint32_t)n;
            base = c->rbuf;
            len = c->rlen;
        } else {
            base = dst;
            len = (size_t)n;
        }
        size_t used = process_bytes(c, base, len);
        if (c->state == CS_CLOSED) return;
        size_t left = len - used;
        if (left) {
            if (base != c->rbuf) {
                buf_reserve(&c->rbuf, &c->rcap, left);
                memcpy(c->rbuf, base + used, left);
            } else if (used) {
                memmove(c->rbuf, c->rbuf + used, left);
            }
        } else if (c->rcap > 65536) {
            free(c->rbuf);
            c->rbuf = NULL;
            c->rcap = 0;
        }
        c->rlen = (uint32_t)left;
        if ((size_t)n < room) return;
    }
}

static void on_connected(ws_conn_t *c)
{
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        char name[48];
        snprintf(name, sizeof name, "connect_%s", err == ECONNREFUSED ? "refused" : err == ETIMEDOUT ? "timeout" : "error");
        fail(c, name);
        return;
    }
    uint8_t raw[16];
    uint64_t a = rnd64(), b = rnd64();
    memcpy(raw, &a, 8);
    memcpy(raw + 8, &b, 8);
    EVP_EncodeBlock((unsigned char *)c->key, raw, 16);
    char req[1024];
    const ws_target_t *t = c->tgt;
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: cojam.v1\r\n"
                     "%s%s%s\r\n",
                     t->path, t->host, t->port, c->key, t->origin ? "Origin: " : "", t->origin ? t->origin : "", t->origin ? "\r\n" : "");
    c->state = CS_HS;
    c->want_out = 0;
    set_events(c, EPOLLIN);
    conn_write(c, (uint8_t *)req, (size_t)n);
}

const char *ws_connect(ws_conn_t *c, int src_idx, const ws_target_t *target)
{
    const ws_target_t *t = c->tgt = target ? target : tgt;
    c->fd = -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno == EMFILE || errno == ENFILE ? "socket_emfile" : "socket_error";
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(src_idx % t->sources));
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        close(fd);
        return "bind_error";
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
    inet_pton(AF_INET, t->host, &dst.sin_addr);
    c->fd = fd;
    c->state = CS_TCP;
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
        return errno == EADDRNOTAVAIL ? "connect_addrnotavail" : "connect_error";
    return NULL;
}

/* --------------------------------------------------------- event loop */

void ws_poll(int64_t timeout_us)
{
    static struct epoll_event ready[1024];
    struct timespec ts = {.tv_sec = timeout_us / 1000000, .tv_nsec = (timeout_us % 1000000) * 1000};
    if (timeout_us < 0) ts.tv_sec = ts.tv_nsec = 0;
    int n = epoll_pwait2(ep, ready, 1024, &ts, NULL);
    if (n < 0) {
        if (errno == EINTR) return;
        die("epoll_pwait2: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
        ws_conn_t *c = ready[i].data.ptr;
        uint32_t ev = ready[i].events;
        if (c->state == CS_CLOSED) continue;
        if (c->state == CS_TCP) {
            if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
            continue;
        }
        if (ev & EPOLLIN) on_readable(c);
        if (c->state == CS_CLOSED) continue;
        if (ev & EPOLLOUT) conn_flush(c);
        if ((ev & (EPOLLERR | EPOLLHUP)) && !(ev & EPOLLIN)) fail(c, "disconnect_hup");
    }
}
