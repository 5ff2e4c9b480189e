/*
 * samples: vote-to-screen measuring.  Every write is logged and stamped at send; its ack gives the
 * Redis event id.  Acked writes go in a list sorted by event id; each client has a cursor into it
 * and a ring of its last RING (to, receive time) pairs.  A write's effect is visible to a client at
 * the receive time of the first update whose to >= its id.  Acks and updates arrive on different
 * sockets, so an ack can be read after an update that already covers it: cursors only advance over
 * the settled prefix of the list (ids below a watermark no outstanding write can get, derived from
 * the send wall-clock of the oldest outstanding write: a stream id's ms part is Redis' clock at XADD,
 * later than the send) and take the receive time from the ring.  O(1) amortised per sample.
 */
#ifndef LG_SAMPLES_H
#define LG_SAMPLES_H

#include <stdbool.h>
#include <stdint.h>

#include "measure.h"

/* 128: a server that sends one update per vote (the peers, load-tests/peers) sends many between two
 * settles; 32 overflowed on 17% of the samples at 5,000 x 10 against the ws peer.  rhead, rcount: uint8_t */
#define RING 128

typedef struct {
    evid_t to;
    uint64_t t;
} rent_t;

/* What one client has seen: the newest "to", the ring, its cursor into the acked list. */
typedef struct {
    evid_t last_to;
    uint32_t cursor;
    uint8_t rhead, rcount, dropped_ring;
    uint64_t samples;
    uint64_t lat_sum; /* its samples' vote-to-screen, summed (µs): its mean, for the fairness row */
    hist_t *h_also;   /* NULL, or a histogram its samples also go to (jam.h: per target) */
    rent_t ring[RING];
} seen_t;

enum { W_PENDING, W_ACKED, W_ERROR, W_TIMEOUT };
enum { WK_VOTE, WK_UNVOTE, WK_POST };

typedef struct {
    uint32_t conn;
    uint16_t item;
    uint8_t kind; /* WK_* */
    uint8_t state;
    uint8_t measured;
    uint64_t t_send;  /* monotonic µs */
    uint64_t ms_send; /* realtime ms */
    evid_t id;
} wr_t;

typedef struct {
    evid_t id;
    uint64_t t_send;
    uint32_t measured;
} lent_t;

typedef struct {
    wr_t *w; /* every write, in send order */
    uint32_t nw, capw;
    uint32_t first_out;                        /* first possibly pending write */
    lent_t *L;                                 /* acked writes by event id */
    uint32_t nL, capL, settled;                /* L[0..settled) are final */
    evid_t watermark;                          /* no future ack can have an id below this */
    hist_t h_ack, h_lat, h_lat_sec, h_ack_sec; /* *_sec: since the last progress line */
    uint64_t sent_meas, acked_meas, err_meas, acked_total, sent_total, samples_total;
    uint64_t ring_overflow, late_unmeasurable;
} samples_t;

/* The process' one write log (reports read it directly). */
extern samples_t lg_samples;

/* Logs a new pending write of client conn; returns its index (the "w<k>" op of the message). */
uint32_t wlog_add(uint32_t conn, bool measured);
/* Stamps write k's send times (monotonic and wall clock) and counts it as sent; call just before sending. */
void wlog_sent(uint32_t k);
/* Write k is acked with event id id at t: ack latency, into the list, watermark. */
void wlog_acked(uint32_t k, evid_t id, uint64_t t);
/* Write k was refused by the server. */
void wlog_refused(uint32_t k);
/* Pending writes older than limit_us at t time out; on_timeout(conn) for each. */
void wlog_timeouts(uint64_t t, uint64_t limit_us, void (*on_timeout)(uint32_t conn));
/* writes still pending */
uint32_t wlog_pending(void);
/* Moves the watermark and the settled prefix forward. */
void samples_settle(void);

/* The client saw everything up to to, received at t. */
void seen_push(seen_t *s, evid_t to, uint64_t t);
/* Takes the client's samples over the settled prefix; cheap when there is nothing new. */
static inline bool seen_behind(const seen_t *s) { return s->cursor < lg_samples.settled; }
void seen_advance(seen_t *s);

#endif
