#if canImport(Glibc)
import Glibc
#endif
import IngestCore

/// Waiting for a socket outside the main loop (connect, TLS handshake, CONNECT, DISCONNECT), in
/// short slices so a stop request is seen within 100 ms.
enum PollWait {
    static let sliceMilliseconds: Int32 = 100

    static func until(_ descriptor: Int32, events: Int16, timeoutSeconds: Double, stopRequested: () -> Bool,
                      timeoutText: String) throws(MQTTTransportError) {
        let clock = SystemMonotonicClock()
        let deadline = clock.now() + UInt64(max(0, timeoutSeconds) * 1e9)
        while true {
            if stopRequested() { throw .stopped }
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&entry, 1, sliceMilliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .io(systemError()) }
            if clock.now() >= deadline { throw .io(timeoutText) }
        }
    }
}
