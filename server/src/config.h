/* SPDX-License-Identifier: MIT
 * config.h - the immutable configuration of cojamd: one table of options with defaults, read from
 * the command line and the environment (server/CLI.md). Flags win over environment variables.
 */
#ifndef COJAM_CONFIG_H
#define COJAM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct config {
    char *listen;            /* "host:port" */
    char listen_host[256];
    int listen_port;
    char *redis;             /* NULL = embedded */
    char *data_dir;
    char *admin_token;       /* NULL = generate */
    char *token_secret;      /* NULL = kept in Redis */
    char *web_root;
    char *allowed_origins;   /* NULL = own origin */
    char *public_url;        /* NULL = http://<listen> */
    char *redis_server;      /* the redis-server binary for the embedded default */
    long tick_ms;
    long max_message_bytes;
    long ring_frames;
    long rank_top;
    long max_items;
    long max_participants;
    long max_items_per_participant;
    long max_pending_per_participant;
    long redis_timeout_ms;
    long token_ttl_s;
    long snapshot_every;
    long resume_max_events;
    long max_deliveries;
    long loop_pace_us;
    char *log_level;
};

/* Fill 'c' from defaults, the environment, then argv. Returns 0, 1 when --help or --version was
 * printed (exit 0), or -EINVAL after printing what is wrong to stderr. */
int config_load(struct config *c, int argc, char **argv);
void config_free(struct config *c);

#endif
