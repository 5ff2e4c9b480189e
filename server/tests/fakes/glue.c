/* SPDX-License-Identifier: MIT
 * glue.c - the shared set-up of the glue modules' unit tests (see glue.h).
 */
#include "fakes/glue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "broadcast.h"
#include "codec.h"
#include "frame.h"
#include "handlers.h"
#include "hub.h"
#include "jam.h"
#include "keys.h"
#include "log.h"
#include "loop.h"
#include "resume.h"
#include "room.h"
#include "session.h"

void glue_init(struct glue *g, const char *const *flags)
{
    memset(g, 0, sizeof *g);
    const char *argv[64] = {"test", "--ring-frames", "8"};
    int argc = 3;
    for (size_t i = 0; flags && flags[i] && argc < 63; i++)
        argv[argc++] = flags[i];
    if (config_load(&g->cfg, argc, (char **)argv) != 0)
        abort();
    log_set_level(LOG_ERROR);
    g->store = fake_store_new();
    g->net = fake_net_new();
    static const uint8_t key[] = "glue token key";
    g->hub = hub_new(&g->cfg, g->store, key, sizeof key - 1, "admin-token", "http://test");
    hub_set_net(g->hub, g->net);
    g->resume = resume_new(g->hub);
    g->hub->ready = true;
}

void glue_deinit(struct glue *g)
{
    while (g->n_sessions)
        glue_close(g, g->sessions[g->n_sessions - 1]);
    resume_free(g->resume);
    hub_free(g->hub);
    fake_store_free(g->store);
    fake_net_free(g->net);
    config_free(&g->cfg);
}

struct jam *glue_jam(struct glue *g, const char *code)
{
    struct event ev = {.type = EV_JAM_CREATED, .at_ms = net_wall_ms()};
    struct jam_config *c = &ev.jam;
    snprintf(c->code, sizeof c->code, "%s", code);
    c->title = xstrdup("Cooler streets");
    c->question = xstrdup("How do we keep our streets cool?");
    c->agenda[0] = (struct agenda_step){PHASE_EXPLORE, 60};
    c->agenda[1] = (struct agenda_step){PHASE_IDEATE, 0};
    c->agenda[2] = (struct agenda_step){PHASE_RESULTS, 0};
    c->n_agenda = 3;
    c->settings = (struct jam_settings){true, 5, 2, 500, false, false};
    auth_sha256_hex(GLUE_SECRET, strlen(GLUE_SECRET), c->secret_sha256);
    char key[KEYS_MAX];
    keys_stream(key, code);
    char *json = codec_event_encode(&ev);
    fake_store_add_entry(g->store, key, NULL, json);
    fake_store_add_member(g->store, code);
    free(json);
    const struct fake_stream *st = fake_store_stream(g->store, key);
    struct room_limits limits = {(uint32_t)g->cfg.max_items, (uint32_t)g->cfg.max_participants};
    struct jam *j = hub_add_jam(g->hub, room_new(c, &limits));
    room_apply(j->room, st->entries[st->n - 1].id, &ev, NULL);
    room_delta_reset(j->room);
    event_clear(&ev);
    return j;
}

char *glue_joined(int64_t pid)
{
    struct event ev = {.type = EV_JOINED,
                       .at_ms = net_wall_ms(),
                       .by = pid,
                       .pid = pid,
                       .role = ROLE_CITIZEN,
                       .anonymous = true};
    return codec_event_encode(&ev);
}

struct session *glue_open(struct glue *g)
{
    if (g->n_sessions == GLUE_SESSIONS)
        abort();
    struct session *s = xcalloc(1, sizeof *s);
    session_init(s, 0, NULL, net_now_ms());
    hub_on_open(s, g->hub);
    g->sessions[g->n_sessions++] = s;
    return s;
}

void glue_close(struct glue *g, struct session *s)
{
    for (size_t i = 0; i < g->n_sessions; i++)
        if (g->sessions[i] == s) {
            memmove(&g->sessions[i], &g->sessions[i + 1],
                    (g->n_sessions - i - 1) * sizeof *g->sessions);
            g->n_sessions--;
            break;
        }
    hub_on_close(s, g->hub);
    session_deinit(s);
    free(s);
}

static void send_v(struct glue *g, struct session *s, const char *fmt, va_list ap)
{
    char buf[4096];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    handlers_on_message(s, buf, (size_t)n, g->hub);
}

void glue_send(struct glue *g, struct session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_v(g, s, fmt, ap);
    va_end(ap);
}

void glue_settle(struct glue *g)
{
    loop_on_wake(g->hub);
}

char *glue_call(struct glue *g, struct session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_v(g, s, fmt, ap);
    va_end(ap);
    glue_settle(g);
    return glue_pop(s);
}

struct session *glue_start(struct glue *g, const char *code)
{
    struct session *m = glue_join(g, code, ROLE_MODERATOR, NULL);
    if (!m)
        return NULL;
    char *ack = glue_call(g, m, "{\"type\":\"start\",\"op\":\"m-start\"}");
    bool ok = glue_is(ack, "ack");
    free(ack);
    return ok ? m : NULL;
}

struct session *glue_join(struct glue *g, const char *code, enum role role, char *token)
{
    struct session *s = glue_open(g);
    if (role == ROLE_MODERATOR)
        glue_send(g, s,
                  "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"moderator\",\"nickname\":\"Mo\","
                  "\"secret\":\"%s\"}",
                  code, GLUE_SECRET);
    else
        glue_send(g, s, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"%s\",\"nickname\":\"Ana\"}",
                  code, role_name(role));
    glue_settle(g);
    char *welcome = glue_pop(s);
    bool ok = welcome && glue_is(welcome, "welcome") && s->jam;
    if (ok && token)
        ok = glue_field(welcome, "token", token, MSG_TOKEN_MAX + 1);
    free(welcome);
    glue_drain(s);
    return ok ? s : NULL;
}

static char *copy_frame(struct frame *f)
{
    if (!f)
        return NULL;
    char *s = xmalloc(f->len + 1);
    memcpy(s, frame_payload(f), f->len);
    s[f->len] = '\0';
    frame_unref(f);
    return s;
}

char *glue_pop(struct session *s)
{
    return copy_frame(session_dequeue(s));
}

bool glue_pop_error(struct session *s, const char *code)
{
    char *e = glue_pop(s), got[64];
    bool ok = glue_is(e, "error") && glue_field(e, "code", got, sizeof got) &&
              strcmp(got, code) == 0;
    free(e);
    return ok;
}

size_t glue_drain(struct session *s)
{
    size_t n = 0;
    struct frame *f;
    while ((f = session_dequeue(s))) {
        frame_unref(f);
        n++;
    }
    return n;
}

char *glue_pull(struct glue *g, struct session *s, bool *more)
{
    bool m;
    char *f = copy_frame(broadcast_next_frame(s, &m, g->hub));
    if (more)
        *more = m;
    return f;
}

bool glue_field(const char *json, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p)
        return false;
    p += strlen(pat);
    const char *end = strchr(p, '"');
    if (!end || (size_t)(end - p) >= size)
        return false;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return true;
}

bool glue_is(const char *json, const char *type)
{
    char pat[64];
    snprintf(pat, sizeof pat, "{\"type\":\"%s\"", type);
    return json && strncmp(json, pat, strlen(pat)) == 0;
}

const char *glue_probe_err;

static void probe_done(struct pending *p, const struct store_result *res, const struct now *now,
                       void *arg)
{
    (void)now;
    struct glue_probe *pr = (struct glue_probe *)p;
    (*pr->done)++;
    glue_probe_err = res->err;
    pr->ctx = res->ctx;
    pr->arg = arg;
    free(pr);
}

static void probe_free(struct pending *p)
{
    struct glue_probe *pr = (struct glue_probe *)p;
    (*pr->freed)++;
    free(pr);
}

struct pending *glue_probe_new(int *done, int *freed)
{
    struct glue_probe *pr = xcalloc(1, sizeof *pr);
    pr->base.done = probe_done;
    pr->base.free = probe_free;
    pr->done = done;
    pr->freed = freed;
    return &pr->base;
}
