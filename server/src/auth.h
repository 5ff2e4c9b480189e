/* SPDX-License-Identifier: MIT
 * auth.h - session tokens (HMAC-SHA256), secrets, join codes and constant-time comparison.
 * The only module that includes OpenSSL. No clock: callers pass 'now_s'.
 * Token text: base64url(payload) "." base64url(HMAC-SHA256(key, payload)), no padding, with
 * payload "v1|<jam code>|<pid>|<role name>|<expiry unix seconds>" (proto/messages.md).
 */
#ifndef COJAM_AUTH_H
#define COJAM_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define AUTH_KEY_BYTES 32
#define AUTH_SECRET_CHARS 22 /* base64url of 16 random bytes */

struct token {
    char jam[MSG_CODE_LEN + 1];
    int64_t pid; /* 0 for screens */
    enum role role;
    int64_t exp_s; /* expiry, unix seconds */
};

/* Write the token text for 't' into 'out' (NUL-terminated). Returns its length, or -ENOSPC when
 * 'out_size' is too small (MSG_TOKEN_MAX + 1 always suffices). */
int auth_token_sign(const uint8_t *key, size_t key_len, const struct token *t, char *out,
                    size_t out_size);
/* Check 's' and fill 'out'. Returns 0, -EINVAL (malformed or bad signature; the signature is
 * compared in constant time) or -ETIMEDOUT (well signed but expired at 'now_s'). */
int auth_token_verify(const uint8_t *key, size_t key_len, const char *s, int64_t now_s,
                      struct token *out);

/* Fill 'buf' with 'n' cryptographically random bytes. Returns 0 or -EIO. */
int auth_random_bytes(uint8_t *buf, size_t n);
/* A uniformly random 6-digit join code ("000000".."999999") into 'out'. Returns 0 or -EIO. */
int auth_random_code(char out[MSG_CODE_LEN + 1]);
/* A random secret: AUTH_SECRET_CHARS base64url characters plus NUL. Returns 0 or -EIO. */
int auth_random_secret(char out[AUTH_SECRET_CHARS + 1]);

/* A named moderator invite's secret (proto/messages.md, "Named moderator invites"): "i_" and 32
 * lowercase hex digits, the first 16 bytes of HMAC-SHA256(key, "cojam-invite\n" code "\n"
 * jam_secret_sha256 "\n" id). The jam's secret hash makes a code reused by a later jam derive other
 * secrets; the length (34) keeps it apart from a moderator secret (22). Nothing is stored: the
 * same server key derives the same secret on every process and after every restart. Returns 0,
 * -EINVAL (no key) or -EIO. */
#define AUTH_INVITE_SECRET_CHARS 34
int auth_invite_secret(const uint8_t *key, size_t key_len, const char *code,
                       const char *jam_secret_sha256, int64_t id,
                       char out[AUTH_INVITE_SECRET_CHARS + 1]);

/* SHA-256 of 'data' into 'out'. Returns false (and zeroes 'out') if OpenSSL fails. */
bool auth_sha256(const void *data, size_t n, uint8_t out[32]);
/* Lowercase hex SHA-256 of 'data' into 'out' (64 characters plus NUL). */
void auth_sha256_hex(const void *data, size_t n, char out[65]);
/* Constant-time equality of two buffers of 'n' bytes. */
bool auth_equal(const void *a, const void *b, size_t n);
/* Does SHA-256(given) equal 'sha256_hex'? Constant time in the digest comparison. */
bool auth_secret_matches(const char *given, const char *sha256_hex);

/* TLS (net.c holds the files and lws, this module OpenSSL). A PEM certificate chain and a PEM
 * private key: 0 when both parse and the key is the certificate's, with its subject and end date
 * in 'what'; else -EINVAL with OpenSSL's reason in 'what'. */
int auth_tls_pair_check(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
                        char *what, size_t size);
/* The server policy on an OpenSSL SSL_CTX * (lws hands it over untyped): TLS 1.2 at least (1.0
 * and 1.1 are deprecated, RFC 8996). 0, or -EINVAL when OpenSSL refuses. */
int auth_tls_policy(void *ssl_ctx);

#endif
