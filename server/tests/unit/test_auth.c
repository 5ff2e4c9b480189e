/* SPDX-License-Identifier: MIT
 * test_auth.c - unit tests for auth.c: token sign/verify (round trip, tampering, expiry, strict
 * base64url, hostile payloads), random codes and secrets, SHA-256 and constant-time comparison.
 * Payloads with bad fields are signed here with OpenSSL's HMAC so they get past the MAC check.
 */
#include <errno.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "test.h"

static const uint8_t key[AUTH_KEY_BYTES] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                            11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                            22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* Computed independently (Python hmac/base64) for 'key' and "v1|482913|7|citizen|1700000000". */
static const char known_token[] =
    "djF8NDgyOTEzfDd8Y2l0aXplbnwxNzAwMDAwMDAw.k8xWBOHP8_12o8rHVytpXk0pOkNvgQCPLaSoeo0Q1B8";

#define NOW 1700000000LL

static struct token tok(const char *jam, int64_t pid, enum role role, int64_t exp_s)
{
    struct token t = {0};
    snprintf(t.jam, sizeof t.jam, "%s", jam);
    t.pid = pid;
    t.role = role;
    t.exp_s = exp_s;
    return t;
}

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

/* A correctly signed token around an arbitrary payload of 'n' bytes. */
static void forge(const uint8_t *k, const void *payload, size_t n, char *out)
{
    uint8_t sig[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), k, AUTH_KEY_BYTES, payload, n, sig, &len);
    b64url(payload, n, out);
    size_t o = strlen(out);
    out[o++] = '.';
    b64url(sig, sizeof sig, out + o);
}

static int verify_payload(const char *payload, struct token *out)
{
    char s[1024];
    forge(key, payload, strlen(payload), s);
    return auth_token_verify(key, sizeof key, s, NOW, out);
}

TEST(round_trip_every_role)
{
    const enum role roles[] = {ROLE_CITIZEN, ROLE_MODERATOR, ROLE_SCREEN};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        struct token t = tok("012345", roles[i] == ROLE_SCREEN ? 0 : 42, roles[i], NOW + 86400);
        char s[MSG_TOKEN_MAX + 1];
        int n = auth_token_sign(key, sizeof key, &t, s, sizeof s);
        CHECK(n > 0);
        CHECK_EQ_INT(n, strlen(s));
        CHECK(strchr(s, '=') == NULL);
        struct token u;
        CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, NOW, &u), 0);
        CHECK_EQ_STR(u.jam, "012345");
        CHECK_EQ_INT(u.pid, t.pid);
        CHECK_EQ_INT(u.role, roles[i]);
        CHECK_EQ_INT(u.exp_s, NOW + 86400);
        CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, NOW, NULL), 0);
    }
}

TEST(known_vector)
{
    struct token t = tok("482913", 7, ROLE_CITIZEN, 1700000000), u;
    char s[MSG_TOKEN_MAX + 1];
    CHECK_EQ_INT(auth_token_sign(key, sizeof key, &t, s, sizeof s), strlen(known_token));
    CHECK_EQ_STR(s, known_token);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, known_token, 1699999999, &u), 0);
    CHECK_EQ_INT(u.pid, 7);
}

TEST(extremes_fit_and_round_trip)
{
    struct token t = tok("999999", ((int64_t)1 << 53) - 1, ROLE_MODERATOR, INT64_MAX), u;
    char s[MSG_TOKEN_MAX + 1];
    int n = auth_token_sign(key, sizeof key, &t, s, sizeof s);
    CHECK(n > 0 && n <= MSG_TOKEN_MAX);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, NOW, &u), 0);
    CHECK_EQ_INT(u.pid, ((int64_t)1 << 53) - 1);
    CHECK_EQ_INT(u.exp_s, INT64_MAX);
    t = tok("000000", 0, ROLE_SCREEN, 0);
    CHECK(auth_token_sign(key, sizeof key, &t, s, sizeof s) > 0);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, -1, &u), 0);
}

TEST(sign_rejects_bad_input_and_small_buffer)
{
    char s[MSG_TOKEN_MAX + 1];
    struct token t = tok("482913", 7, ROLE_CITIZEN, NOW);
    int n = auth_token_sign(key, sizeof key, &t, s, sizeof s);
    CHECK(n > 0);
    CHECK_EQ_INT(auth_token_sign(key, sizeof key, &t, s, (size_t)n), -ENOSPC);
    CHECK_EQ_INT(auth_token_sign(key, sizeof key, &t, s, (size_t)n + 1), n);
    CHECK_EQ_INT(auth_token_sign(key, sizeof key, &t, NULL, 0), -ENOSPC);
    CHECK_EQ_INT(auth_token_sign(key, 0, &t, s, sizeof s), -EINVAL);
    struct token bad[] = {
        tok("48291", 7, ROLE_CITIZEN, NOW),   tok("48291a", 7, ROLE_CITIZEN, NOW),
        tok("482913", -1, ROLE_CITIZEN, NOW), tok("482913", (int64_t)1 << 53, ROLE_CITIZEN, NOW),
        tok("482913", 7, ROLE_NONE, NOW),     tok("482913", 7, (enum role)4, NOW),
        tok("482913", 7, ROLE_CITIZEN, -1),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(auth_token_sign(key, sizeof key, &bad[i], s, sizeof s), -EINVAL);
}

TEST(tampered_payload)
{
    /* Same signature, payload re-encoded with pid 8 instead of 7. */
    char s[256], other[64];
    b64url((const uint8_t *)"v1|482913|8|citizen|1700000000", 30, other);
    snprintf(s, sizeof s, "%s%s", other, strchr(known_token, '.'));
    struct token u;
    u.pid = 99;
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, &u), -EINVAL);
    CHECK_EQ_INT(u.pid, 0); /* 'out' is cleared on failure */
    CHECK_EQ_INT(u.role, ROLE_NONE);
    /* Every single-character change anywhere in the text is refused. */
    for (size_t i = 0; i < strlen(known_token); i++) {
        snprintf(s, sizeof s, "%s", known_token);
        s[i] = s[i] == 'A' ? 'B' : 'A';
        CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, &u), -EINVAL);
    }
}

TEST(tampered_signature)
{
    char s[256];
    snprintf(s, sizeof s, "%s", known_token);
    char *sig = strchr(s, '.') + 1;
    sig[5] = sig[5] == 'x' ? 'y' : 'x';
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    /* The last character of a 32-byte MAC carries 2 unused bits: flipping them keeps the decoded
     * bytes but must still be refused (one spelling per token). Last char '8' = 60 -> 61 = '9'. */
    snprintf(s, sizeof s, "%s", known_token);
    CHECK(s[strlen(s) - 1] == '8');
    s[strlen(s) - 1] = '9';
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    /* Signature too short / too long. */
    snprintf(s, sizeof s, "%s", known_token);
    s[strlen(s) - 1] = '\0';
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    snprintf(s, sizeof s, "%sAAAA", known_token);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
}

TEST(wrong_key)
{
    uint8_t k2[AUTH_KEY_BYTES];
    memcpy(k2, key, sizeof k2);
    k2[31] ^= 1;
    CHECK_EQ_INT(auth_token_verify(k2, sizeof k2, known_token, 0, NULL), -EINVAL);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key - 1, known_token, 0, NULL), -EINVAL);
    CHECK_EQ_INT(auth_token_verify(key, 0, known_token, 0, NULL), -EINVAL);
    CHECK_EQ_INT(auth_token_verify(NULL, 0, known_token, 0, NULL), -EINVAL);
}

TEST(expired)
{
    struct token u;
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, known_token, NOW - 1, &u), 0);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, known_token, NOW, &u), -ETIMEDOUT);
    CHECK_EQ_INT(u.role, ROLE_NONE);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, known_token, NOW + 86400, &u), -ETIMEDOUT);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, known_token, INT64_MAX, &u), -ETIMEDOUT);
    /* Expired but badly signed is a bad token, not an expired one. */
    uint8_t k2[AUTH_KEY_BYTES] = {0};
    CHECK_EQ_INT(auth_token_verify(k2, sizeof k2, known_token, INT64_MAX, &u), -EINVAL);
}

TEST(truncated)
{
    char s[256];
    size_t n = strlen(known_token);
    for (size_t i = 0; i < n; i++) {
        memcpy(s, known_token, i);
        s[i] = '\0';
        CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    }
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, NULL, 0, NULL), -EINVAL);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, ".", 0, NULL), -EINVAL);
}

TEST(extra_dots)
{
    char s[256];
    const char *fmts[] = {"%s.", ".%s", "%s.AAAA", "A.%s", "%s..", "x%s"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        snprintf(s, sizeof s, fmts[i], known_token);
        CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    }
    /* A dot in place of a payload character. */
    snprintf(s, sizeof s, "%s", known_token);
    s[3] = '.';
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
}

TEST(padding_and_alphabet)
{
    char s[256];
    const char *dot = strchr(known_token, '.');
    int p = (int)(dot - known_token);
    /* '=' padding on either part, standard-alphabet '+' '/', whitespace. */
    snprintf(s, sizeof s, "%.*s==%s", p, known_token, dot);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    snprintf(s, sizeof s, "%s=", known_token);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    snprintf(s, sizeof s, "%s", known_token);
    *strchr(s, '_') = '/';
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    snprintf(s, sizeof s, "%s ", known_token);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    snprintf(s, sizeof s, " %s", known_token);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    /* A payload whose length is 1 mod 4 can never be valid base64. */
    snprintf(s, sizeof s, "%.*sA%s", p, known_token, dot);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
}

TEST(huge_input)
{
    size_t n = 1 << 20;
    char *s = malloc(n + 1);
    CHECK(s != NULL);
    if (!s)
        return;
    memset(s, 'A', n);
    s[n] = '\0';
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, 0, NULL), -EINVAL);
    /* A well-signed token padded to just over MSG_TOKEN_MAX is refused on length alone. */
    char *payload = malloc(400);
    memset(payload, 'v', 399);
    payload[399] = '\0';
    char t[1024];
    forge(key, payload, 399, t);
    CHECK(strlen(t) > MSG_TOKEN_MAX);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, t, 0, NULL), -EINVAL);
    free(payload);
    free(s);
}

TEST(hostile_payloads_with_valid_mac)
{
    struct token u;
    CHECK_EQ_INT(verify_payload("v1|482913|7|citizen|1800000000", &u), 0);
    CHECK_EQ_INT(verify_payload("v1|482913|0|screen|1800000000", &u), 0);
    CHECK_EQ_INT(verify_payload("v1|482913|9007199254740991|moderator|9223372036854775807", &u), 0);
    CHECK_EQ_INT(u.pid, 9007199254740991LL);
    const char *bad[] = {
        "",
        "v1",
        "v2|482913|7|citizen|1800000000",
        "V1|482913|7|citizen|1800000000",
        "v1|48291|7|citizen|1800000000",
        "v1|4829134|7|citizen|1800000000",
        "v1|48291a|7|citizen|1800000000",
        "v1|48 913|7|citizen|1800000000",
        "v1|482913|07|citizen|1800000000",
        "v1|482913|+7|citizen|1800000000",
        "v1|482913|-7|citizen|1800000000",
        "v1|482913||citizen|1800000000",
        "v1|482913|7 |citizen|1800000000",
        "v1|482913|9007199254740992|citizen|1800000000",
        "v1|482913|99999999999999999999|citizen|1800000000",
        "v1|482913|7|admin|1800000000",
        "v1|482913|7|Citizen|1800000000",
        "v1|482913|7|citizenx|1800000000",
        "v1|482913|7|citize|1800000000",
        "v1|482913|7||1800000000",
        "v1|482913|7|citizen|",
        "v1|482913|7|citizen|01800000000",
        "v1|482913|7|citizen|-1800000000",
        "v1|482913|7|citizen|1.8e9",
        "v1|482913|7|citizen|9223372036854775808",
        "v1|482913|7|citizen|1800000000|",
        "v1|482913|7|citizen|1800000000|x",
        "|v1|482913|7|citizen|1800000000",
        "v1|482913|7|citizen",
        "v1||482913|7|citizen|1800000000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = verify_payload(bad[i], &u);
        if (rc != -EINVAL)
            fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
        CHECK_EQ_INT(rc, -EINVAL);
    }
    /* A NUL byte inside the payload. */
    char s[256];
    forge(key, "v1|482913|7|citizen\0|1800000000", 31, s);
    CHECK_EQ_INT(auth_token_verify(key, sizeof key, s, NOW, &u), -EINVAL);
}

TEST(random_code_format_and_distribution)
{
    enum { N = 20000 };
    int counts[MSG_CODE_LEN][10] = {{0}};
    char first[MSG_CODE_LEN + 1] = "", c[MSG_CODE_LEN + 1];
    int same = 0;
    for (int i = 0; i < N; i++) {
        memset(c, 'x', sizeof c);
        CHECK_EQ_INT(auth_random_code(c), 0);
        CHECK_EQ_INT(strlen(c), MSG_CODE_LEN);
        for (int j = 0; j < MSG_CODE_LEN; j++) {
            CHECK(c[j] >= '0' && c[j] <= '9');
            if (c[j] >= '0' && c[j] <= '9')
                counts[j][c[j] - '0']++;
        }
        if (i == 0)
            memcpy(first, c, sizeof c);
        else if (strcmp(first, c) == 0)
            same++;
    }
    CHECK(same < 3);
    /* Each digit in each position: expected 2000, sd ~42; 1700..2300 is over 7 sd. */
    for (int j = 0; j < MSG_CODE_LEN; j++)
        for (int d = 0; d < 10; d++)
            CHECK(counts[j][d] > 1700 && counts[j][d] < 2300);
}

TEST(random_secret)
{
    char a[AUTH_SECRET_CHARS + 1], b[AUTH_SECRET_CHARS + 1];
    CHECK_EQ_INT(auth_random_secret(a), 0);
    CHECK_EQ_INT(auth_random_secret(b), 0);
    CHECK_EQ_INT(strlen(a), AUTH_SECRET_CHARS);
    CHECK_EQ_INT(strlen(a), 22);
    CHECK(strcmp(a, b) != 0);
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    CHECK_EQ_INT(strspn(a, alpha), AUTH_SECRET_CHARS);
    CHECK_EQ_INT(strspn(b, alpha), AUTH_SECRET_CHARS);
    CHECK(AUTH_SECRET_CHARS <= MSG_SECRET_MAX);
}

TEST(random_bytes)
{
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    CHECK_EQ_INT(auth_random_bytes(a, sizeof a), 0);
    CHECK_EQ_INT(auth_random_bytes(b, sizeof b), 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(memcmp(a, zero, sizeof a) != 0);
    CHECK_EQ_INT(auth_random_bytes(a, 0), 0);
}

TEST(sha256_hex_vectors)
{
    char h[65];
    auth_sha256_hex("abc", 3, h);
    CHECK_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    auth_sha256_hex("", 0, h);
    CHECK_EQ_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(secret_matches)
{
    const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    CHECK(auth_secret_matches("abc", abc));
    CHECK(!auth_secret_matches("abd", abc));
    CHECK(!auth_secret_matches("", abc));
    CHECK(!auth_secret_matches("abc ", abc));
    CHECK(!auth_secret_matches("abc",
                               "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
    CHECK(!auth_secret_matches("abc", "ba7816bf"));
    CHECK(!auth_secret_matches("abc", ""));
    char longer[70];
    snprintf(longer, sizeof longer, "%s00", abc);
    CHECK(!auth_secret_matches("abc", longer));
    CHECK(!auth_secret_matches(NULL, abc));
    CHECK(!auth_secret_matches("abc", NULL));
    char s[AUTH_SECRET_CHARS + 1], h[65];
    CHECK_EQ_INT(auth_random_secret(s), 0);
    auth_sha256_hex(s, strlen(s), h);
    CHECK(auth_secret_matches(s, h));
}

TEST(equal)
{
    CHECK(auth_equal("abcdef", "abcdef", 6));
    CHECK(!auth_equal("abcdef", "abcdeg", 6));
    CHECK(!auth_equal("xbcdef", "abcdef", 6));
    CHECK(auth_equal("abcdef", "abcxyz", 3));
    CHECK(auth_equal("a", "b", 0));
}

int main(void)
{
    RUN(round_trip_every_role);
    RUN(known_vector);
    RUN(extremes_fit_and_round_trip);
    RUN(sign_rejects_bad_input_and_small_buffer);
    RUN(tampered_payload);
    RUN(tampered_signature);
    RUN(wrong_key);
    RUN(expired);
    RUN(truncated);
    RUN(extra_dots);
    RUN(padding_and_alphabet);
    RUN(huge_input);
    RUN(hostile_payloads_with_valid_mac);
    RUN(random_code_format_and_distribution);
    RUN(random_secret);
    RUN(random_bytes);
    RUN(sha256_hex_vectors);
    RUN(secret_matches);
    RUN(equal);
    return test_done();
}
