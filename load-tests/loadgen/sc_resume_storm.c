/*
 * resume-storm: what a mass reconnect costs (a Wi-Fi drop at the town hall).
 *
 * N clients join one jam (like join-storm) and keep their token (welcome) and the last event id
 * they have seen (snapshot event_id, update "to").  Then all N drop at once (close(), no close
 * frame: a Wi-Fi drop).  While they are away, W writer sessions (separate connections, at most 15
 * writes/s each, one write in flight, under the server's 20/s) write --away-events votes, unvotes
 * and posts, spread over --away-seconds.  The target is the stream's last id after the writers'
 * last ack (cross-checked with XREVRANGE when --redis is given).  Writers and the moderator leave;
 * (--resume-gate: wait for the bench script, which may kill -9 and restart cojamd meanwhile, and
 * takes "PORT PID" from that file); then all N reconnect at once with token + last_event_id.
 * A client has caught up when its last seen id >= target with no gap open.  Measured from the
 * reconnect start: time until every client caught up, per-client catch-up latency, resumed vs
 * snapshot, bytes and frames received per client until caught up, update chain checks (first
 * prev vs the client's id, each prev vs the previous to), errors and close codes; CPU of cojamd
 * and Redis over the catch-up.  --verify-every K: every K-th client's state (items, vote totals,
 * top lists, stats) is kept from the frames it receives and compared at the end with the snapshot
 * of a fresh screen connection (a screen join stores no event).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "jam.h"
#include "measure.h"
#include "probe.h"
#include "scenario.h"

#define RS_MAX_ITEMS 10000
#define WR_MIN_GAP_US 66667 /* a writer sends at most 15 writes/s: under the server's 20/s */

typedef struct {
    char *token;
    evid_t L;     /* the last id seen before the drop: the rejoin's last_event_id */
    evid_t chain; /* "to" of the last update (or the snapshot's event_id) since the rejoin */
    uint64_t t_start, t_welcome, t_caught;
    uint64_t bytes, frames; /* received from connect() until caught up (that frame included) */
    uint32_t updates, stale, snapshots, resync_snaps, snaps_after_resumed, snaps_after_sync, snap_older;
    uint32_t gaps, overlaps, chain_ok, ahead;
    int close_code;
    uint8_t has, welcomed, resumed, caught, sent_sync, gap_open, first_done, first_cls, failed;
} rs_t;

static int g_resume_phase; /* 1 while the clients reconnect and catch up */
static uint8_t *g_vf_on;   /* clients whose state is checked (NULL: --verify-every 0) */
static rs_t *g_rs;
static int g_rs_n, g_rs_caught;
static evid_t g_target;
static uint64_t g_storm_t0;

typedef struct {
    uint8_t busy, kind; /* kind: 0 vote, 1 unvote, 2 post */
    uint16_t tries;
    int item; /* index into g_it (votes) */
    uint32_t seq, vk;
    uint64_t t_send, next_ok, retry_at;
    uint8_t *vbits; /* items this writer has voted for */
} wst_t;

static wst_t *g_ws;
static int g_nws, g_ws_next, g_wr_joined;
static int *g_it, g_nit; /* item ids, in the order they were acked */
static uint32_t g_wr_seq;
static uint64_t g_wr_goal, g_wr_issued, g_wr_acked, g_wr_failed, g_wr_posts, g_wr_votes, g_wr_unvotes, g_wr_retries;
static uint64_t g_wr_t0;
static double g_wr_rate; /* writes/s; 0 = as fast as the writers may */
static evid_t g_max_acked;

static json_t **g_vf, *g_truth;

static inline int wr_base(jam_t *j) { return j->opt->clients + 1; }

static bool rs_mine(jam_t *j, const conn_t *c) { return g_rs && c->role == ROLE_CITIZEN && c->id < (uint32_t)j->opt->clients; }

static void rs_count_frame(jam_t *j, const conn_t *c)
{
    if (g_resume_phase && rs_mine(j, c) && !g_rs[c->id].caught) g_rs[c->id].frames++;
}

static void rs_count_bytes(jam_t *j, const conn_t *c, size_t n)
{
    if (g_resume_phase && rs_mine(j, c) && !g_rs[c->id].caught) g_rs[c->id].bytes += n;
}

static void rs_close_code(jam_t *j, const conn_t *c, int code)
{
    if (g_resume_phase && rs_mine(j, c)) g_rs[c->id].close_code = code;
}

static bool rs_send_join(jam_t *j, conn_t *c)
{
    char buf[900];
    int n;
    if (c->role == ROLE_WRITER)
        n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"citizen\",\"nickname\":\"w%u\"}", j->code,
                     c->id - (uint32_t)wr_base(j));
    else if (c->role == ROLE_SCREEN) n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"screen\"}", j->code);
    else if (g_resume_phase && rs_mine(j, c) && g_rs[c->id].token)
        n = snprintf(buf, sizeof buf, "{\"type\":\"join\",\"token\":\"%s\",\"last_event_id\":\"%" PRIu64 "-%" PRIu64 "\"}",
                     g_rs[c->id].token, g_rs[c->id].L.ms, g_rs[c->id].L.seq);
    else return false;
    if (n <= 0 || (size_t)n >= sizeof buf) die("join message too long");
    ws_text(&c->ws, buf, (size_t)n);
    return true;
}

static void rs_check_caught(conn_t *c, uint64_t t)
{
    rs_t *r = &g_rs[c->id];
    if (!r->caught && r->welcomed && !r->gap_open && evid_cmp(c->seen.last_to, g_target) >= 0) {
        r->caught = 1;
        r->t_caught = t;
        g_rs_caught++;
    }
}

static void rs_on_welcome(jam_t *j, conn_t *c, const char *s, const char *end, uint64_t t)
{
    if (!rs_mine(j, c)) return;
    rs_t *r = &g_rs[c->id];
    if (!g_resume_phase) {
        const char *v;
        size_t vl;
        if (scan_str(s, end, "token", &v, &vl) && vl > 0 && vl < 1024) {
            free(r->token);
            r->token = strndup(v, vl);
        } else {
            err_str("welcome_without_token");
        }
        return;
    }
    if (r->welcomed) {
        err_str("second_welcome");
        return;
    }
    r->welcomed = 1;
    r->t_welcome = t;
    r->resumed = memmem(s, (size_t)(end - s), "\"resumed\":true", 14) != NULL;
    if (c->ws.state == CS_JOINING) { /* resumed: no snapshot follows; joined as of the welcome */
        c->ws.state = CS_JOINED;
        c->t_joined = t;
        j->n.joined++;
        j->inflight--;
        h_add(&j->h_connect, t - c->t_start);
    }
    rs_check_caught(c, t); /* nothing was missed (cannot happen here: the writers wrote) */
}

static void rs_on_update(jam_t *j, conn_t *c, evid_t prev, evid_t to, uint64_t t)
{
    rs_t *r = &g_rs[c->id];
    r->updates++;
    if (!r->welcomed) err_str("update_before_welcome");
    if (evid_cmp(to, c->seen.last_to) <= 0) { /* clock/stats only, or already covered */
        r->stale++;
        return;
    }
    if (!r->first_done && !r->snapshots) {
        /* the first update of a resume: its prev should be the client's id (at or before it) */
        r->first_done = 1;
        int k = evid_cmp(prev, r->L);
        r->first_cls = k == 0 ? 1 : k < 0 ? 2 : 3;
    } else {
        int k = evid_cmp(prev, r->chain);
        if (k == 0) r->chain_ok++;
        else if (k < 0) r->overlaps++;
        else r->ahead++;
    }
    r->first_done = 1;
    r->chain = to;
    if (r->gap_open) return; /* a snapshot is on its way */
    if (evid_cmp(prev, c->seen.last_to) > 0) {
        /* a gap: a client asks for a snapshot and is not caught up until it comes */
        r->gaps++;
        j->n.gaps++;
        r->gap_open = 1;
        r->sent_sync = 1;
        ws_text(&c->ws, "{\"type\":\"sync\"}", 15);
        return;
    }
    c->seen.last_to = to;
    rs_check_caught(c, t);
}

static void rs_on_snapshot(jam_t *j, conn_t *c, const char *s, size_t n, uint64_t t)
{
    rs_t *r = &g_rs[c->id];
    const char *v;
    size_t vl;
    evid_t id = {0, 0};
    if (!scan_str(s, s + n, "event_id", &v, &vl) || !evid_parse(v, vl, &id)) err_str("snapshot_without_event_id");
    r->snapshots++;
    j->n.resyncs++;
    if (memmem(s, n < 256 ? n : 256, "\"resync\":true", 13)) r->resync_snaps++;
    if (!r->welcomed) err_str("snapshot_before_welcome");
    if (r->sent_sync) r->snaps_after_sync++;
    else if (r->resumed) r->snaps_after_resumed++;
    if (evid_cmp(id, c->seen.last_to) < 0) r->snap_older++;
    r->sent_sync = 0;
    r->gap_open = 0;
    r->first_done = 1;
    c->seen.last_to = id;
    r->chain = id;
    rs_check_caught(c, t);
}

static void rs_on_error(conn_t *c)
{
    rs_t *r = &g_rs[c->id];
    if (!r->welcomed) { /* the rejoin was refused (bad_token, ...): this client is out */
        r->failed = 1;
        conn_close(c, NULL);
    }
}

/* ---- writers */

static void wr_send(jam_t *j, int wi)
{
    wst_t *w = &g_ws[wi];
    conn_t *c = &j->conns[wr_base(j) + wi];
    char buf[320];
    int n;
    if (w->kind == 2)
        n = snprintf(buf, sizeof buf,
                     "{\"type\":\"post\",\"op\":\"r%u\",\"kind\":\"idea\",\"text\":\"Idea %u from writer w%d: shade the bus stops "
                     "on the main square with trees and awnings\"}",
                     w->seq, w->seq, wi);
    else n = snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"op\":\"r%u\",\"item\":%d}", w->kind ? "unvote" : "vote", w->seq, g_it[w->item]);
    uint64_t t = now_us();
    w->busy = 1;
    w->t_send = t;
    w->next_ok = t + WR_MIN_GAP_US;
    w->retry_at = 0;
    ws_text(&c->ws, buf, (size_t)n);
}

static void wr_new(jam_t *j, int wi, bool seed)
{
    wst_t *w = &g_ws[wi];
    bool post = seed || g_nit == 0 || (g_nit < RS_MAX_ITEMS && (double)(rnd64() % 1000000) < j->opt->post_frac * 1e6);
    if (post) {
        w->kind = 2;
    } else {
        int idx = (int)(((uint64_t)wi * 37u + w->vk++) % (uint64_t)g_nit);
        w->item = idx;
        w->kind = (w->vbits[idx >> 3] >> (idx & 7)) & 1; /* voted: unvote, else vote */
    }
    w->seq = g_wr_seq++;
    w->tries = 0;
    g_wr_issued++;
    wr_send(j, wi);
}

static void wr_on_ack(jam_t *j, conn_t *c, const char *op, size_t oplen, const char *s, const char *end)
{
    int wi = (int)c->id - wr_base(j);
    wst_t *w = &g_ws[wi];
    if (!w->busy || oplen < 2 || op[0] != 'r' || strtoul(op + 1, NULL, 10) != w->seq) {
        err_str("writer_ack_unknown_op");
        return;
    }
    const char *ev;
    size_t evlen;
    evid_t id;
    if (scan_str(s, end, "event_id", &ev, &evlen) && evid_parse(ev, evlen, &id)) {
        if (evid_cmp(id, g_max_acked) > 0) g_max_acked = id;
    } else {
        err_str("writer_ack_without_event_id");
    }
    w->busy = 0;
    if (w->kind == 2) {
        long item = 0;
        if (scan_int(s, end, "item", &item) && item > 0 && g_nit < RS_MAX_ITEMS) g_it[g_nit++] = (int)item;
        g_wr_posts++;
    } else if (w->kind == 0) {
        w->vbits[w->item >> 3] |= (uint8_t)(1u << (w->item & 7));
        g_wr_votes++;
    } else {
        w->vbits[w->item >> 3] &= (uint8_t) ~(1u << (w->item & 7));
        g_wr_unvotes++;
    }
    g_wr_acked++;
}

static void wr_on_error(jam_t *j, conn_t *c, const char *op, size_t oplen, const char *code, size_t codelen)
{
    int wi = (int)c->id - wr_base(j);
    wst_t *w = &g_ws[wi];
    char name[64];
    snprintf(name, sizeof name, "writer_%.*s", (int)(codelen < 40 ? codelen : 40), code);
    err_str(name);
    if (!w->busy) return;
    if (op && oplen > 1 && (op[0] != 'r' || strtoul(op + 1, NULL, 10) != w->seq)) return; /* not the write in flight */
#define CODE(lit) (codelen == sizeof(lit) - 1 && !memcmp(code, lit, codelen))
    bool retry = CODE("busy") || CODE("rate_limited") || CODE("storage_unavailable") || CODE("storage_timeout") || CODE("not_owner");
    if (retry && w->tries < 50) {
        w->tries++;
        w->retry_at = now_us() + 100000; /* the same op again */
        g_wr_retries++;
        return;
    }
    if (w->kind != 2 && CODE("already_voted")) w->vbits[w->item >> 3] |= (uint8_t)(1u << (w->item & 7));
    if (w->kind != 2 && CODE("not_voted")) w->vbits[w->item >> 3] &= (uint8_t) ~(1u << (w->item & 7));
#undef CODE
    w->busy = 0;
    g_wr_failed++;
}

static void wr_pump(jam_t *j, uint64_t t)
{
    uint64_t lim = (uint64_t)(j->opt->ack_timeout * 1e6);
    for (int wi = 0; wi < g_nws; wi++) {
        wst_t *w = &g_ws[wi];
        if (!w->busy) continue;
        if (j->conns[wr_base(j) + wi].ws.state != CS_JOINED) {
            w->busy = 0;
            g_wr_failed++;
            continue;
        }
        if (w->retry_at) {
            if (t >= w->retry_at && t >= w->next_ok) wr_send(j, wi);
        } else if (t - w->t_send > lim) {
            w->busy = 0;
            g_wr_failed++;
            err_str("writer_ack_timeout");
        }
    }
    while (g_wr_issued < g_wr_goal) {
        if (g_wr_rate > 0 && g_wr_t0 + (uint64_t)((double)g_wr_issued * 1e6 / g_wr_rate) > t) break;
        int found = -1;
        for (int k = 0; k < g_nws; k++) {
            int wi = (g_ws_next + k) % g_nws;
            if (!g_ws[wi].busy && g_ws[wi].next_ok <= t && j->conns[wr_base(j) + wi].ws.state == CS_JOINED) {
                found = wi;
                break;
            }
        }
        if (found < 0) break; /* every writer busy: the schedule slips, nothing is skipped */
        g_ws_next = (found + 1) % g_nws;
        wr_new(j, found, g_wr_rate == 0);
    }
}

/* writes 'goal' events at 'rate'/s (0: as fast as allowed); returns the seconds it took */
static double wr_run(jam_t *j, uint64_t goal, double rate, double timeout_s)
{
    uint64_t done0 = g_wr_acked + g_wr_failed, t0 = now_us(), end = t0 + (uint64_t)(timeout_s * 1e6);
    g_wr_goal = g_wr_issued + goal;
    g_wr_rate = rate;
    g_wr_t0 = t0;
    /* keep the schedule relative to this phase: count issued from here */
    uint64_t issued0 = g_wr_issued;
    g_wr_t0 = t0 - (uint64_t)(rate > 0 ? (double)issued0 * 1e6 / rate : 0);
    while (g_wr_acked + g_wr_failed - done0 < goal) {
        uint64_t t = now_us();
        if (t >= end) {
            logf_("writers: timeout, %" PRIu64 " of %" PRIu64 " done", g_wr_acked + g_wr_failed - done0, goal);
            break;
        }
        wr_pump(j, t);
        jam_step(j, 2000);
    }
    g_wr_goal = g_wr_issued; /* nothing more is started */
    return (double)(now_us() - t0) / 1e6;
}

static bool writers_joined(jam_t *j)
{
    int n = 0, dead = 0;
    for (int wi = 0; wi < g_nws; wi++) {
        conn_t *c = &j->conns[wr_base(j) + wi];
        n += c->ws.state == CS_JOINED;
        dead += c->ws.state == CS_CLOSED;
    }
    g_wr_joined = n;
    return n + dead >= g_nws;
}

static bool writers_saw_last(jam_t *j)
{
    for (int wi = 0; wi < g_nws; wi++) {
        conn_t *c = &j->conns[wr_base(j) + wi];
        if (c->ws.state == CS_JOINED && evid_cmp(c->seen.last_to, g_max_acked) < 0) return false;
    }
    return true;
}

/* ---- the sampled state check */

static json_t *vf_new_state(void)
{
    json_t *st = json_object();
    json_object_set_new(st, "votes", json_object());
    json_object_set_new(st, "items", json_object());
    json_object_set_new(st, "ranking", json_object());
    json_object_set_new(st, "stats", json_object());
    return st;
}

/* merge a snapshot (replaces) or an update (absolute values merged) into a client's state */
static void vf_feed(jam_t *j, conn_t *c, const char *s, size_t n, bool snapshot)
{
    json_t **slot;
    if (c->role == ROLE_SCREEN) {
        if (!snapshot) return;
        slot = &g_truth;
    } else if (c->role == ROLE_CITIZEN && c->id < (uint32_t)j->opt->clients && g_vf_on[c->id]) {
        slot = &g_vf[c->id];
    } else {
        return;
    }
    json_error_t je;
    json_t *m = json_loadb(s, n, 0, &je);
    if (!m) {
        err_str("verify_unparsable_frame");
        return;
    }
    if (snapshot || !*slot) {
        json_decref(*slot);
        *slot = vf_new_state();
    }
    json_t *st = *slot, *votes = json_object_get(st, "votes"), *items = json_object_get(st, "items");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(m, "items"), i, it) {
        json_t *id = json_object_get(it, "id");
        if (!json_is_integer(id)) continue;
        char k[24];
        snprintf(k, sizeof k, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        json_object_set_new(items, k, json_boolean(json_is_true(json_object_get(it, "hidden"))));
        json_t *v = json_object_get(it, "votes");
        if (json_is_integer(v)) json_object_set(votes, k, v);
    }
    if (json_is_object(json_object_get(m, "votes"))) json_object_update(votes, json_object_get(m, "votes"));
    if (json_is_object(json_object_get(m, "ranking"))) json_object_update(json_object_get(st, "ranking"), json_object_get(m, "ranking"));
    if (json_is_object(json_object_get(m, "stats"))) json_object_update(json_object_get(st, "stats"), json_object_get(m, "stats"));
    json_decref(m);
}

/* differences between a client's state and the truth; the first one described in 'why' */
static int vf_compare(json_t *st, json_t *truth, char *why, size_t wsz)
{
    int diffs = 0;
    const char *k;
    json_t *v;
    why[0] = 0;
#define DIFF(...)                                                                                                                          \
    do {                                                                                                                                   \
        if (!diffs++) snprintf(why, wsz, __VA_ARGS__);                                                                                     \
    } while (0)
    json_t *ti = json_object_get(truth, "items"), *ci = json_object_get(st, "items");
    json_object_foreach(ti, k, v)
        if (!json_equal(v, json_object_get(ci, k))) DIFF("item %s missing or hidden flag differs", k);
    json_object_foreach(ci, k, v)
        if (!json_object_get(ti, k)) DIFF("item %s unknown to the server", k);
    json_t *tv = json_object_get(truth, "votes"), *cv = json_object_get(st, "votes");
    json_object_foreach(tv, k, v) {
        json_t *x = json_object_get(cv, k);
        if (!x || json_integer_value(x) != json_integer_value(v))
            DIFF("item %s: %" JSON_INTEGER_FORMAT " votes, the server says %" JSON_INTEGER_FORMAT, k, x ? json_integer_value(x) : -1,
                 json_integer_value(v));
    }
    json_t *tr = json_object_get(truth, "ranking"), *cr = json_object_get(st, "ranking");
    json_object_foreach(tr, k, v)
        if (!json_equal(v, json_object_get(cr, k))) DIFF("ranking of %s differs", k);
    static const char *stat_keys[] = {"items", "votes", "participants"};
    json_t *ts = json_object_get(truth, "stats"), *cs = json_object_get(st, "stats");
    for (size_t q = 0; q < sizeof stat_keys / sizeof *stat_keys; q++)
        if (!json_equal(json_object_get(ts, stat_keys[q]), json_object_get(cs, stat_keys[q])))
            DIFF("stats.%s: %" JSON_INTEGER_FORMAT ", the server says %" JSON_INTEGER_FORMAT, stat_keys[q],
                 json_integer_value(json_object_get(cs, stat_keys[q])), json_integer_value(json_object_get(ts, stat_keys[q])));
#undef DIFF
    return diffs;
}

/* ---- progress and report */

static void rs_progress(jam_t *j, uint64_t t)
{
    static uint64_t g_prev_frames;
    if (!g_resume_phase) {
        int alive = 0;
        for (int i = 0; i < j->opt->clients; i++) alive += j->conns[i].ws.state == CS_JOINED;
        fprintf(stderr,
                "[%6.2fs] %-8s clients joined %d/%d  writers %d  writes acked %" PRIu64 " failed %" PRIu64 "  items %d  err %" PRIu64 "\n",
                since_s(t), j->phase, alive, j->opt->clients, g_wr_joined, g_wr_acked, g_wr_failed, g_nit, lg_errs.total);
        return;
    }
    int welcomed = 0, resumed = 0, snap = 0, dead = 0;
    for (int i = 0; i < j->opt->clients; i++) {
        const rs_t *r = &g_rs[i];
        if (!r->has) continue;
        welcomed += r->welcomed;
        resumed += r->resumed;
        snap += r->snapshots > 0;
        dead += !r->caught && j->conns[i].ws.state == CS_CLOSED;
    }
    fprintf(stderr, "[%6.2fs] %-8s welcomed %d/%d  resumed %d  snapshot %d  caught up %d  lost %d  frames %" PRIu64 "/s  err %" PRIu64 "\n",
            since_s(t), j->phase, welcomed, g_rs_n, resumed, snap, g_rs_caught, dead, j->n.frames_in - g_prev_frames, lg_errs.total);
    g_prev_frames = j->n.frames_in;
}

static int g_rs_dead_cache;
static bool rs_done(jam_t *j)
{
    int dead = 0;
    for (int i = 0; i < j->opt->clients; i++)
        if (g_rs[i].has && !g_rs[i].caught && j->conns[i].ws.state == CS_CLOSED) dead++;
    g_rs_dead_cache = dead;
    return g_rs_caught + dead >= g_rs_n;
}

static int resume_main(jam_t *j)
{
    const int N = j->opt->clients, W = j->opt->writers, screen_idx = j->opt->clients + 1 + j->opt->writers;
    g_rs = calloc((size_t)N, sizeof *g_rs);
    g_ws = calloc((size_t)W, sizeof *g_ws);
    g_it = calloc(RS_MAX_ITEMS, sizeof *g_it);
    if (!g_rs || !g_ws || !g_it) die("out of memory");
    g_nws = W;
    for (int wi = 0; wi < W; wi++)
        if (!(g_ws[wi].vbits = calloc(RS_MAX_ITEMS / 8 + 1, 1))) die("out of memory");
    if (j->opt->verify_every > 0) {
        g_vf_on = calloc((size_t)N, 1);
        g_vf = calloc((size_t)N, sizeof *g_vf);
        if (!g_vf_on || !g_vf) die("out of memory");
        for (int i = 0; i < N; i += j->opt->verify_every) g_vf_on[i] = 1;
    }

    /* ---- writers join, then seed the jam's items */
    j->phase = "writers";
    for (int wi = 0; wi < W; wi++) conn_start(j, wr_base(j) + wi, ROLE_WRITER);
    jam_run_until(j, writers_joined, j->opt->connect_timeout);
    if (g_wr_joined == 0) die("no writer could join");
    if (g_wr_joined < W) logf_("only %d of %d writers joined", g_wr_joined, W);
    j->phase = "seed";
    double seed_s = wr_run(j, (uint64_t)j->opt->seed_items, 0, 60);
    logf_("seed: %d items posted in %.2f s by %d writers", g_nit, seed_s, g_wr_joined);

    /* ---- the clients join (as join-storm does) */
    uint64_t t_conn0 = jam_connect_clients(j);
    double join_s = (double)(now_us() - t_conn0) / 1e6;
    uint64_t joined_first = j->n.joined;
    hist_t h_join_first = j->h_connect;
    logf_("connect: %" PRIu64 " joined, %" PRIu64 " failed in %.3f s", j->n.joined, j->n.failed, join_s);
    j->phase = "idle";
    jam_run_until(j, jam_never, j->opt->idle_settle);

    /* ---- the drop: every joined client closes at once */
    evid_t Lmin = {UINT64_MAX, UINT64_MAX}, Lmax = {0, 0};
    for (int i = 0; i < N; i++) {
        conn_t *c = &j->conns[i];
        rs_t *r = &g_rs[i];
        if (c->ws.state != CS_JOINED || !r->token) continue;
        r->has = 1;
        r->L = c->seen.last_to;
        if (evid_cmp(r->L, Lmin) < 0) Lmin = r->L;
        if (evid_cmp(r->L, Lmax) > 0) Lmax = r->L;
        g_rs_n++;
    }
    for (int i = 0; i < N; i++)
        if (g_rs[i].has) conn_drop(&j->conns[i]);
    for (int i = 0; i < N; i++)
        if (!g_rs[i].has && j->conns[i].ws.state != CS_CLOSED && j->conns[i].ws.state != CS_IDLE) conn_drop(&j->conns[i]);
    if (g_rs_n == 0) die("no client joined");
    uint64_t t_drop = now_us();
    logf_("drop: %d clients closed their connections (last ids %" PRIu64 "-%" PRIu64 " .. %" PRIu64 "-%" PRIu64 ")", g_rs_n, Lmin.ms,
          Lmin.seq, Lmax.ms, Lmax.seq);

    /* ---- away: the writers make the jam busy */
    j->phase = "away";
    uint64_t posts0 = g_wr_posts, votes0 = g_wr_votes, unvotes0 = g_wr_unvotes, acked0 = g_wr_acked, failed0 = g_wr_failed;
    double away_s = wr_run(j, (uint64_t)j->opt->away_events, j->opt->away_events / j->opt->away_seconds, j->opt->away_seconds + 30);
    uint64_t away_acked = g_wr_acked - acked0, away_failed = g_wr_failed - failed0;
    jam_run_until(j, writers_saw_last, 5); /* their broadcast went out (into the ring) */
    g_target = g_max_acked;
    evid_t rlast = {0, 0};
    bool have_rlast = redis_last_id(j->opt->redis_host, j->opt->redis_port, j->code, &rlast);
    if (have_rlast && evid_cmp(rlast, g_target) != 0) {
        logf_("note: the stream's last id %" PRIu64 "-%" PRIu64 " differs from the last acked %" PRIu64 "-%" PRIu64 "; using the larger",
              rlast.ms, rlast.seq, g_target.ms, g_target.seq);
        if (evid_cmp(rlast, g_target) > 0) g_target = rlast;
    }
    logf_("away: %" PRIu64 " events acked (%" PRIu64 " posts, %" PRIu64 " votes, %" PRIu64 " unvotes), %" PRIu64
          " failed, in %.2f s; target %" PRIu64 "-%" PRIu64 "; items %d",
          away_acked, g_wr_posts - posts0, g_wr_votes - votes0, g_wr_unvotes - unvotes0, away_failed, away_s, g_target.ms, g_target.seq,
          g_nit);
    for (int wi = 0; wi < W; wi++) conn_drop(&j->conns[wr_base(j) + wi]);
    conn_drop(&j->conns[j->opt->clients]); /* the moderator */
    double away_total_s = 0;
    jam_mark(j, "away_done");
    if (j->opt->resume_gate) {
        j->phase = "gate";
        uint64_t until = now_us() + (uint64_t)(j->opt->gate_timeout * 1e6);
        int port = 0, pid = 0;
        for (;;) {
            FILE *f = fopen(j->opt->resume_gate, "r");
            if (f) {
                int k = fscanf(f, "%d %d", &port, &pid);
                fclose(f);
                if (k >= 1) break;
            }
            if (now_us() > until) die("no go from %s within %.0f s", j->opt->resume_gate, j->opt->gate_timeout);
            usleep(20000);
        }
        if (port > 0) j->opt->ws.port = j->opt->http_port = port;
        if (pid > 0) j->opt->server_pid = pid;
        logf_("gate: resuming against port %d (pid %d)", j->opt->ws.port, j->opt->server_pid);
    }

    /* ---- the reconnect storm */
    errs_t err_setup = lg_errs;
    memset(&lg_errs, 0, sizeof lg_errs);
    j->n.joined = j->n.failed = j->n.launched = j->n.closed_after_join = j->n.gaps = j->n.resyncs = 0;
    j->n.frames_in = j->n.bytes_in = j->n.updates = j->n.fallback_parse = 0;
    j->inflight = 0;
    h_reset(&j->h_connect);
    g_resume_phase = 1;
    j->phase = "resume";
    procs_t p0 = proc_read(j->opt->server_pid), r0 = proc_read(j->opt->redis_pid);
    double self0 = self_cpu_s();
    uint64_t irq0 = 0, mach0 = machine_busy_ticks(&irq0);
    long xlen = redis_xlen(j->opt->redis_host, j->opt->redis_port, j->code);
    jam_mark(j, "measure_start");
    g_storm_t0 = now_us();
    away_total_s = (double)(g_storm_t0 - t_drop) / 1e6; /* how long the clients were away */
    uint64_t t_end = g_storm_t0 + (uint64_t)(j->opt->catchup_timeout * 1e6);
    int next = 0;
    for (;;) {
        uint64_t t = now_us();
        if (next >= N && rs_done(j)) break;
        if (t >= t_end) break;
        while (next < N) {
            if (!g_rs[next].has) {
                next++;
                continue;
            }
            if (j->inflight >= j->opt->max_inflight) break;
            if (j->opt->connect_rate > 0 && (double)next >= j->opt->connect_rate * (double)(t - g_storm_t0) / 1e6 + 1) break;
            conn_t *c = &j->conns[next];
            conn_start(j, next, ROLE_CITIZEN);
            c->seen.last_to = g_rs[next].L;
            g_rs[next].t_start = c->t_start;
            next++;
        }
        jam_step(j, next < N ? 1000 : 5000);
    }
    uint64_t t_stop = now_us();
    rs_done(j);
    uint64_t t_last = 0;
    for (int i = 0; i < N; i++)
        if (g_rs[i].caught && g_rs[i].t_caught > t_last) t_last = g_rs[i].t_caught;
    bool all_caught = g_rs_caught == g_rs_n;
    uint64_t t_win_end = all_caught ? t_last : t_stop;
    procs_t p1 = proc_read(j->opt->server_pid), r1 = proc_read(j->opt->redis_pid);
    double self1 = self_cpu_s();
    uint64_t irq1 = 0, mach1 = machine_busy_ticks(&irq1);
    jam_mark(j, "measure_end");
    double win = (double)(t_win_end - g_storm_t0) / 1e6;
    double cpu_win = (double)(now_us() - g_storm_t0) / 1e6; /* the /proc samples were taken now */
    logf_("resume: %d of %d caught up in %.3f s, %d lost", g_rs_caught, g_rs_n, win, g_rs_dead_cache);

    /* ---- the sampled state check against a fresh screen snapshot */
    int vf_checked = 0, vf_bad = 0, vf_skipped = 0;
    char vf_first[256] = "";
    if (g_vf_on) {
        j->phase = "verify";
        jam_run_until(j, jam_never, 0.3);
        conn_t *sc = &j->conns[screen_idx];
        conn_start(j, screen_idx, ROLE_SCREEN);
        uint64_t until = now_us() + 10000000;
        while (!g_truth && sc->ws.state != CS_CLOSED && now_us() < until) {
            jam_step(j, 10000);
        }
        if (!g_truth) {
            err_str("verify_no_screen_snapshot");
        } else {
            for (int i = 0; i < N; i++) {
                if (!g_vf_on[i] || !g_rs[i].has) continue;
                if (!g_rs[i].caught || !g_vf[i]) {
                    vf_skipped++;
                    continue;
                }
                char why[200];
                vf_checked++;
                if (vf_compare(g_vf[i], g_truth, why, sizeof why)) {
                    if (!vf_bad++)
                        snprintf(vf_first, sizeof vf_first, "client %d (resumed %d, snapshots %u): %s", i, g_rs[i].resumed,
                                 g_rs[i].snapshots, why);
                }
            }
        }
        logf_("verify: %d clients checked against a fresh snapshot, %d differ%s%s", vf_checked, vf_bad, vf_bad ? ": " : "", vf_first);
    }

    /* ---- figures */
    hist_t h_catch, h_storm, h_catch_res, h_catch_snap, h_welcome, h_bytes, h_frames, h_bytes_res, h_bytes_snap;
    h_reset(&h_catch), h_reset(&h_storm), h_reset(&h_catch_res), h_reset(&h_catch_snap), h_reset(&h_welcome);
    h_reset(&h_bytes), h_reset(&h_frames), h_reset(&h_bytes_res), h_reset(&h_bytes_snap);
    int n_welcomed = 0, n_resumed = 0, n_notresumed = 0, n_snap = 0, n_resync = 0, n_snap_after_res = 0, n_snap_after_sync = 0;
    int n_gap = 0, n_overlap = 0, n_ahead = 0, n_first_eq = 0, n_first_before = 0, n_first_after = 0, n_failed = 0, n_lost = 0;
    int n_res_only = 0, n_snap_older = 0, n_notcaught_open = 0;
    uint64_t snaps_total = 0, bytes_all = 0, frames_all = 0, updates_all = 0, stale_all = 0;
    typedef struct {
        int code, n;
    } cc_t;
    cc_t cc[16];
    int ncc = 0;
    for (int i = 0; i < N; i++) {
        const rs_t *r = &g_rs[i];
        if (!r->has) continue;
        n_welcomed += r->welcomed;
        n_resumed += r->welcomed && r->resumed;
        n_notresumed += r->welcomed && !r->resumed;
        n_snap += r->snapshots > 0;
        n_resync += r->resync_snaps > 0;
        n_snap_after_res += r->snaps_after_resumed > 0;
        n_snap_after_sync += r->snaps_after_sync > 0;
        n_snap_older += r->snap_older > 0;
        n_gap += r->gaps > 0;
        n_overlap += r->overlaps > 0;
        n_ahead += r->ahead > 0;
        n_first_eq += r->first_cls == 1;
        n_first_before += r->first_cls == 2;
        n_first_after += r->first_cls == 3;
        n_failed += r->failed;
        snaps_total += r->snapshots;
        bytes_all += r->bytes;
        frames_all += r->frames;
        updates_all += r->updates;
        stale_all += r->stale;
        if (r->close_code) {
            int k = 0;
            while (k < ncc && cc[k].code != r->close_code) k++;
            if (k == ncc && ncc < 16) cc[ncc++] = (cc_t){r->close_code, 0};
            if (k < ncc) cc[k].n++;
        }
        if (r->welcomed) h_add(&h_welcome, r->t_welcome - r->t_start);
        if (!r->caught) {
            n_lost += j->conns[i].ws.state == CS_CLOSED;
            n_notcaught_open += j->conns[i].ws.state != CS_CLOSED;
            continue;
        }
        uint64_t d = r->t_caught - r->t_start;
        h_add(&h_catch, d);
        h_add(&h_storm, r->t_caught - g_storm_t0);
        h_add(&h_bytes, r->bytes);
        h_add(&h_frames, r->frames);
        if (r->resumed && !r->snapshots) {
            n_res_only++;
            h_add(&h_catch_res, d);
            h_add(&h_bytes_res, r->bytes);
        } else if (r->snapshots) {
            h_add(&h_catch_snap, d);
            h_add(&h_bytes_snap, r->bytes);
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    double srv_cpu_s = (p0.ok && p1.ok) ? (double)(p1.ticks - p0.ticks) / hz : -1;
    double red_cpu_s = (r0.ok && r1.ok) ? (double)(r1.ticks - r0.ticks) / hz : -1;
    double self_s = self1 - self0;
    double mach_s = (mach0 && mach1) ? (double)(mach1 - mach0) / hz : -1;
    double irq_s = (mach0 && mach1) ? (double)(irq1 - irq0) / hz : -1;
    double other_s = mach_s >= 0 ? mach_s - (srv_cpu_s > 0 ? srv_cpu_s : 0) - (red_cpu_s > 0 ? red_cpu_s : 0) - self_s : -1;

    FILE *o = stdout;
    fprintf(o, "\n== cojam loadgen: resume-storm%s%s  clients %d  jam %s\n", j->opt->label ? "  " : "", j->opt->label ? j->opt->label : "",
            N, j->code);
    fprintf(o, "  before: %" PRIu64 " joined in %.3f s (p99 %.1f ms), %d seed items, %d writers\n", joined_first, join_s,
            h_pct(&h_join_first, 99) / 1e3, j->opt->seed_items, g_wr_joined);
    fprintf(o,
            "  away: %d clients dropped; %" PRIu64 " events written (%" PRIu64 " failed) in %.2f s; stream %ld entries, target id %" PRIu64
            "-%" PRIu64 "%s; items %d\n",
            g_rs_n, away_acked, away_failed, away_s, xlen, g_target.ms, g_target.seq, have_rlast ? " (= XREVRANGE)" : "", g_nit);
    fprintf(o, "  rejoin: welcomed %d/%d: resumed:true %d, resumed:false %d; refused %d\n", n_welcomed, g_rs_n, n_resumed, n_notresumed,
            n_failed);
    fprintf(o,
            "  snapshots: %d clients got one (%" PRIu64 " in all, %d flagged resync); after resumed:true %d; after a gap+sync %d; "
            "older than the client's id %d\n",
            n_snap, snaps_total, n_resync, n_snap_after_res, n_snap_after_sync, n_snap_older);
    fprintf(o,
            "  chain: first prev == last_event_id %d, before it %d, after it (gap) %d; clients with a gap %d, an overlap %d, prev beyond "
            "the previous to %d\n",
            n_first_eq, n_first_before, n_first_after, n_gap, n_overlap, n_ahead);
    if (all_caught) fprintf(o, "  caught up: all %d in %.3f s after the reconnect start\n", g_rs_caught, win);
    else
        fprintf(o, "  caught up: %d of %d within %.1f s (not caught: %d lost, %d still connected)\n", g_rs_caught, g_rs_n,
                (double)(t_stop - g_storm_t0) / 1e6, n_lost, n_notcaught_open);
    fprintf(o, "  %-30s %9s %9s %9s %9s %9s %9s\n", "per client", "count", "mean", "p50", "p90", "p99", "max");
#define ROW(name, h, div)                                                                                                                  \
    fprintf(o, "  %-30s %9" PRIu64 " %9.1f %9.1f %9.1f %9.1f %9.1f\n", name, (h)->n, (h)->n ? (h)->sum / (h)->n / (div) : 0.0,             \
            h_pct(h, 50) / (div), h_pct(h, 90) / (div), h_pct(h, 99) / (div), (h)->max / (div))
    ROW("welcome (ms)", &h_welcome, 1e3);
    ROW("caught up (ms, own connect)", &h_catch, 1e3);
    ROW("caught up (ms, storm start)", &h_storm, 1e3);
    ROW("  resumed, no snapshot (ms)", &h_catch_res, 1e3);
    ROW("  with a snapshot (ms)", &h_catch_snap, 1e3);
    ROW("bytes until caught up (KB)", &h_bytes, 1e3);
    ROW("  resumed, no snapshot (KB)", &h_bytes_res, 1e3);
    ROW("  with a snapshot (KB)", &h_bytes_snap, 1e3);
    ROW("frames until caught up", &h_frames, 1.0);
#undef ROW
    fprintf(o, "  cpu over the catch-up (%.2f s): cojamd %.2f s, redis %.2f s, loadgen %.2f s, other %.2f s, irq %.2f s\n", cpu_win,
            srv_cpu_s, red_cpu_s, self_s, other_s, irq_s);
    fprintf(o, "  verify: %d clients checked, %d differ, %d not checked (not caught up)%s%s\n", vf_checked, vf_bad, vf_skipped,
            vf_bad ? ": " : "", vf_first);
    fprintf(o, "  close codes:");
    for (int k = 0; k < ncc; k++) fprintf(o, " %d=%d", cc[k].code, cc[k].n);
    fprintf(o, "%s\n  errors (rejoin): %" PRIu64, ncc ? "" : " none", lg_errs.total);
    errs_print(o, &lg_errs);
    fprintf(o, "\n  errors (setup and away): %" PRIu64, err_setup.total);
    errs_print(o, &err_setup);
    fprintf(o, "\n");
    fflush(o);

    if (j->opt->json) {
        FILE *f = fopen(j->opt->json, "w");
        if (!f) die("cannot write %s: %s", j->opt->json, strerror(errno));
        fprintf(f,
                "{\n  \"scenario\": \"resume-storm\",\n  \"label\": \"%s\",\n  \"clients\": %d,\n  \"jam\": \"%s\",\n  \"sources\": %d,\n",
                j->opt->label ? j->opt->label : "", N, j->code, j->opt->ws.sources);
        fprintf(f,
                "  \"joined_before\": %" PRIu64
                ",\n  \"join_s\": %.6f,\n  \"writers\": %d,\n  \"seed_items\": %d,\n  \"items_at_end\": %d,\n",
                joined_first, join_s, g_wr_joined, j->opt->seed_items, g_nit);
        fprintf(f,
                "  \"away_events_asked\": %d,\n  \"away_events_acked\": %" PRIu64 ",\n  \"away_events_failed\": %" PRIu64
                ",\n  \"away_posts\": %" PRIu64 ",\n  \"away_votes\": %" PRIu64 ",\n  \"away_unvotes\": %" PRIu64
                ",\n  \"away_write_s\": %.6f,\n"
                "  \"away_total_s\": %.6f,\n  \"writer_retries\": %" PRIu64 ",\n",
                j->opt->away_events, away_acked, away_failed, g_wr_posts - posts0, g_wr_votes - votes0, g_wr_unvotes - unvotes0, away_s,
                away_total_s, g_wr_retries);
        fprintf(f, "  \"stream_entries\": %ld,\n  \"target_id\": \"%" PRIu64 "-%" PRIu64 "\",\n  \"target_checked_in_redis\": %s,\n", xlen,
                g_target.ms, g_target.seq, have_rlast ? "true" : "false");
        fprintf(f, "  \"last_event_id_min\": \"%" PRIu64 "-%" PRIu64 "\",\n  \"last_event_id_max\": \"%" PRIu64 "-%" PRIu64 "\",\n",
                Lmin.ms, Lmin.seq, Lmax.ms, Lmax.seq);
        fprintf(f, "  \"resumers\": %d,\n  \"welcomed\": %d,\n  \"resumed_true\": %d,\n  \"resumed_false\": %d,\n  \"refused\": %d,\n",
                g_rs_n, n_welcomed, n_resumed, n_notresumed, n_failed);
        fprintf(f,
                "  \"resumed_without_snapshot\": %d,\n  \"snapshot_clients\": %d,\n  \"snapshots_total\": %" PRIu64
                ",\n  \"resync_snapshot_clients\": %d,\n  \"snapshot_after_resumed_clients\": %d,\n  \"snapshot_after_sync_clients\": %d,\n"
                "  \"snapshot_older_than_client_clients\": %d,\n",
                n_res_only, n_snap, snaps_total, n_resync, n_snap_after_res, n_snap_after_sync, n_snap_older);
        fprintf(f,
                "  \"first_prev_equal\": %d,\n  \"first_prev_before\": %d,\n  \"first_prev_after_gap\": %d,\n  \"gap_clients\": %d,\n"
                "  \"overlap_clients\": %d,\n  \"prev_beyond_previous_to_clients\": %d,\n",
                n_first_eq, n_first_before, n_first_after, n_gap, n_overlap, n_ahead);
        fprintf(f,
                "  \"caught_up\": %d,\n  \"all_caught_up\": %s,\n  \"all_caught_up_s\": %.6f,\n  \"not_caught_lost\": %d,\n"
                "  \"not_caught_connected\": %d,\n  \"catchup_timeout_s\": %.3f,\n",
                g_rs_caught, all_caught ? "true" : "false", all_caught ? win : -1.0, n_lost, n_notcaught_open, j->opt->catchup_timeout);
        hist_json_unit(f, "welcome_ms", &h_welcome, 1e3, "ms", true);
        hist_json_unit(f, "catchup_ms", &h_catch, 1e3, "ms", true);
        hist_json_unit(f, "catchup_since_storm_ms", &h_storm, 1e3, "ms", true);
        hist_json_unit(f, "catchup_resumed_ms", &h_catch_res, 1e3, "ms", true);
        hist_json_unit(f, "catchup_snapshot_ms", &h_catch_snap, 1e3, "ms", true);
        hist_json_unit(f, "bytes_per_client", &h_bytes, 1.0, "b", true);
        hist_json_unit(f, "bytes_per_resumed_client", &h_bytes_res, 1.0, "b", true);
        hist_json_unit(f, "bytes_per_snapshot_client", &h_bytes_snap, 1.0, "b", true);
        hist_json_unit(f, "frames_per_client", &h_frames, 1.0, "n", true);
        fprintf(f,
                "  \"bytes_total\": %" PRIu64 ",\n  \"frames_total\": %" PRIu64 ",\n  \"updates_total\": %" PRIu64
                ",\n  \"updates_stale\": %" PRIu64 ",\n",
                bytes_all, frames_all, updates_all, stale_all);
        fprintf(f,
                "  \"cpu_window_s\": %.6f,\n  \"server_cpu_s\": %.3f,\n  \"redis_cpu_s\": %.3f,\n  \"loadgen_cpu_s\": %.3f,\n"
                "  \"other_cpu_s\": %.3f,\n  \"irq_softirq_cpu_s\": %.3f,\n  \"cpus\": %ld,\n  \"server_rss_end_kib\": %ld,\n  "
                "\"server_rss_peak_kib\": %ld,\n",
                cpu_win, srv_cpu_s, red_cpu_s, self_s, other_s, irq_s, sysconf(_SC_NPROCESSORS_ONLN), p1.rss_kb, p1.hwm_kb);
        fprintf(f,
                "  \"verify_every\": %d,\n  \"verify_checked\": %d,\n  \"verify_differ\": %d,\n  \"verify_not_checked\": %d,\n"
                "  \"verify_first_difference\": \"%s\",\n",
                j->opt->verify_every, vf_checked, vf_bad, vf_skipped, vf_first);
        fprintf(f, "  \"close_codes\": {");
        for (int k = 0; k < ncc; k++) fprintf(f, "%s\"%d\": %d", k ? ", " : "", cc[k].code, cc[k].n);
        fprintf(f, "},\n  \"errors_total\": %" PRIu64 ",\n", lg_errs.total);
        errs_json(f, "errors", &lg_errs, true);
        fprintf(f, "  \"errors_setup_total\": %" PRIu64 ",\n", err_setup.total);
        errs_json(f, "errors_setup", &err_setup, false);
        fprintf(f, "}\n");
        fclose(f);
    }
    return 0;
}

/* ------------------------------------------------------------ the hooks */

static bool rs_hook_update(jam_t *j, conn_t *c, const char *s, size_t n, evid_t prev, evid_t to, uint64_t t)
{
    if (g_vf_on) vf_feed(j, c, s, n, false);
    if (!g_resume_phase || !rs_mine(j, c)) return false;
    rs_on_update(j, c, prev, to, t);
    return true;
}

static bool rs_hook_snapshot(jam_t *j, conn_t *c, const char *s, size_t n, uint64_t t)
{
    if (g_vf_on) vf_feed(j, c, s, n, true);
    if (!g_resume_phase || !rs_mine(j, c)) return false;
    rs_on_snapshot(j, c, s, n, t);
    return true;
}

static bool rs_hook_ack(jam_t *j, conn_t *c, const char *op, size_t oplen, const char *s, const char *end)
{
    if (c->role != ROLE_WRITER) return false;
    wr_on_ack(j, c, op, oplen, s, end);
    return true;
}

static bool rs_hook_error(jam_t *j, conn_t *c, const char *op, size_t oplen, const char *code, size_t codelen)
{
    if (c->role == ROLE_WRITER) {
        wr_on_error(j, c, op, oplen, code, codelen);
        return true;
    }
    if (!g_resume_phase || !rs_mine(j, c)) return false;
    err_count(code, codelen);
    rs_on_error(c);
    return true;
}

static void rs_configure(options_t *o)
{
    if (o->seed_items < 1 || o->seed_items > 5000) die("--items must be 1..5000");
    if (o->away_events < 1 || o->away_events > 1000000) die("--away-events must be 1..1000000");
    if (o->away_seconds <= 0) die("--away-seconds must be > 0");
    if (o->post_frac < 0 || o->post_frac > 1) die("--post-frac must be 0..1");
    if (o->writers <= 0) o->writers = (int)ceil(o->away_events / o->away_seconds / 10.0);
    if (o->writers < 4) o->writers = 4;
    if (o->writers > 2000) die("--writers must be at most 2000");
    if (o->verify_every < 0) o->verify_every = 0;
}

/* the writers and the verifying screen */
static int rs_extra_conns(const options_t *o) { return o->writers + 1; }

static double rs_budget(const options_t *o)
{
    return 60 + 2 * o->connect_timeout + o->idle_settle + o->away_seconds + 40 + o->catchup_timeout +
           (o->resume_gate ? o->gate_timeout : 0);
}

/* the writers post the seed items themselves */
static int rs_ideas(const options_t *o)
{
    (void)o;
    return 0;
}

const scenario_t sc_resume_storm = {
    .name = "resume-storm",
    .moderator = true,
    .configure = rs_configure,
    .extra_conns = rs_extra_conns,
    .budget = rs_budget,
    .ideas = rs_ideas,
    .run = resume_main,
    .send_join = rs_send_join,
    .on_bytes = rs_count_bytes,
    .on_frame = rs_count_frame,
    .on_close_code = rs_close_code,
    .on_welcome = rs_on_welcome,
    .on_update = rs_hook_update,
    .on_snapshot = rs_hook_snapshot,
    .on_ack = rs_hook_ack,
    .on_error = rs_hook_error,
    .on_tick = rs_progress,
};
