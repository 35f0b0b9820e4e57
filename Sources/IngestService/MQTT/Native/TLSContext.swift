#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// The OpenSSL client context of the native MQTT client: trusted CAs, the optional client
/// certificate, TLS 1.2 at least, peer verification on. Built once at start, so a missing or broken
/// file is a setup error, not a retry loop. Used only by the MQTT loop thread after `init`.
final class TLSContext {
    let context: OpaquePointer
    let configuration: MQTTTLSConfiguration

    init(configuration: MQTTTLSConfiguration) throws(MQTTSourceError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw .setupFailed("TLS: cannot create a context: \(TLSContext.drainErrors())")
        }
        self.context = context
        self.configuration = configuration
        _ = ingestd_ssl_ctx_set_min_tls12(context)
        _ = ingestd_ssl_ctx_set_partial_writes(context)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let caFile = configuration.caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                throw .setupFailed("TLS: cannot load CA file \(caFile): \(TLSContext.drainErrors())")
            }
        } else {
            SSL_CTX_set_default_verify_paths(context)
        }
        if let certFile = configuration.certFile {
            guard SSL_CTX_use_certificate_chain_file(context, certFile) == 1 else {
                throw .setupFailed("TLS: cannot load client certificate \(certFile): \(TLSContext.drainErrors())")
            }
        }
        if let keyFile = configuration.keyFile {
            guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1,
                  SSL_CTX_check_private_key(context) == 1 else {
                throw .setupFailed("TLS: cannot use client key \(keyFile): \(TLSContext.drainErrors())")
            }
        }
    }

    deinit { SSL_CTX_free(context) }

    /// OpenSSL's queued error reasons, oldest first ("certificate verify failed"), and clears them.
    static func drainErrors() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let reason = ERR_reason_error_string(code) {
                reasons.append(String(cString: reason))
            } else {
                var text = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &text, text.count)
                reasons.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return reasons.isEmpty ? "unknown error" : reasons.joined(separator: "; ")
    }
}
