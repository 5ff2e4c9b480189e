/* opts: the options table, parsing and the shared checks (contracts in opts.h). */
#include "opts.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

enum { O_INT, O_DBL, O_STR, O_FLAG, O_URL, O_WURL, O_HTTP, O_REDIS, O_SEED };

typedef struct {
    const char *name, *arg; /* arg NULL: a flag */
    int kind;
    size_t off; /* into options_t (O_INT O_DBL O_STR O_FLAG) */
    const char *help;
} optdef_t;

#define AT(field) offsetof(options_t, field)

static const optdef_t table[] = {
    {"url", "ws://127.0.0.1:PORT/ws[,URL..]", O_URL, 0,
     "WebSocket endpoint (ws://127.0.0.1:8080/ws); a list (up to 4): citizen i connects to the (i mod K)-th, writers spread apart"},
    {"write-url", "ws://127.0.0.1:PORT/ws", O_WURL, 0,
     "the writers and the moderator connect here (default: as the others); vote-to-screen is then also reported per --url"},
    {"http", "127.0.0.1:PORT", O_HTTP, 0, "HTTP API (default: from --url)"},
    {"admin-token", "T", O_STR, AT(admin_token), "bearer token for POST /api/jams (or COJAM_ADMIN_TOKEN)"},
    {"scenario", "S", O_STR, AT(scenario), "jam-vote|idea-storm|join-storm|resume-storm (jam-vote)"},
    {"framing", "F", O_STR, AT(framing),
     "cojam|socketio: socketio carries every message in socket.io events over Engine.IO (the peer in load-tests/peers) (cojam)"},
    {"clients", "N", O_INT, AT(clients), "citizen connections (1000)"},
    {"rate", "R", O_DBL, AT(rate), "writes/s (200; idea-storm 100)"},
    {"duration", "D", O_DBL, AT(duration), "measured seconds (10)"},
    {"warmup", "W", O_DBL, AT(warmup), "seconds of load before the measured window (2)"},
    {"drain", "S", O_DBL, AT(drain), "seconds to wait for the last acks and updates (5)"},
    {"sources", "K", O_INT, AT(ws.sources), "source addresses 127.0.0.1..K (8)"},
    {"json", "FILE", O_STR, AT(json), "write the figures as JSON"},
    {"connect-rate", "C", O_DBL, AT(connect_rate), "connections/s (0 = unlimited)"},
    {"max-inflight", "M", O_INT, AT(max_inflight), "handshakes in progress (1000)"},
    {"connect-timeout", "S", O_DBL, AT(connect_timeout), "seconds for all clients to join (30)"},
    {"writers-frac", "F", O_DBL, AT(writers_frac), "share of the clients that write (0.1)"},
    {"ideas", "K", O_INT, AT(ideas), "ideas the moderator posts, 1..64 (50)"},
    {"idle-settle", "S", O_DBL, AT(idle_settle), "idle seconds after all joined (1)"},
    {"ack-timeout", "S", O_DBL, AT(ack_timeout), "seconds before an unacked write counts as an error (5)"},
    {"server-pid", "P", O_INT, AT(server_pid), "cojamd: CPU and RSS from /proc"},
    {"redis-pid", "P", O_INT, AT(redis_pid), "redis-server: CPU from /proc"},
    {"redis", "HOST:PORT", O_REDIS, 0, "Redis: XLEN (and XREVRANGE) of the jam stream"},
    {"origin", "O", O_STR, AT(ws.origin), "Origin header of the upgrade"},
    {"label", "L", O_STR, AT(label), "a name for the run in the report"},
    {"deadline", "S", O_DBL, AT(deadline), "hard exit after S seconds (default: from the phases' bounds)"},
    {"seed", "X", O_SEED, 0, "random seed"},
    {"mark", "FILE", O_STR, AT(mark), "append \"measure_start\" / \"measure_end\" when the measured window opens/closes"},
    {"quiet", NULL, O_FLAG, AT(quiet), "no progress lines"},
    {"help", NULL, O_FLAG, 0, "this text"},
    {"items", "K", O_INT, AT(seed_items), "resume-storm: seed ideas (300)"},
    {"away-events", "E", O_INT, AT(away_events), "resume-storm: events written while the clients are away (2000)"},
    {"away-seconds", "S", O_DBL, AT(away_seconds), "resume-storm: seconds they are written over (4)"},
    {"writers", "W", O_INT, AT(writers), "resume-storm: writer sessions (auto: 1 per 10 writes/s, at least 4)"},
    {"post-frac", "F", O_DBL, AT(post_frac), "resume-storm: share of the away events that are posts (0.1)"},
    {"catchup-timeout", "S", O_DBL, AT(catchup_timeout), "resume-storm: seconds for all to catch up (60)"},
    {"resume-gate", "FILE", O_STR, AT(resume_gate),
     "resume-storm: after the away phase (mark \"away_done\"), wait for FILE "
     "holding \"PORT [PID]\" (cojamd restarted)"},
    {"gate-timeout", "S", O_DBL, AT(gate_timeout), "resume-storm: seconds to wait for the gate (120)"},
    {"verify-every", "K", O_INT, AT(verify_every), "resume-storm: check every K-th client's state (50; 0 off)"},
};

#define NOPTS (sizeof table / sizeof table[0])

void opts_usage(void)
{
    fprintf(stderr, "usage: loadgen [options]\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", table[i].name, table[i].arg ? " " : "", table[i].arg ? table[i].arg : "");
        fprintf(stderr, "  %-34s %s\n", left, table[i].help);
    }
    exit(2);
}

static void parse_hostport(const char *s, char *host, size_t hsz, int *port);

/* one ws://HOST:PORT/PATH of at most len bytes into t (host, port, path) */
static void parse_url(const char *url, size_t len, ws_target_t *t)
{
    if (len < 5 || strncmp(url, "ws://", 5)) die("--url and --write-url must start with ws://");
    const char *hp = url + 5, *end = url + len, *slash = memchr(hp, '/', (size_t)(end - hp));
    char hpbuf[128];
    snprintf(hpbuf, sizeof hpbuf, "%.*s", (int)((slash ? slash : end) - hp), hp);
    parse_hostport(hpbuf, t->host, sizeof t->host, &t->port);
    snprintf(t->path, sizeof t->path, "%.*s", slash ? (int)(end - slash) : 1, slash ? slash : "/");
}

static void parse_hostport(const char *s, char *host, size_t hsz, int *port)
{
    const char *c = strrchr(s, ':');
    if (!c) die("expected HOST:PORT, got %s", s);
    snprintf(host, hsz, "%.*s", (int)(c - s), s);
    *port = atoi(c + 1);
    if (!strcmp(host, "localhost")) snprintf(host, hsz, "127.0.0.1");
}

void opts_parse(options_t *o, int argc, char **argv)
{
    *o = (options_t){
        .ws = {.sources = 8},
        .admin_token = getenv("COJAM_ADMIN_TOKEN"),
        .scenario = "jam-vote",
        .framing = "cojam",
        .clients = 1000,
        .rate = 200,
        .duration = 10,
        .warmup = 2,
        .drain = 5,
        .max_inflight = 1000,
        .connect_timeout = 30,
        .writers_frac = 0.1,
        .ideas = 50,
        .idle_settle = 1,
        .ack_timeout = 5,
        .seed_items = 300,
        .away_events = 2000,
        .away_seconds = 4,
        .post_frac = 0.1,
        .catchup_timeout = 60,
        .gate_timeout = 120,
        .verify_every = 50,
    };
    struct option lo[NOPTS + 1];
    for (size_t i = 0; i < NOPTS; i++) lo[i] = (struct option){table[i].name, table[i].arg ? 1 : 0, NULL, (int)i};
    lo[NOPTS] = (struct option){0, 0, 0, 0};
    const char *url = "ws://127.0.0.1:8080/ws", *wurl = NULL, *http = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch < 0 || (size_t)ch >= NOPTS || !strcmp(table[ch].name, "help")) opts_usage();
        const optdef_t *d = &table[ch];
        char *field = (char *)o + d->off;
        switch (d->kind) {
        case O_INT: *(int *)field = atoi(optarg); break;
        case O_DBL: *(double *)field = atof(optarg); break;
        case O_STR: *(const char **)field = optarg; break;
        case O_FLAG: *(int *)field = 1; break;
        case O_URL: url = optarg; break;
        case O_WURL: wurl = optarg; break;
        case O_HTTP: http = optarg; break;
        case O_REDIS: parse_hostport(optarg, o->redis_host, sizeof o->redis_host, &o->redis_port); break;
        case O_SEED: rnd_seed(strtoull(optarg, NULL, 0)); break;
        }
        if (d->off == AT(rate) && d->kind == O_DBL) o->rate_set = true;
    }
    if (optind < argc) opts_usage();
    for (const char *p = url; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (o->nurls == LG_MAX_URLS) die("--url: at most %d addresses", LG_MAX_URLS);
        parse_url(p, len, &o->urls[o->nurls++]);
        p += len + (comma ? 1 : 0);
    }
    if (!o->nurls) die("--url is empty");
    if (wurl) {
        parse_url(wurl, strlen(wurl), &o->write_ws);
        o->has_write_url = true;
    }
    /* --origin and --sources hold for every target */
    for (int i = 0; i < o->nurls; i++) {
        o->urls[i].origin = o->ws.origin;
        o->urls[i].sources = o->ws.sources;
    }
    o->write_ws.origin = o->ws.origin;
    o->write_ws.sources = o->ws.sources;
    o->ws = o->urls[0];
    if (http) parse_hostport(http, o->http_host, sizeof o->http_host, &o->http_port);
    else {
        snprintf(o->http_host, sizeof o->http_host, "%s", o->ws.host);
        o->http_port = o->ws.port;
    }
}

void opts_check(const options_t *o)
{
    if (o->clients < 1 || o->clients > 200000) die("--clients out of range");
    if (o->ws.sources < 1 || o->ws.sources > 250) die("--sources out of range");
    if (o->ideas < 1 || o->ideas > 64) die("--ideas must be 1..64");
    if (o->rate <= 0) die("--rate must be > 0");
    if (strcmp(o->framing, "cojam") && strcmp(o->framing, "socketio")) die("--framing must be cojam or socketio");
}
