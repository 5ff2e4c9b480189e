/* SPDX-License-Identifier: MIT
 * sentinel.c - parsing the sentinels' list and their answer, and the retry delay (see
 * sentinel.h). Pure: strings in, values out.
 */
#include "sentinel.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* A port in decimal digits only, 1..65535 ("6379x", "", "+1" and "0" are refused). */
static int parse_port(const char *p, size_t len)
{
    if (len == 0 || len > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v >= 1 && v <= 65535 ? (int)v : -1;
}

static bool set_host(struct sentinel_addr *a, const char *h, size_t len)
{
    if (len == 0 || len > SENTINEL_HOST_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f)
            return false;
    memcpy(a->host, h, len);
    a->host[len] = '\0';
    return true;
}

/* One "HOST:PORT" or "[V6]:PORT" entry of 'len' bytes, spaces trimmed by the caller. */
static int parse_entry(const char *e, size_t len, struct sentinel_addr *out)
{
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--)
        if (e[i - 1] == ':') {
            colon = e + i - 1;
            break;
        }
    if (!colon)
        return -EINVAL;
    const char *h = e;
    size_t hlen = (size_t)(colon - e);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    } else if (memchr(h, ':', hlen)) {
        return -EINVAL; /* an IPv6 literal needs its brackets, or its port is ambiguous */
    }
    int port = parse_port(colon + 1, (size_t)(e + len - colon - 1));
    if (port < 0 || !set_host(out, h, hlen))
        return -EINVAL;
    out->port = port;
    return 0;
}

int sentinel_parse_list(const char *list, struct sentinel_addr *out, size_t max, size_t *n)
{
    *n = 0;
    if (!list)
        return -EINVAL;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (*n == max || parse_entry(p, len, &out[*n]) < 0)
            return -EINVAL;
        (*n)++;
        if (!end)
            return 0;
        p = end + 1;
    }
}

int sentinel_parse_reply(const char *ip, size_t ip_len, const char *port, size_t port_len,
                         struct sentinel_addr *out)
{
    int p = parse_port(port, port_len);
    if (p < 0 || !ip || !set_host(out, ip, ip_len))
        return -EINVAL;
    out->port = p;
    return 0;
}

/* Whether the comma list 'list' has the item 'word'. */
static bool has_flag(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && memcmp(p, word, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

bool sentinel_replica_usable(const char *flags, const char *link)
{
    return flags && link && strcmp(link, "ok") == 0 && has_flag(flags, "slave") &&
           !has_flag(flags, "s_down") && !has_flag(flags, "o_down") &&
           !has_flag(flags, "disconnected");
}

bool sentinel_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > SENTINEL_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

int64_t sentinel_backoff_ms(int *step_ms, uint64_t rnd)
{
    *step_ms = *step_ms ? *step_ms * 2 : SENTINEL_BACKOFF_MIN_MS;
    if (*step_ms > SENTINEL_BACKOFF_MAX_MS)
        *step_ms = SENTINEL_BACKOFF_MAX_MS;
    return *step_ms / 2 + (int64_t)(rnd % (uint64_t)*step_ms);
}
