/*
 * loadgen — cojam WebSocket load generator.
 *
 * One process, one thread, epoll.  A minimal RFC 6455 client (HTTP upgrade with
 * Sec-WebSocket-Key/Accept check, masked client frames, unmasked server frames
 * with 7/16/64-bit lengths, fragmentation, ping->pong, close), N connections
 * spread over several 127.0.0.x source addresses.
 *
 * Scenarios (see load-tests/README.md):
 *   jam-vote   (default) 50 ideas, 10% of the clients vote at a fixed total rate;
 *              vote-to-screen latency measured for EVERY client and every vote.
 *   idea-storm clients post ideas at a fixed total rate; same measure.
 *   join-storm N clients connect as fast as allowed; time to all joined.
 *   resume-storm N clients join, all drop at once, writer sessions make the jam busy
 *              while they are away, then all rejoin with token + last_event_id; time
 *              until every client has caught up to the stream's last id, resumed vs
 *              snapshot, bytes and frames per client, chain checks, a sampled check of
 *              the clients' state against a fresh snapshot.
 *
 * Measuring: every write is stamped at send.  Its ack carries the Redis event id.
 * Each client keeps the highest "to" it has seen (read from the update frame with a
 * prefix scan) and a small ring of (to, receive time).  Acked writes are kept in a
 * list sorted by event id; each client has a cursor into it.  A write's effect is
 * visible to a client at the receive time of the first update whose to >= its id.
 * Acks and updates arrive on different sockets, so an ack can be read after an
 * update that already covers it: cursors therefore only advance over the "settled"
 * prefix of the list (ids below a watermark that no outstanding write can get,
 * derived from the send wall-clock of the oldest outstanding write, since a stream
 * id's ms part is Redis' clock at XADD, which is later than the send) and take the
 * receive time from the ring.  O(1) amortised per sample.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ------------------------------------------------------------------ time */

static inline uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t g_t0; /* monotonic start, µs */

static double since_s(uint64_t t) { return (double)(t - g_t0) / 1e6; }

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "[%6.2fs] ", since_s(now_us()));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "loadgen: fatal: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* ------------------------------------------------------------ random */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static inline uint64_t rnd64(void)
{
    uint64_t x = g_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g_rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* ----------------------------------------------------------- event ids */

typedef struct {
    uint64_t ms, seq;
} evid_t;

static inline int evid_cmp(evid_t a, evid_t b)
{
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}

/* "<ms>-<seq>" (digits only) */
static bool evid_parse(const char *s, size_t n, evid_t *out)
{
    size_t i = 0;
    uint64_t ms = 0, seq = 0;
    if (n == 0 || n > 41) return false;
    for (; i < n && s[i] != '-'; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        ms = ms * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0 || i >= n - 1 || s[i] != '-') return false;
    for (i++; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        seq = seq * 10 + (uint64_t)(s[i] - '0');
    }
    out->ms = ms;
    out->seq = seq;
    return true;
}


/* ----------------------------------------------------------- histogram */
/* HDR-like: exact below 128, then 64 sub-buckets per power of two (<1.6% error). */
#define H_SUBBITS 6
#define H_SUB (1u << H_SUBBITS)
#define H_LINEAR (2u * H_SUB)
#define H_BUCKETS (H_LINEAR + 58u * H_SUB)

typedef struct {
    uint64_t c[H_BUCKETS];
    uint64_t n, max, min;
    double sum;
} hist_t;

static inline unsigned h_idx(uint64_t v)
{
    if (v < H_LINEAR) return (unsigned)v;
    unsigned m = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned idx = H_LINEAR + (m - (H_SUBBITS + 1)) * H_SUB + (unsigned)((v >> (m - H_SUBBITS)) & (H_SUB - 1));
    return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

static uint64_t h_hi(unsigned idx) /* highest value mapping to idx */
{
    if (idx < H_LINEAR) return idx;
    unsigned k = idx - H_LINEAR;
    unsigned m = k / H_SUB + H_SUBBITS + 1, sub = k % H_SUB;
    uint64_t lo = ((uint64_t)(H_SUB + sub)) << (m - H_SUBBITS);
    return lo + (1ull << (m - H_SUBBITS)) - 1;
}

static inline void h_add(hist_t *h, uint64_t v)
{
    h->c[h_idx(v)]++;
    h->n++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
    if (h->n == 1 || v < h->min) h->min = v;
}

static void h_reset(hist_t *h) { memset(h, 0, sizeof *h); }

static uint64_t h_pct(const hist_t *h, double p)
{
    if (!h->n) return 0;
    uint64_t target = (uint64_t)ceil(p / 100.0 * (double)h->n);
    if (target < 1) target = 1;
    uint64_t acc = 0;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        acc += h->c[i];
        if (acc >= target) {
            uint64_t v = h_hi(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ------------------------------------------------------------ options */

enum { SC_VOTE, SC_IDEA, SC_JOIN, SC_RESUME };
static const char *sc_name[] = {"jam-vote", "idea-storm", "join-storm", "resume-storm"};

static struct {
    char ws_host[64];
    int ws_port;
    char ws_path[128];
    char http_host[64];
    int http_port;
    const char *admin_token;
    int clients;
    double rate, duration, warmup, drain;
    int scenario;
    int sources;
    const char *json;
    double connect_rate;
    int max_inflight;
    double connect_timeout;
    double writers_frac;
    int ideas;
    int server_pid, redis_pid;
    char redis_host[64];
    int redis_port;
    double deadline;
    double idle_settle;
    double ack_timeout;
    const char *origin;
    const char *label;
    const char *mark;
    int quiet;
    /* resume-storm */
    int writers, seed_items, away_events, verify_every;
    double away_seconds, post_frac, catchup_timeout, gate_timeout;
    const char *resume_gate;
} opt;

/* ------------------------------------------------------------- errors */

typedef struct {
    char name[48];
    uint64_t n;
} errc_t;
static errc_t g_err[128];
static int g_nerr;
static uint64_t g_err_total;

static void err_count(const char *name, size_t len)
{
    if (len >= sizeof g_err[0].name) len = sizeof g_err[0].name - 1;
    g_err_total++;
    for (int i = 0; i < g_nerr; i++)
        if (strlen(g_err[i].name) == len && !memcmp(g_err[i].name, name, len)) {
            g_err[i].n++;
            return;
        }
    if (g_nerr < (int)(sizeof g_err / sizeof g_err[0])) {
        memcpy(g_err[g_nerr].name, name, len);
        g_err[g_nerr].name[len] = 0;
        g_err[g_nerr++].n = 1;
    }
}
static void err_str(const char *s) { err_count(s, strlen(s)); }

/* -------------------------------------------------------- connections */

enum { CS_IDLE, CS_TCP, CS_HS, CS_JOINING, CS_JOINED, CS_CLOSED };
enum { ROLE_CITIZEN, ROLE_MODERATOR, ROLE_WRITER, ROLE_SCREEN }; /* writer, screen: resume-storm only */

#define RING 32
typedef struct {
    evid_t to;
    uint64_t t;
} rent_t;

typedef struct conn {
    int fd;
    uint8_t state, role, got_welcome, want_out;
    uint8_t rhead, rcount, pending, in_frag;
    uint8_t mop, dropped_ring, writer, pad_;
    uint32_t id;
    uint32_t cursor;
    uint64_t t_start, t_joined;
    uint64_t voted_mask;
    uint64_t samples;
    evid_t last_to;
    char key[25];
    uint8_t *rbuf;
    uint32_t rlen, rcap;
    uint8_t *mbuf;
    uint32_t mlen, mcap;
    uint8_t *wbuf;
    uint32_t wlen, wcap;
    rent_t ring[RING];
} conn_t;

static conn_t *g_conns; /* clients 0..N-1, moderator at N */
static int g_inflight;  /* citizen connections between connect() and snapshot */
static int g_nconns;
static int g_ep;
static uint8_t g_rx[1 << 18];

/* counters */
static uint64_t c_launched, c_joined, c_failed, c_closed_after_join, c_frames_in, c_updates, c_bytes_in, c_gaps,
    c_resyncs, c_ring_overflow, c_late_unmeasurable, c_fallback_parse, c_pings, c_snapshots_big;
static hist_t g_h_connect;

/* -------------------------------------------------------- writes (votes/posts) */

enum { W_PENDING, W_ACKED, W_ERROR, W_TIMEOUT };
typedef struct {
    uint32_t conn;
    uint16_t item;
    uint8_t kind; /* 0 vote, 1 unvote, 2 post */
    uint8_t state;
    uint8_t measured;
    uint64_t t_send;  /* monotonic µs */
    uint64_t ms_send; /* realtime ms */
    evid_t id;
} wr_t;

static wr_t *g_w;
static uint32_t g_nw, g_capw;
static uint32_t g_first_out; /* first possibly pending write */

typedef struct {
    evid_t id;
    uint64_t t_send;
    uint32_t measured;
} lent_t;
static lent_t *g_L;
static uint32_t g_nL, g_capL, g_settled; /* L[0..settled) are final */
static evid_t g_watermark;               /* no future ack can have an id below this */

static hist_t g_h_ack, g_h_lat, g_h_lat_sec, g_h_ack_sec;
static uint64_t g_w_sent_meas, g_w_acked_meas, g_w_err_meas, g_w_acked_total, g_w_sent_total, g_w_skipped;
static uint64_t g_samples_total;

/* moderator / jam */
static char g_code[32], g_secret[128];
static int g_items[64];
static int g_nitems;

/* ------------------------------------------------------------ helpers */

static void set_events(conn_t *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void buf_reserve(uint8_t **b, uint32_t *cap, size_t need)
{
    if (need <= *cap) return;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need) nc *= 2;
    uint8_t *nb = realloc(*b, nc);
    if (!nb) die("out of memory");
    *b = nb;
    *cap = (uint32_t)nc;
}

static void conn_close(conn_t *c, const char *why)
{
    if (c->state == CS_CLOSED || c->state == CS_IDLE) return;
    if (why) err_str(why);
    if (c->state == CS_JOINED) c_closed_after_join++;
    else if (c->role == ROLE_CITIZEN) {
        c_failed++;
        g_inflight--;
    }
    epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = CS_CLOSED;
    free(c->rbuf);
    free(c->mbuf);
    free(c->wbuf);
    c->rbuf = c->mbuf = c->wbuf = NULL;
    c->rlen = c->rcap = c->mlen = c->mcap = c->wlen = c->wcap = 0;
}

static void conn_write(conn_t *c, const uint8_t *p, size_t n)
{
    if (c->state == CS_CLOSED) return;
    if (c->wlen == 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_close(c, "send_error");
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

static void conn_flush(conn_t *c)
{
    while (c->wlen) {
        ssize_t w = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            conn_close(c, "send_error");
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
static void ws_send(conn_t *c, int opcode, const void *data, size_t n)
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

static void ws_text(conn_t *c, const char *s, size_t n) { ws_send(c, 1, s, n); }

/* find "key":"value" at or after p (within end), returns value pointer/len */
static bool scan_str(const char *p, const char *end, const char *key, const char **val, size_t *vlen)
{
    char pat[48];
    int pl = snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *k = memmem(p, (size_t)(end - p), pat, (size_t)pl);
    if (!k) return false;
    const char *v = k + pl, *q = v;
    while (q < end && *q != '"') {
        if (*q == '\\') q++;
        q++;
    }
    if (q >= end) return false;
    *val = v;
    *vlen = (size_t)(q - v);
    return true;
}

static bool scan_int(const char *p, const char *end, const char *key, long *out)
{
    char pat[48];
    int pl = snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *k = memmem(p, (size_t)(end - p), pat, (size_t)pl);
    if (!k) return false;
    const char *v = k + pl;
    while (v < end && *v == ' ') v++;
    if (v >= end || (*v != '-' && (*v < '0' || *v > '9'))) return false;
    *out = strtol(v, NULL, 10);
    return true;
}

/* ------------------------------------------------------ sample engine */

static void L_insert(evid_t id, uint64_t t_send, bool measured)
{
    if (g_settled > 0 && evid_cmp(id, g_L[g_settled - 1].id) <= 0) {
        /* would land inside the settled prefix (clock anomaly): cannot be measured exactly */
        c_late_unmeasurable++;
        if (measured) g_w_acked_meas--; /* excluded from the expected count too */
        return;
    }
    if (g_nL == g_capL) {
        g_capL = g_capL ? g_capL * 2 : 4096;
        g_L = realloc(g_L, sizeof *g_L * g_capL);
        if (!g_L) die("out of memory");
    }
    uint32_t i = g_nL;
    while (i > g_settled && evid_cmp(g_L[i - 1].id, id) > 0) {
        g_L[i] = g_L[i - 1];
        i--;
    }
    g_L[i].id = id;
    g_L[i].t_send = t_send;
    g_L[i].measured = measured;
    g_nL++;
}

static void update_watermark(void)
{
    while (g_first_out < g_nw && g_w[g_first_out].state != W_PENDING) g_first_out++;
    uint64_t ms = g_first_out < g_nw ? g_w[g_first_out].ms_send : real_ms();
    ms = ms > 5 ? ms - 5 : 0; /* margin for clock rounding */
    evid_t w = {ms, 0};
    if (evid_cmp(w, g_watermark) > 0) g_watermark = w;
    while (g_settled < g_nL && evid_cmp(g_L[g_settled].id, g_watermark) < 0) g_settled++;
}

/* receive time of the first update with to >= id that this client saw */
static inline uint64_t ring_time(conn_t *c, evid_t id)
{
    unsigned n = c->rcount, newest = (unsigned)(c->rhead + RING - 1) % RING;
    unsigned k = newest, steps = 0;
    /* walk back while the previous entry still covers id */
    while (steps + 1 < n) {
        unsigned prev = (k + RING - 1) % RING;
        if (evid_cmp(c->ring[prev].to, id) < 0) break;
        k = prev;
        steps++;
    }
    if (steps + 1 == n && c->dropped_ring && evid_cmp(c->ring[k].to, id) >= 0) c_ring_overflow++;
    return c->ring[k].t;
}

static inline void advance(conn_t *c)
{
    while (c->cursor < g_settled) {
        const lent_t *e = &g_L[c->cursor];
        if (evid_cmp(e->id, c->last_to) > 0) break;
        if (e->measured) {
            uint64_t t = c->rcount ? ring_time(c, e->id) : now_us();
            uint64_t d = t > e->t_send ? t - e->t_send : 0;
            h_add(&g_h_lat, d);
            h_add(&g_h_lat_sec, d);
            c->samples++;
            g_samples_total++;
        }
        c->cursor++;
    }
}

static uint32_t g_last_sweep_settled;
static void sweep_all(void)
{
    g_last_sweep_settled = g_settled;
    for (int i = 0; i < opt.clients; i++) {
        conn_t *c = &g_conns[i];
        if (c->state == CS_JOINED && c->cursor < g_settled) advance(c);
    }
}

static void ring_push(conn_t *c, evid_t to, uint64_t t)
{
    c->ring[c->rhead] = (rent_t){to, t};
    c->rhead = (uint8_t)((c->rhead + 1) % RING);
    if (c->rcount < RING) c->rcount++;
    else c->dropped_ring = 1;
    c->last_to = to;
}

/* ------------------------------------------------------ message handling */

static void moderator_on_ack(conn_t *c, const char *op, size_t oplen, const char *s, const char *end);
static void moderator_on_error(conn_t *c, const char *op, size_t oplen, const char *code, size_t codelen);

/* resume-storm hooks (the scenario's code is further down); g_resume_phase is 0 in every other scenario */
static int g_resume_phase;       /* 1 while the clients reconnect and catch up */
static uint8_t *g_vf_on;         /* resume-storm: clients whose state is checked (NULL otherwise) */
static bool rs_mine(const conn_t *c);
static void rs_on_update(conn_t *c, evid_t prev, evid_t to, uint64_t t);
static void rs_on_snapshot(conn_t *c, const char *s, size_t n, uint64_t t);
static void rs_on_welcome(conn_t *c, const char *s, const char *end, uint64_t t);
static void rs_on_error(conn_t *c);
static void wr_on_ack(conn_t *c, const char *op, size_t oplen, const char *s, const char *end);
static void wr_on_error(conn_t *c, const char *op, size_t oplen, const char *code, size_t codelen);
static void vf_feed(conn_t *c, const char *s, size_t n, bool snapshot);
static void rs_count_frame(const conn_t *c);
static void rs_count_bytes(const conn_t *c, uint64_t n);
static void rs_close_code(const conn_t *c, int code);

static void on_update(conn_t *c, const char *s, size_t n, uint64_t t)
{
    const char *end = s + n, *p = s + 17; /* after {"type":"update", */
    const char *v;
    size_t vl;
    evid_t prev, to;
    /* the server guarantees type, prev, from, to first: cheap scans from the front */
    if (!scan_str(p, end < p + 160 ? end : p + 160, "prev", &v, &vl) || !evid_parse(v, vl, &prev)) goto slow;
    p = v + vl;
    if (!scan_str(p, end < p + 120 ? end : p + 120, "to", &v, &vl) || !evid_parse(v, vl, &to)) goto slow;
    goto have;
slow:
    c_fallback_parse++;
    if (!scan_str(s, end, "prev", &v, &vl) || !evid_parse(v, vl, &prev)) goto bad;
    if (!scan_str(s, end, "to", &v, &vl) || !evid_parse(v, vl, &to)) goto bad;
have:
    c_updates++;
    if (g_vf_on) vf_feed(c, s, n, false);
    if (g_resume_phase && rs_mine(c)) {
        rs_on_update(c, prev, to, t);
        return;
    }
    if (evid_cmp(to, c->last_to) <= 0) return; /* clock/stats-only update, or overlap */
    if (evid_cmp(c->last_to, prev) < 0) {
        c_gaps++;
        ws_text(c, "{\"type\":\"sync\"}", 15);
    }
    ring_push(c, to, t);
    if (c->role == ROLE_CITIZEN && c->cursor < g_settled) advance(c);
    return;
bad:
    err_str("bad_update_frame");
}

static void on_ack(conn_t *c, const char *s, const char *end, uint64_t t)
{
    const char *op, *ev;
    size_t oplen, evlen;
    if (!scan_str(s, end, "op", &op, &oplen)) {
        err_str("ack_without_op");
        return;
    }
    if (c->role == ROLE_MODERATOR) {
        moderator_on_ack(c, op, oplen, s, end);
        return;
    }
    if (c->role == ROLE_WRITER) {
        wr_on_ack(c, op, oplen, s, end);
        return;
    }
    if (oplen < 2 || (op[0] != 'w')) {
        err_str("ack_unknown_op");
        return;
    }
    uint32_t k = (uint32_t)strtoul(op + 1, NULL, 10);
    if (k >= g_nw || g_w[k].conn != c->id) {
        err_str("ack_unknown_op");
        return;
    }
    wr_t *w = &g_w[k];
    c->pending = 0;
    evid_t id;
    if (!scan_str(s, end, "event_id", &ev, &evlen) || !evid_parse(ev, evlen, &id)) {
        err_str("ack_without_event_id");
        if (w->state == W_PENDING) w->state = W_ERROR;
        return;
    }
    if (w->state == W_TIMEOUT) {
        err_str("ack_after_timeout");
        return;
    }
    if (w->state != W_PENDING) {
        err_str("duplicate_ack");
        return;
    }
    w->state = W_ACKED;
    w->id = id;
    g_w_acked_total++;
    uint64_t d = t - w->t_send;
    if (w->measured) {
        g_w_acked_meas++;
        h_add(&g_h_ack, d);
    }
    h_add(&g_h_ack_sec, d);
    L_insert(id, w->t_send, w->measured);
    if (k == g_first_out) update_watermark();
}

static void on_error_msg(conn_t *c, const char *s, const char *end)
{
    const char *op = NULL, *code;
    size_t oplen = 0, codelen;
    if (!scan_str(s, end, "code", &code, &codelen)) {
        code = "error_without_code";
        codelen = strlen(code);
    }
    bool has_op = scan_str(s, end, "op", &op, &oplen);
    if (c->role == ROLE_MODERATOR) {
        moderator_on_error(c, op, oplen, code, codelen);
        return;
    }
    if (c->role == ROLE_WRITER) {
        wr_on_error(c, op, oplen, code, codelen);
        return;
    }
    err_count(code, codelen);
    if (g_resume_phase && rs_mine(c)) {
        rs_on_error(c);
        return;
    }
    if (has_op && oplen > 1 && op[0] == 'w') {
        uint32_t k = (uint32_t)strtoul(op + 1, NULL, 10);
        if (k < g_nw && g_w[k].conn == c->id && g_w[k].state == W_PENDING) {
            wr_t *w = &g_w[k];
            w->state = W_ERROR;
            if (w->measured) g_w_err_meas++;
            c->pending = 0;
            if (w->kind == 0) c->voted_mask &= ~(1ull << w->item);
            else if (w->kind == 1) c->voted_mask |= 1ull << w->item;
            if (k == g_first_out) update_watermark();
        }
    }
}

static void on_snapshot(conn_t *c, const char *s, size_t n, uint64_t t)
{
    const char *end = s + n, *v;
    size_t vl;
    evid_t id = {0, 0};
    if (g_vf_on) vf_feed(c, s, n, true);
    if (g_resume_phase && rs_mine(c)) {
        rs_on_snapshot(c, s, n, t);
        return;
    }
    if (n > 65535) c_snapshots_big++;
    if (scan_str(s, end, "event_id", &v, &vl)) evid_parse(v, vl, &id);
    else err_str("snapshot_without_event_id");
    if (c->state == CS_JOINING) {
        c->state = CS_JOINED;
        c->t_joined = t;
        c->last_to = id;
        if (c->role == ROLE_CITIZEN) {
            c_joined++;
            g_inflight--;
            h_add(&g_h_connect, t - c->t_start);
        }
        return;
    }
    /* a resync snapshot: the client now sees everything up to id */
    c_resyncs++;
    if (evid_cmp(id, c->last_to) > 0) {
        ring_push(c, id, t);
        if (c->role == ROLE_CITIZEN && c->cursor < g_settled) advance(c);
    }
}

static void on_message(conn_t *c, const char *s, size_t n)
{
    uint64_t t = now_us();
    const char *end = s + n, *ty;
    size_t tl;
    c_frames_in++;
    if (g_resume_phase) rs_count_frame(c);
    if (n > 17 && !memcmp(s, "{\"type\":\"update\",", 17)) {
        on_update(c, s, n, t);
        return;
    }
    if (n > 9 && !memcmp(s, "{\"type\":\"", 9)) {
        ty = s + 9;
        const char *q = memchr(ty, '"', (size_t)(end - ty));
        if (!q) goto bad;
        tl = (size_t)(q - ty);
    } else if (!scan_str(s, end, "type", &ty, &tl)) {
        goto bad;
    }
#define IS(lit) (tl == sizeof(lit) - 1 && !memcmp(ty, lit, tl))
    if (IS("update")) on_update(c, s, n, t);
    else if (IS("ack")) on_ack(c, s, end, t);
    else if (IS("snapshot")) on_snapshot(c, s, n, t);
    else if (IS("welcome")) {
        c->got_welcome = 1;
        if (opt.scenario == SC_RESUME) rs_on_welcome(c, s, end, t);
    }
    else if (IS("error")) on_error_msg(c, s, end);
    else if (IS("pong") || IS("status")) {
    } else err_str("unknown_server_message");
#undef IS
    return;
bad:
    err_str("unparsable_server_message");
}

/* ---------------------------------------------------------- framing */

#define MAX_MSG (64u << 20)

static bool handle_frame(conn_t *c, bool fin, int opcode, uint8_t *pl, size_t n)
{
    switch (opcode) {
    case 0x9: /* ping */
        c_pings++;
        ws_send(c, 0xA, pl, n);
        return true;
    case 0xA:
        return true;
    case 0x8: {
        char name[32];
        int code = n >= 2 ? (pl[0] << 8 | pl[1]) : 1005;
        snprintf(name, sizeof name, "close_%d", code);
        if (g_resume_phase) rs_close_code(c, code);
        uint8_t cb[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        if (code != 1005) ws_send(c, 0x8, cb, 2);
        else ws_send(c, 0x8, NULL, 0);
        conn_close(c, name);
        return false;
    }
    case 0x1:
    case 0x2:
        if (c->in_frag) {
            conn_close(c, "protocol_new_message_inside_fragmented");
            return false;
        }
        if (fin) {
            if (opcode == 0x2) err_str("binary_frame");
            else on_message(c, (const char *)pl, n);
            return c->state != CS_CLOSED;
        }
        c->in_frag = 1;
        c->mop = (uint8_t)opcode;
        c->mlen = 0;
        /* fallthrough */
    case 0x0:
        if (!c->in_frag) {
            conn_close(c, "protocol_unexpected_continuation");
            return false;
        }
        if ((size_t)c->mlen + n > MAX_MSG) {
            conn_close(c, "message_too_big");
            return false;
        }
        buf_reserve(&c->mbuf, &c->mcap, c->mlen + n);
        memcpy(c->mbuf + c->mlen, pl, n);
        c->mlen += (uint32_t)n;
        if (fin) {
            c->in_frag = 0;
            if (c->mop == 0x2) err_str("binary_frame");
            else on_message(c, (const char *)c->mbuf, c->mlen);
            if (c->state == CS_CLOSED) return false;
            if (c->mcap > 65536) {
                free(c->mbuf);
                c->mbuf = NULL;
                c->mcap = 0;
            }
            c->mlen = 0;
        }
        return true;
    default:
        conn_close(c, "protocol_bad_opcode");
        return false;
    }
}

static void send_join(conn_t *c);

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
static size_t process_bytes(conn_t *c, uint8_t *p, size_t len)
{
    size_t off = 0;
    if (c->state == CS_HS) {
        uint8_t *e = memmem(p, len, "\r\n\r\n", 4);
        if (!e) {
            if (len > 16384) conn_close(c, "handshake_too_long");
            return 0;
        }
        size_t hl = (size_t)(e - p) + 4;
        if (len < 12 || memcmp(p, "HTTP/1.1 101", 12)) {
            char name[48];
            snprintf(name, sizeof name, "handshake_http_%.3s", len >= 12 ? (char *)p + 9 : "???");
            conn_close(c, name);
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
            conn_close(c, "handshake_bad_accept");
            return len;
        }
        c->state = CS_JOINING;
        send_join(c);
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
            conn_close(c, "frame_too_big");
            return len;
        }
        if (len - off - h < plen) break;
        uint8_t *pl = p + off + h;
        if (masked) {
            uint8_t *mk = pl - 4;
            for (uint64_t i = 0; i < plen; i++) pl[i] ^= mk[i & 3];
        }
        if ((b0 & 0x70) != 0) {
            conn_close(c, "protocol_rsv_bits");
            return len;
        }
        if (!handle_frame(c, b0 & 0x80, b0 & 0x0f, pl, (size_t)plen) || c->state == CS_CLOSED) return len;
        off += h + (size_t)plen;
    }
    return off;
}

static void on_readable(conn_t *c)
{
    for (int iter = 0; iter < 4 && c->state != CS_CLOSED; iter++) {
        uint8_t *dst;
        size_t room;
        if (c->rlen) {
            buf_reserve(&c->rbuf, &c->rcap, (size_t)c->rlen + 65536);
            dst = c->rbuf + c->rlen;
            room = c->rcap - c->rlen;
        } else {
            dst = g_rx;
            room = sizeof g_rx;
        }
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            conn_close(c, errno == ECONNRESET ? "disconnect_reset" : "recv_error");
            return;
        }
        if (n == 0) {
            conn_close(c, "disconnect_eof");
            return;
        }
        c_bytes_in += (uint64_t)n;
        if (g_resume_phase) rs_count_bytes(c, (uint64_t)n);
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

static void on_connected(conn_t *c)
{
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        char name[48];
        snprintf(name, sizeof name, "connect_%s", err == ECONNREFUSED ? "refused" : err == ETIMEDOUT ? "timeout" : "error");
        conn_close(c, name);
        return;
    }
    uint8_t raw[16];
    uint64_t a = rnd64(), b = rnd64();
    memcpy(raw, &a, 8);
    memcpy(raw + 8, &b, 8);
    EVP_EncodeBlock((unsigned char *)c->key, raw, 16);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: cojam.v1\r\n"
                     "%s%s%s\r\n",
                     opt.ws_path, opt.ws_host, opt.ws_port, c->key, opt.origin ? "Origin: " : "",
                     opt.origin ? opt.origin : "", opt.origin ? "\r\n" : "");
    c->state = CS_HS;
    c->want_out = 0;
    set_events(c, EPOLLIN);
    conn_write(c, (uint8_t *)req, (size_t)n);
}

static bool rs_send_join(conn_t *c);

static void send_join(conn_t *c)
{
    char buf[256];
    int n;
    if (opt.scenario == SC_RESUME && rs_send_join(c)) return;
    if (c->role == ROLE_MODERATOR)
        n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"moderator\",\"secret\":\"%s\",\"nickname\":\"mod\"}",
                     g_code, g_secret);
    else
        n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"citizen\",\"nickname\":\"u%u\"}", g_code,
                     c->id);
    ws_text(c, buf, (size_t)n);
}

static bool conn_start(conn_t *c, int idx, int role)
{
    memset(c, 0, sizeof *c);
    c->id = (uint32_t)idx;
    c->role = (uint8_t)role;
    c->t_start = now_us();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err_str(errno == EMFILE || errno == ENFILE ? "socket_emfile" : "socket_error");
        c->state = CS_CLOSED;
        if (role == ROLE_CITIZEN) c_failed++;
        return false;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(idx % opt.sources));
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        err_str("bind_error");
        close(fd);
        c->state = CS_CLOSED;
        if (role == ROLE_CITIZEN) c_failed++;
        return false;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.ws_port)};
    inet_pton(AF_INET, opt.ws_host, &dst.sin_addr);
    c->fd = fd;
    c->state = CS_TCP;
    if (role == ROLE_CITIZEN) g_inflight++;
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &e);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        conn_close(c, errno == EADDRNOTAVAIL ? "connect_addrnotavail" : "connect_error");
        return false;
    }
    if (role == ROLE_CITIZEN) c_launched++;
    return true;
}

/* --------------------------------------------------------- event loop */

static void loop_once(int64_t timeout_us)
{
    static struct epoll_event evs[1024];
    struct timespec ts = {.tv_sec = timeout_us / 1000000, .tv_nsec = (timeout_us % 1000000) * 1000};
    if (timeout_us < 0) ts.tv_sec = ts.tv_nsec = 0;
    int n = epoll_pwait2(g_ep, evs, 1024, &ts, NULL);
    if (n < 0) {
        if (errno == EINTR) return;
        die("epoll_pwait2: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
        conn_t *c = evs[i].data.ptr;
        uint32_t ev = evs[i].events;
        if (c->state == CS_CLOSED) continue;
        if (c->state == CS_TCP) {
            if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
            continue;
        }
        if (ev & EPOLLIN) on_readable(c);
        if (c->state == CS_CLOSED) continue;
        if (ev & EPOLLOUT) conn_flush(c);
        if ((ev & (EPOLLERR | EPOLLHUP)) && !(ev & EPOLLIN)) conn_close(c, "disconnect_hup");
    }
}

/* ----------------------------------------------------------- /proc */

typedef struct {
    uint64_t ticks;
    long rss_kb, hwm_kb;
    bool ok;
} procs_t;

static procs_t proc_read(int pid)
{
    procs_t r = {0, 0, 0, false};
    if (pid <= 0) return r;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return r;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return r;
    p += 2; /* state */
    unsigned long ut = 0, st = 0;
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
        if (field == 14) ut = strtoul(tok, NULL, 10);
        if (field == 15) {
            st = strtoul(tok, NULL, 10);
            break;
        }
    }
    r.ticks = ut + st;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "VmRSS:", 6)) r.rss_kb = strtol(line + 6, NULL, 10);
            if (!strncmp(line, "VmHWM:", 6)) r.hwm_kb = strtol(line + 6, NULL, 10);
        }
        fclose(f);
    }
    r.ok = true;
    return r;
}

/* machine-wide busy jiffies (all CPUs), split into process time (user nice system steal) and irq+softirq
 * time: with IRQ time accounting, softirq work (loopback TCP receive runs there) is charged to no process. */
static uint64_t g_irq_ticks;
static uint64_t machine_busy_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    unsigned long long v[10] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 8) return 0;
    g_irq_ticks = v[5] + v[6];
    return v[0] + v[1] + v[2] + v[7]; /* user nice system steal */
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------- blocking TCP */

static int tcp_connect_blocking(const char *host, int port, double timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = (time_t)timeout_s, .tv_usec = (suseconds_t)((timeout_s - (time_t)timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int g_redis_fd = -1;
static long redis_xlen(void)
{
    if (!opt.redis_port || !g_code[0]) return -1;
    if (g_redis_fd < 0) g_redis_fd = tcp_connect_blocking(opt.redis_host, opt.redis_port, 1.0);
    if (g_redis_fd < 0) return -1;
    char key[96], cmd[160];
    int kl = snprintf(key, sizeof key, "cojam:jam:%s:events", g_code);
    int n = snprintf(cmd, sizeof cmd, "*2\r\n$4\r\nXLEN\r\n$%d\r\n%s\r\n", kl, key);
    if (send(g_redis_fd, cmd, (size_t)n, MSG_NOSIGNAL) != n) goto fail;
    char buf[64];
    ssize_t r = recv(g_redis_fd, buf, sizeof buf - 1, 0);
    if (r <= 1 || buf[0] != ':') goto fail;
    buf[r] = 0;
    return strtol(buf + 1, NULL, 10);
fail:
    close(g_redis_fd);
    g_redis_fd = -1;
    return -1;
}

/* POST /api/jams; returns HTTP status, fills body */
static int http_post(const char *path, const char *body, char *out, size_t outsz)
{
    int fd = tcp_connect_blocking(opt.http_host, opt.http_port, 5.0);
    if (fd < 0) return -1;
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     path, opt.http_host, opt.http_port, opt.admin_token ? opt.admin_token : "", strlen(body), body);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    static char resp[65536];
    size_t got = 0;
    long clen = -1;
    size_t hdr_end = 0;
    for (;;) {
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
        resp[got] = 0;
        if (!hdr_end) {
            char *e = strstr(resp, "\r\n\r\n");
            if (e) {
                hdr_end = (size_t)(e - resp) + 4;
                char *cl = strcasestr(resp, "\r\ncontent-length:");
                if (cl && cl < e) clen = strtol(cl + 17, NULL, 10);
            }
        }
        if (hdr_end && clen >= 0 && got >= hdr_end + (size_t)clen) break;
        if (got >= sizeof resp - 1) break;
    }
    close(fd);
    resp[got] = 0;
    int status = 0;
    if (got < 12 || sscanf(resp, "HTTP/1.%*d %d", &status) != 1) return -1;
    const char *b = hdr_end ? resp + hdr_end : resp + got;
    /* chunked: de-chunk naively */
    char *te = strcasestr(resp, "\r\ntransfer-encoding: chunked");
    size_t o = 0;
    if (te && hdr_end && te < resp + hdr_end) {
        const char *q = b;
        for (;;) {
            long cl = strtol(q, NULL, 16);
            const char *nl = strstr(q, "\r\n");
            if (!nl || cl <= 0) break;
            q = nl + 2;
            if (o + (size_t)cl >= outsz) break;
            memcpy(out + o, q, (size_t)cl);
            o += (size_t)cl;
            q += cl + 2;
            if (q >= resp + got) break;
        }
        out[o] = 0;
    } else {
        snprintf(out, outsz, "%s", b);
    }
    return status;
}

/* --------------------------------------------------------- moderator */

enum { MS_JOINING, MS_STARTING, MS_POSTING, MS_READY, MS_FAILED };
static int g_mod_state;
static int g_mod_next_idea;
static uint64_t g_mod_retry_at;

static void moderator_send_next(conn_t *c)
{
    char buf[256];
    int n;
    if (g_mod_state == MS_STARTING) {
        n = snprintf(buf, sizeof buf, "{\"type\":\"start\",\"op\":\"m-start\"}");
    } else if (g_mod_state == MS_POSTING) {
        if (g_mod_next_idea >= opt.ideas) {
            g_mod_state = MS_READY;
            return;
        }
        n = snprintf(buf, sizeof buf, "{\"type\":\"post\",\"op\":\"m-i%d\",\"kind\":\"idea\",\"text\":\"Load test idea number %d\"}",
                     g_mod_next_idea, g_mod_next_idea + 1);
    } else {
        return;
    }
    ws_text(c, buf, (size_t)n);
}

static void moderator_on_ack(conn_t *c, const char *op, size_t oplen, const char *s, const char *end)
{
    if (oplen == 7 && !memcmp(op, "m-start", 7) && g_mod_state == MS_STARTING) {
        g_mod_state = MS_POSTING;
        moderator_send_next(c);
    } else if (oplen > 3 && !memcmp(op, "m-i", 3) && g_mod_state == MS_POSTING) {
        long item = 0;
        if (!scan_int(s, end, "item", &item) || item <= 0) {
            logf_("moderator: post ack without item");
            g_mod_state = MS_FAILED;
            return;
        }
        if (g_nitems < 64) g_items[g_nitems++] = (int)item;
        g_mod_next_idea++;
        moderator_send_next(c);
    }
}

static void moderator_on_error(conn_t *c, const char *op, size_t oplen, const char *code, size_t codelen)
{
    (void)c;
    if (codelen == 4 && !memcmp(code, "busy", 4)) goto retry;
    if (codelen == 12 && !memcmp(code, "rate_limited", 12)) goto retry;
    if (codelen == 15 && !memcmp(code, "already_started", 15) && g_mod_state == MS_STARTING) {
        g_mod_state = MS_POSTING;
        moderator_send_next(c);
        return;
    }
    logf_("moderator error %.*s (op %.*s)", (int)codelen, code, (int)oplen, op ? op : "");
    g_mod_state = MS_FAILED;
    return;
retry:
    g_mod_retry_at = now_us() + 100000;
}

/* ------------------------------------------------------------ writes */

static void send_write(conn_t *c, bool measured)
{
    char buf[256];
    int n;
    if (g_nw == g_capw) {
        g_capw = g_capw ? g_capw * 2 : 16384;
        g_w = realloc(g_w, sizeof *g_w * g_capw);
        if (!g_w) die("out of memory");
    }
    uint32_t k = g_nw;
    wr_t *w = &g_w[k];
    memset(w, 0, sizeof *w);
    w->conn = c->id;
    w->measured = measured;
    w->state = W_PENDING;
    if (opt.scenario == SC_IDEA) {
        w->kind = 2;
        n = snprintf(buf, sizeof buf, "{\"type\":\"post\",\"op\":\"w%u\",\"kind\":\"idea\",\"text\":\"Idea %u from citizen u%u\"}", k,
                     k, c->id);
    } else {
        uint64_t all = g_nitems >= 64 ? ~0ull : (1ull << g_nitems) - 1;
        uint64_t free_ = all & ~c->voted_mask;
        int slot;
        if (free_) {
            int cnt = __builtin_popcountll(free_), pick = (int)(rnd64() % (uint64_t)cnt);
            uint64_t m = free_;
            while (pick--) m &= m - 1;
            slot = __builtin_ctzll(m);
            w->kind = 0;
            c->voted_mask |= 1ull << slot;
        } else {
            slot = (int)(rnd64() % (uint64_t)g_nitems);
            w->kind = 1;
            c->voted_mask &= ~(1ull << slot);
        }
        w->item = (uint16_t)slot;
        n = snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"op\":\"w%u\",\"item\":%d}", w->kind ? "unvote" : "vote", k, g_items[slot]);
    }
    g_nw++;
    c->pending = 1;
    w->ms_send = real_ms();
    w->t_send = now_us();
    ws_text(c, buf, (size_t)n);
    g_w_sent_total++;
    if (measured) g_w_sent_meas++;
}

static int *g_writers;
static int g_nwriters, g_wnext;

static bool send_one(bool measured)
{
    for (int tries = 0; tries < g_nwriters; tries++) {
        conn_t *c = &g_conns[g_writers[g_wnext]];
        g_wnext = (g_wnext + 1) % g_nwriters;
        if (c->state == CS_JOINED && !c->pending) {
            send_write(c, measured);
            return true;
        }
    }
    g_w_skipped++;
    return false;
}

static void check_write_timeouts(uint64_t t)
{
    uint64_t lim = (uint64_t)(opt.ack_timeout * 1e6);
    bool changed = false;
    for (uint32_t k = g_first_out; k < g_nw; k++) {
        wr_t *w = &g_w[k];
        if (w->state != W_PENDING) continue;
        if (t - w->t_send < lim) break;
        w->state = W_TIMEOUT;
        err_str("ack_timeout");
        if (w->measured) g_w_err_meas++;
        g_conns[w->conn].pending = 0;
        changed = true;
    }
    if (changed) update_watermark();
}

/* ---------------------------------------------------------- progress */

static uint64_t g_next_progress, g_prev_sent, g_prev_acked, g_prev_samples, g_prev_frames;
static const char *g_phase = "setup";

static void rs_progress(uint64_t t);

static void progress(uint64_t t)
{
    if (t < g_next_progress) return;
    g_next_progress = t + 1000000;
    if (opt.quiet) return;
    if (opt.scenario == SC_RESUME) {
        rs_progress(t);
        return;
    }
    int alive = 0;
    for (int i = 0; i < opt.clients; i++) alive += g_conns[i].state == CS_JOINED;
    uint32_t outstanding = 0;
    for (uint32_t k = g_first_out; k < g_nw; k++) outstanding += g_w[k].state == W_PENDING;
    fprintf(stderr,
            "[%6.2fs] %-8s joined %d/%d  sent %" PRIu64 "/s acked %" PRIu64 "/s out %u  frames %" PRIu64 "/s  samples %" PRIu64
            "/s  v2s p50 %.1f p99 %.1f max %.1f ms  ack p99 %.1f ms  err %" PRIu64 "\n",
            since_s(t), g_phase, alive, opt.clients, g_w_sent_total - g_prev_sent, g_w_acked_total - g_prev_acked, outstanding,
            c_frames_in - g_prev_frames, g_samples_total - g_prev_samples, h_pct(&g_h_lat_sec, 50) / 1e3,
            h_pct(&g_h_lat_sec, 99) / 1e3, g_h_lat_sec.max / 1e3, h_pct(&g_h_ack_sec, 99) / 1e3, g_err_total);
    g_prev_sent = g_w_sent_total;
    g_prev_acked = g_w_acked_total;
    g_prev_samples = g_samples_total;
    g_prev_frames = c_frames_in;
    h_reset(&g_h_lat_sec);
    h_reset(&g_h_ack_sec);
}

static uint64_t g_hard_deadline;
static void housekeeping(void)
{
    uint64_t t = now_us();
    if (t > g_hard_deadline) {
        fprintf(stderr, "loadgen: hard deadline reached, exiting\n");
        exit(3);
    }
    progress(t);
    if (g_nw > g_first_out) check_write_timeouts(t);
    static uint64_t next_wm;
    if (t >= next_wm) {
        next_wm = t + 5000;
        update_watermark();
    }
    static uint64_t next_sweep;
    if (t >= next_sweep && g_settled != g_last_sweep_settled) {
        next_sweep = t + 25000;
        sweep_all();
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "loadgen: hard deadline (alarm), exiting\n";
    ssize_t r = write(2, m, sizeof m - 1);
    (void)r;
    _exit(3);
}

/* run the loop until cond() or timeout; returns cond() */
static bool run_until(bool (*cond)(void), double timeout_s)
{
    uint64_t end = now_us() + (uint64_t)(timeout_s * 1e6);
    while (!cond()) {
        uint64_t t = now_us();
        if (t >= end) return false;
        uint64_t left = end - t;
        loop_once(left < 10000 ? (int64_t)left : 10000);
        housekeeping();
    }
    return true;
}

static bool mod_done(void)
{
    conn_t *m = &g_conns[opt.clients];
    if (m->state == CS_CLOSED) return true;
    if (m->state == CS_JOINED && g_mod_state == MS_JOINING) {
        g_mod_state = MS_STARTING;
        moderator_send_next(m);
    }
    if (g_mod_retry_at && now_us() >= g_mod_retry_at) {
        g_mod_retry_at = 0;
        moderator_send_next(m);
    }
    return g_mod_state == MS_READY || g_mod_state == MS_FAILED;
}

/* ------------------------------------------------------------ report */

static void print_hist_row(FILE *f, const char *name, const hist_t *h)
{
    fprintf(f, "  %-22s %12" PRIu64 " %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, h->n, h->n ? h->sum / h->n / 1e3 : 0.0,
            h_pct(h, 50) / 1e3, h_pct(h, 90) / 1e3, h_pct(h, 99) / 1e3, h_pct(h, 99.9) / 1e3, h->max / 1e3);
}

static void json_hist(FILE *f, const char *name, const hist_t *h, bool comma)
{
    fprintf(f,
            "  \"%s\": {\"count\": %" PRIu64 ", \"mean_ms\": %.3f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, "
            "\"p999_ms\": %.3f, \"max_ms\": %.3f, \"min_ms\": %.3f}%s\n",
            name, h->n, h->n ? h->sum / h->n / 1e3 : 0.0, h_pct(h, 50) / 1e3, h_pct(h, 90) / 1e3, h_pct(h, 99) / 1e3,
            h_pct(h, 99.9) / 1e3, h->max / 1e3, h->min / 1e3, comma ? "," : "");
}

/* ------------------------------------------------------------ options */

static void mark(const char *what)
{
    if (!opt.mark) return;
    FILE *f = fopen(opt.mark, "a");
    if (!f) return;
    fprintf(f, "%s\n", what);
    fclose(f);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen [options]\n"
            "  --url ws://127.0.0.1:PORT/ws   WebSocket endpoint\n"
            "  --http 127.0.0.1:PORT          HTTP API (default: from --url)\n"
            "  --admin-token T                bearer token for POST /api/jams (or COJAM_ADMIN_TOKEN)\n"
            "  --scenario jam-vote|idea-storm|join-storm|resume-storm   (default jam-vote)\n"
            "  --clients N (1000)  --rate R writes/s (200; idea-storm 100)  --duration D s (10)  --warmup W s (2)\n"
            "  --drain S s (5)     --sources K 127.0.0.1..K (8)  --json FILE\n"
            "  --connect-rate C/s (0 = unlimited)  --max-inflight M (1000)  --connect-timeout S (30)\n"
            "  --writers-frac F (0.1)  --ideas K (50)  --idle-settle S (1)  --ack-timeout S (5)\n"
            "  --server-pid P --redis-pid P --redis HOST:PORT   (CPU/RSS from /proc, XLEN of the jam stream)\n"
            "  --origin O  --label L  --deadline S (hard exit)  --seed X  --quiet\n"
            "  --mark FILE   append \"measure_start\" / \"measure_end\" lines when the measured window opens/closes\n"
            "resume-storm: --items K seed ideas (300)  --away-events E (2000)  --away-seconds S (4)  --writers W (auto: 1 per 10\n"
            "  writes/s)  --post-frac F (0.1 of the away events are posts)  --catchup-timeout S (60)  --verify-every K (50; 0 off)\n"
            "  --resume-gate FILE  after the away phase (mark \"away_done\"), wait for FILE holding \"PORT [PID]\" (cojamd restarted)\n"
            "  --gate-timeout S (120)\n");
    exit(2);
}

static void parse_hostport(const char *s, char *host, size_t hsz, int *port)
{
    const char *c = strrchr(s, ':');
    if (!c) die("expected HOST:PORT, got %s", s);
    snprintf(host, hsz, "%.*s", (int)(c - s), s);
    *port = atoi(c + 1);
    if (!strcmp(host, "localhost")) snprintf(host, hsz, "127.0.0.1");
}

static void parse_opts(int argc, char **argv)
{
    static struct option lo[] = {{"url", 1, 0, 'u'},          {"http", 1, 0, 'h'},          {"admin-token", 1, 0, 't'},
                                 {"clients", 1, 0, 'n'},      {"rate", 1, 0, 'r'},          {"duration", 1, 0, 'd'},
                                 {"warmup", 1, 0, 'w'},       {"drain", 1, 0, 'D'},         {"scenario", 1, 0, 's'},
                                 {"sources", 1, 0, 'S'},      {"json", 1, 0, 'j'},          {"connect-rate", 1, 0, 'c'},
                                 {"max-inflight", 1, 0, 'm'}, {"connect-timeout", 1, 0, 'C'}, {"writers-frac", 1, 0, 'f'},
                                 {"ideas", 1, 0, 'i'},        {"server-pid", 1, 0, 'p'},    {"redis-pid", 1, 0, 'P'},
                                 {"redis", 1, 0, 'R'},        {"deadline", 1, 0, 'X'},      {"idle-settle", 1, 0, 'I'},
                                 {"ack-timeout", 1, 0, 'A'},  {"origin", 1, 0, 'o'},        {"label", 1, 0, 'l'},
                                 {"seed", 1, 0, 'z'},         {"mark", 1, 0, 'M'},         {"quiet", 0, 0, 'q'},         {"help", 0, 0, '?'},
                                 {"items", 1, 0, 256},        {"away-events", 1, 0, 257},   {"away-seconds", 1, 0, 258},
                                 {"writers", 1, 0, 259},      {"post-frac", 1, 0, 260},     {"catchup-timeout", 1, 0, 261},
                                 {"resume-gate", 1, 0, 262},  {"gate-timeout", 1, 0, 263},  {"verify-every", 1, 0, 264},
                                 {0, 0, 0, 0}};
    const char *url = "ws://127.0.0.1:8080/ws", *http = NULL;
    bool rate_set = false;
    opt.admin_token = getenv("COJAM_ADMIN_TOKEN");
    opt.clients = 1000;
    opt.rate = 200;
    opt.duration = 10;
    opt.warmup = 2;
    opt.drain = 5;
    opt.sources = 8;
    opt.max_inflight = 1000;
    opt.connect_timeout = 30;
    opt.writers_frac = 0.1;
    opt.ideas = 50;
    opt.idle_settle = 1;
    opt.ack_timeout = 5;
    opt.seed_items = 300;
    opt.away_events = 2000;
    opt.away_seconds = 4;
    opt.post_frac = 0.1;
    opt.catchup_timeout = 60;
    opt.gate_timeout = 120;
    opt.verify_every = 50;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'h': http = optarg; break;
        case 't': opt.admin_token = optarg; break;
        case 'n': opt.clients = atoi(optarg); break;
        case 'r': opt.rate = atof(optarg); rate_set = true; break;
        case 'd': opt.duration = atof(optarg); break;
        case 'w': opt.warmup = atof(optarg); break;
        case 'D': opt.drain = atof(optarg); break;
        case 's':
            if (!strcmp(optarg, "jam-vote")) opt.scenario = SC_VOTE;
            else if (!strcmp(optarg, "idea-storm")) opt.scenario = SC_IDEA;
            else if (!strcmp(optarg, "join-storm")) opt.scenario = SC_JOIN;
            else if (!strcmp(optarg, "resume-storm")) opt.scenario = SC_RESUME;
            else usage();
            break;
        case 'S': opt.sources = atoi(optarg); break;
        case 'j': opt.json = optarg; break;
        case 'c': opt.connect_rate = atof(optarg); break;
        case 'm': opt.max_inflight = atoi(optarg); break;
        case 'C': opt.connect_timeout = atof(optarg); break;
        case 'f': opt.writers_frac = atof(optarg); break;
        case 'i': opt.ideas = atoi(optarg); break;
        case 'p': opt.server_pid = atoi(optarg); break;
        case 'P': opt.redis_pid = atoi(optarg); break;
        case 'R': parse_hostport(optarg, opt.redis_host, sizeof opt.redis_host, &opt.redis_port); break;
        case 'X': opt.deadline = atof(optarg); break;
        case 'I': opt.idle_settle = atof(optarg); break;
        case 'A': opt.ack_timeout = atof(optarg); break;
        case 'o': opt.origin = optarg; break;
        case 'l': opt.label = optarg; break;
        case 'z': g_rng = strtoull(optarg, NULL, 0) | 1; break;
        case 'q': opt.quiet = 1; break;
        case 'M': opt.mark = optarg; break;
        case 256: opt.seed_items = atoi(optarg); break;
        case 257: opt.away_events = atoi(optarg); break;
        case 258: opt.away_seconds = atof(optarg); break;
        case 259: opt.writers = atoi(optarg); break;
        case 260: opt.post_frac = atof(optarg); break;
        case 261: opt.catchup_timeout = atof(optarg); break;
        case 262: opt.resume_gate = optarg; break;
        case 263: opt.gate_timeout = atof(optarg); break;
        case 264: opt.verify_every = atoi(optarg); break;
        default: usage();
        }
    }
    if (optind < argc) usage();
    if (opt.scenario == SC_IDEA && !rate_set) opt.rate = 100;
    if (strncmp(url, "ws://", 5)) die("--url must start with ws://");
    const char *hp = url + 5, *slash = strchr(hp, '/');
    char hpbuf[128];
    snprintf(hpbuf, sizeof hpbuf, "%.*s", slash ? (int)(slash - hp) : (int)strlen(hp), hp);
    parse_hostport(hpbuf, opt.ws_host, sizeof opt.ws_host, &opt.ws_port);
    snprintf(opt.ws_path, sizeof opt.ws_path, "%s", slash ? slash : "/");
    if (http) parse_hostport(http, opt.http_host, sizeof opt.http_host, &opt.http_port);
    else {
        snprintf(opt.http_host, sizeof opt.http_host, "%s", opt.ws_host);
        opt.http_port = opt.ws_port;
    }
    if (opt.clients < 1 || opt.clients > 200000) die("--clients out of range");
    if (opt.sources < 1 || opt.sources > 250) die("--sources out of range");
    if (opt.ideas < 1 || opt.ideas > 64) die("--ideas must be 1..64");
    if (opt.rate <= 0) die("--rate must be > 0");
    if (opt.scenario == SC_RESUME) {
        if (opt.seed_items < 1 || opt.seed_items > 5000) die("--items must be 1..5000");
        if (opt.away_events < 1 || opt.away_events > 1000000) die("--away-events must be 1..1000000");
        if (opt.away_seconds <= 0) die("--away-seconds must be > 0");
        if (opt.post_frac < 0 || opt.post_frac > 1) die("--post-frac must be 0..1");
        if (opt.writers <= 0) opt.writers = (int)ceil(opt.away_events / opt.away_seconds / 10.0);
        if (opt.writers < 4) opt.writers = 4;
        if (opt.writers > 2000) die("--writers must be at most 2000");
        if (opt.verify_every < 0) opt.verify_every = 0;
    }
}

/* -------------------------------------------------------------- main */

static bool all_joined(void) { return (int)(c_joined + c_failed) >= opt.clients; }
static bool never(void) { return false; }

static bool drain_done(void)
{
    for (uint32_t k = g_first_out; k < g_nw; k++)
        if (g_w[k].state == W_PENDING) return false;
    if (g_settled < g_nL) return false;
    for (int i = 0; i < opt.clients; i++) {
        conn_t *c = &g_conns[i];
        if (c->state == CS_JOINED && c->cursor < g_nL) return false;
    }
    return true;
}

/* ======================================================== resume-storm */
/*
 * N clients join one jam (like join-storm) and keep their token (welcome) and the last event id
 * they have seen (snapshot event_id, update "to").  Then all N drop at once (close(), no close
 * frame: a Wi-Fi drop).  While they are away, W writer sessions (separate connections, at most 15
 * writes/s each, one write in flight, under the server's 20/s) write --away-events votes, unvotes
 * and posts, spread over --away-seconds.  The target is the stream's last id after the writers'
 * last ack (cross-checked with XREVRANGE when --redis is given).  Writers and the moderator leave;
 * (--resume-gate: wait for the bench script, which may kill -9 and restart cojamd meanwhile, and
 * takes "PORT PID" from that file); then all N reconnect at once with token + last_event_id.
 * A client has caught up when its last seen id >= target with no gap open.  Measured from the
 * reconnect start: time until every client caught up, per-client catch-up latency, resumed vs
 * snapshot, bytes and frames received per client until caught up, update chain checks (first
 * prev vs the client's id, each prev vs the previous to), errors and close codes; CPU of cojamd
 * and Redis over the catch-up.  --verify-every K: every K-th client's state (items, vote totals,
 * top lists, stats) is kept from the frames it receives and compared at the end with the snapshot
 * of a fresh screen connection (a screen join stores no event).
 */

#define RS_MAX_ITEMS 10000
#define WR_MIN_GAP_US 66667 /* a writer sends at most 15 writes/s: under the server's 20/s */

typedef struct {
    char *token;
    evid_t L;     /* the last id seen before the drop: the rejoin's last_event_id */
    evid_t chain; /* "to" of the last update (or the snapshot's event_id) since the rejoin */
    uint64_t t_start, t_welcome, t_caught;
    uint64_t bytes, frames; /* received from connect() until caught up (that frame included) */
    uint32_t updates, stale, snapshots, resync_snaps, snaps_after_resumed, snaps_after_sync, snap_older;
    uint32_t gaps, overlaps, chain_ok, ahead;
    int close_code;
    uint8_t has, welcomed, resumed, caught, sent_sync, gap_open, first_done, first_cls, failed;
} rs_t;

static rs_t *g_rs;
static int g_rs_n, g_rs_caught;
static evid_t g_target;
static uint64_t g_storm_t0;

typedef struct {
    uint8_t busy, kind; /* kind: 0 vote, 1 unvote, 2 post */
    uint16_t tries;
    int item; /* index into g_it (votes) */
    uint32_t seq, vk;
    uint64_t t_send, next_ok, retry_at;
    uint8_t *vbits; /* items this writer has voted for */
} wst_t;

static wst_t *g_ws;
static int g_nws, g_ws_next, g_wr_joined;
static int *g_it, g_nit; /* item ids, in the order they were acked */
static uint32_t g_wr_seq;
static uint64_t g_wr_goal, g_wr_issued, g_wr_acked, g_wr_failed, g_wr_posts, g_wr_votes, g_wr_unvotes, g_wr_retries;
static uint64_t g_wr_t0;
static double g_wr_rate; /* writes/s; 0 = as fast as the writers may */
static evid_t g_max_acked;

static json_t **g_vf, *g_truth;

static inline int wr_base(void) { return opt.clients + 1; }

static bool rs_mine(const conn_t *c) { return g_rs && c->role == ROLE_CITIZEN && c->id < (uint32_t)opt.clients; }

static void rs_count_frame(const conn_t *c)
{
    if (rs_mine(c) && !g_rs[c->id].caught) g_rs[c->id].frames++;
}

static void rs_count_bytes(const conn_t *c, uint64_t n)
{
    if (rs_mine(c) && !g_rs[c->id].caught) g_rs[c->id].bytes += n;
}

static void rs_close_code(const conn_t *c, int code)
{
    if (rs_mine(c)) g_rs[c->id].close_code = code;
}

static bool rs_send_join(conn_t *c)
{
    char buf[900];
    int n;
    if (c->role == ROLE_WRITER)
        n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"citizen\",\"nickname\":\"w%u\"}", g_code,
                     c->id - (uint32_t)wr_base());
    else if (c->role == ROLE_SCREEN)
        n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"screen\"}", g_code);
    else if (g_resume_phase && rs_mine(c) && g_rs[c->id].token)
        n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"token\":\"%s\",\"last_event_id\":\"%" PRIu64 "-%" PRIu64 "\"}",
                     g_rs[c->id].token, g_rs[c->id].L.ms, g_rs[c->id].L.seq);
    else
        return false;
    if (n <= 0 || (size_t)n >= sizeof buf) die("join message too long");
    ws_text(c, buf, (size_t)n);
    return true;
}

static void rs_check_caught(conn_t *c, uint64_t t)
{
    rs_t *r = &g_rs[c->id];
    if (!r->caught && r->welcomed && !r->gap_open && evid_cmp(c->last_to, g_target) >= 0) {
        r->caught = 1;
        r->t_caught = t;
        g_rs_caught++;
    }
}

static void rs_on_welcome(conn_t *c, const char *s, const char *end, uint64_t t)
{
    if (!rs_mine(c)) return;
    rs_t *r = &g_rs[c->id];
    if (!g_resume_phase) {
        const char *v;
        size_t vl;
        if (scan_str(s, end, "token", &v, &vl) && vl > 0 && vl < 1024) {
            free(r->token);
            r->token = strndup(v, vl);
        } else {
            err_str("welcome_without_token");
        }
        return;
    }
    if (r->welcomed) {
        err_str("second_welcome");
        return;
    }
    r->welcomed = 1;
    r->t_welcome = t;
    r->resumed = memmem(s, (size_t)(end - s), "\"resumed\":true", 14) != NULL;
    if (c->state == CS_JOINING) { /* resumed: no snapshot follows; joined as of the welcome */
        c->state = CS_JOINED;
        c->t_joined = t;
        c_joined++;
        g_inflight--;
        h_add(&g_h_connect, t - c->t_start);
    }
    rs_check_caught(c, t); /* nothing was missed (cannot happen here: the writers wrote) */
}

static void rs_on_update(conn_t *c, evid_t prev, evid_t to, uint64_t t)
{
    rs_t *r = &g_rs[c->id];
    r->updates++;
    if (!r->welcomed) err_str("update_before_welcome");
    if (evid_cmp(to, c->last_to) <= 0) { /* clock/stats only, or already covered */
        r->stale++;
        return;
    }
    if (!r->first_done && !r->snapshots) {
        /* the first update of a resume: its prev should be the client's id (at or before it) */
        r->first_done = 1;
        int k = evid_cmp(prev, r->L);
        r->first_cls = k == 0 ? 1 : k < 0 ? 2 : 3;
    } else {
        int k = evid_cmp(prev, r->chain);
        if (k == 0) r->chain_ok++;
        else if (k < 0) r->overlaps++;
        else r->ahead++;
    }
    r->first_done = 1;
    r->chain = to;
    if (r->gap_open) return; /* a snapshot is on its way */
    if (evid_cmp(prev, c->last_to) > 0) {
        /* a gap: a client asks for a snapshot and is not caught up until it comes */
        r->gaps++;
        c_gaps++;
        r->gap_open = 1;
        r->sent_sync = 1;
        ws_text(c, "{\"type\":\"sync\"}", 15);
        return;
    }
    c->last_to = to;
    rs_check_caught(c, t);
}

static void rs_on_snapshot(conn_t *c, const char *s, size_t n, uint64_t t)
{
    rs_t *r = &g_rs[c->id];
    const char *v;
    size_t vl;
    evid_t id = {0, 0};
    if (!scan_str(s, s + n, "event_id", &v, &vl) || !evid_parse(v, vl, &id)) err_str("snapshot_without_event_id");
    r->snapshots++;
    c_resyncs++;
    if (memmem(s, n < 256 ? n : 256, "\"resync\":true", 13)) r->resync_snaps++;
    if (!r->welcomed) err_str("snapshot_before_welcome");
    if (r->sent_sync) r->snaps_after_sync++;
    else if (r->resumed) r->snaps_after_resumed++;
    if (evid_cmp(id, c->last_to) < 0) r->snap_older++;
    r->sent_sync = 0;
    r->gap_open = 0;
    r->first_done = 1;
    c->last_to = id;
    r->chain = id;
    rs_check_caught(c, t);
}

static void rs_on_error(conn_t *c)
{
    rs_t *r = &g_rs[c->id];
    if (!r->welcomed) { /* the rejoin was refused (bad_token, ...): this client is out */
        r->failed = 1;
        conn_close(c, NULL);
    }
}

/* close without counting anything as an error (the drop, and the writers leaving) */
static void conn_drop(conn_t *c)
{
    if (c->state == CS_CLOSED || c->state == CS_IDLE) return;
    if (c->role == ROLE_CITIZEN && c->state != CS_JOINED) g_inflight--;
    epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = CS_CLOSED;
    free(c->rbuf);
    free(c->mbuf);
    free(c->wbuf);
    c->rbuf = c->mbuf = c->wbuf = NULL;
    c->rlen = c->rcap = c->mlen = c->mcap = c->wlen = c->wcap = 0;
}

/* ---- writers */

static void wr_send(int wi)
{
    wst_t *w = &g_ws[wi];
    conn_t *c = &g_conns[wr_base() + wi];
    char buf[320];
    int n;
    if (w->kind == 2)
        n = snprintf(buf, sizeof buf,
                     "{\"type\":\"post\",\"op\":\"r%u\",\"kind\":\"idea\",\"text\":\"Idea %u from writer w%d: shade the bus stops "
                     "on the main square with trees and awnings\"}",
                     w->seq, w->seq, wi);
    else
        n = snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"op\":\"r%u\",\"item\":%d}", w->kind ? "unvote" : "vote", w->seq,
                     g_it[w->item]);
    uint64_t t = now_us();
    w->busy = 1;
    w->t_send = t;
    w->next_ok = t + WR_MIN_GAP_US;
    w->retry_at = 0;
    ws_text(c, buf, (size_t)n);
}

static void wr_new(int wi, bool seed)
{
    wst_t *w = &g_ws[wi];
    bool post = seed || g_nit == 0 || (g_nit < RS_MAX_ITEMS && (double)(rnd64() % 1000000) < opt.post_frac * 1e6);
    if (post) {
        w->kind = 2;
    } else {
        int idx = (int)(((uint64_t)wi * 37u + w->vk++) % (uint64_t)g_nit);
        w->item = idx;
        w->kind = (w->vbits[idx >> 3] >> (idx & 7)) & 1; /* voted: unvote, else vote */
    }
    w->seq = g_wr_seq++;
    w->tries = 0;
    g_wr_issued++;
    wr_send(wi);
}

static void wr_on_ack(conn_t *c, const char *op, size_t oplen, const char *s, const char *end)
{
    int wi = (int)c->id - wr_base();
    wst_t *w = &g_ws[wi];
    if (!w->busy || oplen < 2 || op[0] != 'r' || strtoul(op + 1, NULL, 10) != w->seq) {
        err_str("writer_ack_unknown_op");
        return;
    }
    const char *ev;
    size_t evlen;
    evid_t id;
    if (scan_str(s, end, "event_id", &ev, &evlen) && evid_parse(ev, evlen, &id)) {
        if (evid_cmp(id, g_max_acked) > 0) g_max_acked = id;
    } else {
        err_str("writer_ack_without_event_id");
    }
    w->busy = 0;
    if (w->kind == 2) {
        long item = 0;
        if (scan_int(s, end, "item", &item) && item > 0 && g_nit < RS_MAX_ITEMS) g_it[g_nit++] = (int)item;
        g_wr_posts++;
    } else if (w->kind == 0) {
        w->vbits[w->item >> 3] |= (uint8_t)(1u << (w->item & 7));
        g_wr_votes++;
    } else {
        w->vbits[w->item >> 3] &= (uint8_t) ~(1u << (w->item & 7));
        g_wr_unvotes++;
    }
    g_wr_acked++;
}

static void wr_on_error(conn_t *c, const char *op, size_t oplen, const char *code, size_t codelen)
{
    int wi = (int)c->id - wr_base();
    wst_t *w = &g_ws[wi];
    char name[64];
    snprintf(name, sizeof name, "writer_%.*s", (int)(codelen < 40 ? codelen : 40), code);
    err_str(name);
    if (!w->busy) return;
    if (op && oplen > 1 && (op[0] != 'r' || strtoul(op + 1, NULL, 10) != w->seq)) return; /* not the write in flight */
#define CODE(lit) (codelen == sizeof(lit) - 1 && !memcmp(code, lit, codelen))
    bool retry = CODE("busy") || CODE("rate_limited") || CODE("storage_unavailable") || CODE("storage_timeout") ||
                 CODE("not_owner");
    if (retry && w->tries < 50) {
        w->tries++;
        w->retry_at = now_us() + 100000; /* the same op again */
        g_wr_retries++;
        return;
    }
    if (w->kind != 2 && CODE("already_voted")) w->vbits[w->item >> 3] |= (uint8_t)(1u << (w->item & 7));
    if (w->kind != 2 && CODE("not_voted")) w->vbits[w->item >> 3] &= (uint8_t) ~(1u << (w->item & 7));
#undef CODE
    w->busy = 0;
    g_wr_failed++;
}

static void wr_pump(uint64_t t)
{
    uint64_t lim = (uint64_t)(opt.ack_timeout * 1e6);
    for (int wi = 0; wi < g_nws; wi++) {
        wst_t *w = &g_ws[wi];
        if (!w->busy) continue;
        if (g_conns[wr_base() + wi].state != CS_JOINED) {
            w->busy = 0;
            g_wr_failed++;
            continue;
        }
        if (w->retry_at) {
            if (t >= w->retry_at && t >= w->next_ok) wr_send(wi);
        } else if (t - w->t_send > lim) {
            w->busy = 0;
            g_wr_failed++;
            err_str("writer_ack_timeout");
        }
    }
    while (g_wr_issued < g_wr_goal) {
        if (g_wr_rate > 0 && g_wr_t0 + (uint64_t)((double)g_wr_issued * 1e6 / g_wr_rate) > t) break;
        int found = -1;
        for (int k = 0; k < g_nws; k++) {
            int wi = (g_ws_next + k) % g_nws;
            if (!g_ws[wi].busy && g_ws[wi].next_ok <= t && g_conns[wr_base() + wi].state == CS_JOINED) {
                found = wi;
                break;
            }
        }
        if (found < 0) break; /* every writer busy: the schedule slips, nothing is skipped */
        g_ws_next = (found + 1) % g_nws;
        wr_new(found, g_wr_rate == 0);
    }
}

/* writes 'goal' events at 'rate'/s (0: as fast as allowed); returns the seconds it took */
static double wr_run(uint64_t goal, double rate, double timeout_s)
{
    uint64_t done0 = g_wr_acked + g_wr_failed, t0 = now_us(), end = t0 + (uint64_t)(timeout_s * 1e6);
    g_wr_goal = g_wr_issued + goal;
    g_wr_rate = rate;
    g_wr_t0 = t0;
    /* keep the schedule relative to this phase: count issued from here */
    uint64_t issued0 = g_wr_issued;
    g_wr_t0 = t0 - (uint64_t)(rate > 0 ? (double)issued0 * 1e6 / rate : 0);
    while (g_wr_acked + g_wr_failed - done0 < goal) {
        uint64_t t = now_us();
        if (t >= end) {
            logf_("writers: timeout, %" PRIu64 " of %" PRIu64 " done", g_wr_acked + g_wr_failed - done0, goal);
            break;
        }
        wr_pump(t);
        loop_once(2000);
        housekeeping();
    }
    g_wr_goal = g_wr_issued; /* nothing more is started */
    return (double)(now_us() - t0) / 1e6;
}

static bool writers_joined(void)
{
    int n = 0, dead = 0;
    for (int wi = 0; wi < g_nws; wi++) {
        conn_t *c = &g_conns[wr_base() + wi];
        n += c->state == CS_JOINED;
        dead += c->state == CS_CLOSED;
    }
    g_wr_joined = n;
    return n + dead >= g_nws;
}

static bool writers_saw_last(void)
{
    for (int wi = 0; wi < g_nws; wi++) {
        conn_t *c = &g_conns[wr_base() + wi];
        if (c->state == CS_JOINED && evid_cmp(c->last_to, g_max_acked) < 0) return false;
    }
    return true;
}

/* the id of the jam stream's last entry (XREVRANGE key + - COUNT 1), on its own connection */
static bool redis_last_id(evid_t *out)
{
    if (!opt.redis_port || !g_code[0]) return false;
    int fd = tcp_connect_blocking(opt.redis_host, opt.redis_port, 1.0);
    if (fd < 0) return false;
    char key[96], cmd[256], buf[4096];
    int kl = snprintf(key, sizeof key, "cojam:jam:%s:events", g_code);
    int n = snprintf(cmd, sizeof cmd, "*6\r\n$9\r\nXREVRANGE\r\n$%d\r\n%s\r\n$1\r\n+\r\n$1\r\n-\r\n$5\r\nCOUNT\r\n$1\r\n1\r\n", kl, key);
    bool ok = false;
    size_t got = 0;
    if (send(fd, cmd, (size_t)n, MSG_NOSIGNAL) == n) {
        while (got < sizeof buf - 1) {
            ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (r <= 0) break;
            got += (size_t)r;
            buf[got] = 0;
            char *p = strstr(buf, "\r\n$");
            char *q = p ? strstr(p + 3, "\r\n") : NULL;
            if (!q) continue;
            long len = strtol(p + 3, NULL, 10);
            if (len <= 0 || (size_t)(q + 2 - buf) + (size_t)len > got) continue;
            ok = evid_parse(q + 2, (size_t)len, out);
            break;
        }
    }
    close(fd);
    return ok;
}

/* ---- the sampled state check */

static json_t *vf_new_state(void)
{
    json_t *st = json_object();
    json_object_set_new(st, "votes", json_object());
    json_object_set_new(st, "items", json_object());
    json_object_set_new(st, "ranking", json_object());
    json_object_set_new(st, "stats", json_object());
    return st;
}

/* merge a snapshot (replaces) or an update (absolute values merged) into a client's state */
static void vf_feed(conn_t *c, const char *s, size_t n, bool snapshot)
{
    json_t **slot;
    if (c->role == ROLE_SCREEN) {
        if (!snapshot) return;
        slot = &g_truth;
    } else if (c->role == ROLE_CITIZEN && c->id < (uint32_t)opt.clients && g_vf_on[c->id]) {
        slot = &g_vf[c->id];
    } else {
        return;
    }
    json_error_t je;
    json_t *m = json_loadb(s, n, 0, &je);
    if (!m) {
        err_str("verify_unparsable_frame");
        return;
    }
    if (snapshot || !*slot) {
        json_decref(*slot);
        *slot = vf_new_state();
    }
    json_t *st = *slot, *votes = json_object_get(st, "votes"), *items = json_object_get(st, "items");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(m, "items"), i, it)
    {
        json_t *id = json_object_get(it, "id");
        if (!json_is_integer(id)) continue;
        char k[24];
        snprintf(k, sizeof k, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        json_object_set_new(items, k, json_boolean(json_is_true(json_object_get(it, "hidden"))));
        json_t *v = json_object_get(it, "votes");
        if (json_is_integer(v)) json_object_set(votes, k, v);
    }
    if (json_is_object(json_object_get(m, "votes"))) json_object_update(votes, json_object_get(m, "votes"));
    if (json_is_object(json_object_get(m, "ranking"))) json_object_update(json_object_get(st, "ranking"), json_object_get(m, "ranking"));
    if (json_is_object(json_object_get(m, "stats"))) json_object_update(json_object_get(st, "stats"), json_object_get(m, "stats"));
    json_decref(m);
}

/* differences between a client's state and the truth; the first one described in 'why' */
static int vf_compare(json_t *st, json_t *truth, char *why, size_t wsz)
{
    int diffs = 0;
    const char *k;
    json_t *v;
    why[0] = 0;
#define DIFF(...)                                                                                                               \
    do {                                                                                                                        \
        if (!diffs++) snprintf(why, wsz, __VA_ARGS__);                                                                         \
    } while (0)
    json_t *ti = json_object_get(truth, "items"), *ci = json_object_get(st, "items");
    json_object_foreach(ti, k, v) if (!json_equal(v, json_object_get(ci, k))) DIFF("item %s missing or hidden flag differs", k);
    json_object_foreach(ci, k, v) if (!json_object_get(ti, k)) DIFF("item %s unknown to the server", k);
    json_t *tv = json_object_get(truth, "votes"), *cv = json_object_get(st, "votes");
    json_object_foreach(tv, k, v)
    {
        json_t *x = json_object_get(cv, k);
        if (!x || json_integer_value(x) != json_integer_value(v))
            DIFF("item %s: %" JSON_INTEGER_FORMAT " votes, the server says %" JSON_INTEGER_FORMAT, k, x ? json_integer_value(x) : -1,
                 json_integer_value(v));
    }
    json_t *tr = json_object_get(truth, "ranking"), *cr = json_object_get(st, "ranking");
    json_object_foreach(tr, k, v) if (!json_equal(v, json_object_get(cr, k))) DIFF("ranking of %s differs", k);
    static const char *stat_keys[] = {"items", "votes", "participants"};
    json_t *ts = json_object_get(truth, "stats"), *cs = json_object_get(st, "stats");
    for (size_t q = 0; q < sizeof stat_keys / sizeof *stat_keys; q++)
        if (!json_equal(json_object_get(ts, stat_keys[q]), json_object_get(cs, stat_keys[q])))
            DIFF("stats.%s: %" JSON_INTEGER_FORMAT ", the server says %" JSON_INTEGER_FORMAT, stat_keys[q],
                 json_integer_value(json_object_get(cs, stat_keys[q])), json_integer_value(json_object_get(ts, stat_keys[q])));
#undef DIFF
    return diffs;
}

/* ---- progress and report */

static void rs_progress(uint64_t t)
{
    if (!g_resume_phase) {
        int alive = 0;
        for (int i = 0; i < opt.clients; i++) alive += g_conns[i].state == CS_JOINED;
        fprintf(stderr, "[%6.2fs] %-8s clients joined %d/%d  writers %d  writes acked %" PRIu64 " failed %" PRIu64 "  items %d  err %" PRIu64 "\n",
                since_s(t), g_phase, alive, opt.clients, g_wr_joined, g_wr_acked, g_wr_failed, g_nit, g_err_total);
        return;
    }
    int welcomed = 0, resumed = 0, snap = 0, dead = 0;
    for (int i = 0; i < opt.clients; i++) {
        const rs_t *r = &g_rs[i];
        if (!r->has) continue;
        welcomed += r->welcomed;
        resumed += r->resumed;
        snap += r->snapshots > 0;
        dead += !r->caught && g_conns[i].state == CS_CLOSED;
    }
    fprintf(stderr, "[%6.2fs] %-8s welcomed %d/%d  resumed %d  snapshot %d  caught up %d  lost %d  frames %" PRIu64 "/s  err %" PRIu64 "\n",
            since_s(t), g_phase, welcomed, g_rs_n, resumed, snap, g_rs_caught, dead, c_frames_in - g_prev_frames, g_err_total);
    g_prev_frames = c_frames_in;
}

static int g_rs_dead_cache;
static bool rs_done(void)
{
    int dead = 0;
    for (int i = 0; i < opt.clients; i++)
        if (g_rs[i].has && !g_rs[i].caught && g_conns[i].state == CS_CLOSED) dead++;
    g_rs_dead_cache = dead;
    return g_rs_caught + dead >= g_rs_n;
}

static void json_hist_n(FILE *f, const char *name, const hist_t *h, double div, const char *unit, bool comma)
{
    fprintf(f,
            "  \"%s\": {\"count\": %" PRIu64 ", \"mean_%s\": %.3f, \"p50_%s\": %.3f, \"p90_%s\": %.3f, \"p99_%s\": %.3f, \"max_%s\": %.3f, "
            "\"min_%s\": %.3f}%s\n",
            name, h->n, unit, h->n ? h->sum / h->n / div : 0.0, unit, h_pct(h, 50) / div, unit, h_pct(h, 90) / div, unit,
            h_pct(h, 99) / div, unit, h->max / div, unit, h->min / div, comma ? "," : "");
}

static void json_errs(FILE *f, const char *name, const errc_t *e, int n, bool comma)
{
    fprintf(f, "  \"%s\": {", name);
    for (int i = 0; i < n; i++) fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", e[i].name, e[i].n);
    fprintf(f, "}%s\n", comma ? "," : "");
}

static int resume_main(void)
{
    const int N = opt.clients, W = opt.writers, screen_idx = opt.clients + 1 + opt.writers;
    g_rs = calloc((size_t)N, sizeof *g_rs);
    g_ws = calloc((size_t)W, sizeof *g_ws);
    g_it = calloc(RS_MAX_ITEMS, sizeof *g_it);
    if (!g_rs || !g_ws || !g_it) die("out of memory");
    g_nws = W;
    for (int wi = 0; wi < W; wi++)
        if (!(g_ws[wi].vbits = calloc(RS_MAX_ITEMS / 8 + 1, 1))) die("out of memory");
    if (opt.verify_every > 0) {
        g_vf_on = calloc((size_t)N, 1);
        g_vf = calloc((size_t)N, sizeof *g_vf);
        if (!g_vf_on || !g_vf) die("out of memory");
        for (int i = 0; i < N; i += opt.verify_every) g_vf_on[i] = 1;
    }

    /* ---- writers join, then seed the jam's items */
    g_phase = "writers";
    for (int wi = 0; wi < W; wi++) conn_start(&g_conns[wr_base() + wi], wr_base() + wi, ROLE_WRITER);
    run_until(writers_joined, opt.connect_timeout);
    if (g_wr_joined == 0) die("no writer could join");
    if (g_wr_joined < W) logf_("only %d of %d writers joined", g_wr_joined, W);
    g_phase = "seed";
    double seed_s = wr_run((uint64_t)opt.seed_items, 0, 60);
    logf_("seed: %d items posted in %.2f s by %d writers", g_nit, seed_s, g_wr_joined);

    /* ---- the clients join (as join-storm does) */
    g_phase = "connect";
    uint64_t t_conn0 = now_us(), t_conn_end = t_conn0 + (uint64_t)(opt.connect_timeout * 1e6);
    int next = 0;
    while (!all_joined()) {
        uint64_t t = now_us();
        if (t >= t_conn_end) break;
        while (next < N) {
            if (g_inflight >= opt.max_inflight) break;
            if (opt.connect_rate > 0 && (double)next >= opt.connect_rate * (double)(t - t_conn0) / 1e6 + 1) break;
            conn_start(&g_conns[next], next, ROLE_CITIZEN);
            next++;
        }
        loop_once(next < N ? 1000 : 10000);
        housekeeping();
    }
    for (int i = 0; i < N; i++) {
        conn_t *c = &g_conns[i];
        if (c->state != CS_JOINED && c->state != CS_CLOSED) conn_close(c, "join_timeout");
        if (c->state == CS_IDLE) c_failed++;
    }
    double join_s = (double)(now_us() - t_conn0) / 1e6;
    uint64_t joined_first = c_joined;
    hist_t h_join_first = g_h_connect;
    logf_("connect: %" PRIu64 " joined, %" PRIu64 " failed in %.3f s", c_joined, c_failed, join_s);
    g_phase = "idle";
    run_until(never, opt.idle_settle);

    /* ---- the drop: every joined client closes at once */
    evid_t Lmin = {UINT64_MAX, UINT64_MAX}, Lmax = {0, 0};
    for (int i = 0; i < N; i++) {
        conn_t *c = &g_conns[i];
        rs_t *r = &g_rs[i];
        if (c->state != CS_JOINED || !r->token) continue;
        r->has = 1;
        r->L = c->last_to;
        if (evid_cmp(r->L, Lmin) < 0) Lmin = r->L;
        if (evid_cmp(r->L, Lmax) > 0) Lmax = r->L;
        g_rs_n++;
    }
    for (int i = 0; i < N; i++)
        if (g_rs[i].has) conn_drop(&g_conns[i]);
    for (int i = 0; i < N; i++)
        if (!g_rs[i].has && g_conns[i].state != CS_CLOSED && g_conns[i].state != CS_IDLE) conn_drop(&g_conns[i]);
    if (g_rs_n == 0) die("no client joined");
    uint64_t t_drop = now_us();
    logf_("drop: %d clients closed their connections (last ids %" PRIu64 "-%" PRIu64 " .. %" PRIu64 "-%" PRIu64 ")", g_rs_n, Lmin.ms,
          Lmin.seq, Lmax.ms, Lmax.seq);

    /* ---- away: the writers make the jam busy */
    g_phase = "away";
    uint64_t posts0 = g_wr_posts, votes0 = g_wr_votes, unvotes0 = g_wr_unvotes, acked0 = g_wr_acked, failed0 = g_wr_failed;
    double away_s = wr_run((uint64_t)opt.away_events, opt.away_events / opt.away_seconds, opt.away_seconds + 30);
    uint64_t away_acked = g_wr_acked - acked0, away_failed = g_wr_failed - failed0;
    run_until(writers_saw_last, 5); /* their broadcast went out (into the ring) */
    g_target = g_max_acked;
    evid_t rlast = {0, 0};
    bool have_rlast = redis_last_id(&rlast);
    if (have_rlast && evid_cmp(rlast, g_target) != 0) {
        logf_("note: the stream's last id %" PRIu64 "-%" PRIu64 " differs from the last acked %" PRIu64 "-%" PRIu64 "; using the larger",
              rlast.ms, rlast.seq, g_target.ms, g_target.seq);
        if (evid_cmp(rlast, g_target) > 0) g_target = rlast;
    }
    logf_("away: %" PRIu64 " events acked (%" PRIu64 " posts, %" PRIu64 " votes, %" PRIu64 " unvotes), %" PRIu64
          " failed, in %.2f s; target %" PRIu64 "-%" PRIu64 "; items %d",
          away_acked, g_wr_posts - posts0, g_wr_votes - votes0, g_wr_unvotes - unvotes0, away_failed, away_s, g_target.ms,
          g_target.seq, g_nit);
    for (int wi = 0; wi < W; wi++) conn_drop(&g_conns[wr_base() + wi]);
    conn_drop(&g_conns[opt.clients]); /* the moderator */
    double away_total_s = 0;
    mark("away_done");
    if (opt.resume_gate) {
        g_phase = "gate";
        uint64_t until = now_us() + (uint64_t)(opt.gate_timeout * 1e6);
        int port = 0, pid = 0;
        for (;;) {
            FILE *f = fopen(opt.resume_gate, "r");
            if (f) {
                int k = fscanf(f, "%d %d", &port, &pid);
                fclose(f);
                if (k >= 1) break;
            }
            if (now_us() > until) die("no go from %s within %.0f s", opt.resume_gate, opt.gate_timeout);
            usleep(20000);
        }
        if (port > 0) opt.ws_port = opt.http_port = port;
        if (pid > 0) opt.server_pid = pid;
        logf_("gate: resuming against port %d (pid %d)", opt.ws_port, opt.server_pid);
    }

    /* ---- the reconnect storm */
    errc_t err_setup[128];
    int nerr_setup = g_nerr;
    uint64_t err_setup_total = g_err_total;
    memcpy(err_setup, g_err, sizeof err_setup);
    g_nerr = 0;
    g_err_total = 0;
    c_joined = c_failed = c_launched = c_closed_after_join = c_gaps = c_resyncs = 0;
    c_frames_in = c_bytes_in = c_updates = c_fallback_parse = 0;
    g_inflight = 0;
    h_reset(&g_h_connect);
    g_resume_phase = 1;
    g_phase = "resume";
    procs_t p0 = proc_read(opt.server_pid), r0 = proc_read(opt.redis_pid);
    double self0 = self_cpu_s();
    uint64_t mach0 = machine_busy_ticks(), irq0 = g_irq_ticks;
    long xlen = redis_xlen();
    mark("measure_start");
    g_storm_t0 = now_us();
    away_total_s = (double)(g_storm_t0 - t_drop) / 1e6; /* how long the clients were away */
    uint64_t t_end = g_storm_t0 + (uint64_t)(opt.catchup_timeout * 1e6);
    next = 0;
    for (;;) {
        uint64_t t = now_us();
        if (next >= N && rs_done()) break;
        if (t >= t_end) break;
        while (next < N) {
            if (!g_rs[next].has) {
                next++;
                continue;
            }
            if (g_inflight >= opt.max_inflight) break;
            if (opt.connect_rate > 0 && (double)next >= opt.connect_rate * (double)(t - g_storm_t0) / 1e6 + 1) break;
            conn_t *c = &g_conns[next];
            conn_start(c, next, ROLE_CITIZEN);
            c->last_to = g_rs[next].L;
            g_rs[next].t_start = c->t_start;
            next++;
        }
        loop_once(next < N ? 1000 : 5000);
        housekeeping();
    }
    uint64_t t_stop = now_us();
    rs_done();
    uint64_t t_last = 0;
    for (int i = 0; i < N; i++)
        if (g_rs[i].caught && g_rs[i].t_caught > t_last) t_last = g_rs[i].t_caught;
    bool all_caught = g_rs_caught == g_rs_n;
    uint64_t t_win_end = all_caught ? t_last : t_stop;
    procs_t p1 = proc_read(opt.server_pid), r1 = proc_read(opt.redis_pid);
    double self1 = self_cpu_s();
    uint64_t mach1 = machine_busy_ticks(), irq1 = g_irq_ticks;
    mark("measure_end");
    double win = (double)(t_win_end - g_storm_t0) / 1e6;
    double cpu_win = (double)(now_us() - g_storm_t0) / 1e6; /* the /proc samples were taken now */
    logf_("resume: %d of %d caught up in %.3f s, %d lost", g_rs_caught, g_rs_n, win, g_rs_dead_cache);

    /* ---- the sampled state check against a fresh screen snapshot */
    int vf_checked = 0, vf_bad = 0, vf_skipped = 0;
    char vf_first[256] = "";
    if (g_vf_on) {
        g_phase = "verify";
        run_until(never, 0.3);
        conn_t *sc = &g_conns[screen_idx];
        conn_start(sc, screen_idx, ROLE_SCREEN);
        uint64_t until = now_us() + 10000000;
        while (!g_truth && sc->state != CS_CLOSED && now_us() < until) {
            loop_once(10000);
            housekeeping();
        }
        if (!g_truth) {
            err_str("verify_no_screen_snapshot");
        } else {
            for (int i = 0; i < N; i++) {
                if (!g_vf_on[i] || !g_rs[i].has) continue;
                if (!g_rs[i].caught || !g_vf[i]) {
                    vf_skipped++;
                    continue;
                }
                char why[200];
                vf_checked++;
                if (vf_compare(g_vf[i], g_truth, why, sizeof why)) {
                    if (!vf_bad++) snprintf(vf_first, sizeof vf_first, "client %d (resumed %d, snapshots %u): %s", i, g_rs[i].resumed,
                                            g_rs[i].snapshots, why);
                }
            }
        }
        logf_("verify: %d clients checked against a fresh snapshot, %d differ%s%s", vf_checked, vf_bad, vf_bad ? ": " : "", vf_first);
    }

    /* ---- figures */
    hist_t h_catch, h_storm, h_catch_res, h_catch_snap, h_welcome, h_bytes, h_frames, h_bytes_res, h_bytes_snap;
    h_reset(&h_catch), h_reset(&h_storm), h_reset(&h_catch_res), h_reset(&h_catch_snap), h_reset(&h_welcome);
    h_reset(&h_bytes), h_reset(&h_frames), h_reset(&h_bytes_res), h_reset(&h_bytes_snap);
    int n_welcomed = 0, n_resumed = 0, n_notresumed = 0, n_snap = 0, n_resync = 0, n_snap_after_res = 0, n_snap_after_sync = 0;
    int n_gap = 0, n_overlap = 0, n_ahead = 0, n_first_eq = 0, n_first_before = 0, n_first_after = 0, n_failed = 0, n_lost = 0;
    int n_res_only = 0, n_snap_older = 0, n_notcaught_open = 0;
    uint64_t snaps_total = 0, bytes_all = 0, frames_all = 0, updates_all = 0, stale_all = 0;
    typedef struct {
        int code, n;
    } cc_t;
    cc_t cc[16];
    int ncc = 0;
    for (int i = 0; i < N; i++) {
        const rs_t *r = &g_rs[i];
        if (!r->has) continue;
        n_welcomed += r->welcomed;
        n_resumed += r->welcomed && r->resumed;
        n_notresumed += r->welcomed && !r->resumed;
        n_snap += r->snapshots > 0;
        n_resync += r->resync_snaps > 0;
        n_snap_after_res += r->snaps_after_resumed > 0;
        n_snap_after_sync += r->snaps_after_sync > 0;
        n_snap_older += r->snap_older > 0;
        n_gap += r->gaps > 0;
        n_overlap += r->overlaps > 0;
        n_ahead += r->ahead > 0;
        n_first_eq += r->first_cls == 1;
        n_first_before += r->first_cls == 2;
        n_first_after += r->first_cls == 3;
        n_failed += r->failed;
        snaps_total += r->snapshots;
        bytes_all += r->bytes;
        frames_all += r->frames;
        updates_all += r->updates;
        stale_all += r->stale;
        if (r->close_code) {
            int k = 0;
            while (k < ncc && cc[k].code != r->close_code) k++;
            if (k == ncc && ncc < 16) cc[ncc++] = (cc_t){r->close_code, 0};
            if (k < ncc) cc[k].n++;
        }
        if (r->welcomed) h_add(&h_welcome, r->t_welcome - r->t_start);
        if (!r->caught) {
            n_lost += g_conns[i].state == CS_CLOSED;
            n_notcaught_open += g_conns[i].state != CS_CLOSED;
            continue;
        }
        uint64_t d = r->t_caught - r->t_start;
        h_add(&h_catch, d);
        h_add(&h_storm, r->t_caught - g_storm_t0);
        h_add(&h_bytes, r->bytes);
        h_add(&h_frames, r->frames);
        if (r->resumed && !r->snapshots) {
            n_res_only++;
            h_add(&h_catch_res, d);
            h_add(&h_bytes_res, r->bytes);
        } else if (r->snapshots) {
            h_add(&h_catch_snap, d);
            h_add(&h_bytes_snap, r->bytes);
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    double srv_cpu_s = (p0.ok && p1.ok) ? (double)(p1.ticks - p0.ticks) / hz : -1;
    double red_cpu_s = (r0.ok && r1.ok) ? (double)(r1.ticks - r0.ticks) / hz : -1;
    double self_s = self1 - self0;
    double mach_s = (mach0 && mach1) ? (double)(mach1 - mach0) / hz : -1;
    double irq_s = (mach0 && mach1) ? (double)(irq1 - irq0) / hz : -1;
    double other_s = mach_s >= 0 ? mach_s - (srv_cpu_s > 0 ? srv_cpu_s : 0) - (red_cpu_s > 0 ? red_cpu_s : 0) - self_s : -1;

    FILE *o = stdout;
    fprintf(o, "\n== cojam loadgen: resume-storm%s%s  clients %d  jam %s\n", opt.label ? "  " : "", opt.label ? opt.label : "", N, g_code);
    fprintf(o, "  before: %" PRIu64 " joined in %.3f s (p99 %.1f ms), %d seed items, %d writers\n", joined_first, join_s,
            h_pct(&h_join_first, 99) / 1e3, opt.seed_items, g_wr_joined);
    fprintf(o, "  away: %d clients dropped; %" PRIu64 " events written (%" PRIu64 " failed) in %.2f s; stream %ld entries, target id %" PRIu64
               "-%" PRIu64 "%s; items %d\n",
            g_rs_n, away_acked, away_failed, away_s, xlen, g_target.ms, g_target.seq, have_rlast ? " (= XREVRANGE)" : "", g_nit);
    fprintf(o, "  rejoin: welcomed %d/%d: resumed:true %d, resumed:false %d; refused %d\n", n_welcomed, g_rs_n, n_resumed, n_notresumed,
            n_failed);
    fprintf(o, "  snapshots: %d clients got one (%" PRIu64 " in all, %d flagged resync); after resumed:true %d; after a gap+sync %d; "
               "older than the client's id %d\n",
            n_snap, snaps_total, n_resync, n_snap_after_res, n_snap_after_sync, n_snap_older);
    fprintf(o, "  chain: first prev == last_event_id %d, before it %d, after it (gap) %d; clients with a gap %d, an overlap %d, prev beyond "
               "the previous to %d\n",
            n_first_eq, n_first_before, n_first_after, n_gap, n_overlap, n_ahead);
    if (all_caught)
        fprintf(o, "  caught up: all %d in %.3f s after the reconnect start\n", g_rs_caught, win);
    else
        fprintf(o, "  caught up: %d of %d within %.1f s (not caught: %d lost, %d still connected)\n", g_rs_caught, g_rs_n,
                (double)(t_stop - g_storm_t0) / 1e6, n_lost, n_notcaught_open);
    fprintf(o, "  %-30s %9s %9s %9s %9s %9s %9s\n", "per client", "count", "mean", "p50", "p90", "p99", "max");
#define ROW(name, h, div)                                                                                                        \
    fprintf(o, "  %-30s %9" PRIu64 " %9.1f %9.1f %9.1f %9.1f %9.1f\n", name, (h)->n, (h)->n ? (h)->sum / (h)->n / (div) : 0.0,       \
            h_pct(h, 50) / (div), h_pct(h, 90) / (div), h_pct(h, 99) / (div), (h)->max / (div))
    ROW("welcome (ms)", &h_welcome, 1e3);
    ROW("caught up (ms, own connect)", &h_catch, 1e3);
    ROW("caught up (ms, storm start)", &h_storm, 1e3);
    ROW("  resumed, no snapshot (ms)", &h_catch_res, 1e3);
    ROW("  with a snapshot (ms)", &h_catch_snap, 1e3);
    ROW("bytes until caught up (KB)", &h_bytes, 1e3);
    ROW("  resumed, no snapshot (KB)", &h_bytes_res, 1e3);
    ROW("  with a snapshot (KB)", &h_bytes_snap, 1e3);
    ROW("frames until caught up", &h_frames, 1.0);
#undef ROW
    fprintf(o, "  cpu over the catch-up (%.2f s): cojamd %.2f s, redis %.2f s, loadgen %.2f s, other %.2f s, irq %.2f s\n", cpu_win,
            srv_cpu_s, red_cpu_s, self_s, other_s, irq_s);
    fprintf(o, "  verify: %d clients checked, %d differ, %d not checked (not caught up)%s%s\n", vf_checked, vf_bad, vf_skipped,
            vf_bad ? ": " : "", vf_first);
    fprintf(o, "  close codes:");
    for (int k = 0; k < ncc; k++) fprintf(o, " %d=%d", cc[k].code, cc[k].n);
    fprintf(o, "%s\n  errors (rejoin): %" PRIu64, ncc ? "" : " none", g_err_total);
    for (int i = 0; i < g_nerr; i++) fprintf(o, "  %s=%" PRIu64, g_err[i].name, g_err[i].n);
    fprintf(o, "\n  errors (setup and away): %" PRIu64, err_setup_total);
    for (int i = 0; i < nerr_setup; i++) fprintf(o, "  %s=%" PRIu64, err_setup[i].name, err_setup[i].n);
    fprintf(o, "\n");
    fflush(o);

    if (opt.json) {
        FILE *f = fopen(opt.json, "w");
        if (!f) die("cannot write %s: %s", opt.json, strerror(errno));
        fprintf(f, "{\n  \"scenario\": \"resume-storm\",\n  \"label\": \"%s\",\n  \"clients\": %d,\n  \"jam\": \"%s\",\n  \"sources\": %d,\n",
                opt.label ? opt.label : "", N, g_code, opt.sources);
        fprintf(f, "  \"joined_before\": %" PRIu64 ",\n  \"join_s\": %.6f,\n  \"writers\": %d,\n  \"seed_items\": %d,\n  \"items_at_end\": %d,\n",
                joined_first, join_s, g_wr_joined, opt.seed_items, g_nit);
        fprintf(f, "  \"away_events_asked\": %d,\n  \"away_events_acked\": %" PRIu64 ",\n  \"away_events_failed\": %" PRIu64
                   ",\n  \"away_posts\": %" PRIu64 ",\n  \"away_votes\": %" PRIu64 ",\n  \"away_unvotes\": %" PRIu64 ",\n  \"away_write_s\": %.6f,\n"
                   "  \"away_total_s\": %.6f,\n  \"writer_retries\": %" PRIu64 ",\n",
                opt.away_events, away_acked, away_failed, g_wr_posts - posts0, g_wr_votes - votes0, g_wr_unvotes - unvotes0, away_s,
                away_total_s, g_wr_retries);
        fprintf(f, "  \"stream_entries\": %ld,\n  \"target_id\": \"%" PRIu64 "-%" PRIu64 "\",\n  \"target_checked_in_redis\": %s,\n", xlen,
                g_target.ms, g_target.seq, have_rlast ? "true" : "false");
        fprintf(f, "  \"last_event_id_min\": \"%" PRIu64 "-%" PRIu64 "\",\n  \"last_event_id_max\": \"%" PRIu64 "-%" PRIu64 "\",\n", Lmin.ms,
                Lmin.seq, Lmax.ms, Lmax.seq);
        fprintf(f, "  \"resumers\": %d,\n  \"welcomed\": %d,\n  \"resumed_true\": %d,\n  \"resumed_false\": %d,\n  \"refused\": %d,\n", g_rs_n,
                n_welcomed, n_resumed, n_notresumed, n_failed);
        fprintf(f, "  \"resumed_without_snapshot\": %d,\n  \"snapshot_clients\": %d,\n  \"snapshots_total\": %" PRIu64
                   ",\n  \"resync_snapshot_clients\": %d,\n  \"snapshot_after_resumed_clients\": %d,\n  \"snapshot_after_sync_clients\": %d,\n"
                   "  \"snapshot_older_than_client_clients\": %d,\n",
                n_res_only, n_snap, snaps_total, n_resync, n_snap_after_res, n_snap_after_sync, n_snap_older);
        fprintf(f, "  \"first_prev_equal\": %d,\n  \"first_prev_before\": %d,\n  \"first_prev_after_gap\": %d,\n  \"gap_clients\": %d,\n"
                   "  \"overlap_clients\": %d,\n  \"prev_beyond_previous_to_clients\": %d,\n",
                n_first_eq, n_first_before, n_first_after, n_gap, n_overlap, n_ahead);
        fprintf(f, "  \"caught_up\": %d,\n  \"all_caught_up\": %s,\n  \"all_caught_up_s\": %.6f,\n  \"not_caught_lost\": %d,\n"
                   "  \"not_caught_connected\": %d,\n  \"catchup_timeout_s\": %.3f,\n",
                g_rs_caught, all_caught ? "true" : "false", all_caught ? win : -1.0, n_lost, n_notcaught_open, opt.catchup_timeout);
        json_hist_n(f, "welcome_ms", &h_welcome, 1e3, "ms", true);
        json_hist_n(f, "catchup_ms", &h_catch, 1e3, "ms", true);
        json_hist_n(f, "catchup_since_storm_ms", &h_storm, 1e3, "ms", true);
        json_hist_n(f, "catchup_resumed_ms", &h_catch_res, 1e3, "ms", true);
        json_hist_n(f, "catchup_snapshot_ms", &h_catch_snap, 1e3, "ms", true);
        json_hist_n(f, "bytes_per_client", &h_bytes, 1.0, "b", true);
        json_hist_n(f, "bytes_per_resumed_client", &h_bytes_res, 1.0, "b", true);
        json_hist_n(f, "bytes_per_snapshot_client", &h_bytes_snap, 1.0, "b", true);
        json_hist_n(f, "frames_per_client", &h_frames, 1.0, "n", true);
        fprintf(f, "  \"bytes_total\": %" PRIu64 ",\n  \"frames_total\": %" PRIu64 ",\n  \"updates_total\": %" PRIu64
                   ",\n  \"updates_stale\": %" PRIu64 ",\n",
                bytes_all, frames_all, updates_all, stale_all);
        fprintf(f, "  \"cpu_window_s\": %.6f,\n  \"server_cpu_s\": %.3f,\n  \"redis_cpu_s\": %.3f,\n  \"loadgen_cpu_s\": %.3f,\n"
                   "  \"other_cpu_s\": %.3f,\n  \"irq_softirq_cpu_s\": %.3f,\n  \"cpus\": %ld,\n  \"server_rss_end_kib\": %ld,\n  \"server_rss_peak_kib\": %ld,\n",
                cpu_win, srv_cpu_s, red_cpu_s, self_s, other_s, irq_s, sysconf(_SC_NPROCESSORS_ONLN), p1.rss_kb, p1.hwm_kb);
        fprintf(f, "  \"verify_every\": %d,\n  \"verify_checked\": %d,\n  \"verify_differ\": %d,\n  \"verify_not_checked\": %d,\n"
                   "  \"verify_first_difference\": \"%s\",\n",
                opt.verify_every, vf_checked, vf_bad, vf_skipped, vf_first);
        fprintf(f, "  \"close_codes\": {");
        for (int k = 0; k < ncc; k++) fprintf(f, "%s\"%d\": %d", k ? ", " : "", cc[k].code, cc[k].n);
        fprintf(f, "},\n  \"errors_total\": %" PRIu64 ",\n", g_err_total);
        json_errs(f, "errors", g_err, g_nerr, true);
        fprintf(f, "  \"errors_setup_total\": %" PRIu64 ",\n", err_setup_total);
        json_errs(f, "errors_setup", err_setup, nerr_setup, false);
        fprintf(f, "}\n");
        fclose(f);
    }
    return 0;
}

int main(int argc, char **argv)
{
    parse_opts(argc, argv);
    g_t0 = now_us();
    signal(SIGPIPE, SIG_IGN);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    int extra_conns = opt.scenario == SC_RESUME ? opt.writers + 1 : 0; /* writers + the verifying screen */
    if ((rlim_t)opt.clients + extra_conns + 64 > rl.rlim_cur)
        die("--clients %d needs more file descriptors than the limit %lu", opt.clients, (unsigned long)rl.rlim_cur);

    double budget = opt.deadline > 0 ? opt.deadline
                    : opt.scenario == SC_RESUME
                        ? 60 + 2 * opt.connect_timeout + opt.idle_settle + opt.away_seconds + 40 + opt.catchup_timeout +
                              (opt.resume_gate ? opt.gate_timeout : 0)
                        : 20 + opt.connect_timeout + opt.idle_settle + opt.warmup + opt.duration + opt.drain + 10;
    g_hard_deadline = g_t0 + (uint64_t)(budget * 1e6);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)budget + 3); /* backstop for blocking calls (HTTP, Redis XLEN: 5 s / 1 s timeouts) */

    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_ep < 0) die("epoll_create1: %s", strerror(errno));
    g_nconns = opt.clients + 1 + extra_conns;
    g_conns = calloc((size_t)g_nconns, sizeof *g_conns);
    if (!g_conns) die("out of memory");
    for (int i = 0; i < g_nconns; i++) g_conns[i].fd = -1;

    /* ---- create the jam */
    g_phase = "setup";
    char body[512], resp[8192];
    snprintf(body, sizeof body,
             "{\"title\":\"Load test %s\",\"question\":\"How fast is cojam?\",\"agenda\":[{\"phase\":\"ideate\",\"duration_s\":0}],"
             "\"settings\":{\"anonymous_allowed\":true,\"votes_per_phase\":0}}",
             sc_name[opt.scenario]);
    int status = -1;
    resp[0] = 0;
    for (uint64_t until = now_us() + 15000000; now_us() < until && now_us() < g_hard_deadline;) { /* server may be starting */
        status = http_post("/api/jams", body, resp, sizeof resp);
        if (status > 0) break;
        usleep(200000);
    }
    if (status != 201 && status != 200) die("POST /api/jams failed: HTTP %d %s", status, resp);
    json_error_t je;
    json_t *j = json_loads(resp, 0, &je);
    const char *code = j ? json_string_value(json_object_get(j, "code")) : NULL;
    const char *secret = j ? json_string_value(json_object_get(j, "moderator_secret")) : NULL;
    if (!code || !secret) die("bad create-jam reply: %s", resp);
    snprintf(g_code, sizeof g_code, "%s", code);
    snprintf(g_secret, sizeof g_secret, "%s", secret);
    json_decref(j);
    logf_("jam %s created (%s, %d clients, rate %.0f/s)", g_code, sc_name[opt.scenario], opt.clients, opt.rate);

    /* ---- moderator: join, start, post ideas */
    if (opt.scenario != SC_JOIN) {
        g_phase = "moderate";
        conn_t *m = &g_conns[opt.clients];
        conn_start(m, opt.clients, ROLE_MODERATOR);
        if (opt.scenario == SC_IDEA || opt.scenario == SC_RESUME) opt.ideas = 0;
        bool ok = run_until(mod_done, 30) && g_mod_state == MS_READY;
        if (!ok) {
            for (int i = 0; i < g_nerr; i++) fprintf(stderr, "  error %s=%" PRIu64 "\n", g_err[i].name, g_err[i].n);
            die("moderator setup failed (state %d, conn %d)", g_mod_state, m->state);
        }
        logf_("moderator ready: %d ideas posted", g_nitems);
    }
    if (opt.scenario == SC_RESUME) return resume_main();

    /* ---- connect */
    procs_t p_before = proc_read(opt.server_pid);
    g_phase = "connect";
    uint64_t t_conn0 = now_us(), t_conn_end = t_conn0 + (uint64_t)(opt.connect_timeout * 1e6);
    int next = 0;
    while (!all_joined()) {
        uint64_t t = now_us();
        if (t >= t_conn_end) break;
        while (next < opt.clients) {
            if (g_inflight >= opt.max_inflight) break;
            if (opt.connect_rate > 0 && (double)next >= opt.connect_rate * (double)(t - t_conn0) / 1e6 + 1) break;
            conn_start(&g_conns[next], next, ROLE_CITIZEN);
            next++;
        }
        loop_once(next < opt.clients ? 1000 : 10000);
        housekeeping();
    }
    uint64_t t_conn_done = now_us();
    uint64_t last_join = 0;
    for (int i = 0; i < opt.clients; i++) {
        conn_t *c = &g_conns[i];
        if (c->state == CS_JOINED && c->t_joined > last_join) last_join = c->t_joined;
        if (c->state != CS_JOINED && c->state != CS_CLOSED) conn_close(c, "join_timeout");
        if (c->state == CS_IDLE) c_failed++;
    }
    double t_all_joined = last_join ? (double)(last_join - t_conn0) / 1e6 : 0;
    logf_("connect: %" PRIu64 " joined, %" PRIu64 " failed in %.3f s (last join at %.3f s)", c_joined, c_failed,
          (double)(t_conn_done - t_conn0) / 1e6, t_all_joined);

    g_phase = "idle";
    run_until(never, opt.idle_settle);
    procs_t p_idle = proc_read(opt.server_pid);
    uint64_t joined_at_idle = c_joined;

    /* ---- load */
    procs_t p_m0 = {0}, p_m1 = {0}, r_m0 = {0}, r_m1 = {0};
    long xlen0 = -1, xlen1 = -1;
    double self0 = 0, self1 = 0;
    uint64_t mach0 = 0, mach1 = 0, irq0 = 0, irq1 = 0;
    uint64_t t_m0 = 0, t_m1 = 0;
    if (opt.scenario != SC_JOIN) {
        int nw = (int)ceil(opt.clients * opt.writers_frac);
        if (nw < 1) nw = 1;
        g_writers = calloc((size_t)nw, sizeof *g_writers);
        /* spread writers over the index space (and so over source addresses) */
        for (int i = 0; i < nw; i++) g_writers[g_nwriters++] = (int)((int64_t)i * opt.clients / nw);
        for (int i = 0; i < opt.clients; i++) {
            conn_t *c = &g_conns[i];
            c->cursor = 0;
        }
        g_watermark = (evid_t){0, 0};
        update_watermark();
        uint64_t t_load0 = now_us();
        uint64_t t_meas0 = t_load0 + (uint64_t)(opt.warmup * 1e6), t_meas1 = t_meas0 + (uint64_t)(opt.duration * 1e6);
        uint64_t k = 0;
        bool in_meas = false;
        g_phase = "warmup";
        for (;;) {
            uint64_t t = now_us();
            if (!in_meas && t >= t_meas0) {
                in_meas = true;
                g_phase = "measure";
                p_m0 = proc_read(opt.server_pid);
                r_m0 = proc_read(opt.redis_pid);
                xlen0 = redis_xlen();
                self0 = self_cpu_s();
                mach0 = machine_busy_ticks();
                irq0 = g_irq_ticks;
                t_m0 = now_us();
                mark("measure_start");
            }
            if (t >= t_meas1) break;
            uint64_t due;
            for (;;) {
                due = t_load0 + (uint64_t)((double)k * 1e6 / opt.rate);
                if (due > t || due >= t_meas1) break;
                send_one(due >= t_meas0);
                k++;
            }
            uint64_t wake = due < t_meas1 ? due : t_meas1;
            if (!in_meas && t_meas0 < wake) wake = t_meas0;
            t = now_us();
            loop_once(wake > t ? (int64_t)(wake - t) : 0);
            housekeeping();
        }
        p_m1 = proc_read(opt.server_pid);
        r_m1 = proc_read(opt.redis_pid);
        xlen1 = redis_xlen();
        self1 = self_cpu_s();
        mach1 = machine_busy_ticks();
        irq1 = g_irq_ticks;
        t_m1 = now_us();
        mark("measure_end");
        g_phase = "drain";
        logf_("load done: %" PRIu64 " writes sent (%" PRIu64 " measured), draining", g_w_sent_total, g_w_sent_meas);
        run_until(drain_done, opt.drain);
        update_watermark();
        sweep_all();
    }

    /* ---- report */
    g_phase = "report";
    int alive = 0;
    uint64_t samples_alive = 0;
    for (int i = 0; i < opt.clients; i++)
        if (g_conns[i].state == CS_JOINED) {
            alive++;
            samples_alive += g_conns[i].samples;
        }
    uint64_t pending_left = 0;
    for (uint32_t kk = g_first_out; kk < g_nw; kk++) pending_left += g_w[kk].state == W_PENDING;
    double expected = (double)g_w_acked_meas * alive;
    double ratio = expected > 0 ? (double)samples_alive / expected : (opt.scenario == SC_JOIN ? 1.0 : 0.0);
    double win = t_m1 > t_m0 ? (double)(t_m1 - t_m0) / 1e6 : 0;
    long hz = sysconf(_SC_CLK_TCK);
    double srv_cpu = (p_m0.ok && p_m1.ok && win > 0) ? 100.0 * (double)(p_m1.ticks - p_m0.ticks) / hz / win : -1;
    double red_cpu = (r_m0.ok && r_m1.ok && win > 0) ? 100.0 * (double)(r_m1.ticks - r_m0.ticks) / hz / win : -1;
    double self_cpu = win > 0 ? 100.0 * (self1 - self0) / win : -1;
    double mach_cpu = (mach0 && mach1 && win > 0) ? 100.0 * (double)(mach1 - mach0) / hz / win : -1;
    double irq_cpu = (mach0 && mach1 && win > 0) ? 100.0 * (double)(irq1 - irq0) / hz / win : -1;
    double other_cpu = mach_cpu >= 0 ? mach_cpu - (srv_cpu > 0 ? srv_cpu : 0) - (red_cpu > 0 ? red_cpu : 0) - (self_cpu > 0 ? self_cpu : 0) : -1;
    double ev_s = (xlen0 >= 0 && xlen1 >= 0 && win > 0) ? (double)(xlen1 - xlen0) / win : -1;
    double rss_per_conn = (p_before.ok && p_idle.ok && joined_at_idle) ? (double)(p_idle.rss_kb - p_before.rss_kb) * 1024.0 / joined_at_idle : -1;
    procs_t p_end = proc_read(opt.server_pid);

    FILE *o = stdout;
    fprintf(o, "\n== cojam loadgen: %s%s%s  clients %d  rate %.0f/s  duration %.0f s  warmup %.0f s  jam %s\n", sc_name[opt.scenario],
            opt.label ? "  " : "", opt.label ? opt.label : "", opt.clients, opt.rate, opt.duration, opt.warmup, g_code);
    fprintf(o, "  connect: joined %" PRIu64 "/%d, failed %" PRIu64 ", all joined in %.3f s, alive at end %d, dropped after join %" PRIu64 "\n",
            c_joined, opt.clients, c_failed, t_all_joined, alive, c_closed_after_join);
    if (opt.scenario != SC_JOIN) {
        fprintf(o, "  writes: sent %" PRIu64 " (measured %" PRIu64 "), acked measured %" PRIu64 " = %.1f/s, errors %" PRIu64
                   ", skipped (writer busy) %" PRIu64 ", unacked %" PRIu64 "\n",
                g_w_sent_total, g_w_sent_meas, g_w_acked_meas, win > 0 ? g_w_acked_meas / win : 0, g_w_err_meas, g_w_skipped,
                pending_left);
        fprintf(o, "  delivery: samples %" PRIu64 " / expected %.0f = ratio %.6f  (gaps %" PRIu64 ", resyncs %" PRIu64
                   ", ring overflow %" PRIu64 ", unmeasurable late acks %" PRIu64 ")\n",
                samples_alive, expected, ratio, c_gaps, c_resyncs, c_ring_overflow, c_late_unmeasurable);
    }
    fprintf(o, "  %-22s %12s %9s %9s %9s %9s %9s %9s\n", "latency (ms)", "count", "mean", "p50", "p90", "p99", "p99.9", "max");
    print_hist_row(o, "connect (tcp+ws+join)", &g_h_connect);
    if (opt.scenario != SC_JOIN) {
        print_hist_row(o, "ack", &g_h_ack);
        print_hist_row(o, "vote-to-screen", &g_h_lat);
    }
    fprintf(o, "  server: cpu %.1f%% of one core, rss before %ld KiB, idle %ld KiB (%.0f B/conn), end %ld KiB, peak %ld KiB\n", srv_cpu,
            p_before.rss_kb, p_idle.rss_kb, rss_per_conn, p_end.rss_kb, p_end.hwm_kb);
    fprintf(o, "  redis: events persisted %.1f/s, cpu %.1f%%   loadgen cpu %.1f%%   frames in %" PRIu64 " (updates %" PRIu64
               ", fallback parses %" PRIu64 "), pings %" PRIu64 "\n",
            ev_s, red_cpu, self_cpu, c_frames_in, c_updates, c_fallback_parse, c_pings);
    fprintf(o, "  machine: processes %.1f%% + irq/softirq %.1f%% of %ld cores x 100%% (other processes: %.1f%%)\n", mach_cpu, irq_cpu,
            sysconf(_SC_NPROCESSORS_ONLN), other_cpu);
    fprintf(o, "  errors: %" PRIu64 "", g_err_total);
    for (int i = 0; i < g_nerr; i++) fprintf(o, "  %s=%" PRIu64, g_err[i].name, g_err[i].n);
    fprintf(o, "\n");
    fflush(o);

    if (opt.json) {
        FILE *f = fopen(opt.json, "w");
        if (!f) die("cannot write %s: %s", opt.json, strerror(errno));
        fprintf(f, "{\n  \"scenario\": \"%s\",\n  \"label\": \"%s\",\n  \"clients\": %d,\n  \"rate\": %.3f,\n  \"duration_s\": %.3f,\n"
                   "  \"warmup_s\": %.3f,\n  \"writers\": %d,\n  \"sources\": %d,\n  \"jam\": \"%s\",\n",
                sc_name[opt.scenario], opt.label ? opt.label : "", opt.clients, opt.rate, opt.duration, opt.warmup, g_nwriters, opt.sources,
                g_code);
        fprintf(f, "  \"joined\": %" PRIu64 ",\n  \"connect_failed\": %" PRIu64 ",\n  \"all_joined_s\": %.6f,\n  \"alive_at_end\": %d,\n"
                   "  \"dropped_after_join\": %" PRIu64 ",\n",
                c_joined, c_failed, t_all_joined, alive, c_closed_after_join);
        fprintf(f, "  \"writes_sent\": %" PRIu64 ",\n  \"writes_sent_measured\": %" PRIu64 ",\n  \"writes_acked_measured\": %" PRIu64
                   ",\n  \"writes_errors_measured\": %" PRIu64 ",\n  \"writes_skipped_busy\": %" PRIu64 ",\n  \"writes_unacked\": %" PRIu64
                   ",\n  \"acked_per_s\": %.3f,\n",
                g_w_sent_total, g_w_sent_meas, g_w_acked_meas, g_w_err_meas, g_w_skipped, pending_left, win > 0 ? g_w_acked_meas / win : 0);
        fprintf(f, "  \"samples\": %" PRIu64 ",\n  \"samples_expected\": %.0f,\n  \"delivery_ratio\": %.9f,\n  \"gaps\": %" PRIu64
                   ",\n  \"resyncs\": %" PRIu64 ",\n  \"ring_overflow\": %" PRIu64 ",\n  \"late_unmeasurable\": %" PRIu64 ",\n"
                   "  \"delivery_exact\": %s,\n",
                samples_alive, expected, ratio, c_gaps, c_resyncs, c_ring_overflow, c_late_unmeasurable,
                (g_w_acked_meas > 0 && samples_alive == g_w_acked_meas * (uint64_t)alive) ? "true" : "false");
        json_hist(f, "connect_ms", &g_h_connect, true);
        json_hist(f, "ack_ms", &g_h_ack, true);
        json_hist(f, "vote_to_screen_ms", &g_h_lat, true);
        fprintf(f, "  \"measure_window_s\": %.6f,\n  \"server_cpu_pct\": %.2f,\n  \"redis_cpu_pct\": %.2f,\n  \"loadgen_cpu_pct\": %.2f,\n",
                win, srv_cpu, red_cpu, self_cpu);
        fprintf(f, "  \"machine_cpu_pct\": %.2f,\n  \"irq_softirq_cpu_pct\": %.2f,\n  \"other_cpu_pct\": %.2f,\n  \"cpus\": %ld,\n", mach_cpu, irq_cpu, other_cpu,
                sysconf(_SC_NPROCESSORS_ONLN));
        fprintf(f, "  \"rss_before_kib\": %ld,\n  \"rss_idle_kib\": %ld,\n  \"rss_end_kib\": %ld,\n  \"rss_peak_kib\": %ld,\n"
                   "  \"rss_per_idle_conn_bytes\": %.1f,\n",
                p_before.rss_kb, p_idle.rss_kb, p_end.rss_kb, p_end.hwm_kb, rss_per_conn);
        fprintf(f, "  \"redis_events_per_s\": %.3f,\n  \"xlen_start\": %ld,\n  \"xlen_end\": %ld,\n  \"frames_in\": %" PRIu64
                   ",\n  \"updates_in\": %" PRIu64 ",\n  \"bytes_in\": %" PRIu64 ",\n  \"fallback_parses\": %" PRIu64 ",\n",
                ev_s, xlen0, xlen1, c_frames_in, c_updates, c_bytes_in, c_fallback_parse);
        fprintf(f, "  \"errors_total\": %" PRIu64 ",\n  \"errors\": {", g_err_total);
        for (int i = 0; i < g_nerr; i++) fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", g_err[i].name, g_err[i].n);
        fprintf(f, "}\n}\n");
        fclose(f);
    }
    /* close politely-ish: just exit, the kernel closes the sockets */
    (void)c_snapshots_big;
    return 0;
}
