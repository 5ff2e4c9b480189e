/* jam: the context, connections, server messages, joins, moderator and loop step (contracts in jam.h). */
#include "jam.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "probe.h"
#include "scenario.h"
#include "sio.h"

/* the jam jam_init() was given: the WebSocket callbacks carry only the connection */
static jam_t *J;

static conn_t *conn_of(ws_conn_t *w) { return (conn_t *)w; }

/* ------------------------------------------------------------ scanning */

bool scan_str(const char *p, const char *end, const char *key, const char **val, size_t *vlen)
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

bool scan_int(const char *p, const char *end, const char *key, long *out)
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

/* ---------------------------------------------------------- connections */

void conn_close(conn_t *c, const char *why)
{
    if (c->ws.state == CS_CLOSED || c->ws.state == CS_IDLE) return;
    if (why) err_str(why);
    if (c->ws.state == CS_JOINED) J->n.closed_after_join++;
    else if (c->role == ROLE_CITIZEN) {
        J->n.failed++;
        J->inflight--;
    }
    ws_close(&c->ws);
}

void conn_drop(conn_t *c)
{
    if (c->ws.state == CS_CLOSED || c->ws.state == CS_IDLE) return;
    if (c->role == ROLE_CITIZEN && c->ws.state != CS_JOINED) J->inflight--;
    ws_close(&c->ws);
}

int jam_writers(const options_t *o)
{
    int nw = (int)ceil(o->clients * o->writers_frac);
    return nw < 1 ? 1 : nw > o->clients ? o->clients : nw;
}

int jam_writer_ordinal(const options_t *o, int idx)
{
    /* floor(k N / nw) grows by at least 1 with k (nw <= N): the one candidate is the least k with
     * k N / nw >= idx */
    int64_t n = o->clients, nw = jam_writers(o);
    int64_t k = ((int64_t)idx * nw + n - 1) / n;
    return k < nw && k * n / nw == idx ? (int)k : -1;
}

static int target_of(const jam_t *j, int idx, int role)
{
    const options_t *o = j->opt;
    if (role == ROLE_MODERATOR) return j->write_target >= 0 ? j->write_target : 0;
    if (role != ROLE_CITIZEN) return 0;
    int k = j->citizens_write ? jam_writer_ordinal(o, idx) : -1;
    if (k >= 0) return j->write_target >= 0 ? j->write_target : k % o->nurls;
    return idx % o->nurls;
}

bool conn_start(jam_t *j, int idx, int role)
{
    conn_t *c = &j->conns[idx];
    memset(c, 0, sizeof *c);
    c->id = (uint32_t)idx;
    c->role = (uint8_t)role;
    c->target = (uint8_t)target_of(j, idx, role);
    c->t_start = now_us();
    if (role == ROLE_CITIZEN) j->inflight++;
    /* the citizens that do not write also sample into their target's histogram */
    if (role == ROLE_CITIZEN && !(j->citizens_write && jam_writer_ordinal(j->opt, idx) >= 0)) c->seen.h_also = &j->h_lat_target[c->target];
    const char *why = ws_connect(&c->ws, idx, j->targets[c->target]);
    if (why && c->ws.fd < 0) {
        err_str(why);
        c->ws.state = CS_CLOSED;
        if (role == ROLE_CITIZEN) {
            j->n.failed++;
            j->inflight--;
        }
        return false;
    }
    if (why) {
        conn_close(c, why);
        return false;
    }
    if (role == ROLE_CITIZEN) j->n.launched++;
    return true;
}

void jam_send_join(jam_t *j, conn_t *c)
{
    char buf[256];
    int n;
    if (c->role == ROLE_MODERATOR)
        n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"moderator\",\"secret\":\"%s\",\"nickname\":\"mod\"}",
                     j->code, j->secret);
    else n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"citizen\",\"nickname\":\"u%u\"}", j->code, c->id);
    ws_text(&c->ws, buf, (size_t)n);
}

/* ------------------------------------------------------------ moderator */

enum { MS_JOINING, MS_STARTING, MS_POSTING, MS_READY, MS_FAILED };
static struct {
    int state, next_idea, ideas;
    uint64_t retry_at;
} mod;

static void moderator_send_next(conn_t *c)
{
    char buf[256];
    int n;
    if (mod.state == MS_STARTING) {
        n = snprintf(buf, sizeof buf, "{\"type\":\"start\",\"op\":\"m-start\"}");
    } else if (mod.state == MS_POSTING) {
        if (mod.next_idea >= mod.ideas) {
            mod.state = MS_READY;
            return;
        }
        n = snprintf(buf, sizeof buf, "{\"type\":\"post\",\"op\":\"m-i%d\",\"kind\":\"idea\",\"text\":\"Load test idea number %d\"}",
                     mod.next_idea, mod.next_idea + 1);
    } else {
        return;
    }
    ws_text(&c->ws, buf, (size_t)n);
}

static void moderator_on_ack(conn_t *c, const char *op, size_t oplen, const char *s, const char *end)
{
    if (oplen == 7 && !memcmp(op, "m-start", 7) && mod.state == MS_STARTING) {
        mod.state = MS_POSTING;
        moderator_send_next(c);
    } else if (oplen > 3 && !memcmp(op, "m-i", 3) && mod.state == MS_POSTING) {
        long item = 0;
        if (!scan_int(s, end, "item", &item) || item <= 0) {
            logf_("moderator: post ack without item");
            mod.state = MS_FAILED;
            return;
        }
        if (J->nitems < 64) J->items[J->nitems++] = (int)item;
        mod.next_idea++;
        moderator_send_next(c);
    }
}

static void moderator_on_error(conn_t *c, const char *op, size_t oplen, const char *code, size_t codelen)
{
    if (codelen == 4 && !memcmp(code, "busy", 4)) goto retry;
    if (codelen == 12 && !memcmp(code, "rate_limited", 12)) goto retry;
    if (codelen == 15 && !memcmp(code, "already_started", 15) && mod.state == MS_STARTING) {
        mod.state = MS_POSTING;
        moderator_send_next(c);
        return;
    }
    logf_("moderator error %.*s (op %.*s)", (int)codelen, code, (int)oplen, op ? op : "");
    mod.state = MS_FAILED;
    return;
retry:
    mod.retry_at = now_us() + 100000;
}

static bool mod_done(jam_t *j)
{
    conn_t *m = &j->conns[j->opt->clients];
    if (m->ws.state == CS_CLOSED) return true;
    if (m->ws.state == CS_JOINED && mod.state == MS_JOINING) {
        mod.state = MS_STARTING;
        moderator_send_next(m);
    }
    if (mod.retry_at && now_us() >= mod.retry_at) {
        mod.retry_at = 0;
        moderator_send_next(m);
    }
    return mod.state == MS_READY || mod.state == MS_FAILED;
}

void jam_moderate(jam_t *j, int ideas)
{
    j->phase = "moderate";
    mod.ideas = ideas;
    conn_start(j, j->opt->clients, ROLE_MODERATOR);
    bool ok = jam_run_until(j, mod_done, 30) && mod.state == MS_READY;
    if (!ok) {
        for (int i = 0; i < lg_errs.n; i++) fprintf(stderr, "  error %s=%" PRIu64 "\n", lg_errs.e[i].name, lg_errs.e[i].n);
        die("moderator setup failed (state %d, conn %d)", mod.state, j->conns[j->opt->clients].ws.state);
    }
    logf_("moderator ready: %d ideas posted", j->nitems);
}

/* -------------------------------------------------------- server messages */

static void on_update(jam_t *j, conn_t *c, const char *s, size_t n, uint64_t t)
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
    j->n.fallback_parse++;
    if (!scan_str(s, end, "prev", &v, &vl) || !evid_parse(v, vl, &prev)) goto bad;
    if (!scan_str(s, end, "to", &v, &vl) || !evid_parse(v, vl, &to)) goto bad;
have:
    j->n.updates++;
    if (j->sc->on_update && j->sc->on_update(j, c, s, n, prev, to, t)) return;
    if (evid_cmp(to, c->seen.last_to) <= 0) return; /* clock/stats-only update, or overlap */
    if (evid_cmp(c->seen.last_to, prev) < 0) {
        j->n.gaps++;
        ws_text(&c->ws, "{\"type\":\"sync\"}", 15);
    }
    seen_push(&c->seen, to, t);
    if (c->role == ROLE_CITIZEN && seen_behind(&c->seen)) seen_advance(&c->seen);
    return;
bad:
    err_str("bad_update_frame");
}

static void on_ack(jam_t *j, conn_t *c, const char *s, const char *end, uint64_t t)
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
    if (j->sc->on_ack && j->sc->on_ack(j, c, op, oplen, s, end)) return;
    if (oplen < 2 || (op[0] != 'w')) {
        err_str("ack_unknown_op");
        return;
    }
    uint32_t k = (uint32_t)strtoul(op + 1, NULL, 10);
    if (k >= lg_samples.nw || lg_samples.w[k].conn != c->id) {
        err_str("ack_unknown_op");
        return;
    }
    wr_t *w = &lg_samples.w[k];
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
    wlog_acked(k, id, t);
}

static void on_error_msg(jam_t *j, conn_t *c, const char *s, const char *end)
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
    if (j->sc->on_error && j->sc->on_error(j, c, op, oplen, code, codelen)) return;
    err_count(code, codelen);
    if (has_op && oplen > 1 && op[0] == 'w') {
        uint32_t k = (uint32_t)strtoul(op + 1, NULL, 10);
        if (k < lg_samples.nw && lg_samples.w[k].conn == c->id && lg_samples.w[k].state == W_PENDING) {
            const wr_t *w = &lg_samples.w[k];
            c->pending = 0;
            if (w->kind == WK_VOTE) c->voted_mask &= ~(1ull << w->item);
            else if (w->kind == WK_UNVOTE) c->voted_mask |= 1ull << w->item;
            wlog_refused(k);
        }
    }
}

static void on_snapshot(jam_t *j, conn_t *c, const char *s, size_t n, uint64_t t)
{
    const char *end = s + n, *v;
    size_t vl;
    evid_t id = {0, 0};
    if (j->sc->on_snapshot && j->sc->on_snapshot(j, c, s, n, t)) return;
    if (scan_str(s, end, "event_id", &v, &vl)) evid_parse(v, vl, &id);
    else err_str("snapshot_without_event_id");
    if (c->ws.state == CS_JOINING) {
        c->ws.state = CS_JOINED;
        c->t_joined = t;
        c->seen.last_to = id;
        if (c->role == ROLE_CITIZEN) {
            j->n.joined++;
            j->inflight--;
            h_add(&j->h_connect, t - c->t_start);
            if (c->seen.h_also) j->readers_target[c->target]++;
        }
        return;
    }
    /* a resync snapshot: the client now sees everything up to id */
    j->n.resyncs++;
    if (evid_cmp(id, c->seen.last_to) > 0) {
        seen_push(&c->seen, id, t);
        if (c->role == ROLE_CITIZEN && seen_behind(&c->seen)) seen_advance(&c->seen);
    }
}

static void on_text(ws_conn_t *w, const char *s, size_t n)
{
    jam_t *j = J;
    conn_t *c = conn_of(w);
    uint64_t t = now_us();
    const char *end = s + n, *ty;
    size_t tl;
    j->n.frames_in++;
    if (j->sc->on_frame) j->sc->on_frame(j, c);
    if (n > 17 && !memcmp(s, "{\"type\":\"update\",", 17)) {
        on_update(j, c, s, n, t);
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
    if (IS("update")) on_update(j, c, s, n, t);
    else if (IS("ack")) on_ack(j, c, s, end, t);
    else if (IS("snapshot")) on_snapshot(j, c, s, n, t);
    else if (IS("welcome")) {
        c->got_welcome = 1;
        if (j->sc->on_welcome) j->sc->on_welcome(j, c, s, end, t);
    } else if (IS("error")) on_error_msg(j, c, s, end);
    else if (IS("pong") || IS("status") || IS("words") || IS("notice")) { /* nothing to measure */ } else
        err_str("unknown_server_message");
#undef IS
    return;
bad:
    err_str("unparsable_server_message");
}

static void on_open(ws_conn_t *w)
{
    conn_t *c = conn_of(w);
    if (J->sc->send_join && J->sc->send_join(J, c)) return;
    jam_send_join(J, c);
}

static void on_bytes(ws_conn_t *w, size_t n)
{
    J->n.bytes_in += n;
    if (J->sc->on_bytes) J->sc->on_bytes(J, conn_of(w), n);
}

static void on_close_frame(ws_conn_t *w, int code)
{
    if (J->sc->on_close_code) J->sc->on_close_code(J, conn_of(w), code);
}

static void on_fail(ws_conn_t *w, const char *why) { conn_close(conn_of(w), why); }

/* ---------------------------------------------------------------- setup */

void jam_init(jam_t *j, options_t *o, const scenario_t *sc, int extra_conns)
{
    memset(j, 0, sizeof *j);
    J = j;
    j->opt = o;
    j->sc = sc;
    j->phase = "setup";
    static ws_events_t ev = {on_open, on_text, on_bytes, on_close_frame, on_fail};
    if (!strcmp(o->framing, "socketio")) sio_wrap(&ev);
    ws_init(&o->ws, &ev);
    j->nconns = o->clients + 1 + extra_conns;
    j->conns = calloc((size_t)j->nconns, sizeof *j->conns);
    if (!j->conns) die("out of memory");
    for (int i = 0; i < j->nconns; i++) j->conns[i].ws.fd = -1;
    j->targets[j->ntargets++] = &o->ws; /* the default: resume-storm moves its port */
    for (int i = 1; i < o->nurls; i++) j->targets[j->ntargets++] = &o->urls[i];
    j->write_target = -1;
    if (o->has_write_url) {
        for (int i = 0; i < j->ntargets && j->write_target < 0; i++)
            if (!strcmp(j->targets[i]->host, o->write_ws.host) && j->targets[i]->port == o->write_ws.port &&
                !strcmp(j->targets[i]->path, o->write_ws.path))
                j->write_target = i;
        if (j->write_target < 0) {
            j->write_target = j->ntargets;
            j->targets[j->ntargets++] = &o->write_ws;
        }
    }
}

void jam_create(jam_t *j)
{
    const options_t *o = j->opt;
    j->phase = "setup";
    char body[512], resp[8192];
    snprintf(body, sizeof body,
             "{\"title\":\"Load test %s\",\"question\":\"How fast is cojam?\",\"agenda\":[{\"phase\":\"ideate\",\"duration_s\":0}],"
             "\"settings\":{\"anonymous_allowed\":true,\"votes_per_phase\":0}}",
             j->sc->name);
    int status = -1;
    resp[0] = 0;
    for (uint64_t until = now_us() + 15000000; now_us() < until && now_us() < j->hard_deadline;) { /* server may be starting */
        status = http_post(o->http_host, o->http_port, o->admin_token, "/api/jams", body, resp, sizeof resp);
        if (status > 0) break;
        usleep(200000);
    }
    if (status != 201 && status != 200) die("POST /api/jams failed: HTTP %d %s", status, resp);
    json_error_t je;
    json_t *r = json_loads(resp, 0, &je);
    const char *code = r ? json_string_value(json_object_get(r, "code")) : NULL;
    const char *secret = r ? json_string_value(json_object_get(r, "moderator_secret")) : NULL;
    if (!code || !secret) die("bad create-jam reply: %s", resp);
    snprintf(j->code, sizeof j->code, "%s", code);
    snprintf(j->secret, sizeof j->secret, "%s", secret);
    json_decref(r);
    logf_("jam %s created (%s, %d clients, rate %.0f/s)", j->code, j->sc->name, o->clients, o->rate);
}

/* ----------------------------------------------------------------- loop */

void jam_sweep(jam_t *j)
{
    for (int i = 0; i < j->opt->clients; i++) {
        conn_t *c = &j->conns[i];
        if (c->ws.state == CS_JOINED && seen_behind(&c->seen)) seen_advance(&c->seen);
    }
}

static void on_write_timeout(uint32_t conn) { J->conns[conn].pending = 0; }

static void housekeeping(jam_t *j)
{
    static uint64_t next_progress, next_wm, next_sweep;
    static uint32_t last_sweep_settled;
    uint64_t t = now_us();
    if (t > j->hard_deadline) {
        fprintf(stderr, "loadgen: hard deadline reached, exiting\n");
        exit(3);
    }
    if (t >= next_progress) {
        next_progress = t + 1000000;
        if (!j->opt->quiet && j->sc->on_tick) j->sc->on_tick(j, t);
    }
    if (lg_samples.nw > lg_samples.first_out) wlog_timeouts(t, (uint64_t)(j->opt->ack_timeout * 1e6), on_write_timeout);
    if (t >= next_wm) {
        next_wm = t + 5000;
        samples_settle();
    }
    if (t >= next_sweep && lg_samples.settled != last_sweep_settled) {
        next_sweep = t + 25000;
        last_sweep_settled = lg_samples.settled;
        jam_sweep(j);
    }
}

void jam_step(jam_t *j, int64_t timeout_us)
{
    ws_poll(timeout_us);
    housekeeping(j);
}

bool jam_run_until(jam_t *j, bool (*cond)(jam_t *), double timeout_s)
{
    uint64_t end = now_us() + (uint64_t)(timeout_s * 1e6);
    while (!cond(j)) {
        uint64_t t = now_us();
        if (t >= end) return false;
        uint64_t left = end - t;
        jam_step(j, left < 10000 ? (int64_t)left : 10000);
    }
    return true;
}

bool jam_never(jam_t *j)
{
    (void)j;
    return false;
}

bool jam_all_joined(jam_t *j) { return (int)(j->n.joined + j->n.failed) >= j->opt->clients; }

uint64_t jam_connect_clients(jam_t *j)
{
    const options_t *o = j->opt;
    j->phase = "connect";
    uint64_t t_conn0 = now_us(), t_conn_end = t_conn0 + (uint64_t)(o->connect_timeout * 1e6);
    int next = 0;
    while (!jam_all_joined(j)) {
        uint64_t t = now_us();
        if (t >= t_conn_end) break;
        while (next < o->clients) {
            if (j->inflight >= o->max_inflight) break;
            if (o->connect_rate > 0 && (double)next >= o->connect_rate * (double)(t - t_conn0) / 1e6 + 1) break;
            conn_start(j, next, ROLE_CITIZEN);
            next++;
        }
        jam_step(j, next < o->clients ? 1000 : 10000);
    }
    for (int i = 0; i < o->clients; i++) {
        conn_t *c = &j->conns[i];
        if (c->ws.state != CS_JOINED && c->ws.state != CS_CLOSED) conn_close(c, "join_timeout");
        if (c->ws.state == CS_IDLE) j->n.failed++;
    }
    return t_conn0;
}

void jam_mark(const jam_t *j, const char *what)
{
    if (!j->opt->mark) return;
    FILE *f = fopen(j->opt->mark, "a");
    if (!f) return;
    fprintf(f, "%s\n", what);
    fclose(f);
}
