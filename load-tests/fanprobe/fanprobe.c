/* SPDX-License-Identifier: MIT
 * fanprobe.c - the raw fan-out ceiling of this machine: what one small send() to each of N
 * loopback TCP sockets costs when nothing else is done (no WebSocket framing, no JSON, no event
 * loop). A writer process accepts N connections from a reader process, then writes one RECORD-byte
 * record per socket per round for --seconds; the reader drains them with epoll. It prints the
 * writer's sends per CPU-second (its utime+stime, the loopback receive work the kernel charges to
 * the sender included, as it is for cojamd), the figure bench.sh divides cojam's deliveries per
 * CPU-second by. With --period-ms the rounds are paced, one per period with the writer asleep
 * in between, as cojamd's broadcasts are (bench.sh runs it both ways).
 *
 *   build/fanprobe --clients 5000 [--seconds 3] [--bytes 60] [--period-ms P] [--pin-writer CPU]
 *                  [--pin-reader CPU] [--json FILE]
 *
 * Bounded: every phase has a deadline; the reader exits at EOF or at the deadline.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECORD 4096
#define PHASE_DEADLINE_S 60 /* connecting N sockets, or draining them, takes far less */

struct opts {
    int clients;
    double seconds;
    int bytes;
    int pin_writer, pin_reader; /* -1 = not pinned */
    double period_ms;           /* 0 = rounds back to back; else one round per period, sleeping between */
    const char *json;
};

static void die(const char *what)
{
    fprintf(stderr, "fanprobe: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void pin(int cpu)
{
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

/* Both processes hold N sockets: the soft limit goes to the hard one, as loadgen does. */
static void raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) die("getrlimit");
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die("setrlimit");
    if ((rlim_t)need > rl.rlim_cur) {
        fprintf(stderr, "fanprobe: %d sockets need more than ulimit -n %lu allows\n", need, (unsigned long)rl.rlim_cur);
        exit(2);
    }
}

/* The reader: connect N sockets (sources 127.0.0.1..8 as loadgen spreads them), then read
 * everything until every socket is at EOF. */
static void reader(const struct opts *o, uint16_t port)
{
    pin(o->pin_reader);
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < o->clients; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % 8))};
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) die("bind");
        struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001u)};
        if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) die("connect");
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
    }
    int open = o->clients;
    double deadline = mono_s() + o->seconds + 2 * PHASE_DEADLINE_S;
    static char buf[65536];
    struct epoll_event evs[256];
    while (open > 0 && mono_s() < deadline) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int k = 0; k < n; k++) {
            ssize_t r = read(evs[k].data.fd, buf, sizeof buf);
            if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
                close(evs[k].data.fd);
                open--;
            }
        }
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    struct opts o = {.clients = 5000, .seconds = 3, .bytes = 60, .pin_writer = -1, .pin_reader = -1};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--clients")) o.clients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) o.seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--bytes")) o.bytes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pin-writer")) o.pin_writer = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pin-reader")) o.pin_reader = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--json")) o.json = argv[i + 1];
        else if (!strcmp(argv[i], "--period-ms")) o.period_ms = atof(argv[i + 1]);
        else {
            fprintf(stderr, "usage: fanprobe --clients N [--seconds S] [--bytes B] [--period-ms P] [--pin-writer CPU] [--pin-reader CPU] "
                            "[--json FILE]\n");
            return 2;
        }
    }
    if (o.clients < 1 || o.seconds <= 0 || o.seconds > 600 || o.bytes < 1 || o.bytes > MAX_RECORD || o.period_ms < 0 ||
        o.period_ms > 10000) {
        fprintf(stderr, "fanprobe: --clients >= 1, 0 < --seconds <= 600, 1 <= --bytes <= %d, 0 <= --period-ms <= 10000\n", MAX_RECORD);
        return 2;
    }
    raise_nofile(o.clients + 16);
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u)};
    socklen_t alen = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 4096) != 0) die("listen");
    if (getsockname(ls, (struct sockaddr *)&a, &alen) != 0) die("getsockname");
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        close(ls);
        reader(&o, ntohs(a.sin_port));
    }
    pin(o.pin_writer);
    alarm((unsigned)(o.seconds + 3 * PHASE_DEADLINE_S));

    int *fds = calloc((size_t)o.clients, sizeof *fds);
    if (!fds) die("calloc");
    for (int i = 0; i < o.clients; i++) {
        fds[i] = accept(ls, NULL, NULL);
        if (fds[i] < 0) die("accept");
        int one = 1; /* as lws sets it on every connection */
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char rec[MAX_RECORD];
    memset(rec, 'x', sizeof rec);
    uint64_t sends = 0, rounds = 0, full = 0;
    double c0 = cpu_s(), t0 = mono_s(), t = t0;
    while (t - t0 < o.seconds) {
        for (int i = 0; i < o.clients; i++) {
            ssize_t w = send(fds[i], rec, (size_t)o.bytes, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w == o.bytes) sends++;
            else if (w < 0 && errno == EAGAIN) full++;
            else die("send");
        }
        rounds++;
        t = mono_s();
        if (o.period_ms > 0) {
            double next = t0 + (double)rounds * o.period_ms / 1e3;
            if (next > t) {
                struct timespec ts = {.tv_sec = (time_t)(next - t), .tv_nsec = (long)((next - t - (double)(time_t)(next - t)) * 1e9)};
                nanosleep(&ts, NULL);
                t = mono_s();
            }
        }
    }
    double cpu = cpu_s() - c0, wall = t - t0;
    for (int i = 0; i < o.clients; i++) close(fds[i]);
    int status = 0;
    waitpid(child, &status, 0);

    double per_cpu_s = cpu > 0 ? (double)sends / cpu : 0;
    printf("fanprobe: %d sockets, %d-byte records: %llu sends in %llu rounds over %.2f s, writer cpu %.2f s (%.0f%% of a core), "
           "%.0f sends per CPU-second (%.2f us each), %llu refused (socket full)\n",
           o.clients, o.bytes, (unsigned long long)sends, (unsigned long long)rounds, wall, cpu, 100 * cpu / wall, per_cpu_s,
           sends ? 1e6 * cpu / (double)sends : 0, (unsigned long long)full);
    if (o.json) {
        FILE *f = fopen(o.json, "w");
        if (!f) die(o.json);
        fprintf(f,
                "{\"clients\": %d, \"bytes\": %d, \"seconds\": %.3f, \"sends\": %llu, \"rounds\": %llu, \"refused_full\": %llu, "
                "\"writer_cpu_s\": %.4f, \"sends_per_cpu_s\": %.1f, \"period_ms\": %.1f, \"pin_writer\": %d, \"pin_reader\": %d}\n",
                o.clients, o.bytes, wall, (unsigned long long)sends, (unsigned long long)rounds, (unsigned long long)full, cpu, per_cpu_s,
                o.period_ms, o.pin_writer, o.pin_reader);
        fclose(f);
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
