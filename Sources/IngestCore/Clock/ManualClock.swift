import Synchronization

/// A clock that only moves when told to, for tests of expiry and refill.
public final class ManualClock: MonotonicClock {
    private let current: Mutex<UInt64>

    public init(now: UInt64 = 0) {
        current = Mutex(now)
    }

    public func now() -> UInt64 {
        current.withLock { $0 }
    }

    public func advance(by nanoseconds: UInt64) {
        current.withLock { $0 += nanoseconds }
    }

    public func set(_ nanoseconds: UInt64) {
        current.withLock { $0 = nanoseconds }
    }
}
