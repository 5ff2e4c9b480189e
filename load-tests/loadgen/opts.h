/*
 * opts: loadgen's command line.  One table names every option, where it is stored and its help
 * line; the defaults are one initializer in opts.c.  A scenario completes and checks its own
 * options (scenario.h) between opts_parse() and opts_check().
 */
#ifndef LG_OPTS_H
#define LG_OPTS_H

#include <stdbool.h>

#include "ws.h"

#define LG_MAX_URLS 4 /* --url list */

typedef struct {
    ws_target_t ws;                /* --url's first (host, port, path), --origin, --sources: the default target */
    ws_target_t urls[LG_MAX_URLS]; /* every --url, urls[0] == ws: citizens are spread over them */
    int nurls;
    ws_target_t write_ws; /* --write-url: the writers and the moderator connect there */
    bool has_write_url;
    char http_host[64];
    int http_port;
    const char *admin_token;
    const char *scenario;
    const char *framing; /* "cojam" or "socketio" (sio.h) */
    int clients;
    double rate, duration, warmup, drain;
    bool rate_set; /* --rate was given */
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
    const char *label;
    const char *mark;
    int quiet;
    /* resume-storm */
    int writers, seed_items, away_events, verify_every;
    double away_seconds, post_frac, catchup_timeout, gate_timeout;
    const char *resume_gate;
} options_t;

/* Fills *o from argv and the environment (COJAM_ADMIN_TOKEN); seeds the random generator (--seed).
 * Prints the usage and exits 2 on an unknown option; dies on a malformed address. */
void opts_parse(options_t *o, int argc, char **argv);
/* The range checks every scenario shares; dies on the first one that fails. */
void opts_check(const options_t *o);
/* Prints the usage (from the table) and exits 2. */
void opts_usage(void) __attribute__((noreturn));

#endif
