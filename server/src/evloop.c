/* SPDX-License-Identifier: MIT
 * evloop.c - see evloop.h: the three libev calls net.c needs, in a file of their own. */
#include "evloop.h"

#include <ev.h>

void *evloop_new(void)
{
    return ev_loop_new(EVBACKEND_EPOLL);
}

void evloop_once(void *loop)
{
    ev_run(loop, EVRUN_ONCE);
}

void evloop_free(void *loop)
{
    ev_loop_destroy(loop);
}
