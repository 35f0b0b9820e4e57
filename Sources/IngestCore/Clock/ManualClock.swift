import Synchronization

/// A clock that only moves when told to, for tests of expiry and refill; as a `WallClock` it reads
/// the same number as nanoseconds since the epoch.
public final class ManualClock: MonotonicClock, WallClock {
    private let current: Mutex<UInt64>

    public init(now: UInt64 = 0) {
        current = Mutex(now)
    }

    public func now() -> UInt64 {
        current.withLock { $0 }
    }

    public func nanosecondsSinceEpoch() -> Int64 {
        Int64(truncatingIfNeeded: now())
    }

    public func advance(by nanoseconds: UInt64) {
        current.withLock { $0 += nanoseconds }
    }

    public func set(_ nanoseconds: UInt64) {
        current.withLock { $0 = nanoseconds }
    }
}
