#ifndef INGESTD_COPENSSL_SHIM_H
#define INGESTD_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* These OpenSSL calls are macros over SSL_ctrl / SSL_CTX_ctrl, which Swift does not import. */

static inline long ingestd_ssl_set_sni_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline long ingestd_ssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

/* Lets SSL_write report partial writes and be retried with a buffer that moved (a Swift array). */
static inline long ingestd_ssl_ctx_set_partial_writes(SSL_CTX *ctx) {
    return SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}
#endif
