/* SPDX-License-Identifier: MIT
 * hub.c - the shared state of the loop's glue modules (see hub.h).
 */
#include "hub.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "frame.h"
#include "jam.h"
#include "log.h"
#include "net.h"
#include "replay.h"
#include "session.h"
#include "store.h"
#include "view.h"

struct hub *hub_new(const struct config *cfg, struct store *store, const uint8_t *token_key,
                    size_t token_key_len, const char *admin_token, const char *public_url)
{
    struct hub *h = xcalloc(1, sizeof *h);
    h->cfg = cfg;
    h->store = store;
    if (token_key_len > sizeof h->key)
        token_key_len = sizeof h->key;
    memcpy(h->key, token_key, token_key_len);
    h->key_len = token_key_len;
    h->admin_token = xstrdup(admin_token);
    h->public_url = xstrdup(public_url);
    smap_init(&h->jams);
    smap_init(&h->creating);
    pending_table_init(&h->pending);
    imap_init(&h->sessions);
    h->storage_up = true;
    static const struct {
        double per_s;
        unsigned burst;
    } rules[ADMIT__COUNT] = HUB_ADMIT_RULES;
    long scale = cfg ? cfg->admission_scale : 1;
    h->admit_on = scale > 0;
    for (int k = 0; k < ADMIT__COUNT; k++)
        admission_init(&h->admit[k], rules[k].per_s * (double)(scale > 0 ? scale : 1),
                       rules[k].burst * (unsigned)(scale > 0 ? scale : 1), HUB_ADMIT_KEYS);
    return h;
}

/* The address + 1 of session.h as text, for the log. */
static void addr_text(uint64_t addr, char *out, size_t size)
{
    struct in_addr a = {.s_addr = (uint32_t)(addr - 1)};
    if (!addr || !inet_ntop(AF_INET, &a, out, (socklen_t)size))
        snprintf(out, size, "?");
}

static void log_guesses(struct hub *h, int64_t now_ms, bool force)
{
    if (!h->guesses && !h->refused)
        return;
    if (!force && now_ms - h->guess_log_ms < HUB_GUESS_LOG_MS)
        return;
    char ip[INET_ADDRSTRLEN];
    addr_text(h->last_guess_addr, ip, sizeof ip);
    log_warn("%" PRIu64 " failed guess(es) of a join code, moderator secret or admin token, the "
             "last %s from %s, and %" PRIu64 " request(s) refused by the per-address limits, in "
             "the last %lld s",
             h->guesses, h->last_guess_what ? h->last_guess_what : "-", ip, h->refused,
             (long long)((now_ms - h->guess_log_ms) / 1000));
    h->guesses = h->refused = 0;
    h->guess_log_ms = now_ms;
}

static const char *const admit_names[ADMIT__COUNT] = {[ADMIT_JOIN] = "join",
                                                      [ADMIT_SYNC] = "sync",
                                                      [ADMIT_LOOKUP] = "lookup",
                                                      [ADMIT_GUESS] = "guess",
                                                      [ADMIT_POST] = "post"};

int64_t hub_admit(struct hub *h, enum hub_admit kind, uint64_t addr, int64_t now_ms)
{
    if (!h->admit_on)
        return 0;
    int64_t wait = kind == ADMIT_GUESS ? admission_wait_ms(&h->admit[kind], addr, now_ms)
                                       : admission_take(&h->admit[kind], addr, now_ms);
    if (wait) {
        h->refused++;
        metrics_count(&h->metrics.refused, admit_names[kind], 1);
        log_guesses(h, now_ms, false);
    }
    return wait;
}

void hub_guess_failed(struct hub *h, uint64_t addr, const char *what, int64_t now_ms)
{
    h->guesses++;
    h->last_guess_addr = addr;
    h->last_guess_what = what;
    if (h->admit_on)
        admission_charge(&h->admit[ADMIT_GUESS], addr, now_ms);
    if (!h->guess_log_ms)
        h->guess_log_ms = now_ms - HUB_GUESS_LOG_MS; /* the first one is logged at once */
    log_guesses(h, now_ms, false);
}

void hub_admit_sweep(struct hub *h, int64_t now_ms)
{
    for (int k = 0; k < ADMIT__COUNT; k++)
        admission_sweep(&h->admit[k], now_ms);
    log_guesses(h, now_ms, false);
}

static void free_jam(void *j)
{
    jam_free(j);
}

void hub_free(struct hub *h)
{
    if (!h)
        return;
    replay_free(h->replay);
    pending_table_deinit(&h->pending);
    imap_deinit(&h->sessions);
    for (int k = 0; k < ADMIT__COUNT; k++)
        admission_deinit(&h->admit[k]);
    smap_deinit(&h->creating, NULL);
    smap_deinit(&h->jams, free_jam);
    free(h->admin_token);
    free(h->public_url);
    free(h);
}

void hub_set_net(struct hub *h, struct net *n)
{
    h->net = n;
}

struct jam *hub_find_jam(const struct hub *h, const char *code)
{
    return smap_get(&h->jams, code);
}

struct jam *hub_add_jam(struct hub *h, struct room *room)
{
    struct jam *j = jam_new(h->cfg, room);
    smap_put(&h->jams, j->code, j);
    return j;
}

size_t hub_jam_count(const struct hub *h)
{
    return h->jams.used;
}

struct session *hub_find_session(const struct hub *h, uint64_t id)
{
    uint64_t p;
    return id && imap_get(&h->sessions, id, &p) ? (struct session *)(uintptr_t)p : NULL;
}

void hub_send_frame(struct session *s, struct frame *f)
{
    if (session_enqueue(s, f) < 0) {
        session_mark_close(s, 4001, "too slow");
        net_close(s);
    } else {
        net_want_write(s);
    }
}

void hub_send(struct session *s, char *json)
{
    struct frame *f = frame_from_string(json);
    hub_send_frame(s, f);
    frame_unref(f);
}

void hub_send_error(struct session *s, const char *op, const char *code, const char *message,
                    int64_t now_ms)
{
    log_debug("session %llu (pid %lld): error %s for op '%s'", (unsigned long long)s->id,
              (long long)s->pid, code, op ? op : "");
    metrics_count(&s->metrics->errors, code, 1);
    hub_send(s, view_error(op, code, message));
    if (view_error_by_client(code) && session_count_error(s, now_ms)) {
        session_mark_close(s, 4003, "too many errors");
        net_close(s);
    }
}

int hub_append(struct hub *h, const char *key, const char *json, const char *sadd_set,
               const char *sadd_member, struct pending *p, int64_t now_ms)
{
    uint64_t ctx = pending_next_ctx(&h->pending);
    int rc = store_append(h->store, key, json, sadd_set, sadd_member, ctx, now_ms);
    if (rc < 0) {
        p->free(p);
        return rc;
    }
    pending_add(&h->pending, ctx, p);
    return 0;
}

int hub_append_held(struct hub *h, const char *key, const char *json, struct pending *p,
                    int64_t now_ms)
{
    uint64_t ctx = pending_next_ctx(&h->pending);
    int rc = store_append_held(h->store, key, json, ctx, now_ms);
    if (rc < 0) {
        p->free(p);
        return rc;
    }
    pending_add(&h->pending, ctx, p);
    return 0;
}

void hub_on_open(struct session *s, void *arg)
{
    struct hub *h = arg;
    s->id = ++h->next_session_id;
    s->metrics = &h->metrics;
    imap_put(&h->sessions, s->id, (uint64_t)(uintptr_t)s);
}

/* A close the server did not ask for (the peer left, the network broke) counts as "peer". */
static void close_counted(struct metrics *m, int code)
{
    char label[16] = "peer";
    if (code)
        snprintf(label, sizeof label, "%d", code);
    metrics_count(&m->closes, label, 1);
}

void hub_on_close(struct session *s, void *arg)
{
    struct hub *h = arg;
    close_counted(&h->metrics, s->close_code);
    jam_detach(s);
    imap_del(&h->sessions, s->id);
}
