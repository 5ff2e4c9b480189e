/* SPDX-License-Identifier: MIT
 * config.h - the immutable configuration of cojamd: one table of options with defaults, read from
 * the command line and the environment (server/CLI.md). Flags win over environment variables.
 */
#ifndef COJAM_CONFIG_H
#define COJAM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "sentinel.h"

struct config {
    char *listen; /* "host:port" */
    char listen_host[256];
    int listen_port;
    char *redis;          /* NULL = embedded */
    char redis_host[256]; /* of a HOST:PORT --redis, else "" */
    int redis_port;       /* of a HOST:PORT --redis, else 0 */
    char *sentinels;      /* NULL = no Sentinel; else the list, parsed into sentinel_addrs */
    struct sentinel_addr sentinel_addrs[SENTINEL_MAX];
    size_t n_sentinels;
    char *sentinel_master;
    long replicas;           /* WAIT for this many replicas after each batch (0: no WAIT) */
    long replica_timeout_ms; /* WAIT's bound */
    char *data_dir;
    char *admin_token; /* NULL = generate; from COJAM_ADMIN_TOKEN or the file below */
    char *admin_token_file;
    char *redis_user;     /* NULL = Redis's default user */
    char *redis_password; /* NULL = no AUTH; from COJAM_REDIS_PASSWORD or the file below */
    char *redis_password_file;
    char *token_secret; /* NULL = kept in Redis; from COJAM_TOKEN_SECRET or the file below,
                                CONFIG_SECRET_MIN..CONFIG_SECRET_MAX bytes */
    char *token_secret_file;
    char *web_root;
    char *allowed_origins; /* NULL = own origin */
    char *public_url;      /* NULL = http(s)://<listen> */
    char *tls_cert;        /* NULL = plain HTTP; set with tls_key */
    char *tls_key;
    char *redis_server; /* the redis-server binary for the embedded default */
    long tick_ms;
    long max_message_bytes;
    long ring_frames;
    long rank_top;
    long max_items;
    long max_participants;
    long max_items_per_participant;
    long max_pending_per_participant;
    long redis_timeout_ms;
    long redis_linger_us;
    long token_ttl_s;
    long snapshot_every;
    long resume_max_events;
    long cpu_budget_pct; /* the loop's CPU budget, % of one core */
    long max_deliveries; /* 0 = the period follows the measured costs (period.h) */
    char *event_loop;    /* "libev" or "poll" */
    long loop_pace_us;
    long max_connections;
    long max_conns_per_address;
    long write_timeout_s;
    long tcp_send_buffer;
    long ping_interval_s;
    long public_exports;  /* 1: GET .../export and .../export.csv need no credentials */
    long metrics_public;  /* 1: GET /metrics needs no credentials */
    long admission_scale; /* the per-address limits multiplied by this; 0 = off */
    char *log_level;
};

/* A token secret has at least 32 bytes: 32 hex characters (`openssl rand -hex 16`) carry 128
 * bits; the key cojamd generates is 64 hex characters (32 random bytes). The hub uses at most
 * HUB_KEY_MAX (128) bytes: a longer secret is refused rather than silently cut. */
#define CONFIG_SECRET_MIN 32
#define CONFIG_SECRET_MAX 128

/* Fill 'c' from defaults, the environment, then argv. Secrets (the Redis password, the token
 * secret) come from the environment or from a file option, never from a flag: command lines are
 * readable by every local user (ps). A secret file is read whole (one trailing newline dropped;
 * a warning on stderr when group or others may read it). Returns 0, 1 when --help or --version
 * was printed (exit 0), or -EINVAL after printing what is wrong to stderr. */
int config_load(struct config *c, int argc, char **argv);
/* Frees the strings, wiping the secrets first. */
void config_free(struct config *c);

/* Reads the secret file 'path' (named by option '--<option>' in messages) into a new string, one
 * trailing "\n" or "\r\n" dropped; at most 4096 bytes, not empty, no NUL. Warns when group or
 * others may read it. Returns NULL after printing why. Also for `cojamd verify`'s Redis password. */
char *config_read_secret_file(const char *option, const char *path);

#endif
