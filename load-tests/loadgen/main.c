/*
 * loadgen: cojam's WebSocket load generator.  One process, one thread, epoll (load-tests/README.md).
 *
 * How to read it, bottom up: base (clocks, log, random), measure (event ids, histograms, error
 * counts), samples (vote-to-screen: the write log, cursors, rings), probe (/proc, HTTP, Redis), ws
 * (the RFC 6455 client), opts (the options table), jam (the context, server messages, joins, the
 * moderator, the loop step), scenario.h (what a scenario adds), then one file per scenario:
 * sc_load.c (jam-vote, idea-storm, join-storm) and sc_resume_storm.c.  This file wires them:
 * options, file-descriptor limit, deadlines, the jam's setup, the scenario's run.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base.h"
#include "jam.h"
#include "opts.h"
#include "scenario.h"

static const scenario_t *const scenarios[] = {&sc_jam_vote, &sc_idea_storm, &sc_join_storm, &sc_resume_storm};

static const scenario_t *scenario_find(const char *name)
{
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (!strcmp(scenarios[i]->name, name)) return scenarios[i];
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "loadgen: hard deadline (alarm), exiting\n";
    ssize_t r = write(2, m, sizeof m - 1);
    (void)r;
    _exit(3);
}

int main(int argc, char **argv)
{
    static options_t opt;
    static jam_t jam;
    opts_parse(&opt, argc, argv);
    const scenario_t *sc = scenario_find(opt.scenario);
    if (!sc) opts_usage();
    if (sc->configure) sc->configure(&opt);
    opts_check(&opt);
    base_start();
    signal(SIGPIPE, SIG_IGN);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    int extra_conns = sc->extra_conns(&opt);
    if ((rlim_t)opt.clients + extra_conns + 64 > rl.rlim_cur)
        die("--clients %d needs more file descriptors than the limit %lu", opt.clients, (unsigned long)rl.rlim_cur);

    double budget = opt.deadline > 0 ? opt.deadline : sc->budget(&opt);
    jam_init(&jam, &opt, sc, extra_conns);
    jam.hard_deadline = now_us() + (uint64_t)(budget * 1e6);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)budget + 3); /* backstop for blocking calls (HTTP, Redis XLEN: 5 s / 1 s timeouts) */

    jam_create(&jam);
    if (sc->moderator) jam_moderate(&jam, sc->ideas(&opt));
    return sc->run(&jam);
}
