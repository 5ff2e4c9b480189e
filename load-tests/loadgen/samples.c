/* samples: the write log, the sorted list of acked writes, cursors and rings (contracts in samples.h). */
#include "samples.h"

#include <stdlib.h>
#include <string.h>

#include "base.h"

samples_t lg_samples;

uint32_t wlog_add(uint32_t conn, bool measured)
{
    samples_t *S = &lg_samples;
    if (S->nw == S->capw) {
        S->capw = S->capw ? S->capw * 2 : 16384;
        S->w = realloc(S->w, sizeof *S->w * S->capw);
        if (!S->w) die("out of memory");
    }
    wr_t *w = &S->w[S->nw];
    memset(w, 0, sizeof *w);
    w->conn = conn;
    w->measured = measured;
    w->state = W_PENDING;
    return S->nw++;
}

void wlog_sent(uint32_t k)
{
    samples_t *S = &lg_samples;
    wr_t *w = &S->w[k];
    w->ms_send = real_ms();
    w->t_send = now_us();
    S->sent_total++;
    if (w->measured) S->sent_meas++;
}

static void list_insert(evid_t id, uint64_t t_send, bool measured)
{
    samples_t *S = &lg_samples;
    if (S->settled > 0 && evid_cmp(id, S->L[S->settled - 1].id) <= 0) {
        /* would land inside the settled prefix (clock anomaly): cannot be measured exactly */
        S->late_unmeasurable++;
        if (measured) S->acked_meas--; /* excluded from the expected count too */
        return;
    }
    if (S->nL == S->capL) {
        S->capL = S->capL ? S->capL * 2 : 4096;
        S->L = realloc(S->L, sizeof *S->L * S->capL);
        if (!S->L) die("out of memory");
    }
    uint32_t i = S->nL;
    while (i > S->settled && evid_cmp(S->L[i - 1].id, id) > 0) {
        S->L[i] = S->L[i - 1];
        i--;
    }
    S->L[i].id = id;
    S->L[i].t_send = t_send;
    S->L[i].measured = measured;
    S->nL++;
}

void samples_settle(void)
{
    samples_t *S = &lg_samples;
    while (S->first_out < S->nw && S->w[S->first_out].state != W_PENDING) S->first_out++;
    uint64_t ms = S->first_out < S->nw ? S->w[S->first_out].ms_send : real_ms();
    ms = ms > 5 ? ms - 5 : 0; /* margin for clock rounding */
    evid_t w = {ms, 0};
    if (evid_cmp(w, S->watermark) > 0) S->watermark = w;
    while (S->settled < S->nL && evid_cmp(S->L[S->settled].id, S->watermark) < 0) S->settled++;
}

void wlog_acked(uint32_t k, evid_t id, uint64_t t)
{
    samples_t *S = &lg_samples;
    wr_t *w = &S->w[k];
    w->state = W_ACKED;
    w->id = id;
    S->acked_total++;
    uint64_t d = t - w->t_send;
    if (w->measured) {
        S->acked_meas++;
        h_add(&S->h_ack, d);
    }
    h_add(&S->h_ack_sec, d);
    list_insert(id, w->t_send, w->measured);
    if (k == S->first_out) samples_settle();
}

void wlog_refused(uint32_t k)
{
    samples_t *S = &lg_samples;
    wr_t *w = &S->w[k];
    w->state = W_ERROR;
    if (w->measured) S->err_meas++;
    if (k == S->first_out) samples_settle();
}

void wlog_timeouts(uint64_t t, uint64_t limit_us, void (*on_timeout)(uint32_t conn))
{
    samples_t *S = &lg_samples;
    bool changed = false;
    for (uint32_t k = S->first_out; k < S->nw; k++) {
        wr_t *w = &S->w[k];
        if (w->state != W_PENDING) continue;
        if (t - w->t_send < limit_us) break;
        w->state = W_TIMEOUT;
        err_str("ack_timeout");
        if (w->measured) S->err_meas++;
        on_timeout(w->conn);
        changed = true;
    }
    if (changed) samples_settle();
}

uint32_t wlog_pending(void)
{
    const samples_t *S = &lg_samples;
    uint32_t n = 0;
    for (uint32_t k = S->first_out; k < S->nw; k++) n += S->w[k].state == W_PENDING;
    return n;
}

void seen_push(seen_t *s, evid_t to, uint64_t t)
{
    s->ring[s->rhead] = (rent_t){to, t};
    s->rhead = (uint8_t)((s->rhead + 1) % RING);
    if (s->rcount < RING) s->rcount++;
    else s->dropped_ring = 1;
    s->last_to = to;
}

/* receive time of the first update with to >= id that this client saw */
static inline uint64_t ring_time(const seen_t *s, evid_t id)
{
    unsigned n = s->rcount, newest = (unsigned)(s->rhead + RING - 1) % RING;
    unsigned k = newest, steps = 0;
    /* walk back while the previous entry still covers id */
    while (steps + 1 < n) {
        unsigned prev = (k + RING - 1) % RING;
        if (evid_cmp(s->ring[prev].to, id) < 0) break;
        k = prev;
        steps++;
    }
    if (steps + 1 == n && s->dropped_ring && evid_cmp(s->ring[k].to, id) >= 0) lg_samples.ring_overflow++;
    return s->ring[k].t;
}

void seen_advance(seen_t *s)
{
    samples_t *S = &lg_samples;
    while (s->cursor < S->settled) {
        const lent_t *e = &S->L[s->cursor];
        if (evid_cmp(e->id, s->last_to) > 0) break;
        if (e->measured) {
            uint64_t t = s->rcount ? ring_time(s, e->id) : now_us();
            uint64_t d = t > e->t_send ? t - e->t_send : 0;
            h_add(&S->h_lat, d);
            h_add(&S->h_lat_sec, d);
            if (s->h_also) h_add(s->h_also, d);
            s->samples++;
            s->lat_sum += d;
            S->samples_total++;
        }
        s->cursor++;
    }
}
