/// Messages that wait for their device's registry lookup (README "Slow or hung registry"): per device
/// in arrival order, bounded in count and bytes.
///
/// A pure value, owned by the pipeline's task, which executes what it answers:
/// - `admit` answers `.startLookup` for the first message of a device (the caller starts one lookup),
///   `.waitBehind` for a later one (it waits behind the first: per-device order is kept), and `.full`
///   when the message does not fit (the caller stops taking from the intake until a lookup ends:
///   backpressure, never a drop). An empty room admits any one message, however large, so a single
///   message over `maxBytes` cannot wedge the pipeline.
/// - `release` hands back every waiting message of one device, in arrival order, once its lookup ended.
/// - `isWaiting` must be asked before the auth cache: a device whose lookup is running keeps its later
///   messages behind the first even when its record is cached by now. It hashes nothing while the
///   room is empty, so the hot path (nothing waits) costs one comparison.
public struct LookupWaitingRoom<Message> {
    public struct Limits: Sendable, Equatable {
        /// Most messages waiting, all devices together (at least 1).
        public var maxMessages: Int
        /// Most payload bytes waiting, all devices together.
        public var maxBytes: Int

        public init(maxMessages: Int, maxBytes: Int) {
            precondition(maxMessages > 0, "the waiting room must hold at least one message")
            self.maxMessages = maxMessages
            self.maxBytes = maxBytes
        }
    }

    public enum Admission: Equatable, Sendable {
        /// The device's first waiting message: start its lookup.
        case startLookup
        /// Its lookup is running: the message waits behind the device's earlier ones.
        case waitBehind
        /// No room: nothing was admitted; wait for a lookup to end, then ask again.
        case full
    }

    public let limits: Limits
    private var queues: [DeviceKey: [(message: Message, bytes: Int)]] = [:]
    /// Messages waiting, all devices together.
    public private(set) var count = 0
    /// Payload bytes waiting, all devices together.
    public private(set) var bytes = 0

    public init(limits: Limits) {
        self.limits = limits
    }

    public var isEmpty: Bool { count == 0 }

    /// Devices whose lookup is running (each has at least one message waiting).
    public var lookupsRunning: Int { queues.count }

    /// True when `key` has messages waiting: a new message of it must wait behind them.
    @inlinable
    public func isWaiting(_ key: DeviceKey) -> Bool {
        count != 0 && isQueued(key)
    }

    @usableFromInline
    func isQueued(_ key: DeviceKey) -> Bool { queues[key] != nil }

    /// True when a message of `size` bytes would be admitted now.
    public func hasRoom(forBytes size: Int) -> Bool {
        count == 0 || (count < limits.maxMessages && bytes + size <= limits.maxBytes)
    }

    /// Admits `message` of device `key` (`size`: its payload bytes), unless the room is full.
    public mutating func admit(_ message: Message, of key: DeviceKey, bytes size: Int) -> Admission {
        guard hasRoom(forBytes: size) else { return .full }
        count += 1
        bytes += size
        if queues[key]?.append((message, size)) != nil { return .waitBehind }
        queues[key] = [(message, size)]
        return .startLookup
    }

    /// Every waiting message of `key` in arrival order (empty when none), making room for others.
    public mutating func release(_ key: DeviceKey) -> [Message] {
        guard let queue = queues.removeValue(forKey: key) else { return [] }
        count -= queue.count
        for entry in queue { bytes -= entry.bytes }
        return queue.map(\.message)
    }
}
