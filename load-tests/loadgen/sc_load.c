/*
 * The open-loop scenarios: after the setup N clients join (--max-inflight, --connect-rate); then, but
 * in join-storm, 10% of them (spread over the index space, so over the source addresses) write on an
 * open-loop schedule (write k due at k/R s; a writer with a write in flight is skipped and counted):
 * jam-vote votes and unvotes the moderator's ideas, idea-storm posts ideas.  The first --warmup s
 * are not counted; the next --duration s are measured (samples.h); then a drain.  Vote-to-screen
 * latency is measured for every client and every write.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "jam.h"
#include "measure.h"
#include "probe.h"
#include "samples.h"
#include "scenario.h"

static struct {
    bool writes; /* not in join-storm */
    bool posts;  /* idea-storm */
    int *writers, nwriters, next;
    uint64_t skipped; /* writes due while every writer had one in flight */
} load;

static void send_write(jam_t *j, conn_t *c, bool measured)
{
    char buf[256];
    int n;
    uint32_t k = wlog_add(c->id, measured);
    wr_t *w = &lg_samples.w[k];
    if (load.posts) {
        w->kind = WK_POST;
        n = snprintf(buf, sizeof buf, "{\"type\":\"post\",\"op\":\"w%u\",\"kind\":\"idea\",\"text\":\"Idea %u from citizen u%u\"}", k, k,
                     c->id);
    } else {
        uint64_t all = j->nitems >= 64 ? ~0ull : (1ull << j->nitems) - 1;
        uint64_t free_ = all & ~c->voted_mask;
        int slot;
        if (free_) {
            int cnt = __builtin_popcountll(free_), pick = (int)(rnd64() % (uint64_t)cnt);
            uint64_t m = free_;
            while (pick--) m &= m - 1;
            slot = __builtin_ctzll(m);
            w->kind = WK_VOTE;
            c->voted_mask |= 1ull << slot;
        } else {
            slot = (int)(rnd64() % (uint64_t)j->nitems);
            w->kind = WK_UNVOTE;
            c->voted_mask &= ~(1ull << slot);
        }
        w->item = (uint16_t)slot;
        n = snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"op\":\"w%u\",\"item\":%d}", w->kind == WK_UNVOTE ? "unvote" : "vote", k,
                     j->items[slot]);
    }
    c->pending = 1;
    wlog_sent(k);
    ws_text(&c->ws, buf, (size_t)n);
}

/* the next writer without a write in flight sends one; false (counted) when all are busy */
static bool send_one(jam_t *j, bool measured)
{
    for (int tries = 0; tries < load.nwriters; tries++) {
        conn_t *c = &j->conns[load.writers[load.next]];
        load.next = (load.next + 1) % load.nwriters;
        if (c->ws.state == CS_JOINED && !c->pending) {
            send_write(j, c, measured);
            return true;
        }
    }
    load.skipped++;
    return false;
}

/* ---------------------------------------------------------- the run */

/* writes enter on target i: the --write-url one, or every --url one when writers are spread */
static bool target_writes(const jam_t *j, int i) { return j->write_target >= 0 ? i == j->write_target : i < j->opt->nurls; }

static bool drain_done(jam_t *j)
{
    if (wlog_pending()) return false;
    if (lg_samples.settled < lg_samples.nL) return false;
    for (int i = 0; i < j->opt->clients; i++) {
        conn_t *c = &j->conns[i];
        if (c->ws.state == CS_JOINED && c->seen.cursor < lg_samples.nL) return false;
    }
    return true;
}

static int load_run(jam_t *j)
{
    const options_t *opt = j->opt;
    /* ---- connect */
    procs_t p_before = proc_read(opt->server_pid);
    uint64_t t_conn0 = jam_connect_clients(j);
    uint64_t t_conn_done = now_us();
    uint64_t last_join = 0;
    for (int i = 0; i < opt->clients; i++) {
        const conn_t *c = &j->conns[i];
        if (c->ws.state == CS_JOINED && c->t_joined > last_join) last_join = c->t_joined;
    }
    double t_all_joined = last_join ? (double)(last_join - t_conn0) / 1e6 : 0;
    logf_("connect: %" PRIu64 " joined, %" PRIu64 " failed in %.3f s (last join at %.3f s)", j->n.joined, j->n.failed,
          (double)(t_conn_done - t_conn0) / 1e6, t_all_joined);

    j->phase = "idle";
    jam_run_until(j, jam_never, opt->idle_settle);
    procs_t p_idle = proc_read(opt->server_pid);
    uint64_t joined_at_idle = j->n.joined;

    /* ---- load */
    procs_t p_m0 = {0}, p_m1 = {0}, r_m0 = {0}, r_m1 = {0};
    long xlen0 = -1, xlen1 = -1;
    double self0 = 0, self1 = 0;
    uint64_t mach0 = 0, mach1 = 0, irq0 = 0, irq1 = 0;
    uint64_t t_m0 = 0, t_m1 = 0;
    uint64_t frames_m0 = 0, frames_m1 = 0; /* frames received over the measured window */
    if (load.writes) {
        int nw = jam_writers(opt);
        load.writers = calloc((size_t)nw, sizeof *load.writers);
        if (!load.writers) die("out of memory");
        /* spread writers over the index space (and so over source addresses) */
        for (int i = 0; i < nw; i++) load.writers[load.nwriters++] = (int)((int64_t)i * opt->clients / nw);
        for (int i = 0; i < opt->clients; i++) j->conns[i].seen.cursor = 0;
        lg_samples.watermark = (evid_t){0, 0};
        samples_settle();
        uint64_t t_load0 = now_us();
        uint64_t t_meas0 = t_load0 + (uint64_t)(opt->warmup * 1e6), t_meas1 = t_meas0 + (uint64_t)(opt->duration * 1e6);
        uint64_t k = 0;
        bool in_meas = false;
        j->phase = "warmup";
        for (;;) {
            uint64_t t = now_us();
            if (!in_meas && t >= t_meas0) {
                in_meas = true;
                j->phase = "measure";
                p_m0 = proc_read(opt->server_pid);
                r_m0 = proc_read(opt->redis_pid);
                xlen0 = redis_xlen(opt->redis_host, opt->redis_port, j->code);
                self0 = self_cpu_s();
                mach0 = machine_busy_ticks(&irq0);
                t_m0 = now_us();
                frames_m0 = j->n.frames_in;
                jam_mark(j, "measure_start");
            }
            if (t >= t_meas1) break;
            uint64_t due;
            for (;;) {
                due = t_load0 + (uint64_t)((double)k * 1e6 / opt->rate);
                if (due > t || due >= t_meas1) break;
                send_one(j, due >= t_meas0);
                k++;
            }
            uint64_t wake = due < t_meas1 ? due : t_meas1;
            if (!in_meas && t_meas0 < wake) wake = t_meas0;
            t = now_us();
            jam_step(j, wake > t ? (int64_t)(wake - t) : 0);
        }
        p_m1 = proc_read(opt->server_pid);
        r_m1 = proc_read(opt->redis_pid);
        xlen1 = redis_xlen(opt->redis_host, opt->redis_port, j->code);
        self1 = self_cpu_s();
        mach1 = machine_busy_ticks(&irq1);
        t_m1 = now_us();
        frames_m1 = j->n.frames_in;
        jam_mark(j, "measure_end");
        j->phase = "drain";
        logf_("load done: %" PRIu64 " writes sent (%" PRIu64 " measured), draining", lg_samples.sent_total, lg_samples.sent_meas);
        jam_run_until(j, drain_done, opt->drain);
        samples_settle();
        jam_sweep(j);
    }

    /* ---- report */
    j->phase = "report";
    int alive = 0;
    uint64_t samples_alive = 0;
    /* Fairness: each client's mean vote-to-screen, over the clients. A server that always writes
     * the same clients last shows a wide spread here while the pooled percentiles look the same. */
    static hist_t h_client_mean;
    h_reset(&h_client_mean);
    for (int i = 0; i < opt->clients; i++)
        if (j->conns[i].ws.state == CS_JOINED) {
            const seen_t *s = &j->conns[i].seen;
            alive++;
            samples_alive += s->samples;
            if (s->samples) h_add(&h_client_mean, s->lat_sum / s->samples);
        }
    uint64_t pending_left = wlog_pending();
    double expected = (double)lg_samples.acked_meas * alive;
    double ratio = expected > 0 ? (double)samples_alive / expected : (load.writes ? 0.0 : 1.0);
    double win = t_m1 > t_m0 ? (double)(t_m1 - t_m0) / 1e6 : 0;
    long hz = sysconf(_SC_CLK_TCK);
    double srv_cpu = (p_m0.ok && p_m1.ok && win > 0) ? 100.0 * (double)(p_m1.ticks - p_m0.ticks) / hz / win : -1;
    double red_cpu = (r_m0.ok && r_m1.ok && win > 0) ? 100.0 * (double)(r_m1.ticks - r_m0.ticks) / hz / win : -1;
    double self_cpu = win > 0 ? 100.0 * (self1 - self0) / win : -1;
    double mach_cpu = (mach0 && mach1 && win > 0) ? 100.0 * (double)(mach1 - mach0) / hz / win : -1;
    double irq_cpu = (mach0 && mach1 && win > 0) ? 100.0 * (double)(irq1 - irq0) / hz / win : -1;
    double other_cpu = mach_cpu >= 0 ? mach_cpu - (srv_cpu > 0 ? srv_cpu : 0) - (red_cpu > 0 ? red_cpu : 0) - (self_cpu > 0 ? self_cpu : 0)
                                     : -1;
    double ev_s = (xlen0 >= 0 && xlen1 >= 0 && win > 0) ? (double)(xlen1 - xlen0) / win : -1;
    double rss_per_conn = (p_before.ok && p_idle.ok && joined_at_idle) ? (double)(p_idle.rss_kb - p_before.rss_kb) * 1024.0 / joined_at_idle
                                                                       : -1;
    procs_t p_end = proc_read(opt->server_pid);

    FILE *o = stdout;
    fprintf(o, "\n== cojam loadgen: %s%s%s  clients %d  rate %.0f/s  duration %.0f s  warmup %.0f s  jam %s\n", j->sc->name,
            opt->label ? "  " : "", opt->label ? opt->label : "", opt->clients, opt->rate, opt->duration, opt->warmup, j->code);
    fprintf(o,
            "  connect: joined %" PRIu64 "/%d, failed %" PRIu64 ", all joined in %.3f s, alive at end %d, dropped after join %" PRIu64 "\n",
            j->n.joined, opt->clients, j->n.failed, t_all_joined, alive, j->n.closed_after_join);
    if (load.writes) {
        fprintf(o,
                "  writes: sent %" PRIu64 " (measured %" PRIu64 "), acked measured %" PRIu64 " = %.1f/s, errors %" PRIu64
                ", skipped (writer busy) %" PRIu64 ", unacked %" PRIu64 "\n",
                lg_samples.sent_total, lg_samples.sent_meas, lg_samples.acked_meas, win > 0 ? lg_samples.acked_meas / win : 0,
                lg_samples.err_meas, load.skipped, pending_left);
        fprintf(o,
                "  delivery: samples %" PRIu64 " / expected %.0f = ratio %.6f  (gaps %" PRIu64 ", resyncs %" PRIu64
                ", ring overflow %" PRIu64 ", unmeasurable late acks %" PRIu64 ")\n",
                samples_alive, expected, ratio, j->n.gaps, j->n.resyncs, lg_samples.ring_overflow, lg_samples.late_unmeasurable);
    }
    fprintf(o, "  %-22s %12s %9s %9s %9s %9s %9s %9s\n", "latency (ms)", "count", "mean", "p50", "p90", "p99", "p99.9", "max");
    hist_print_row(o, "connect (tcp+ws+join)", &j->h_connect);
    if (load.writes) {
        hist_print_row(o, "ack", &lg_samples.h_ack);
        hist_print_row(o, "vote-to-screen", &lg_samples.h_lat);
        hist_print_row(o, "v2s mean per client", &h_client_mean);
        if (j->ntargets > 1)
            for (int i = 0; i < j->ntargets; i++) {
                char name[40];
                snprintf(name, sizeof name, "v2s readers @:%d%s", j->targets[i]->port, target_writes(j, i) ? " w" : "");
                hist_print_row(o, name, &j->h_lat_target[i]);
            }
    }
    fprintf(o, "  server: cpu %.1f%% of one core, rss before %ld KiB, idle %ld KiB (%.0f B/conn), end %ld KiB, peak %ld KiB\n", srv_cpu,
            p_before.rss_kb, p_idle.rss_kb, rss_per_conn, p_end.rss_kb, p_end.hwm_kb);
    fprintf(o,
            "  redis: events persisted %.1f/s, cpu %.1f%%   loadgen cpu %.1f%%   frames in %" PRIu64 " (updates %" PRIu64
            ", fallback parses %" PRIu64 "), pings %" PRIu64 "\n",
            ev_s, red_cpu, self_cpu, j->n.frames_in, j->n.updates, j->n.fallback_parse, ws_pings());
    fprintf(o, "  machine: processes %.1f%% + irq/softirq %.1f%% of %ld cores x 100%% (other processes: %.1f%%)\n", mach_cpu, irq_cpu,
            sysconf(_SC_NPROCESSORS_ONLN), other_cpu);
    fprintf(o, "  errors: %" PRIu64 "", lg_errs.total);
    errs_print(o, &lg_errs);
    fprintf(o, "\n");
    fflush(o);

    if (opt->json) {
        FILE *f = fopen(opt->json, "w");
        if (!f) die("cannot write %s: %s", opt->json, strerror(errno));
        fprintf(f,
                "{\n  \"scenario\": \"%s\",\n  \"label\": \"%s\",\n  \"clients\": %d,\n  \"rate\": %.3f,\n  \"duration_s\": %.3f,\n"
                "  \"warmup_s\": %.3f,\n  \"writers\": %d,\n  \"sources\": %d,\n  \"jam\": \"%s\",\n",
                j->sc->name, opt->label ? opt->label : "", opt->clients, opt->rate, opt->duration, opt->warmup, load.nwriters,
                opt->ws.sources, j->code);
        fprintf(f,
                "  \"joined\": %" PRIu64 ",\n  \"connect_failed\": %" PRIu64 ",\n  \"all_joined_s\": %.6f,\n  \"alive_at_end\": %d,\n"
                "  \"dropped_after_join\": %" PRIu64 ",\n",
                j->n.joined, j->n.failed, t_all_joined, alive, j->n.closed_after_join);
        fprintf(f,
                "  \"writes_sent\": %" PRIu64 ",\n  \"writes_sent_measured\": %" PRIu64 ",\n  \"writes_acked_measured\": %" PRIu64
                ",\n  \"writes_errors_measured\": %" PRIu64 ",\n  \"writes_skipped_busy\": %" PRIu64 ",\n  \"writes_unacked\": %" PRIu64
                ",\n  \"acked_per_s\": %.3f,\n",
                lg_samples.sent_total, lg_samples.sent_meas, lg_samples.acked_meas, lg_samples.err_meas, load.skipped, pending_left,
                win > 0 ? lg_samples.acked_meas / win : 0);
        fprintf(f,
                "  \"samples\": %" PRIu64 ",\n  \"samples_expected\": %.0f,\n  \"delivery_ratio\": %.9f,\n  \"gaps\": %" PRIu64
                ",\n  \"resyncs\": %" PRIu64 ",\n  \"ring_overflow\": %" PRIu64 ",\n  \"late_unmeasurable\": %" PRIu64 ",\n"
                "  \"delivery_exact\": %s,\n",
                samples_alive, expected, ratio, j->n.gaps, j->n.resyncs, lg_samples.ring_overflow, lg_samples.late_unmeasurable,
                (lg_samples.acked_meas > 0 && samples_alive == lg_samples.acked_meas * (uint64_t)alive) ? "true" : "false");
        hist_json_ms(f, "connect_ms", &j->h_connect, true);
        hist_json_ms(f, "ack_ms", &lg_samples.h_ack, true);
        hist_json_ms(f, "vote_to_screen_ms", &lg_samples.h_lat, true);
        hist_json_ms(f, "vote_to_screen_client_mean_ms", &h_client_mean, true);
        fprintf(f, "  \"by_target\": [\n");
        for (int i = 0; i < j->ntargets; i++) {
            const ws_target_t *t = j->targets[i];
            fprintf(f, "  {\"url\": \"ws://%s:%d%s\", \"writes_here\": %s, \"readers_joined\": %d,\n", t->host, t->port, t->path,
                    target_writes(j, i) ? "true" : "false", j->readers_target[i]);
            hist_json_ms(f, "vote_to_screen_ms", &j->h_lat_target[i], false);
            fprintf(f, "  }%s\n", i + 1 < j->ntargets ? "," : "");
        }
        fprintf(f, "  ],\n");
        fprintf(f, "  \"measure_window_s\": %.6f,\n  \"server_cpu_pct\": %.2f,\n  \"redis_cpu_pct\": %.2f,\n  \"loadgen_cpu_pct\": %.2f,\n",
                win, srv_cpu, red_cpu, self_cpu);
        fprintf(f, "  \"machine_cpu_pct\": %.2f,\n  \"irq_softirq_cpu_pct\": %.2f,\n  \"other_cpu_pct\": %.2f,\n  \"cpus\": %ld,\n",
                mach_cpu, irq_cpu, other_cpu, sysconf(_SC_NPROCESSORS_ONLN));
        fprintf(f,
                "  \"rss_before_kib\": %ld,\n  \"rss_idle_kib\": %ld,\n  \"rss_end_kib\": %ld,\n  \"rss_peak_kib\": %ld,\n"
                "  \"rss_per_idle_conn_bytes\": %.1f,\n",
                p_before.rss_kb, p_idle.rss_kb, p_end.rss_kb, p_end.hwm_kb, rss_per_conn);
        fprintf(f,
                "  \"redis_events_per_s\": %.3f,\n  \"xlen_start\": %ld,\n  \"xlen_end\": %ld,\n  \"frames_in\": %" PRIu64
                ",\n  \"updates_in\": %" PRIu64 ",\n  \"bytes_in\": %" PRIu64 ",\n  \"fallback_parses\": %" PRIu64 ",\n",
                ev_s, xlen0, xlen1, j->n.frames_in, j->n.updates, j->n.bytes_in, j->n.fallback_parse);
        fprintf(f, "  \"frames_in_measured\": %" PRIu64 ",\n", frames_m1 - frames_m0);
        fprintf(f, "  \"errors_total\": %" PRIu64 ",\n", lg_errs.total);
        errs_json(f, "errors", &lg_errs, false);
        fprintf(f, "}\n");
        fclose(f);
    }
    return 0;
}

/* ---------------------------------------------------------- progress */

static struct {
    uint64_t sent, acked, samples, frames;
} prev;

static void load_tick(jam_t *j, uint64_t t)
{
    const samples_t *S = &lg_samples;
    int alive = 0;
    for (int i = 0; i < j->opt->clients; i++) alive += j->conns[i].ws.state == CS_JOINED;
    fprintf(stderr,
            "[%6.2fs] %-8s joined %d/%d  sent %" PRIu64 "/s acked %" PRIu64 "/s out %u  frames %" PRIu64 "/s  samples %" PRIu64
            "/s  v2s p50 %.1f p99 %.1f max %.1f ms  ack p99 %.1f ms  err %" PRIu64 "\n",
            since_s(t), j->phase, alive, j->opt->clients, S->sent_total - prev.sent, S->acked_total - prev.acked, wlog_pending(),
            j->n.frames_in - prev.frames, S->samples_total - prev.samples, h_pct(&S->h_lat_sec, 50) / 1e3, h_pct(&S->h_lat_sec, 99) / 1e3,
            S->h_lat_sec.max / 1e3, h_pct(&S->h_ack_sec, 99) / 1e3, lg_errs.total);
    prev.sent = S->sent_total;
    prev.acked = S->acked_total;
    prev.samples = S->samples_total;
    prev.frames = j->n.frames_in;
    h_reset(&lg_samples.h_lat_sec);
    h_reset(&lg_samples.h_ack_sec);
}

/* ---------------------------------------------------------- the three */

static double load_budget(const options_t *o) { return 20 + o->connect_timeout + o->idle_settle + o->warmup + o->duration + o->drain + 10; }

static int moderator_ideas(const options_t *o) { return o->ideas; }
static int no_ideas(const options_t *o)
{
    (void)o;
    return 0;
}
static int no_extra(const options_t *o)
{
    (void)o;
    return 0;
}

static void idea_configure(options_t *o)
{
    if (!o->rate_set) o->rate = 100;
}

static int vote_run(jam_t *j)
{
    load.writes = j->citizens_write = true;
    return load_run(j);
}

static int idea_run(jam_t *j)
{
    load.writes = load.posts = j->citizens_write = true;
    return load_run(j);
}

const scenario_t sc_jam_vote = {
    .name = "jam-vote",
    .moderator = true,
    .extra_conns = no_extra,
    .budget = load_budget,
    .ideas = moderator_ideas,
    .run = vote_run,
    .on_tick = load_tick,
};

const scenario_t sc_idea_storm = {
    .name = "idea-storm",
    .moderator = true,
    .configure = idea_configure,
    .extra_conns = no_extra,
    .budget = load_budget,
    .ideas = no_ideas,
    .run = idea_run,
    .on_tick = load_tick,
};

const scenario_t sc_join_storm = {
    .name = "join-storm",
    .extra_conns = no_extra,
    .budget = load_budget,
    .ideas = no_ideas,
    .run = load_run,
    .on_tick = load_tick,
};
