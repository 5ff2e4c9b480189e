/* SPDX-License-Identifier: MIT
 * handlers.h - the policy glue: the registry of live jams, one handle_<type>() per client message,
 * the write path (check -> store -> apply -> ack), the per-jam broadcast ring and tick, and the
 * HTTP API. Runs on the loop thread only. Talks to the transport through net.h and to Redis
 * through store.h; main.c wires the callbacks.
 */
#ifndef COJAM_HANDLERS_H
#define COJAM_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct net;
struct session;
struct frame;
struct http_request;

struct hub;

/* 'cfg' and 'store' are borrowed and must outlive the hub. 'token_key' is copied. */
struct hub *hub_new(const struct config *cfg, struct store *store, const uint8_t *token_key,
                    size_t token_key_len, const char *admin_token, const char *public_url);
void hub_free(struct hub *h);
void hub_set_net(struct hub *h, struct net *n);

struct replay;
/* Take over start-up recovery: the hub applies what 'rp' hands over (on wake) and declares itself
 * ready when it is complete; until then joins, writes and jam creation are refused as retryable.
 * Takes ownership of 'rp'. */
void hub_start_recovery(struct hub *h, struct replay *rp);
size_t hub_jam_count(const struct hub *h);

/* net callbacks */
void hub_on_open(struct session *s, void *arg);
void hub_on_message(struct session *s, const char *text, size_t len, void *arg);
struct frame *hub_next_frame(struct session *s, bool *more, void *arg);
void hub_on_close(struct session *s, void *arg);
void hub_on_wake(void *arg);
void hub_on_tick(int64_t now_ms, void *arg);
void hub_on_http(const struct http_request *req, void *arg);

#endif
