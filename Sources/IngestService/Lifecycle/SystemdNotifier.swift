#if canImport(Glibc)
import Glibc
#endif
import AsyncAlgorithms
import Foundation
import Logging
import ServiceLifecycle

/// Speaks systemd's sd_notify protocol itself (no libsystemd): one datagram per message to the
/// `AF_UNIX` socket named by `$NOTIFY_SOCKET` (a path, or an abstract socket written `@name`).
/// Without `NOTIFY_SOCKET` (not under systemd, or `Type=` other than notify) it does nothing.
///
/// As a `Service`:
/// - `READY=1` (with a `STATUS=`) once the MQTT subscription is granted;
/// - then every tick — half of `WATCHDOG_USEC` when systemd set a watchdog, else 10 s — a new
///   `STATUS=` with a short counter summary, and `WATCHDOG=1` **only while the pipeline advances**:
///   it took messages since the last tick, or it has nothing to take (the intake is empty: an idle
///   or disconnected ingestd is healthy; it reconnects by itself), or it waits on the writer's
///   memory bound (InfluxDB is down: a restart would not help and would lose the buffers).
///   Messages waiting in the intake while nothing moves means a hung pipeline: the ping is
///   withheld and systemd restarts ingestd after `WatchdogSec`.
/// - `STOPPING=1` when graceful shutdown begins (it is listed last, so stopped first).
public final class SystemdNotifier: Service, Sendable {
    /// What the watchdog looks at on each tick.
    public struct Progress: Sendable, Equatable {
        public var received: Int
        public var intakeDepth: Int
        public var writerAtMemoryBound: Bool

        public init(received: Int, intakeDepth: Int, writerAtMemoryBound: Bool) {
            self.received = received
            self.intakeDepth = intakeDepth
            self.writerAtMemoryBound = writerAtMemoryBound
        }

        /// True when `self` (now) shows the pipeline advancing since `previous`.
        public func advanced(since previous: Progress) -> Bool {
            received != previous.received || intakeDepth == 0 || writerAtMemoryBound
        }
    }

    /// The `NOTIFY_SOCKET` value, nil when not run by systemd with `Type=notify`.
    public let socketPath: String?
    /// The watchdog period systemd asked for (`WATCHDOG_USEC`), nil when none or meant for another process.
    public let watchdog: Duration?
    private let subscribed: @Sendable () -> Bool
    private let progress: @Sendable () -> Progress
    private let status: @Sendable () -> String
    private let logger: Logger

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        subscribed: @escaping @Sendable () -> Bool,
        progress: @escaping @Sendable () -> Progress,
        status: @escaping @Sendable () -> String,
        logger: Logger
    ) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        watchdog = Self.watchdogPeriod(environment: environment, pid: Int(getpid()))
        self.subscribed = subscribed
        self.progress = progress
        self.status = status
        self.logger = logger
    }

    public var isEnabled: Bool { socketPath != nil }

    /// `WATCHDOG_USEC` if set, positive, and (when `WATCHDOG_PID` is set) meant for `pid`.
    static func watchdogPeriod(environment: [String: String], pid: Int) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = Int64(text), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], Int(owner) != pid { return nil }
        return .microseconds(usec)
    }

    public func run() async {
        guard isEnabled else {
            // Nothing to tell; a service must not end before shutdown in a ServiceGroup.
            try? await gracefulShutdown()
            return
        }
        // 1. Wait for the subscription (or for shutdown).
        let poll = AsyncTimerSequence.repeating(every: .milliseconds(100), clock: .continuous).cancelOnGracefulShutdown()
        var ready = subscribed()
        if !ready {
            for await _ in poll where subscribed() {
                ready = true
                break
            }
        }
        if ready {
            notify("READY=1\nSTATUS=subscribed; \(status())")
            logger.info("systemd notified: ready", metadata: ["watchdog_s": "\(watchdog.map { "\($0 / .seconds(1))" } ?? "-")"])
            // 2. Status and watchdog.
            let tick = watchdog.map { $0 / 2 } ?? .seconds(10)
            var last = progress()
            var withholding = false
            for await _ in AsyncTimerSequence.repeating(every: tick, clock: .continuous).cancelOnGracefulShutdown() {
                let now = progress()
                let advancing = now.advanced(since: last)
                last = now
                if watchdog != nil, advancing {
                    notify("WATCHDOG=1\nSTATUS=\(status())")
                } else {
                    notify("STATUS=\(advancing ? "" : "stalled; ")\(status())")
                }
                if !advancing, !withholding {
                    logger.warning("pipeline not advancing: messages wait in the intake and none was taken; watchdog ping withheld",
                                   metadata: ["intake": "\(now.intakeDepth)", "received": "\(now.received)"])
                }
                withholding = !advancing
            }
        }
        notify("STOPPING=1\nSTATUS=draining: stopping intake, writing buffers")
    }

    /// Sends one datagram; false (and a debug log) when it could not be sent.
    @discardableResult
    public func notify(_ message: String) -> Bool {
        guard let socketPath else { return false }
        let result = Self.send(message, to: socketPath)
        if let problem = result {
            logger.warning("sd_notify failed", metadata: ["socket": "\(socketPath)", "error": "\(problem)"])
            return false
        }
        return true
    }

    /// Nil on success, else why not. `@name` is the abstract socket `\0name`.
    static func send(_ message: String, to path: String) -> String? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity, abstract || bytes.first == UInt8(ascii: "/") else {
            return "NOTIFY_SOCKET must be an absolute path or @abstract name shorter than \(capacity) bytes"
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        // Abstract names are exactly their bytes; paths get their terminating NUL (already zeroed).
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        let payload = Array(message.utf8)
        let sent = payload.withUnsafeBytes { body in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent == payload.count ? nil : "sendto: \(String(cString: strerror(errno)))"
    }
}
