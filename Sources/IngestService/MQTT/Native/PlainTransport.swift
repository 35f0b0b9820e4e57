#if canImport(Glibc)
import Glibc
#endif

/// MQTT over plain TCP: `read`/`write` on the non-blocking socket.
final class PlainTransport: MQTTTransport {
    let descriptor: Int32
    private var closed = false

    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close() }

    var hasBufferedInput: Bool { false }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTTransportError) -> Int {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count > 0 { return count }
            if count == 0 { throw .closedByBroker }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default: throw .io(systemError())
            }
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(MQTTTransportError) -> Int {
        while true {
            let count = send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default: throw .io(systemError())
            }
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(descriptor)
    }
}

/// The text of the current `errno`.
func systemError(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
