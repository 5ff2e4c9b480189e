/* SPDX-License-Identifier: MIT
 * test_net.c - net.c with real libwebsockets on a free loopback port, its loop on a thread of its
 * own, driven by raw TCP clients written here: the Origin allowlist and the /ws path at the
 * handshake, messages (whole and fragmented) to on_message, the write pump through next_frame,
 * the size cap (close 1009) and binary frames (1003), on_close, HTTP to on_http and
 * net_http_reply, static files, the tick and net_wake. Every read has a timeout.
 */
#include "net.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"

#define MAX_MSG 1024

static struct net *net;
static int port;
static char web_root[] = "/tmp/test_net.XXXXXX";

/* ---- the callbacks (loop thread) --------------------------------------------------------- */

static atomic_int opens, closes, messages, wakes, ticks, https;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char last_text[4096];
static char last_path[128], last_method[8], last_body[256];
static struct frame *pending; /* the next frame for the session that asked */

static void on_open(struct session *s, void *arg)
{
    (void)s, (void)arg;
    atomic_fetch_add(&opens, 1);
}

static void on_message(struct session *s, const char *text, size_t len, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    snprintf(last_text, sizeof last_text, "%.*s", (int)len, text);
    pthread_mutex_unlock(&lock);
    if (strcmp(text, "echo") == 0) {
        frame_unref(pending);
        pending = frame_new("pong-frame", 10);
        net_want_write(s);
    }
    atomic_fetch_add(&messages, 1);
}

static struct frame *next_frame(struct session *s, bool *more, void *arg)
{
    (void)s, (void)arg;
    struct frame *f = pending;
    pending = NULL;
    *more = false;
    return f;
}

static void on_close(struct session *s, void *arg)
{
    (void)s, (void)arg;
    atomic_fetch_add(&closes, 1);
}

static void on_wake(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wakes, 1);
}

static int64_t on_tick(int64_t now_ms, void *arg)
{
    (void)now_ms, (void)arg;
    atomic_fetch_add(&ticks, 1);
    return INT64_MAX; /* net keeps to its tick */
}

static void on_http(const struct http_request *req, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    snprintf(last_path, sizeof last_path, "%s", req->path);
    snprintf(last_method, sizeof last_method, "%s", req->method);
    snprintf(last_body, sizeof last_body, "%.*s", (int)req->body_len, req->body);
    pthread_mutex_unlock(&lock);
    atomic_fetch_add(&https, 1);
    char *body = malloc(32);
    strcpy(body, "{\"ok\":true}");
    net_http_reply(net, req->id, 200, body);
}

static void *run_loop(void *arg)
{
    net_run(arg);
    return NULL;
}

/* ---- a raw client ------------------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Wait until *counter reaches 'want' (5 s at most). */
static bool wait_for(atomic_int *counter, int want)
{
    int64_t deadline = now_ms() + 5000;
    while (atomic_load(counter) < want && now_ms() < deadline)
        sleep_ms(5);
    return atomic_load(counter) >= want;
}

struct client {
    int fd;
    unsigned char buf[8192];
    size_t len; /* bytes read and not consumed */
};

static bool client_connect(struct client *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return connect(c->fd, (struct sockaddr *)&a, sizeof a) == 0;
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static bool send_all(struct client *c, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* Read more; false on timeout, EOF or a full buffer. */
static bool read_more(struct client *c)
{
    if (c->len == sizeof c->buf)
        return false;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (r <= 0)
        return false;
    c->len += (size_t)r;
    return true;
}

static void consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Send a request and return the HTTP status of the reply (its headers consumed), or -1. */
static int request(struct client *c, const char *req)
{
    if (!send_all(c, req, strlen(req)))
        return -1;
    for (;;) {
        c->buf[c->len < sizeof c->buf ? c->len : sizeof c->buf - 1] = '\0';
        char *end = strstr((char *)c->buf, "\r\n\r\n");
        if (end) {
            int status = -1;
            sscanf((char *)c->buf, "HTTP/1.%*d %d", &status); /* lws refuses in HTTP/1.0 */
            consume(c, (size_t)(end + 4 - (char *)c->buf));
            return status;
        }
        if (!read_more(c))
            return -1;
    }
}

static int handshake(struct client *c, const char *path, const char *origin)
{
    char req[1024];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: cojam.v1\r\n%s%s%s\r\n",
             path, port, origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "");
    return request(c, req);
}

/* One client frame (masked, as RFC 6455 requires; the key is zero so the payload stays as is). */
static bool send_frame(struct client *c, int opcode, bool fin, const void *data, size_t n)
{
    unsigned char h[14];
    size_t k = 0;
    h[k++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (n < 126) {
        h[k++] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        h[k++] = 0x80 | 126;
        h[k++] = (unsigned char)(n >> 8);
        h[k++] = (unsigned char)n;
    } else {
        h[k++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[k++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    memset(h + k, 0, 4);
    k += 4;
    return send_all(c, h, k) && send_all(c, data, n);
}

/* Read one server frame: its opcode (or -1) and payload (NUL-terminated, cut to 'size'). */
static int read_frame(struct client *c, char *out, size_t size)
{
    for (;;) {
        if (c->len >= 2) {
            size_t n = c->buf[1] & 0x7f, k = 2;
            if (n == 126 && c->len >= 4) {
                n = (size_t)c->buf[2] << 8 | c->buf[3];
                k = 4;
            } else if (n == 126 || n == 127) {
                if (n == 127)
                    return -1; /* never sent by these tests */
                goto more;
            }
            if (c->len >= k + n) {
                int opcode = c->buf[0] & 0x0f;
                size_t m = n < size - 1 ? n : size - 1;
                memcpy(out, c->buf + k, m);
                out[m] = '\0';
                consume(c, k + n);
                return opcode;
            }
        }
    more:
        if (!read_more(c))
            return -1;
    }
}

/* The close code of the next close frame, skipping others; -1 if none came. */
static int read_close_code(struct client *c)
{
    char p[256];
    for (int i = 0; i < 8; i++) {
        int op = read_frame(c, p, sizeof p);
        if (op < 0)
            return -1;
        if (op == 8)
            return ((unsigned char)p[0] << 8) | (unsigned char)p[1];
    }
    return -1;
}

static void last_text_is(const char *want)
{
    pthread_mutex_lock(&lock);
    CHECK_EQ_STR(last_text, want);
    pthread_mutex_unlock(&lock);
}

/* ---- tests ------------------------------------------------------------------------------- */

#define X10 "xxxxxxxxxx"
#define LONG_TAIL                                                                                  \
    X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10    \
        X10 X10 X10 X10 X10 X10 X10 /* 300 bytes */

TEST(handshake_origin_and_path)
{
    static const struct {
        const char *path, *origin;
        int status;
    } cases[] = {
        {"/ws", "http://good.example", 101},
        {"/ws", "http://also.example", 101},
        {"/ws", NULL, 101},
        {"/ws", "http://evil.example", 403},
        {"/ws", "http://good.example.evil", 403},
        {"/ws", "http://127.0.0.1", 403},
        {"/other", NULL, 404},
        /* issue 10: an Origin longer than the copy buffer is a refusal, not "no Origin" */
        {"/ws", "http://evil.example/" LONG_TAIL, 403},
    };
    int opened = atomic_load(&opens), closed = atomic_load(&closes);
    int accepted = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct client c;
        CHECK(client_connect(&c));
        int status = handshake(&c, cases[i].path, cases[i].origin);
        if (status != cases[i].status)
            fprintf(stderr, "  %s Origin %s: %d\n", cases[i].path, cases[i].origin, status);
        CHECK_EQ_INT(status, cases[i].status);
        accepted += status == 101;
        client_close(&c);
    }
    CHECK(wait_for(&opens, opened + accepted));
    CHECK(wait_for(&closes, closed + accepted)); /* on_close once per opened session */
    CHECK_EQ_INT(atomic_load(&opens), opened + accepted);
}

/* Pure: the allowlist and the default (issue 10: the default is the public URL's origin, never
 * the request's Host). */
TEST(origin_rules)
{
    const char *own = "https://jam.example";
    CHECK(net_origin_allowed(NULL, NULL, own));
    CHECK(net_origin_allowed("https://jam.example", NULL, own));
    CHECK(net_origin_allowed("HTTPS://JAM.EXAMPLE", NULL, own));
    CHECK(!net_origin_allowed("http://jam.example", NULL, own));
    CHECK(!net_origin_allowed("https://jam.example:8443", NULL, own));
    CHECK(!net_origin_allowed("https://rebind.attacker.example", NULL, own));
    CHECK(!net_origin_allowed("https://jam.example", NULL, NULL));
    CHECK(net_origin_allowed("http://b.example", " http://a.example ,http://b.example ", own));
    CHECK(!net_origin_allowed("http://a.exampl", "http://a.example", own));
    CHECK(!net_origin_allowed("", "http://a.example", own));
    CHECK(net_origin_allowed("http://any.example", "*", own));

    char o[64];
    CHECK_EQ_INT(net_url_origin("https://Jam.Example/base/path?x#y", o, sizeof o), 0);
    CHECK_EQ_STR(o, "https://jam.example");
    CHECK_EQ_INT(net_url_origin("http://127.0.0.1:8080", o, sizeof o), 0);
    CHECK_EQ_STR(o, "http://127.0.0.1:8080");
    CHECK_EQ_INT(net_url_origin("ftp://x", o, sizeof o), -EINVAL);
    CHECK_EQ_INT(net_url_origin("http:///path", o, sizeof o), -EINVAL);
    CHECK_EQ_INT(net_url_origin("jam.example", o, sizeof o), -EINVAL);
    CHECK_EQ_INT(net_url_origin("http://a-very-long-host-name.example", o, 16), -EINVAL);
}

TEST(messages_and_the_write_pump)
{
    struct client c;
    CHECK(client_connect(&c));
    CHECK_EQ_INT(handshake(&c, "/ws", NULL), 101);
    int m = atomic_load(&messages);
    CHECK(send_frame(&c, 1, true, "hello", 5));
    CHECK(wait_for(&messages, m + 1));
    last_text_is("hello");
    /* Fragments are reassembled into one message. */
    CHECK(send_frame(&c, 1, false, "{\"a\":", 5));
    CHECK(send_frame(&c, 0, false, "\"b", 2));
    CHECK(send_frame(&c, 0, true, "c\"}", 3));
    CHECK(wait_for(&messages, m + 2));
    last_text_is("{\"a\":\"bc\"}");
    /* A message of exactly the cap is delivered. */
    char *big = malloc(MAX_MSG);
    memset(big, 'x', MAX_MSG);
    CHECK(send_frame(&c, 1, true, big, MAX_MSG));
    CHECK(wait_for(&messages, m + 3));
    pthread_mutex_lock(&lock);
    CHECK_EQ_INT(strlen(last_text), MAX_MSG);
    pthread_mutex_unlock(&lock);
    free(big);
    /* on_message asks for a write; next_frame's frame arrives as one text frame. */
    CHECK(send_frame(&c, 1, true, "echo", 4));
    char p[64];
    CHECK_EQ_INT(read_frame(&c, p, sizeof p), 1);
    CHECK_EQ_STR(p, "pong-frame");
    client_close(&c);
}

TEST(over_the_cap_closes_1009)
{
    int m = atomic_load(&messages), closed = atomic_load(&closes);
    struct client c;
    CHECK(client_connect(&c));
    CHECK_EQ_INT(handshake(&c, "/ws", NULL), 101);
    char *big = malloc(MAX_MSG + 1);
    memset(big, 'x', MAX_MSG + 1);
    CHECK(send_frame(&c, 1, true, big, MAX_MSG + 1));
    CHECK_EQ_INT(read_close_code(&c), 1009);
    client_close(&c);
    /* Over the cap in fragments too. */
    CHECK(client_connect(&c));
    CHECK_EQ_INT(handshake(&c, "/ws", NULL), 101);
    CHECK(send_frame(&c, 1, false, big, MAX_MSG / 2 + 1));
    CHECK(send_frame(&c, 0, true, big, MAX_MSG / 2 + 1));
    CHECK_EQ_INT(read_close_code(&c), 1009);
    client_close(&c);
    free(big);
    CHECK(wait_for(&closes, closed + 2));
    CHECK_EQ_INT(atomic_load(&messages), m); /* nothing of them was delivered */
}

TEST(binary_closes_1003)
{
    int m = atomic_load(&messages);
    struct client c;
    CHECK(client_connect(&c));
    CHECK_EQ_INT(handshake(&c, "/ws", NULL), 101);
    CHECK(send_frame(&c, 2, true, "\x01\x02", 2));
    CHECK_EQ_INT(read_close_code(&c), 1003);
    client_close(&c);
    CHECK_EQ_INT(atomic_load(&messages), m);
}

TEST(http_api_and_static_files)
{
    int h = atomic_load(&https);
    struct client c;
    CHECK(client_connect(&c));
    CHECK_EQ_INT(request(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    while (!strstr((char *)c.buf, "{\"ok\":true}") && read_more(&c))
        c.buf[c.len < sizeof c.buf ? c.len : sizeof c.buf - 1] = '\0';
    CHECK(strstr((char *)c.buf, "{\"ok\":true}") != NULL);
    client_close(&c);
    CHECK_EQ_INT(atomic_load(&https), h + 1);
    pthread_mutex_lock(&lock);
    CHECK_EQ_STR(last_path, "/healthz");
    CHECK_EQ_STR(last_method, "GET");
    pthread_mutex_unlock(&lock);

    CHECK(client_connect(&c));
    CHECK_EQ_INT(request(&c, "POST /api/jams HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n"
                             "Content-Type: application/json\r\n\r\n{\"a\":123}"),
                 200);
    client_close(&c);
    pthread_mutex_lock(&lock);
    CHECK_EQ_STR(last_path, "/api/jams");
    CHECK_EQ_STR(last_method, "POST");
    CHECK_EQ_STR(last_body, "{\"a\":123}");
    pthread_mutex_unlock(&lock);

    CHECK(client_connect(&c));
    CHECK_EQ_INT(request(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    while (!strstr((char *)c.buf, "static-index") && read_more(&c))
        c.buf[c.len < sizeof c.buf ? c.len : sizeof c.buf - 1] = '\0';
    CHECK(strstr((char *)c.buf, "static-index") != NULL);
    client_close(&c);
}

TEST(tick_and_wake)
{
    int t = atomic_load(&ticks), w = atomic_load(&wakes);
    CHECK(wait_for(&ticks, t + 3));
    net_wake(net);
    CHECK(wait_for(&wakes, w + 1));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(120);              /* a wedged loop fails the suite instead of blocking make test */
    log_set_level(LOG_WARN); /* the refusals are logged at info */
    if (!mkdtemp(web_root)) {
        perror("mkdtemp");
        return 2;
    }
    char index[sizeof web_root + 16];
    snprintf(index, sizeof index, "%s/index.html", web_root);
    FILE *f = fopen(index, "w");
    fputs("static-index\n", f);
    fclose(f);

    /* A free port: bind to 0, read it back, release it for lws. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &alen);
    port = ntohs(a.sin_port);
    close(fd);

    struct net_config cfg = {
        .listen_host = "127.0.0.1",
        .port = port,
        .web_root = web_root,
        .allowed_origins = "http://good.example, http://also.example",
        .max_message_bytes = MAX_MSG,
        .tick_ms = 20,
        .loop_pace_us = 0,
    };
    struct net_callbacks cbs = {
        .on_open = on_open,
        .on_message = on_message,
        .next_frame = next_frame,
        .on_close = on_close,
        .on_wake = on_wake,
        .on_tick = on_tick,
        .on_http = on_http,
    };
    pthread_t loop;
    if (net_new(&cfg, &cbs, &net) != 0 || pthread_create(&loop, NULL, run_loop, net) != 0) {
        printf("# 0 passed, 1 failed\n");
        return 1;
    }
    RUN(origin_rules);
    RUN(handshake_origin_and_path);
    RUN(messages_and_the_write_pump);
    RUN(over_the_cap_closes_1009);
    RUN(binary_closes_1003);
    RUN(http_api_and_static_files);
    RUN(tick_and_wake);
    net_stop(net);
    pthread_join(loop, NULL);
    net_free(net);
    frame_unref(pending);
    unlink(index);
    rmdir(web_root);
    return test_done();
}
