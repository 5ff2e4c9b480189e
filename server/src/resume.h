/* SPDX-License-Identifier: MIT
 * resume.h - resuming from the stream: a client whose last event id the ring no longer covers
 * gets the missed events read back from the jam's stream, a page at a time (catchup.h), one
 * update per page: the events' ids and the current values of what they touched. Pages are shared
 * by the sessions resuming from the same id and read at most RESUME_READS at a time, all jams
 * together. A session asks for its next page only once its previous update has left its queue,
 * so a slow phone costs one page of memory, not its backlog. When the pages reach the id up to
 * which the ring has broadcast, the ring's next frame follows. An id the stream does not have, a
 * failed read, more missed events than --resume-max-events, or more bytes of updates than a
 * snapshot of the jam would take end it with a snapshot marked resync instead.
 * Loop thread only.
 */
#ifndef COJAM_RESUME_H
#define COJAM_RESUME_H

#include <stdbool.h>

struct hub;
struct now;
struct session;

#define RESUME_READS                                                                               \
    16 /* page reads in flight at once: enough to keep Redis busy, few enough that
                           the appends queued behind them do not wait long (0.1-0.2 ms each) */

/* The catch-up driver of hub 'h' (which keeps a borrowed pointer to it). */
struct resume *resume_new(struct hub *h);
void resume_free(struct resume *rs);

/* Start a catch-up from the stream for joined session 's', which last saw 'last_id', if one is
 * possible: returns false (nothing changed) when the id is malformed, from the future, not newer
 * than nothing, or the store is down. */
bool resume_start(struct hub *h, struct session *s, const char *last_id);
/* End the catch-up of 's': caught up (the ring's frames follow), or not (a resync snapshot). */
void resume_end(struct session *s, bool caught_up);
/* The previous update of 's' has left its queue: send or read its next page. */
void resume_next(struct hub *h, struct session *s, const struct now *now);

#endif
