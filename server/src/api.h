/* SPDX-License-Identifier: MIT
 * api.h - the HTTP API (proto/messages.md, "HTTP API"): /healthz, creating a jam (admin token),
 * a jam's summary, its public moderation log and its state digest. Loop thread only.
 */
#ifndef COJAM_API_H
#define COJAM_API_H

#include <stdint.h>

struct http_request;

/* net callback: answer 'req' now or when the store has ('arg' is the hub). */
void api_on_http(const struct http_request *req, void *arg);
/* net callback: a POST's headers, before its body. 0 when the body is worth reading (POST
 * /api/jams with the admin token); else the HTTP status (401, 404; 429 with *retry_ms while the
 * address has used up its failed guesses) with its body in *body. */
int api_on_http_headers(const struct http_request *req, char **body, int64_t *retry_ms, void *arg);

#endif
