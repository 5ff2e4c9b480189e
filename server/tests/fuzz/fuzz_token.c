/* SPDX-License-Identifier: MIT
 * fuzz_token.c - libFuzzer target for auth_token_verify. Each input is tried twice: as token text,
 * and as a payload that this driver signs with the fixed key, so the payload parser behind the MAC
 * check is reached too. Invariant: whatever verifies re-signs to exactly the same text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define NOW_S 1700000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[AUTH_KEY_BYTES] = "cojam-fuzz-key-0123456789abcdef";

static void b64url(const uint8_t *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = a[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

static bool is_zero(const struct token *t)
{
    return t->jam[0] == '\0' && t->pid == 0 && t->role == ROLE_NONE && t->exp_s == 0;
}

static void check(const char *s)
{
    struct token t;
    memset(&t, 0xa5, sizeof t);
    int rc = auth_token_verify(key, sizeof key, s, NOW_S, &t);
    if (rc != 0 && rc != -EINVAL && rc != -ETIMEDOUT)
        abort();
    if (rc == -EINVAL) {
        if (!is_zero(&t))
            abort();
        return;
    }
    if (rc == -ETIMEDOUT) {
        /* Expired now, so it must verify at an earlier time (expiries are never negative). */
        if (!is_zero(&t) || auth_token_verify(key, sizeof key, s, -1, &t) != 0 || t.exp_s > NOW_S)
            abort();
    }
    if (strlen(s) > MSG_TOKEN_MAX || strchr(s, '=') || strlen(t.jam) != MSG_CODE_LEN ||
        strspn(t.jam, "0123456789") != MSG_CODE_LEN || t.pid < 0 || t.pid >= (int64_t)1 << 53 ||
        (t.role != ROLE_CITIZEN && t.role != ROLE_MODERATOR && t.role != ROLE_SCREEN))
        abort();
    char again[MSG_TOKEN_MAX + 1];
    int n = auth_token_sign(key, sizeof key, &t, again, sizeof again);
    if (n < 0 || (size_t)n != strlen(s) || strcmp(again, s) != 0)
        abort();
    /* Any other key must refuse it. */
    uint8_t other[AUTH_KEY_BYTES];
    memcpy(other, key, sizeof other);
    other[0] ^= 0x80;
    if (auth_token_verify(other, sizeof other, s, NOW_S, NULL) != -EINVAL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    /* 1. The bytes as token text (up to the first NUL, as a C string would be). */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check(s);
    free(s);

    /* 2. The bytes as a payload, correctly signed: exercises everything after the MAC check. */
    char tok[(4096 + 2) / 3 * 4 + 1 + 44 + 1];
    uint8_t sig[32];
    unsigned int sig_len = 0;
    if (!HMAC(EVP_sha256(), key, sizeof key, data, size, sig, &sig_len))
        abort();
    b64url(data, size, tok);
    size_t o = strlen(tok);
    tok[o++] = '.';
    b64url(sig, sizeof sig, tok + o);
    check(tok);
    return 0;
}
