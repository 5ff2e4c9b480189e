/* SPDX-License-Identifier: MIT
 * auth.c - session tokens (HMAC-SHA256 over a small text payload), random join codes and secrets,
 * SHA-256 of moderator secrets and constant-time comparison. The only file that includes OpenSSL.
 * It reads no clock and keeps no state but the SHA-256 implementation (fetched once) and a digest
 * context per thread: keys and 'now_s' come from the caller. Trade-off: tokens
 * are stateless (nothing to store or revoke), so a leaked token stays valid until it expires.
 */
#include "auth.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MAC_BYTES 32 /* HMAC-SHA256 */
#define MAC_CHARS 43 /* base64url of 32 bytes, unpadded */
/* pid < 2^53 so that JavaScript clients read it exactly (Number.MAX_SAFE_INTEGER + 1). */
#define PID_LIMIT ((int64_t)1 << 53)
/* The longest payload: "v1|" + 6 + "|" + 16 digits + "|moderator|" + 19 digits = 56 bytes. */
#define PAYLOAD_MAX 64
/* Decoding at most MSG_TOKEN_MAX characters yields at most 3/4 of that many bytes. */
#define DECODED_MAX (MSG_TOKEN_MAX / 4 * 3 + 3)

/* Wire names indexed by enum role; kept here so auth.c does not depend on msg.c. */
static const char *const role_names[] = {
    [ROLE_CITIZEN] = "citizen",
    [ROLE_MODERATOR] = "moderator",
    [ROLE_SCREEN] = "screen",
};
#define ROLE_COUNT ((int)(sizeof role_names / sizeof role_names[0]))

/* ------------------------------------------------------------------------------------------ */
/* base64url, no padding */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* Encode 'n' bytes into 'out', which holds at least b64_encoded_len(n) + 1. Returns the length. */
static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Strictly decode 'n' characters into 'out' (room for 'out_size' bytes). Rejects '=', characters
 * outside the alphabet, a length of 1 mod 4 and non-zero trailing bits, so every byte string has
 * exactly one accepted spelling. Returns the decoded length or -EINVAL. */
static int b64_decode(const char *in, size_t n, uint8_t *out, size_t out_size)
{
    if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > out_size)
        return -EINVAL;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0)
            return -EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* the 2 or 4 leftover bits of a final partial group must be zero */
        return -EINVAL;
    return (int)o;
}

/* ------------------------------------------------------------------------------------------ */
/* payload */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_code(const char *s, size_t n)
{
    if (n != MSG_CODE_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* Parse a canonical non-negative decimal ("0" or no leading zero, no sign) up to 'max'. */
static bool parse_uint(const char *s, size_t n, int64_t max, int64_t *out)
{
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0'))
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        int d = s[i] - '0';
        if (v > (max - d) / 10) /* v * 10 + d would exceed 'max' (and maybe overflow) */
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static int parse_role(const char *s, size_t n)
{
    for (int r = 0; r < ROLE_COUNT; r++)
        if (role_names[r] && strlen(role_names[r]) == n && memcmp(role_names[r], s, n) == 0)
            return r;
    return -1;
}

static bool is_token_valid(const struct token *t)
{
    return is_code(t->jam, strnlen(t->jam, sizeof t->jam)) && t->pid >= 0 && t->pid < PID_LIMIT &&
           (int)t->role > ROLE_NONE && (int)t->role < ROLE_COUNT && t->exp_s >= 0;
}

/* Split "v1|<jam>|<pid>|<role>|<exp>" (not NUL-terminated, may contain any byte) into 'out'. */
static bool parse_payload(const char *p, size_t n, struct token *out)
{
    const char *field[5];
    size_t len[5];
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '|')
            continue;
        if (k == 5)
            return false;
        field[k] = p + start;
        len[k] = i - start;
        k++;
        start = i + 1;
    }
    if (k != 5 || len[0] != 2 || memcmp(field[0], "v1", 2) != 0 || !is_code(field[1], len[1]))
        return false;
    int role = parse_role(field[3], len[3]);
    if (role <= ROLE_NONE)
        return false;
    if (!parse_uint(field[2], len[2], PID_LIMIT - 1, &out->pid) ||
        !parse_uint(field[4], len[4], INT64_MAX, &out->exp_s))
        return false;
    memcpy(out->jam, field[1], MSG_CODE_LEN);
    out->jam[MSG_CODE_LEN] = '\0';
    out->role = (enum role)role;
    return true;
}

static bool mac(const uint8_t *key, size_t key_len, const void *data, size_t n,
                uint8_t out[MAC_BYTES])
{
    unsigned int out_len = 0;
    if (key_len > INT_MAX)
        return false;
    return HMAC(EVP_sha256(), key, (int)key_len, data, n, out, &out_len) && out_len == MAC_BYTES;
}

/* ------------------------------------------------------------------------------------------ */
/* tokens */

/* Beyond auth.h: -EINVAL when 't' is outside what verify accepts (so every signed token verifies)
 * or the key is empty, -EIO if OpenSSL fails. */
int auth_token_sign(const uint8_t *key, size_t key_len, const struct token *t, char *out,
                    size_t out_size)
{
    if (!key || key_len == 0 || !t || !is_token_valid(t))
        return -EINVAL;
    char payload[PAYLOAD_MAX];
    int n = snprintf(payload, sizeof payload, "v1|%s|%lld|%s|%lld", t->jam, (long long)t->pid,
                     role_names[t->role], (long long)t->exp_s);
    if (n < 0 || (size_t)n >= sizeof payload)
        return -EINVAL;
    size_t need = b64_encoded_len((size_t)n) + 1 + MAC_CHARS + 1;
    if (!out || out_size < need)
        return -ENOSPC;
    uint8_t sig[MAC_BYTES];
    if (!mac(key, key_len, payload, (size_t)n, sig))
        return -EIO;
    size_t o = b64_encode((const uint8_t *)payload, (size_t)n, out);
    out[o++] = '.';
    o += b64_encode(sig, sizeof sig, out + o);
    return (int)o;
}

/* 'out' may be NULL; on any failure it is zeroed (role ROLE_NONE), never half filled. */
int auth_token_verify(const uint8_t *key, size_t key_len, const char *s, int64_t now_s,
                      struct token *out)
{
    struct token t = {0};
    if (out)
        memset(out, 0, sizeof *out);
    if (!key || key_len == 0 || !s)
        return -EINVAL;
    size_t n = strnlen(s, MSG_TOKEN_MAX + 1);
    if (n > MSG_TOKEN_MAX)
        return -EINVAL;
    const char *dot = memchr(s, '.', n);
    if (!dot)
        return -EINVAL;
    size_t p_chars = (size_t)(dot - s), m_chars = n - p_chars - 1;
    if (m_chars != MAC_CHARS)
        return -EINVAL;

    uint8_t payload[DECODED_MAX], sig[MAC_BYTES + 2], expect[MAC_BYTES];
    int p_len = b64_decode(s, p_chars, payload, sizeof payload);
    int m_len = b64_decode(dot + 1, m_chars, sig, sizeof sig);
    if (p_len <= 0 || m_len != MAC_BYTES)
        return -EINVAL;
    /* Authenticate first: no payload field is looked at before the MAC matches. */
    if (!mac(key, key_len, payload, (size_t)p_len, expect) ||
        CRYPTO_memcmp(expect, sig, MAC_BYTES) != 0)
        return -EINVAL;
    if (!parse_payload((const char *)payload, (size_t)p_len, &t))
        return -EINVAL;
    if (t.exp_s <= now_s)
        return -ETIMEDOUT;
    if (out)
        *out = t;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* randomness */

int auth_random_bytes(uint8_t *buf, size_t n)
{
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(buf, chunk) != 1)
            return -EIO;
        buf += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

int auth_random_code(char out[MSG_CODE_LEN + 1])
{
    /* Rejection sampling: 4294000000 is the largest multiple of 10^6 not above 2^32, so values
     * below it map to 0..999999 uniformly. A draw is rejected with probability ~0.02%. */
    const uint32_t range = 1000000, limit = (uint32_t)((UINT64_C(1) << 32) / range * range);
    uint32_t v;
    do {
        uint8_t b[4];
        if (auth_random_bytes(b, sizeof b) < 0)
            return -EIO;
        v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    } while (v >= limit);
    v %= range;
    for (int i = MSG_CODE_LEN - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[MSG_CODE_LEN] = '\0';
    return 0;
}

int auth_random_secret(char out[AUTH_SECRET_CHARS + 1])
{
    uint8_t b[16];
    _Static_assert(AUTH_SECRET_CHARS == (16 * 4 + 2) / 3, "secret is base64url of 16 bytes");
    if (auth_random_bytes(b, sizeof b) < 0)
        return -EIO;
    b64_encode(b, sizeof b, out);
    OPENSSL_cleanse(b, sizeof b);
    return 0;
}

int auth_invite_secret(const uint8_t *key, size_t key_len, const char *code,
                       const char *jam_secret_sha256, int64_t id,
                       char out[AUTH_INVITE_SECRET_CHARS + 1])
{
    static const char hex[] = "0123456789abcdef";
    char data[160];
    uint8_t m[MAC_BYTES];
    if (!key || key_len == 0)
        return -EINVAL;
    int n = snprintf(data, sizeof data, "cojam-invite\n%s\n%s\n%lld", code, jam_secret_sha256,
                     (long long)id);
    if (n < 0 || (size_t)n >= sizeof data || !mac(key, key_len, data, (size_t)n, m))
        return -EIO;
    out[0] = 'i';
    out[1] = '_';
    for (int i = 0; i < 16; i++) {
        out[2 + 2 * i] = hex[m[i] >> 4];
        out[3 + 2 * i] = hex[m[i] & 15];
    }
    out[AUTH_INVITE_SECRET_CHARS] = '\0';
    OPENSSL_cleanse(m, sizeof m);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* hashing and comparison */

/* Fetched once: EVP_sha256() looks the implementation up in the provider on every digest, and the
 * event chain hashes a million events at start-up. A fetched EVP_MD is shared between threads;
 * each thread keeps one digest context (EVP_Digest makes and frees one per call), freed with the
 * thread. */
static EVP_MD *the_sha256;
static pthread_key_t the_ctx_key;
static pthread_once_t the_sha256_once = PTHREAD_ONCE_INIT;

static void free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void fetch_sha256(void)
{
    the_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (pthread_key_create(&the_ctx_key, free_ctx) != 0)
        the_sha256 = NULL; /* then every digest fails: auth_sha256 zeroes, the hex is empty */
}

static bool sha256(const void *data, size_t n, uint8_t out[SHA256_DIGEST_LENGTH])
{
    pthread_once(&the_sha256_once, fetch_sha256);
    if (!the_sha256)
        return false;
    EVP_MD_CTX *ctx = pthread_getspecific(the_ctx_key);
    if (!ctx) {
        if (!(ctx = EVP_MD_CTX_new()))
            return false;
        pthread_setspecific(the_ctx_key, ctx);
    }
    unsigned int len = 0;
    return EVP_DigestInit_ex2(ctx, the_sha256, NULL) == 1 && EVP_DigestUpdate(ctx, data, n) == 1 &&
           EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == SHA256_DIGEST_LENGTH;
}

bool auth_sha256(const void *data, size_t n, uint8_t out[32])
{
    if (sha256(data, n, out))
        return true;
    memset(out, 0, SHA256_DIGEST_LENGTH);
    return false;
}

void auth_sha256_hex(const void *data, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[SHA256_DIGEST_LENGTH];
    if (!sha256(data, n, d)) {
        out[0] = '\0'; /* matches nothing: auth_secret_matches needs 64 hex digits */
        return;
    }
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}

bool auth_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool auth_secret_matches(const char *given, const char *sha256_hex)
{
    uint8_t want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
    if (!given || !sha256_hex || strnlen(sha256_hex, 65) != 64)
        return false;
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        int hi = hex_value(sha256_hex[2 * i]), lo = hex_value(sha256_hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        want[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!sha256(given, strlen(given), got))
        return false;
    return CRYPTO_memcmp(want, got, sizeof want) == 0;
}

/* OpenSSL's first queued error as text, the queue cleared. */
static void ssl_reason(char *out, size_t size)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, out, size);
    else
        snprintf(out, size, "no PEM data found");
    ERR_clear_error();
}

int auth_tls_pair_check(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
                        char *what, size_t size)
{
    char why[200];
    BIO *cb = BIO_new_mem_buf(cert_pem, (int)cert_len),
        *kb = BIO_new_mem_buf(key_pem, (int)key_len);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = x && kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    int rc = -EINVAL;
    if (!x) {
        ssl_reason(why, sizeof why);
        snprintf(what, size, "certificate: %s", why);
    } else if (!k || X509_check_private_key(x, k) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(what, size, "key: %s", k ? "it is not the certificate's key" : why);
    } else {
        char subject[160] = "?", until[40] = "?";
        X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
        BIO *b = BIO_new(BIO_s_mem());
        if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1) {
            int len = BIO_read(b, until, sizeof until - 1);
            until[len > 0 ? len : 0] = '\0';
        }
        BIO_free(b);
        snprintf(what, size, "%s, valid until %s", subject, until);
        rc = 0;
    }
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(cb);
    BIO_free(kb);
    return rc;
}

int auth_tls_policy(void *ssl_ctx)
{
    return SSL_CTX_set_min_proto_version((SSL_CTX *)ssl_ctx, TLS1_2_VERSION) == 1 ? 0 : -EINVAL;
}
