/* sio: socket.io framing (contracts in sio.h). */
#include "sio.h"

#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "measure.h"

static ws_events_t app; /* the application's callbacks */

#define EVENT_PREFIX "42[\"message\","
#define EVENT_PREFIX_LEN (sizeof EVENT_PREFIX - 1)

static void sio_text_out(ws_conn_t *c, const char *s, size_t n)
{
    char stackbuf[2048], *buf = stackbuf;
    size_t total = EVENT_PREFIX_LEN + n + 1;
    if (total > sizeof stackbuf) {
        buf = malloc(total);
        if (!buf) die("out of memory");
    }
    memcpy(buf, EVENT_PREFIX, EVENT_PREFIX_LEN);
    memcpy(buf + EVENT_PREFIX_LEN, s, n);
    buf[total - 1] = ']';
    ws_send(c, 1, buf, total);
    if (buf != stackbuf) free(buf);
}

/* the WebSocket is open: nothing yet, the Engine.IO open packet comes first */
static void sio_open(ws_conn_t *c) { (void)c; }

static void sio_text(ws_conn_t *c, const char *s, size_t n)
{
    if (n == 0) {
        err_str("sio_empty_packet");
        return;
    }
    switch (s[0]) {
    case '0': ws_send(c, 1, "40", 2); return; /* Engine.IO open: connect to the main namespace */
    case '2': ws_send(c, 1, "3", 1); return;  /* Engine.IO ping */
    case '6': return;                         /* noop */
    case '1': app.on_fail(c, "sio_close"); return;
    case '4':
        if (n >= 2 && s[1] == '0') {
            app.on_open(c); /* socket.io connected: join now */
            return;
        }
        if (n > EVENT_PREFIX_LEN + 1 && !memcmp(s, EVENT_PREFIX, EVENT_PREFIX_LEN) && s[n - 1] == ']') {
            app.on_text(c, s + EVENT_PREFIX_LEN, n - EVENT_PREFIX_LEN - 1);
            return;
        }
        if (n >= 2 && s[1] == '1') {
            app.on_fail(c, "sio_disconnect");
            return;
        }
        if (n >= 2 && s[1] == '4') {
            app.on_fail(c, "sio_connect_error");
            return;
        }
        break;
    default: break;
    }
    err_str("sio_unknown_packet");
}

void sio_wrap(ws_events_t *ev)
{
    app = *ev;
    ev->on_open = sio_open;
    ev->on_text = sio_text;
    ws_set_text_out(sio_text_out);
}
