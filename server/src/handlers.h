/* SPDX-License-Identifier: MIT
 * handlers.h - the client messages: one handle_<type>() per message type, dispatched from a table,
 * and the write path of every event a jam's members cause (check -> store -> apply from the
 * tail -> ack with apply's outcome). The
 * clock's own events (a phase's deadline passed) take the same path. Loop thread only.
 */
#ifndef COJAM_HANDLERS_H
#define COJAM_HANDLERS_H

#include <stddef.h>

struct event;
struct hub;
struct jam;
struct now;
struct session;

/* net callback: one complete text message from 's' ('arg' is the hub). */
void handlers_on_message(struct session *s, const char *text, size_t len, void *arg);
/* Store the phase_ended event of jam 'j' if its running phase's deadline has passed. */
void handlers_check_deadline(struct hub *h, struct jam *j, const struct now *now);
/* Fail the writes of jam 'j' that Redis confirmed --redis-timeout-ms ago or more and the tail has
 * still not applied (its read of the stream stalled): their senders get the retryable
 * apply_timeout, and a retry of the same op reads the stream first (it is stored). Call on each
 * tick. */
void handlers_expire_awaiting(struct hub *h, struct jam *j, const struct now *now);
/* Append the discover answers' showings this process counted for jam 'j' as one showings event,
 * at most every HANDLERS_SHOWINGS_MS. Call on each tick. */
#define HANDLERS_SHOWINGS_MS 2000
void handlers_flush_showings(struct hub *h, struct jam *j, const struct now *now);

/* The entry 'id' (event 'ev') of jam 'j' was applied from the stream with outcome 'err'
 * (room_apply's code, NULL when it took effect): if it is an append of ours (confirmed, or an op
 * of ours in flight), answer its sender now; otherwise keep a failed outcome for the store's
 * confirmation that may still come (jam_verdict_add). */
void handlers_on_applied(struct hub *h, struct jam *j, const char *id, const struct event *ev,
                         const char *err, const struct now *now);

#endif
