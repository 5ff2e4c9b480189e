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

#include "alloc.h"

enum opt_kind { OPT_STR, OPT_LONG };

struct option_def {
    const char *name, *env, *def, *help;
    enum opt_kind kind;
    size_t offset;
    long min, max;
};

#define STR(field, name, env, def, help) {name, env, def, help, OPT_STR, offsetof(struct config, field), 0, 0}
#define NUM(field, name, env, def, lo, hi, help) {name, env, def, help, OPT_LONG, offsetof(struct config, field), lo, hi}

static const struct option_def options[] = {
    STR(listen, "listen", "COJAM_LISTEN", "127.0.0.1:8080", "HTTP and WebSocket address HOST:PORT"),
    STR(redis, "redis", "COJAM_REDIS", NULL,
        "external Redis HOST:PORT or unix:/path (default: start a private redis-server)"),
    STR(data_dir, "data-dir", "COJAM_DATA_DIR", "./cojam-data",
        "directory for the embedded Redis and the generated admin token"),
    STR(admin_token, "admin-token", "COJAM_ADMIN_TOKEN", NULL,
        "bearer token for POST /api/jams (default: generated into <data-dir>/admin-token)"),
    STR(token_secret, "token-secret", "COJAM_TOKEN_SECRET", NULL,
        "HMAC key for session tokens (default: generated once and kept in Redis)"),
    STR(web_root, "web-root", "COJAM_WEB_ROOT", "./web-client/public", "static files served at /"),
    STR(allowed_origins, "allowed-origins", "COJAM_ALLOWED_ORIGINS", NULL,
        "comma-separated origins allowed on /ws, * for any (default: the server's own origin)"),
    STR(public_url, "public-url", "COJAM_PUBLIC_URL", NULL,
        "base URL of the links given to organisers (default: http://<listen>)"),
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
        "200", 0, 1000000, "items one participant may post in a jam, hidden ones too (0: no limit)"),
    NUM(max_pending_per_participant, "max-pending-per-participant",
        "COJAM_MAX_PENDING_PER_PARTICIPANT", "32", 0, 1000000,
        "writes of one participant in flight across all its sessions (0: no limit)"),
    NUM(redis_timeout_ms, "redis-timeout-ms", "COJAM_REDIS_TIMEOUT_MS", "2000", 50, 600000,
        "a write not confirmed by Redis in this time fails with a retryable error"),
    NUM(token_ttl_s, "token-ttl-s", "COJAM_TOKEN_TTL_S", "86400", 60, 31536000,
        "session token lifetime in seconds"),
    NUM(max_deliveries, "max-deliveries-per-s", "COJAM_MAX_DELIVERIES_PER_S", "60000", 1000,
        100000000, "broadcast frames per second the server aims to stay under: beyond it the "
        "broadcast period grows past --tick-ms with the number of clients"),
    NUM(loop_pace_us, "loop-pace-us", "COJAM_LOOP_PACE_US", "-1", -1, 20000,
        "pause after each event-loop pass so that events gather (-1: by the number of clients, "
        "0: never)"),
    NUM(resume_max_events, "resume-max-events", "COJAM_RESUME_MAX_EVENTS", "10000", 0, 10000000,
        "a resume the broadcast ring cannot serve reads up to this many missed events back from "
        "the stream; beyond, or with 0, it gets a snapshot"),
    NUM(snapshot_every, "snapshot-every", "COJAM_SNAPSHOT_EVERY", "10000", 100, 100000000,
        "store a jam snapshot after this many events (or a quarter of the jam's events, if more)"),
    STR(log_level, "log-level", "COJAM_LOG_LEVEL", "info", "debug, info, warn or error"),
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: cojamd [options]\n\ncojam %s - real-time ideation-jam server.\n\n"
               "Every option can also be set by its environment variable; flags win.\n\n",
            COJAM_VERSION);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        char left[64];
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
    if (o->kind == OPT_STR) {
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

static int split_listen(struct config *c)
{
    const char *colon = strrchr(c->listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || *end || port < 0 || port > 65535 || (size_t)(colon - c->listen) >= sizeof c->listen_host) {
        fprintf(stderr, "cojamd: --listen: expected HOST:PORT, got '%s'\n", c->listen);
        return -EINVAL;
    }
    memcpy(c->listen_host, c->listen, (size_t)(colon - c->listen));
    c->listen_host[colon - c->listen] = '\0';
    c->listen_port = (int)port;
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
        const char *value = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
        if (!value) {
            fprintf(stderr, "cojamd: option --%s needs a value\n", o->name);
            return -EINVAL;
        }
        if (set_option(c, o, value, "option") < 0)
            return -EINVAL;
    }
    return split_listen(c);
}

void config_free(struct config *c)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].kind == OPT_STR) {
            char **p = (char **)(void *)((char *)c + options[i].offset);
            free(*p);
            *p = NULL;
        }
}
