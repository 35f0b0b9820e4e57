import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Plays systemd's side of sd_notify: a bound `AF_UNIX` datagram socket (an abstract one when the
/// name starts with `@`, else a path) collecting every message sent to it, for `NOTIFY_SOCKET`.
public final class NotifySocketListener: Sendable {
    /// The value for `NOTIFY_SOCKET`.
    public let address: String
    private let fd: Int32
    private let messages = Mutex<[String]>([])
    private let stopped = Atomic<Bool>(false)

    public init(address: String) throws {
        self.address = address
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MosquittoServerError("socket: \(errno)") }
        var sockaddr = sockaddr_un()
        sockaddr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &sockaddr.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &sockaddr) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { close(fd); throw MosquittoServerError("bind \(address): \(errno)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in receiveLoop() }
        thread.start()
    }

    /// An abstract socket with a unique name.
    public static func abstract() throws -> NotifySocketListener {
        try NotifySocketListener(address: "@ingestd-test-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    /// Every datagram received so far, oldest first.
    public var received: [String] { messages.withLock { $0 } }

    /// True when some datagram has a line equal to `line` (e.g. `READY=1`).
    public func sawLine(_ line: String) -> Bool {
        received.contains { $0.split(separator: "\n").contains { $0 == line } }
    }

    public func stop() {
        if !stopped.exchange(true, ordering: .relaxed) {
            // The receive loop notices within its 100 ms timeout and closes the socket.
        }
    }

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !stopped.load(ordering: .relaxed) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                let text = String(decoding: buffer[0..<n], as: UTF8.self)
                messages.withLock { $0.append(text) }
            }
        }
        close(fd)
    }
}
