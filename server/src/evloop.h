/* SPDX-License-Identifier: MIT
 * evloop.h - the libev loop lws runs on as a foreign loop (epoll): kept apart because ev.h's
 * names (EV_NONE, EV_READ) collide with the protocol's. */
#ifndef COJAM_EVLOOP_H
#define COJAM_EVLOOP_H

void *evloop_new(void);
void evloop_once(void *loop);
void evloop_free(void *loop);

#endif
