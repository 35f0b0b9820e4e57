#if canImport(Glibc)
import Glibc
#endif

/// Opens a non-blocking TCP connection, trying each address the host name resolves to, with a
/// deadline and an eye on the stop flag (so a stop request is not held up by an unanswered SYN).
enum TCPConnector {
    static func connect(host: String, port: Int, timeoutSeconds: Double,
                        stopRequested: () -> Bool) throws(MQTTTransportError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let list else {
            throw .connectFailed("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address for \(host)"
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let address = entry {
            entry = address.pointee.ai_next
            let socketType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            let descriptor = socket(address.pointee.ai_family, socketType, 0)
            if descriptor < 0 { lastError = systemError(); continue }
            do throws(MQTTTransportError) {
                try finishConnect(descriptor, address.pointee, timeoutSeconds: timeoutSeconds, stopRequested: stopRequested)
                // The loop batches its own writes; small packets (PINGREQ, a lone PUBACK) must not wait.
                var on: Int32 = 1
                setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                return descriptor
            } catch {
                _ = close(descriptor)
                if case .stopped = error { throw error }
                lastError = error.description
            }
        }
        throw .connectFailed(lastError)
    }

    private static func finishConnect(_ descriptor: Int32, _ address: addrinfo, timeoutSeconds: Double,
                                      stopRequested: () -> Bool) throws(MQTTTransportError) {
        if Glibc.connect(descriptor, address.ai_addr, address.ai_addrlen) == 0 { return }
        guard errno == EINPROGRESS else { throw .connectFailed(systemError()) }
        try PollWait.until(descriptor, events: Int16(POLLOUT), timeoutSeconds: timeoutSeconds,
                           stopRequested: stopRequested, timeoutText: "connect timed out")
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &length)
        if failure != 0 { throw .connectFailed(systemError(failure)) }
    }
}
