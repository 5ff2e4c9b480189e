/* SPDX-License-Identifier: MIT
 * main.c - cojamd: read the configuration, make sure Redis is there (start a private redis-server
 * when none is configured), rebuild every jam by replaying its stream, then serve until SIGINT or
 * SIGTERM. The only file that knows every module; it creates them in dependency order and tears
 * them down in reverse.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "embedded.h"
#include "hash.h"
#include "hub.h"
#include "keys.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "now.h"
#include "recovery.h"
#include "replay.h"
#include "resume.h"
#include "store.h"
#include "verify.h"

/* The loop's net, set once it exists and cleared before it is freed. The store and replay threads
 * wake the loop through it (wake_loop), so it is atomic, and a wake holds the_net_mu so that
 * set_net(NULL) returns only once no wake is still using the old net. The signal handler only
 * loads it (a lock-free atomic; a handler cannot take a lock). */
static _Atomic(struct net *) the_net;
static pthread_mutex_t the_net_mu = PTHREAD_MUTEX_INITIALIZER;

static void set_net(struct net *n)
{
    pthread_mutex_lock(&the_net_mu);
    atomic_store(&the_net, n);
    pthread_mutex_unlock(&the_net_mu);
}

static void on_signal(int sig)
{
    /* net_drain() and net_reload_tls() are signal-safe (net.h): each sets a lock-free atomic flag
     * and calls lws_cancel_service(), a write() to the loop's wake pipe. SIGTERM and SIGINT drain
     * (loop.c); a second one stops at once. */
    struct net *n = atomic_load(&the_net);
    if (n && sig == SIGHUP)
        net_reload_tls(n); // NOLINT(bugprone-signal-handler,cert-sig30-c): see above
    else if (n)
        net_drain(n); // NOLINT(bugprone-signal-handler,cert-sig30-c): see above
}

/* Called on the store and replay threads: lws_cancel_service() is the one thread-safe lws call. */
static void wake_loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&the_net_mu);
    struct net *n = atomic_load(&the_net);
    if (n)
        net_wake(n);
    pthread_mutex_unlock(&the_net_mu);
}

/* ---- start-up steps ------------------------------------------------------------------------ */

/* Durability rests on Redis's settings: refuse an evicting policy, warn without AOF. */
static int check_redis_settings(const struct store_config *sc)
{
    char policy[64], aof[16];
    if (store_config_get(sc, policy, sizeof policy, aof, sizeof aof) < 0) {
        log_warn("cannot read Redis's configuration (CONFIG GET refused?); durability unchecked");
        return 0;
    }
    if (policy[0] && strcmp(policy, "noeviction") != 0) {
        log_error("Redis maxmemory-policy is '%s': it may evict acknowledged events. "
                  "Set maxmemory-policy noeviction (see deploy/redis.conf).",
                  policy);
        return -EINVAL;
    }
    if (strcmp(aof, "yes") != 0)
        log_warn("Redis appendonly is '%s': acknowledged events can be lost in a Redis crash. "
                 "Set appendonly yes and appendfsync always (see deploy/redis.conf).",
                 aof);
    return 0;
}

/* This server's name for jam leases (one writer per jam): stable across restarts, so a restarted
 * cojamd takes its jams back at once, and unique among live servers: it is kept in the file whose
 * exclusive lock says who owns the data directory ('fd', from embedded_lock). Returns 0 or -EIO. */
static int load_instance_id(int fd, const char *data_dir, char *out, size_t size)
{
    ssize_t n = pread(fd, out, size - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    if (!out[0]) {
        char host[64] = "cojamd";
        uint8_t raw[8];
        gethostname(host, sizeof host - 1);
        host[strcspn(host, " \t")] = '\0';
        if (auth_random_bytes(raw, sizeof raw) < 0)
            return -EIO;
        int len = snprintf(out, size, "%.40s-", host);
        for (size_t i = 0; i < sizeof raw && (size_t)len + 2 < size; i++)
            len += snprintf(out + len, size - (size_t)len, "%02x", raw[i]);
        if (ftruncate(fd, 0) < 0 || pwrite(fd, out, strlen(out), 0) < 0)
            log_warn("cannot write %s/instance-id: %s", data_dir, strerror(errno));
    }
    return 0;
}

static int load_admin_token(const struct config *cfg, char *out, size_t size)
{
    if (cfg->admin_token) {
        snprintf(out, size, "%s", cfg->admin_token);
        return 0;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/admin-token", cfg->data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        bool ok = fgets(out, (int)size, f) != NULL;
        fclose(f);
        out[strcspn(out, "\r\n")] = '\0';
        if (ok && out[0]) {
            log_info("admin token: read from %s", path);
            return 0;
        }
    }
    char secret[AUTH_SECRET_CHARS + 1];
    if (auth_random_secret(secret) < 0)
        return -EIO;
    snprintf(out, size, "%s", secret);
    mkdir(cfg->data_dir, 0700);
    /* The token is never logged (logs travel further than the data directory): the file is the
     * one place to read it, so failing to write it is fatal. fchmod: O_CREAT's mode does not
     * apply to a file that already exists (empty, left by an earlier failure). */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && fchmod(fd, 0600) == 0 && dprintf(fd, "%s\n", out) > 0;
    int err = errno;
    if (fd >= 0 && close(fd) < 0)
        ok = false;
    if (!ok) {
        log_error("cannot write the generated admin token to %s: %s", path, strerror(err));
        return -EIO;
    }
    log_info("admin token: generated into %s (mode 0600)", path);
    return 0;
}

/* What the loop's tick needs beyond the hub: the embedded Redis to supervise. */
struct tick_ctx {
    struct hub *hub;
    struct embedded *emb;
    int64_t last_check_ms;
};

static int64_t on_tick(int64_t now_ms, void *arg)
{
    struct tick_ctx *t = arg;
    int64_t next_ms = loop_on_tick(now_ms, t->hub);
    if (t->emb->dir[0] && now_ms - t->last_check_ms >= 1000) {
        t->last_check_ms = now_ms;
        embedded_check(t->emb, now_ms);
    }
    return next_ms;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return verify_main(argc - 1, argv + 1); /* a tool: no server, no configuration */
    struct config cfg;
    int err = config_load(&cfg, argc, argv);
    if (err)
        return err > 0 ? 0 : 2;
    int lvl = log_level_from_name(cfg.log_level);
    log_set_level(lvl < 0 ? LOG_INFO : (enum log_level)lvl);
    signal(SIGPIPE, SIG_IGN);
    /* The hash tables' key, before any table exists: clients choose op ids and other keys, so
     * they must not be able to predict which of them collide. */
    unsigned char hash_key[16];
    if (auth_random_bytes(hash_key, sizeof hash_key) < 0) {
        log_error("no randomness for the hash key");
        config_free(&cfg);
        return 1;
    }
    hash_seed(hash_key);
    /* The links handed out and the Origin browsers must send on /ws (the default allowlist) come
     * from the one public URL, never from a request's own Host header (DNS rebinding). */
    char public_url[512], own_origin[512];
    if (cfg.public_url)
        snprintf(public_url, sizeof public_url, "%s", cfg.public_url);
    else
        snprintf(public_url, sizeof public_url, "%s://%s", cfg.tls_cert ? "https" : "http",
                 cfg.listen);
    if (net_url_origin(public_url, own_origin, sizeof own_origin) < 0) {
        log_error("--public-url: expected http(s)://HOST[:PORT][/PATH], got '%s'", public_url);
        goto fail_config;
    }

    struct embedded emb = {0};
    struct store_config sc = {
        .timeout_ms = (int)cfg.redis_timeout_ms, /* queue: the store's default */
        .replicas = (int)cfg.replicas,
        .replica_timeout_ms = (int)cfg.replica_timeout_ms,
        .linger_us = (int)cfg.redis_linger_us,
    };
    /* First the lock on the data directory, in both modes: it outlives this process for as long
     * as the redis-server it starts lives, so no second server ever works on the same files
     * (embedded.h). It stays open (and locked) until exit. */
    char instance[80];
    int lock_fd = embedded_lock(cfg.data_dir, cfg.redis_server);
    if (lock_fd < 0) {
        log_error("cannot use the data directory %s (%s)", cfg.data_dir, strerror(-lock_fd));
        goto fail_config;
    }
    if (load_instance_id(lock_fd, cfg.data_dir, instance, sizeof instance) < 0)
        goto fail_config;
    sc.instance_id = instance;
    if (cfg.n_sentinels) {
        sc.sentinels = cfg.sentinel_addrs;
        sc.n_sentinels = cfg.n_sentinels;
        sc.master_name = cfg.sentinel_master;
        sc.user = cfg.redis_user;
        sc.password = cfg.redis_password;
    } else if (cfg.redis) {
        if (strncmp(cfg.redis, "unix:", 5) == 0) {
            sc.unix_path = cfg.redis + 5;
        } else {
            sc.host = cfg.redis_host;
            sc.port = cfg.redis_port;
        }
        sc.user = cfg.redis_user;
        sc.password = cfg.redis_password;
    } else {
        /* Its socket is 0700 in the data directory: whoever may connect may read its AOF too,
         * so a password would protect nothing (README, Security). */
        if (cfg.redis_password)
            log_warn("the Redis password is not used: the embedded redis-server has none "
                     "(it is reachable only through %s/redis.sock, mode 0700)",
                     cfg.data_dir);
        if (embedded_start(&emb, cfg.redis_server, cfg.data_dir, lock_fd) < 0)
            goto fail_config;
        sc.unix_path = emb.sock;
    }
    char why[256];
    if ((err = store_check(&sc, 15000, why, sizeof why)) == -EACCES) {
        log_error("Redis refused cojamd's credentials (%s): check --redis-user and "
                  "COJAM_REDIS_PASSWORD or --redis-password-file against Redis's requirepass or "
                  "ACL user (deploy/redis.conf)",
                  why);
        goto fail_redis;
    }
    if (err < 0) {
        log_error("Redis is not reachable: %s", why);
        goto fail_redis;
    }
    if ((cfg.redis || cfg.n_sentinels) && check_redis_settings(&sc) < 0)
        goto fail_redis;

    /* Session tokens must survive restarts, so their key lives in Redis unless given. Whoever
     * can run GET on that Redis can mint any token (README, Security). */
    _Static_assert(CONFIG_SECRET_MAX <= HUB_KEY_MAX, "the hub would cut a configured secret");
    char token_key[256];
    if (cfg.token_secret) {
        snprintf(token_key, sizeof token_key, "%s", cfg.token_secret);
    } else {
        uint8_t raw[AUTH_KEY_BYTES];
        char hex[2 * AUTH_KEY_BYTES + 1];
        if (auth_random_bytes(raw, sizeof raw) < 0)
            goto fail_redis;
        for (size_t i = 0; i < sizeof raw; i++)
            snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        if (store_get_or_set(&sc, KEYS_TOKEN_KEY, hex, token_key, sizeof token_key) < 0) {
            log_error("cannot read or store the token key in Redis");
            goto fail_redis;
        }
        size_t len = strlen(token_key);
        if (len < CONFIG_SECRET_MIN || len > CONFIG_SECRET_MAX) {
            log_error("the token key in Redis (%s) is %zu bytes, not %d to %d: delete it to have "
                      "one generated (every session token then becomes invalid), or set "
                      "--token-secret-file",
                      KEYS_TOKEN_KEY, len, CONFIG_SECRET_MIN, CONFIG_SECRET_MAX);
            goto fail_redis;
        }
    }
    char admin[256];
    if (load_admin_token(&cfg, admin, sizeof admin) < 0)
        goto fail_redis;

    struct store *store;
    if ((err = store_new(&sc, wake_loop, NULL, &store)) < 0) {
        log_error("cannot start the persistence thread (%d)", err);
        goto fail_redis;
    }
    log_info("instance %s", store_instance_id(store));
    struct hub *hub = hub_new(&cfg, store, (const uint8_t *)token_key, strlen(token_key), admin,
                              public_url);
    struct resume *resume = resume_new(hub);

    struct net_config nc = {
        .listen_host = cfg.listen_host,
        .port = cfg.listen_port,
        .web_root = cfg.web_root,
        .allowed_origins = cfg.allowed_origins,
        .own_origin = own_origin,
        .max_message_bytes = (size_t)cfg.max_message_bytes,
        .max_connections = cfg.max_connections,
        .max_conns_per_address = cfg.max_conns_per_address,
        .write_timeout_s = cfg.write_timeout_s,
        .tcp_send_buffer = cfg.tcp_send_buffer,
        .ping_interval_s = cfg.ping_interval_s,
        .handshakes_per_address = NET_HANDSHAKES_PER_ADDRESS * cfg.admission_scale,
        .tls_cert = cfg.tls_cert,
        .tls_key = cfg.tls_key,
        .tick_ms = (int)cfg.tick_ms,
        .libev = strcmp(cfg.event_loop, "libev") == 0,
        .loop_pace_us = cfg.loop_pace_us,
    };
    struct tick_ctx ticker = {.hub = hub, .emb = &emb};
    struct net_callbacks cbs;
    loop_callbacks(hub, &cbs);
    cbs.on_tick = on_tick; /* the loop's tick, plus the embedded server's supervision */
    cbs.tick_arg = &ticker;
    struct net *net;
    if ((err = net_new(&nc, &cbs, &net)) < 0)
        goto fail_hub;
    hub_set_net(hub, net);
    set_net(net);

    /* Rebuild every jam from its snapshot and stream tail on a thread while the loop serves
     * /healthz ("recovering"); writes are refused until the state is complete. */
    struct room_limits limits = {(uint32_t)cfg.max_items, (uint32_t)cfg.max_participants};
    struct replay *rp;
    if ((err = replay_start(&sc, &limits, wake_loop, NULL, &rp)) < 0) {
        log_error("cannot start recovery (%d)", err);
        goto fail_net;
    }
    const struct now started = net_now();
    recovery_start(hub, rp, &started);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    log_info("cojamd %s serving %s://%s (web root %s)", COJAM_VERSION,
             cfg.tls_cert ? "https" : "http", cfg.listen, cfg.web_root);
    net_run(net);
    log_info("shutting down");

    set_net(NULL);
    net_free(net);
    resume_free(resume);
    hub_free(hub);
    store_free(store);
    embedded_stop(&emb);
    config_free(&cfg);
    return 0;

fail_net:
    set_net(NULL);
    net_free(net);
fail_hub:
    resume_free(resume);
    hub_free(hub);
    store_free(store);
fail_redis:
    embedded_stop(&emb);
fail_config:
    config_free(&cfg);
    return 1;
}
