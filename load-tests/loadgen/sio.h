/*
 * sio: socket.io framing over the WebSocket client (--framing socketio), for the socket.io peer in
 * load-tests/peers.  Engine.IO v4 over a WebSocket: the server opens with "0{...}" (answered with
 * "40", socket.io's connect to the main namespace), pings with "2" (answered "3"); the connect's
 * answer "40{...}" is the moment the client may join (the application's on_open).  cojam's JSON
 * messages travel as "message" events both ways: 42["message",{...}].
 */
#ifndef LG_SIO_H
#define LG_SIO_H

#include "ws.h"

/* Puts the framing between the WebSocket client and the application's callbacks in ev (on_open,
 * on_text), and wraps every ws_text() from then on. */
void sio_wrap(ws_events_t *ev);

#endif
