#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// MQTT over TLS: OpenSSL on the non-blocking socket. The handshake checks the broker's certificate
/// against the CA file and, unless MQTT_TLS_INSECURE, its name against MQTT_HOST (as libmosquitto
/// does with the same settings).
final class TLSTransport: MQTTTransport {
    let descriptor: Int32
    private let ssl: OpaquePointer
    private var closed = false

    /// Takes ownership of `descriptor` (closed on failure too).
    init(descriptor: Int32, host: String, context: TLSContext, timeoutSeconds: Double,
         stopRequested: () -> Bool) throws(MQTTTransportError) {
        self.descriptor = descriptor
        guard let ssl = SSL_new(context.context) else {
            _ = Glibc.close(descriptor)
            throw .tlsFailed(TLSContext.drainErrors())
        }
        self.ssl = ssl
        SSL_set_fd(ssl, descriptor)
        if TLSTransport.isIPAddress(host) {
            if !context.configuration.insecure { X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) }
        } else {
            _ = ingestd_ssl_set_sni_host_name(ssl, host)
            if !context.configuration.insecure { SSL_set1_host(ssl, host) }
        }
        do throws(MQTTTransportError) {
            try handshake(timeoutSeconds: timeoutSeconds, stopRequested: stopRequested)
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
        SSL_free(ssl)
    }

    private func handshake(timeoutSeconds: Double, stopRequested: () -> Bool) throws(MQTTTransportError) {
        ERR_clear_error()
        while true {
            let result = SSL_connect(ssl)
            if result == 1 { return }
            let failure = SSL_get_error(ssl, result)
            switch failure {
            case SSL_ERROR_WANT_READ:
                try PollWait.until(descriptor, events: Int16(POLLIN), timeoutSeconds: timeoutSeconds,
                                   stopRequested: stopRequested, timeoutText: "TLS handshake timed out")
            case SSL_ERROR_WANT_WRITE:
                try PollWait.until(descriptor, events: Int16(POLLOUT), timeoutSeconds: timeoutSeconds,
                                   stopRequested: stopRequested, timeoutText: "TLS handshake timed out")
            default:
                var detail = TLSContext.drainErrors()
                let verdict = SSL_get_verify_result(ssl)
                if verdict != X509_V_OK {
                    detail += " (\(String(cString: X509_verify_cert_error_string(verdict))))"
                } else if failure == SSL_ERROR_SYSCALL || failure == SSL_ERROR_ZERO_RETURN {
                    detail = "the broker closed the connection during the handshake (is MQTT_PORT its TLS listener?)"
                }
                throw .tlsFailed("handshake failed: \(detail)")
            }
        }
    }

    var hasBufferedInput: Bool { SSL_pending(ssl) > 0 }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTTransportError) -> Int {
        let count = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        if count > 0 { return Int(count) }
        switch SSL_get_error(ssl, count) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return 0
        case SSL_ERROR_ZERO_RETURN: throw .closedByBroker
        case SSL_ERROR_SYSCALL:
            if errno == 0 || count == 0 { throw .closedByBroker }
            throw .io(systemError())
        default: throw .io("TLS: \(TLSContext.drainErrors())")
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(MQTTTransportError) -> Int {
        let count = SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
        if count > 0 { return Int(count) }
        switch SSL_get_error(ssl, count) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return 0
        case SSL_ERROR_ZERO_RETURN: throw .closedByBroker
        case SSL_ERROR_SYSCALL: throw .io(errno == 0 ? "connection closed by the broker" : systemError())
        default: throw .io("TLS: \(TLSContext.drainErrors())")
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(descriptor)
    }

    private static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
