/* probe: /proc, the HTTP API and Redis, blocking with timeouts (contracts in probe.h). */
#include "probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

procs_t proc_read(int pid)
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

uint64_t machine_busy_ticks(uint64_t *irq_ticks)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    unsigned long long v[10] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
                   &v[8], &v[9]);
    fclose(f);
    if (n < 8) return 0;
    *irq_ticks = v[5] + v[6];
    return v[0] + v[1] + v[2] + v[7]; /* user nice system steal */
}

double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

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

static int stream_key(char *key, size_t ksz, const char *jam_code) { return snprintf(key, ksz, "cojam:jam:%s:events", jam_code); }

long redis_xlen(const char *host, int port, const char *jam_code)
{
    static int fd = -1;
    if (!port || !jam_code[0]) return -1;
    if (fd < 0) fd = tcp_connect_blocking(host, port, 1.0);
    if (fd < 0) return -1;
    char key[96], cmd[160];
    int kl = stream_key(key, sizeof key, jam_code);
    int n = snprintf(cmd, sizeof cmd, "*2\r\n$4\r\nXLEN\r\n$%d\r\n%s\r\n", kl, key);
    if (send(fd, cmd, (size_t)n, MSG_NOSIGNAL) != n) goto fail;
    char buf[64];
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    if (r <= 1 || buf[0] != ':') goto fail;
    buf[r] = 0;
    return strtol(buf + 1, NULL, 10);
fail:
    close(fd);
    fd = -1;
    return -1;
}

bool redis_last_id(const char *host, int port, const char *jam_code, evid_t *out)
{
    if (!port || !jam_code[0]) return false;
    int fd = tcp_connect_blocking(host, port, 1.0);
    if (fd < 0) return false;
    char key[96], cmd[256], buf[4096];
    int kl = stream_key(key, sizeof key, jam_code);
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

int http_post(const char *host, int port, const char *token, const char *path, const char *body, char *out, size_t outsz)
{
    int fd = tcp_connect_blocking(host, port, 5.0);
    if (fd < 0) return -1;
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     path, host, port, token ? token : "", strlen(body), body);
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
