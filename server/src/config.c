/* SPDX-License-Identifier: MIT
 * config.c - one table of options (name, environment variable, default, bounds, help); parsing
 * and validation. Strings are owned by the struct config.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "sentinel.h"

/* OPT_SECRET: a string read from the environment only (a flag would show it in ps). */
enum opt_kind { OPT_STR, OPT_LONG, OPT_SECRET };

struct option_def {
    const char *name, *env, *def, *help;
    enum opt_kind kind;
    size_t offset;
    long min, max;
};

#define STR(field, name, env, def, help)                                                           \
    {                                                                                              \
        name, env, def, help, OPT_STR, offsetof(struct config, field), 0, 0                        \
    }
#define SECRET(field, name, env, help)                                                             \
    {                                                                                              \
        name, env, NULL, help, OPT_SECRET, offsetof(struct config, field), 0, 0                    \
    }
#define NUM(field, name, env, def, lo, hi, help)                                                   \
    {                                                                                              \
        name, env, def, help, OPT_LONG, offsetof(struct config, field), lo, hi                     \
    }

static const struct option_def options[] = {
    STR(listen, "listen", "COJAM_LISTEN", "127.0.0.1:8080", "HTTP and WebSocket address HOST:PORT"),
    STR(redis, "redis", "COJAM_REDIS", NULL,
        "external Redis HOST:PORT or unix:/path (default: start a private redis-server)"),
    STR(sentinels, "sentinels", "COJAM_SENTINELS", NULL,
        "Redis Sentinels HOST:PORT,HOST:PORT,...: ask them for the primary and follow its "
        "failovers (instead of --redis)"),
    STR(sentinel_master, "sentinel-master", "COJAM_SENTINEL_MASTER", "cojam",
        "the master name the sentinels monitor (sentinel.conf's 'sentinel monitor <name>')"),
    NUM(replicas, "replicas", "COJAM_REPLICAS", "-1", -1, 16,
        "acknowledge a write only once this many replicas have it (WAIT; -1: 1 with "
        "--sentinels, else 0)"),
    NUM(replica_timeout_ms, "replica-timeout-ms", "COJAM_REPLICA_TIMEOUT_MS", "1000", 10, 60000,
        "a write no replica confirmed in this time fails with the retryable replica_timeout"),
    STR(data_dir, "data-dir", "COJAM_DATA_DIR", "./cojam-data",
        "directory for the embedded Redis and the generated admin token"),
    SECRET(admin_token, "admin-token", "COJAM_ADMIN_TOKEN",
           "bearer token for POST /api/jams, or use --admin-token-file (default: generated "
           "into <data-dir>/admin-token)"),
    STR(admin_token_file, "admin-token-file", "COJAM_ADMIN_TOKEN_FILE", NULL,
        "file holding the admin token; mode 0600"),
    STR(redis_user, "redis-user", "COJAM_REDIS_USER", NULL,
        "ACL user to authenticate to Redis as (needs a password; default: the default user)"),
    STR(redis_password_file, "redis-password-file", "COJAM_REDIS_PASSWORD_FILE", NULL,
        "file holding the Redis password (AUTH); mode 0600"),
    SECRET(redis_password, "redis-password", "COJAM_REDIS_PASSWORD",
           "the Redis password, or use --redis-password-file"),
    SECRET(token_secret, "token-secret", "COJAM_TOKEN_SECRET",
           "HMAC key for session tokens, 32..128 bytes, or use --token-secret-file (default: "
           "generated once and kept in Redis)"),
    STR(token_secret_file, "token-secret-file", "COJAM_TOKEN_SECRET_FILE", NULL,
        "file holding the HMAC key for session tokens; mode 0600"),
    STR(web_root, "web-root", "COJAM_WEB_ROOT", "./web-client/public", "static files served at /"),
    STR(allowed_origins, "allowed-origins", "COJAM_ALLOWED_ORIGINS", NULL,
        "comma-separated origins allowed on /ws, * for any (default: the server's own origin)"),
    STR(public_url, "public-url", "COJAM_PUBLIC_URL", NULL,
        "base URL of the links given to organisers (default: http://<listen>, https:// with TLS)"),
    STR(tls_cert, "tls-cert", "COJAM_TLS_CERT", NULL,
        "PEM certificate chain: serve HTTPS and wss:// (TLS 1.2+; re-read on SIGHUP)"),
    STR(tls_key, "tls-key", "COJAM_TLS_KEY", NULL,
        "PEM private key of --tls-cert (re-read on SIGHUP)"),
    NUM(public_exports, "public-exports", "COJAM_PUBLIC_EXPORTS", "0", 0, 1,
        "1: anyone may download a jam's exports (JSON and CSV); 0: the admin token or the jam's "
        "moderator secret is needed"),
    NUM(metrics_public, "metrics-public", "COJAM_METRICS_PUBLIC", "0", 0, 1,
        "1: anyone may read GET /metrics; 0: the admin token is needed"),
    STR(redis_server, "redis-server", "COJAM_REDIS_SERVER", "redis-server",
        "redis-server binary for the embedded default"),
    NUM(tick_ms, "tick-ms", "COJAM_TICK_MS", "50", 5, 1000, "broadcast tick in ms"),
    NUM(max_message_bytes, "max-message-bytes", "COJAM_MAX_MESSAGE_BYTES", "16384", 256, 1048576,
        "largest WebSocket message accepted"),
    NUM(ring_frames, "ring-frames", "COJAM_RING_FRAMES", "256", 8, 65536,
        "shared broadcast frames kept per jam"),
    NUM(rank_top, "rank-top", "COJAM_RANK_TOP", "20", 1, 1000, "ranking list length per kind"),
    NUM(max_items, "max-items", "COJAM_MAX_ITEMS", "10000", 1, 1000000, "items per jam"),
    NUM(max_participants, "max-participants", "COJAM_MAX_PARTICIPANTS", "100000", 1, 10000000,
        "participants per jam"),
    NUM(max_items_per_participant, "max-items-per-participant", "COJAM_MAX_ITEMS_PER_PARTICIPANT",
        "200", 0, 1000000,
        "items one participant may post in a jam, hidden ones too (0: no limit)"),
    NUM(max_pending_per_participant, "max-pending-per-participant",
        "COJAM_MAX_PENDING_PER_PARTICIPANT", "32", 0, 1000000,
        "writes of one participant in flight across all its sessions (0: no limit)"),
    NUM(redis_timeout_ms, "redis-timeout-ms", "COJAM_REDIS_TIMEOUT_MS", "2000", 50, 600000,
        "a write not confirmed by Redis in this time fails with a retryable error"),
    NUM(redis_linger_us, "redis-linger-us", "COJAM_REDIS_LINGER_US", "1000", 0, 20000,
        "while writes keep coming, how long the first of a batch waits for others to share its "
        "Redis round trip and fsync, in microseconds (0: never waits)"),
    NUM(token_ttl_s, "token-ttl-s", "COJAM_TOKEN_TTL_S", "86400", 60, 31536000,
        "session token lifetime in seconds"),
    NUM(cpu_budget_pct, "cpu-budget-pct", "COJAM_CPU_BUDGET_PCT", "75", 10, 100,
        "share of its core the event loop aims to stay within: the broadcast period grows past "
        "--tick-ms as far as the measured cost of sending to every client needs"),
    NUM(max_deliveries, "max-deliveries-per-s", "COJAM_MAX_DELIVERIES_PER_S", "0", 0, 100000000,
        "instead of --cpu-budget-pct, a fixed number of broadcast frames per second to stay "
        "under: the period is then the number of clients divided by it (0: measured)"),
    STR(event_loop, "event-loop", "COJAM_EVENT_LOOP", "libev",
        "libev (epoll: a pass costs what is ready) or poll (lws's own loop: a pass scans every "
        "connection)"),
    NUM(loop_pace_us, "loop-pace-us", "COJAM_LOOP_PACE_US", "-1", -1, 20000,
        "with --event-loop poll, a pause after each pass so that events gather (-1: by the "
        "number of clients, 0: never)"),
    NUM(resume_max_events, "resume-max-events", "COJAM_RESUME_MAX_EVENTS", "10000", 0, 10000000,
        "a resume the broadcast ring cannot serve reads up to this many missed events back from "
        "the stream; beyond, or with 0, it gets a snapshot"),
    NUM(snapshot_every, "snapshot-every", "COJAM_SNAPSHOT_EVERY", "10000", 100, 100000000,
        "store a jam snapshot after this many events (or a quarter of the jam's events, if more)"),
    /* A venue's phones often share one NAT address: 1,000 from one address covers a large hall
     * (proto/messages.md, "Connections"). 0 for max-connections: ulimit -n minus 512. */
    NUM(max_connections, "max-connections", "COJAM_MAX_CONNECTIONS", "0", 0, 10000000,
        "TCP connections in all, beyond: 503 (0: the descriptor limit, ulimit -n, minus 512)"),
    NUM(max_conns_per_address, "max-conns-per-address", "COJAM_MAX_CONNS_PER_ADDRESS", "1000", 1,
        10000000, "TCP connections from one IP address, beyond: 503"),
    NUM(write_timeout_s, "write-timeout-s", "COJAM_WRITE_TIMEOUT_S", "20", 1, 3600,
        "a WebSocket client that reads nothing of what is due to it for this long is disconnected"),
    NUM(tcp_send_buffer, "tcp-send-buffer", "COJAM_TCP_SEND_BUFFER", "0", 0, 1 << 30,
        "bytes of kernel send buffer per connection (SO_SNDBUF; the kernel doubles it), 0: the "
        "kernel's own sizing (net.ipv4.tcp_wmem: up to 4 MiB each by default)"),
    NUM(ping_interval_s, "ping-interval-s", "COJAM_PING_INTERVAL_S", "30", 1, 3600,
        "a WebSocket client heard nothing from for this long is pinged, and dropped when it has "
        "not answered as long again"),
    NUM(admission_scale, "admission-scale", "COJAM_ADMISSION_SCALE", "1", 0, 1000,
        "multiply the per-address limits on joins, syncs, lookups and failed guesses by this "
        "(behind a reverse proxy every client has its address; 0: no per-address limits)"),
    STR(log_level, "log-level", "COJAM_LOG_LEVEL", "info", "debug, info, warn or error"),
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cojamd [options]\n\ncojam %s - real-time ideation-jam server.\n\n"
            "Every option can also be set by its environment variable; flags win.\n\n",
            COJAM_VERSION);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        char left[64];
        if (o->kind == OPT_SECRET)
            snprintf(left, sizeof left, "(environment only)");
        else
            snprintf(left, sizeof left, "--%s %s", o->name, o->kind == OPT_LONG ? "N" : "VALUE");
        fprintf(f, "  %-26s %s\n  %-26s [env %s%s%s]\n", left, o->help, "", o->env,
                o->def ? ", default " : "", o->def ? o->def : "");
    }
    fprintf(f, "  %-26s %s\n  %-26s %s\n", "--help", "print this help", "--version",
            "print the version");
}

static int set_option(struct config *c, const struct option_def *o, const char *value,
                      const char *source)
{
    char *field = (char *)c + o->offset;
    if (o->kind != OPT_LONG) {
        char **p = (char **)(void *)field;
        free(*p);
        *p = value ? xstrdup(value) : NULL;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < o->min || v > o->max) {
        fprintf(stderr, "cojamd: %s %s: expected an integer in %ld..%ld, got '%s'\n", source,
                o->name, o->min, o->max, value);
        return -EINVAL;
    }
    *(long *)(void *)field = v;
    return 0;
}

/* An admin token given must be usable as a bearer token: non-empty, no spaces or control
 * characters (an empty one would let an empty Authorization header create jams). The token
 * secret's own rules are check_secrets'. */
static int admin_token_ok(const struct config *c)
{
    bool bad = c->admin_token && !*c->admin_token;
    for (const char *p = c->admin_token ? c->admin_token : ""; *p; p++)
        bad |= (unsigned char)*p <= ' ' || *p == 0x7f;
    if (bad) {
        fprintf(stderr, "cojamd: the admin token (COJAM_ADMIN_TOKEN or --admin-token-file) must be "
                        "non-empty, without spaces or control characters (leave it out to "
                        "generate one)\n");
        return -EINVAL;
    }
    return 0;
}

/* "unix:/path", or HOST:PORT with a port of 1..65535 in digits only (atoi took "6379x" and
 * "host:" silently). */
static int split_redis(struct config *c)
{
    if (!c->redis || strncmp(c->redis, "unix:", 5) == 0) {
        if (c->redis && !c->redis[5]) {
            fprintf(stderr, "cojamd: --redis: unix: needs a path, got '%s'\n", c->redis);
            return -EINVAL;
        }
        return 0;
    }
    const char *colon = strrchr(c->redis, ':');
    char *end = NULL;
    errno = 0;
    long port = colon && colon[1] >= '0' && colon[1] <= '9' ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == c->redis || errno || !end || *end || port < 1 || port > 65535 ||
        (size_t)(colon - c->redis) >= sizeof c->redis_host) {
        fprintf(stderr,
                "cojamd: --redis: expected HOST:PORT (port 1..65535) or unix:/path, got "
                "'%s'\n",
                c->redis);
        return -EINVAL;
    }
    memcpy(c->redis_host, c->redis, (size_t)(colon - c->redis));
    c->redis_host[colon - c->redis] = '\0';
    c->redis_port = (int)port;
    return 0;
}

/* --sentinels parsed into the table the store asks, and the one Redis it names: either the
 * sentinels or --redis, never both (which primary would be the truth?). */
static int split_sentinels(struct config *c)
{
    if (c->replicas < 0)
        c->replicas = c->sentinels ? 1 : 0;
    if (!c->sentinels)
        return 0;
    if (c->redis) {
        fprintf(stderr, "cojamd: --redis and --sentinels both given: give one\n");
        return -EINVAL;
    }
    if (sentinel_parse_list(c->sentinels, c->sentinel_addrs, SENTINEL_MAX, &c->n_sentinels) < 0) {
        fprintf(stderr,
                "cojamd: --sentinels: expected HOST:PORT[,HOST:PORT...] (at most %d, ports "
                "1..65535, IPv6 in brackets), got '%s'\n",
                SENTINEL_MAX, c->sentinels);
        return -EINVAL;
    }
    if (!sentinel_name_ok(c->sentinel_master)) {
        fprintf(stderr,
                "cojamd: --sentinel-master: 1..%d letters, digits, '.', '-' or '_', got '%s'\n",
                SENTINEL_NAME_MAX, c->sentinel_master ? c->sentinel_master : "");
        return -EINVAL;
    }
    return 0;
}

static int check_event_loop(const struct config *c)
{
    if (strcmp(c->event_loop, "libev") != 0 && strcmp(c->event_loop, "poll") != 0) {
        fprintf(stderr, "cojamd: --event-loop: expected libev or poll, got '%s'\n", c->event_loop);
        return -EINVAL;
    }
    return 0;
}

static int split_listen(struct config *c)
{
    const char *colon = strrchr(c->listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || *end || port < 0 || port > 65535 ||
        (size_t)(colon - c->listen) >= sizeof c->listen_host) {
        fprintf(stderr, "cojamd: --listen: expected HOST:PORT, got '%s'\n", c->listen);
        return -EINVAL;
    }
    memcpy(c->listen_host, c->listen, (size_t)(colon - c->listen));
    c->listen_host[colon - c->listen] = '\0';
    c->listen_port = (int)port;
    return 0;
}

/* Frees a secret, wiping it first. */
static void free_secret(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

/* The longest secret file read: a password or key, not a data file. */
#define SECRET_FILE_MAX 4096

char *config_read_secret_file(const char *option, const char *path)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0) {
        fprintf(stderr, "cojamd: --%s %s: %s\n", option, path, strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        fprintf(stderr,
                "cojamd: warning: --%s %s is open to group or others (mode %03o): "
                "chmod 600 it\n",
                option, path, (unsigned)(st.st_mode & 0777));
    char *buf = xmalloc(SECRET_FILE_MAX + 2);
    size_t n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    const char *bad = n > SECRET_FILE_MAX ? "longer than 4096 bytes"
                      : n == 0            ? "empty"
                      : strlen(buf) != n  ? "holds a NUL byte"
                                          : NULL;
    if (bad) {
        fprintf(stderr, "cojamd: --%s %s: the file is %s\n", option, path, bad);
        explicit_bzero(buf, SECRET_FILE_MAX + 2);
        free(buf);
        return NULL;
    }
    return buf;
}

/* One secret from its environment variable (already in *value) or its file option. */
static int resolve_secret(char **value, const char *file, const char *env, const char *file_option)
{
    if (!file)
        return 0;
    if (*value) {
        fprintf(stderr, "cojamd: both %s and --%s are set: give one\n", env, file_option);
        return -EINVAL;
    }
    *value = config_read_secret_file(file_option, file);
    return *value ? 0 : -EINVAL;
}

/* The secrets, once every source is read. */
static int check_secrets(struct config *c)
{
    if (resolve_secret(&c->admin_token, c->admin_token_file, "COJAM_ADMIN_TOKEN",
                       "admin-token-file") < 0 ||
        resolve_secret(&c->redis_password, c->redis_password_file, "COJAM_REDIS_PASSWORD",
                       "redis-password-file") < 0 ||
        resolve_secret(&c->token_secret, c->token_secret_file, "COJAM_TOKEN_SECRET",
                       "token-secret-file") < 0)
        return -EINVAL;
    if (c->redis_user && !c->redis_password) {
        fprintf(stderr, "cojamd: --redis-user needs a password: set COJAM_REDIS_PASSWORD or "
                        "--redis-password-file\n");
        return -EINVAL;
    }
    size_t len = c->token_secret ? strlen(c->token_secret) : 0;
    if (c->token_secret && (len < CONFIG_SECRET_MIN || len > CONFIG_SECRET_MAX)) {
        fprintf(stderr,
                "cojamd: the token secret (%s) is %zu bytes: it must have %d to %d "
                "(for example: openssl rand -hex 32)\n",
                c->token_secret_file ? "--token-secret-file" : "COJAM_TOKEN_SECRET", len,
                CONFIG_SECRET_MIN, CONFIG_SECRET_MAX);
        return -EINVAL;
    }
    return 0;
}

int config_load(struct config *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *env = getenv(options[i].env);
        const char *v = env && *env ? env : options[i].def;
        if (v && set_option(c, &options[i], v, env && *env ? "environment" : "default") < 0)
            return -EINVAL;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(arg, "--version")) {
            printf("cojamd %s\n", COJAM_VERSION);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "cojamd: unexpected argument '%s' (see --help)\n", arg);
            return -EINVAL;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct option_def *o = NULL;
        for (size_t i = 0; i < N_OPTIONS; i++)
            if (strlen(options[i].name) == nlen && !strncmp(options[i].name, name, nlen))
                o = &options[i];
        if (!o) {
            fprintf(stderr, "cojamd: unknown option '%s' (see --help)\n", arg);
            return -EINVAL;
        }
        if (o->kind == OPT_SECRET) {
            fprintf(stderr,
                    "cojamd: --%s is not accepted on the command line (every local user "
                    "can read it with ps): set %s, or use --%s-file\n",
                    o->name, o->env, o->name);
            return -EINVAL;
        }
        const char *value = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
        if (!value) {
            fprintf(stderr, "cojamd: option --%s needs a value\n", o->name);
            return -EINVAL;
        }
        if (set_option(c, o, value, "option") < 0)
            return -EINVAL;
    }
    if (!c->tls_cert != !c->tls_key) {
        fprintf(stderr, "cojamd: --tls-cert and --tls-key go together: give both or neither\n");
        return -EINVAL;
    }
    if (split_listen(c) < 0 || check_event_loop(c) < 0 || split_redis(c) < 0 ||
        split_sentinels(c) < 0 || check_secrets(c) < 0 || admin_token_ok(c) < 0)
        return -EINVAL;
    return 0;
}

void config_free(struct config *c)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char **p = (char **)(void *)((char *)c + options[i].offset);
        if (options[i].kind == OPT_SECRET)
            free_secret(p);
        else if (options[i].kind == OPT_STR) {
            free(*p);
            *p = NULL;
        }
    }
}
