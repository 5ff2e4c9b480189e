/* SPDX-License-Identifier: MIT
 * test_config.c - config_load with argv arrays and a controlled environment (every COJAM_*
 * variable is unset first, then set per test with setenv): defaults, environment, flags beating
 * the environment, bounds, every error path with its message (stderr captured), and secrets:
 * never from a flag, from the environment or a file, with their length and permission checks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "config.h"
#include "test.h"

extern char **environ;

static void clear_env(void)
{
    char *names[256];
    size_t n = 0;
    for (char **e = environ; *e && n < 256; e++)
        if (strncmp(*e, "COJAM_", 6) == 0) {
            size_t len = strcspn(*e, "=");
            names[n] = strndup(*e, len);
            n++;
        }
    for (size_t i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
}

/* config_load on a NULL-terminated list of arguments (without argv[0]); stderr goes to *err
 * (malloc'd) when 'err' is given, else it is dropped. */
static int load(struct config *c, char **err, const char *const *args)
{
    char *argv[32] = {"cojamd"};
    int argc = 1;
    while (args && args[argc - 1] && argc < 31) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    struct capture cap;
    capture_begin(&cap, 2);
    int rc = config_load(c, argc, argv);
    char *text = capture_end(&cap);
    if (err)
        *err = text;
    else
        free(text);
    return rc;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

TEST(defaults)
{
    clear_env();
    struct config c;
    CHECK_EQ_INT(load(&c, NULL, NULL), 0);
    CHECK_EQ_STR(c.listen, "127.0.0.1:8080");
    CHECK_EQ_STR(c.listen_host, "127.0.0.1");
    CHECK_EQ_INT(c.listen_port, 8080);
    CHECK(c.redis == NULL && c.admin_token == NULL && c.token_secret == NULL);
    CHECK(c.allowed_origins == NULL && c.public_url == NULL);
    CHECK_EQ_STR(c.data_dir, "./cojam-data");
    CHECK_EQ_STR(c.web_root, "./web-client/public");
    CHECK_EQ_STR(c.redis_server, "redis-server");
    CHECK_EQ_STR(c.log_level, "info");
    /* The defaults proto/messages.md and server/CLI.md name. */
    CHECK_EQ_INT(c.tick_ms, 50);
    CHECK_EQ_INT(c.max_message_bytes, 16384);
    CHECK_EQ_INT(c.ring_frames, 256);
    CHECK_EQ_INT(c.rank_top, 20);
    CHECK_EQ_INT(c.max_items, 10000);
    CHECK_EQ_INT(c.max_participants, 100000);
    CHECK_EQ_INT(c.redis_timeout_ms, 2000);
    CHECK_EQ_INT(c.redis_linger_us, 1000);
    CHECK_EQ_INT(c.token_ttl_s, 86400);
    CHECK_EQ_INT(c.resume_max_events, 10000);
    CHECK_EQ_INT(c.loop_pace_us, -1);
    CHECK_EQ_STR(c.event_loop, "libev");
    CHECK_EQ_INT(c.cpu_budget_pct, 75);
    CHECK_EQ_INT(c.max_deliveries, 0);
    CHECK_EQ_INT(c.max_connections, 0);
    CHECK_EQ_INT(c.max_conns_per_address, 1000);
    CHECK_EQ_INT(c.write_timeout_s, 20);
    CHECK_EQ_INT(c.tcp_send_buffer, 0);
    config_free(&c);
    CHECK(c.listen == NULL && c.log_level == NULL);
}

TEST(environment_and_flags)
{
    clear_env();
    setenv("COJAM_TICK_MS", "200", 1);
    setenv("COJAM_REDIS", "unix:/tmp/r.sock", 1);
    setenv("COJAM_LISTEN", "0.0.0.0:9000", 1);
    setenv("COJAM_WEB_ROOT", "", 1); /* empty: as if unset */
    struct config c;
    CHECK_EQ_INT(load(&c, NULL, NULL), 0);
    CHECK_EQ_INT(c.tick_ms, 200);
    CHECK_EQ_STR(c.redis, "unix:/tmp/r.sock");
    CHECK_EQ_STR(c.listen_host, "0.0.0.0");
    CHECK_EQ_INT(c.listen_port, 9000);
    CHECK_EQ_STR(c.web_root, "./web-client/public");
    config_free(&c);

    /* Flags beat the environment, in both spellings; the last flag wins. */
    CHECK_EQ_INT(load(&c, NULL,
                      ARGS("--tick-ms=100", "--redis", "127.0.0.1:7000", "--listen", "[::1]:81",
                           "--rank-top=5", "--rank-top=7")),
                 0);
    CHECK_EQ_INT(c.tick_ms, 100);
    CHECK_EQ_STR(c.redis, "127.0.0.1:7000");
    CHECK_EQ_STR(c.redis_host, "127.0.0.1");
    CHECK_EQ_INT(c.redis_port, 7000);
    CHECK_EQ_STR(c.listen_host, "[::1]");
    CHECK_EQ_INT(c.listen_port, 81);
    CHECK_EQ_INT(c.rank_top, 7);
    config_free(&c);
    clear_env();
}

TEST(bounds)
{
    clear_env();
    struct config c;
    CHECK_EQ_INT(load(&c, NULL, ARGS("--event-loop", "poll")), 0);
    CHECK_EQ_STR(c.event_loop, "poll");
    config_free(&c);
    CHECK_EQ_INT(load(&c, NULL, ARGS("--tick-ms=5", "--loop-pace-us=-1")), 0);
    CHECK_EQ_INT(c.tick_ms, 5);
    config_free(&c);
    CHECK_EQ_INT(load(&c, NULL, ARGS("--tick-ms=1000", "--resume-max-events=0")), 0);
    CHECK_EQ_INT(c.tick_ms, 1000);
    CHECK_EQ_INT(c.resume_max_events, 0);
    config_free(&c);
    static const char *const bad[] = {"--tick-ms=4",
                                      "--tick-ms=1001",
                                      "--tick-ms=",
                                      "--tick-ms=5x",
                                      "--tick-ms=0x10",
                                      "--loop-pace-us=-2",
                                      "--tick-ms=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err;
        int rc = load(&c, &err, ARGS(bad[i]));
        if (rc != -EINVAL)
            fprintf(stderr, "  %s: %d\n", bad[i], rc);
        CHECK_EQ_INT(rc, -EINVAL);
        CHECK(strstr(err, "expected an integer in") != NULL);
        free(err);
        config_free(&c);
    }
    char *err;
    setenv("COJAM_MAX_ITEMS", "0", 1);
    CHECK_EQ_INT(load(&c, &err, NULL), -EINVAL);
    CHECK(strstr(err, "environment max-items") != NULL);
    free(err);
    config_free(&c);
    /* A bad environment value is an error even when a flag would replace it. */
    CHECK_EQ_INT(load(&c, NULL, ARGS("--max-items=5")), -EINVAL);
    config_free(&c);
    clear_env();
}

TEST(errors)
{
    clear_env();
    struct config c;
    static const struct {
        const char *arg, *arg2, *says;
    } cases[] = {
        {"--no-such", NULL, "unknown option '--no-such'"},
        {"--tick", NULL, "unknown option '--tick'"}, /* no prefix matching */
        {"stray", NULL, "unexpected argument 'stray'"},
        {"-x", NULL, "unexpected argument '-x'"},
        {"--tick-ms", NULL, "option --tick-ms needs a value"},
        {"--listen=8080", NULL, "--listen: expected HOST:PORT"},
        {"--listen", "host:70000", "--listen: expected HOST:PORT"},
        {"--listen", "host:80x", "--listen: expected HOST:PORT"},
        {"--listen", "host:-1", "--listen: expected HOST:PORT"},
        /* issue 10: an empty secret is refused at start, not used */
        {"--admin-token", "x", "--admin-token is not accepted on the command line"},
        {"--admin-token=", NULL, "--admin-token is not accepted on the command line"},
        /* parse_redis took "host:6379x" and "host:" with atoi */
        {"--redis", "host:6379x", "--redis: expected HOST:PORT"},
        {"--redis", "host:", "--redis: expected HOST:PORT"},
        {"--redis", ":6379", "--redis: expected HOST:PORT"},
        {"--redis", "host:0", "--redis: expected HOST:PORT"},
        {"--redis", "host:65536", "--redis: expected HOST:PORT"},
        {"--redis", "host:+80", "--redis: expected HOST:PORT"},
        {"--redis", "unix:", "--redis: unix: needs a path"},
        {"--event-loop", "epoll", "--event-loop: expected libev or poll, got 'epoll'"},
        {"--event-loop", "", "--event-loop: expected libev or poll, got ''"},
        {"--token-secret", "", "--token-secret is not accepted on the command line"},
        {"--token-secret", "key\n", "--token-secret is not accepted on the command line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err;
        int rc = cases[i].arg2 ? load(&c, &err, ARGS(cases[i].arg, cases[i].arg2))
                               : load(&c, &err, ARGS(cases[i].arg));
        CHECK_EQ_INT(rc, -EINVAL);
        if (!strstr(err, cases[i].says))
            fprintf(stderr, "  %s: said '%s'\n", cases[i].arg, err);
        CHECK(strstr(err, cases[i].says) != NULL);
        free(err);
        config_free(&c);
    }
    char host[300];
    memset(host, 'h', 290);
    strcpy(host + 290, ":80"); /* a host longer than listen_host */
    CHECK_EQ_INT(load(&c, NULL, ARGS("--listen", host)), -EINVAL);
    config_free(&c);
    /* A set but blank environment variable is "not set" (generated), a blank flag is an error. */
    setenv("COJAM_ADMIN_TOKEN", "", 1);
    CHECK_EQ_INT(load(&c, NULL, ARGS("--tick-ms", "50")), 0);
    CHECK(c.admin_token == NULL);
    config_free(&c);
    clear_env();
}

TEST(help_and_version)
{
    clear_env();
    struct config c;
    struct capture out;
    capture_begin(&out, 1);
    int rc = load(&c, NULL, ARGS("--help"));
    char *text = capture_end(&out);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(text, "--tick-ms N") != NULL);
    CHECK(strstr(text, "[env COJAM_TICK_MS, default 50]") != NULL);
    free(text);
    config_free(&c);
    capture_begin(&out, 1);
    rc = load(&c, NULL, ARGS("--version"));
    text = capture_end(&out);
    CHECK_EQ_INT(rc, 1);
    CHECK_EQ_STR(text, "cojamd " COJAM_VERSION "\n");
    free(text);
    config_free(&c);
}

/* A secret file under /tmp with 'text' and 'mode'; its path into 'path' (unlink it). */
static void secret_file(char path[64], const char *text, mode_t mode)
{
    snprintf(path, 64, "/tmp/test_config.XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(fchmod(fd, mode) == 0);
    close(fd);
}

#define SECRET_32 "0123456789abcdef0123456789abcdef"

/* Secrets never on the command line: a flag naming one is refused and says where it goes. */
TEST(secrets_not_on_the_command_line)
{
    clear_env();
    struct config c;
    static const char *const flags[][2] = {{"--token-secret", "COJAM_TOKEN_SECRET"},
                                           {"--redis-password", "COJAM_REDIS_PASSWORD"},
                                           {"--admin-token", "COJAM_ADMIN_TOKEN"}};
    for (size_t i = 0; i < 3; i++) {
        char *err;
        CHECK_EQ_INT(load(&c, &err, ARGS(flags[i][0], SECRET_32)), -EINVAL);
        CHECK(strstr(err, "not accepted on the command line") != NULL);
        CHECK(strstr(err, flags[i][1]) != NULL);
        CHECK(strstr(err, SECRET_32) == NULL);
        free(err);
        config_free(&c);
    }
    /* --token-secret "" used to be accepted, and a first join then called abort(). */
    CHECK_EQ_INT(load(&c, NULL, ARGS("--token-secret", "")), -EINVAL);
    config_free(&c);
    setenv("COJAM_TOKEN_SECRET", SECRET_32, 1);
    setenv("COJAM_REDIS_PASSWORD", "pw", 1);
    setenv("COJAM_REDIS_USER", "cojamd", 1);
    CHECK_EQ_INT(load(&c, NULL, NULL), 0);
    CHECK_EQ_STR(c.token_secret, SECRET_32);
    CHECK_EQ_STR(c.redis_password, "pw");
    CHECK_EQ_STR(c.redis_user, "cojamd");
    config_free(&c);
    CHECK(c.token_secret == NULL && c.redis_password == NULL);
    clear_env();
}

/* A token secret of CONFIG_SECRET_MIN..CONFIG_SECRET_MAX bytes, from either source. */
TEST(token_secret_length)
{
    clear_env();
    struct config c;
    char *err, path[64], big[CONFIG_SECRET_MAX + 2];
    setenv("COJAM_TOKEN_SECRET", "short", 1);
    CHECK_EQ_INT(load(&c, &err, NULL), -EINVAL);
    CHECK(strstr(err, "token secret (COJAM_TOKEN_SECRET) is 5 bytes") != NULL);
    free(err);
    config_free(&c);
    memset(big, 'k', CONFIG_SECRET_MAX);
    big[CONFIG_SECRET_MAX] = '\0';
    setenv("COJAM_TOKEN_SECRET", big, 1);
    CHECK_EQ_INT(load(&c, NULL, NULL), 0);
    config_free(&c);
    strcat(big, "k");
    setenv("COJAM_TOKEN_SECRET", big, 1);
    CHECK_EQ_INT(load(&c, NULL, NULL), -EINVAL);
    config_free(&c);
    clear_env();

    secret_file(path, "\n", 0600);
    CHECK_EQ_INT(load(&c, &err, ARGS("--token-secret-file", path)), -EINVAL);
    CHECK(strstr(err, "the file is empty") != NULL);
    free(err);
    config_free(&c);
    unlink(path);
    secret_file(path, "0123456789abcdef\n", 0600);
    CHECK_EQ_INT(load(&c, &err, ARGS("--token-secret-file", path)), -EINVAL);
    CHECK(strstr(err, "(--token-secret-file) is 16 bytes") != NULL);
    free(err);
    config_free(&c);
    unlink(path);
}

/* Secret files: read whole, one newline dropped, a warning when others may read them; one source
 * per secret; a user needs a password. */
TEST(secret_files)
{
    clear_env();
    struct config c;
    char *err, path[64];
    secret_file(path, "pass word\r\n", 0600);
    CHECK_EQ_INT(load(&c, &err, ARGS("--redis-password-file", path, "--redis-user", "cojamd")), 0);
    CHECK_EQ_STR(c.redis_password, "pass word");
    CHECK_EQ_STR(c.redis_user, "cojamd");
    CHECK_EQ_STR(err, "");
    free(err);
    config_free(&c);
    CHECK(chmod(path, 0644) == 0);
    CHECK_EQ_INT(load(&c, &err, ARGS("--redis-password-file", path)), 0);
    CHECK(strstr(err, "warning") != NULL && strstr(err, "mode 644") != NULL);
    CHECK(strstr(err, "pass word") == NULL);
    free(err);
    config_free(&c);
    setenv("COJAM_REDIS_PASSWORD", "other", 1);
    CHECK_EQ_INT(load(&c, &err, ARGS("--redis-password-file", path)), -EINVAL);
    CHECK(strstr(err, "both COJAM_REDIS_PASSWORD and --redis-password-file") != NULL);
    free(err);
    config_free(&c);
    clear_env();
    unlink(path);
    secret_file(path, SECRET_32 "\n", 0600);
    setenv("COJAM_TOKEN_SECRET_FILE", path, 1);
    CHECK_EQ_INT(load(&c, NULL, NULL), 0);
    CHECK_EQ_STR(c.token_secret, SECRET_32);
    config_free(&c);
    clear_env();
    unlink(path);
    CHECK_EQ_INT(load(&c, &err, ARGS("--redis-password-file", path)), -EINVAL);
    CHECK(strstr(err, "No such file") != NULL);
    free(err);
    config_free(&c);
    CHECK_EQ_INT(load(&c, &err, ARGS("--redis-user", "cojamd")), -EINVAL);
    CHECK(strstr(err, "--redis-user needs a password") != NULL);
    free(err);
    config_free(&c);

    /* The admin token (issue 10: a flag showed it in ps): from a file, or the environment. */
    secret_file(path, "admin-from-file\n", 0600);
    CHECK_EQ_INT(load(&c, NULL, ARGS("--admin-token-file", path)), 0);
    CHECK_EQ_STR(c.admin_token, "admin-from-file");
    config_free(&c);
    setenv("COJAM_ADMIN_TOKEN", "admin-from-env", 1);
    CHECK_EQ_INT(load(&c, &err, ARGS("--admin-token-file", path)), -EINVAL);
    CHECK(strstr(err, "both COJAM_ADMIN_TOKEN and --admin-token-file") != NULL);
    free(err);
    config_free(&c);
    CHECK_EQ_INT(load(&c, NULL, NULL), 0);
    CHECK_EQ_STR(c.admin_token, "admin-from-env");
    config_free(&c);
    setenv("COJAM_ADMIN_TOKEN", "two words", 1);
    CHECK_EQ_INT(load(&c, &err, NULL), -EINVAL);
    CHECK(strstr(err, "must be non-empty, without spaces") != NULL);
    free(err);
    config_free(&c);
    clear_env();
    unlink(path);
}

int main(void)
{
    RUN(defaults);
    RUN(environment_and_flags);
    RUN(bounds);
    RUN(errors);
    RUN(help_and_version);
    RUN(secrets_not_on_the_command_line);
    RUN(token_secret_length);
    RUN(secret_files);
    return test_done();
}
