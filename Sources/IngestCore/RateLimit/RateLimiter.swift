/// One token bucket per (tenant, device). A rate of 0 (or less) disables limiting.
///
/// The buckets live in an `LRUCache` bounded by `maxDevices`, so a flood of distinct device ids
/// cannot grow memory without bound. When the map is full, the least recently seen device's
/// bucket is evicted; if that device comes back it starts with a full bucket again. That is the
/// price of the bound, and harmless: a device quiet long enough to be evicted would have refilled.
public struct RateLimiter: Sendable {
    public let ratePerSecond: Double
    public let burst: Int
    public let maxDevices: Int
    private var buckets: LRUCache<DeviceKey, TokenBucket>

    public init(ratePerSecond: Double, burst: Int, maxDevices: Int) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.maxDevices = max(1, maxDevices)
        buckets = LRUCache(capacity: ratePerSecond > 0 ? self.maxDevices : 1)
    }

    public var isEnabled: Bool { ratePerSecond > 0 }

    /// Devices currently holding a bucket.
    public var trackedDevices: Int { buckets.count }

    /// Buckets dropped because the map was full.
    public var evictions: UInt64 { buckets.evictions }

    public mutating func allow(_ key: DeviceKey, now: UInt64) -> Bool {
        guard ratePerSecond > 0 else { return true }
        let rate = ratePerSecond
        let capacity = Double(burst)
        return buckets.withValue(
            forKey: key,
            now: now,
            expiresAt: .max,
            default: { TokenBucket(ratePerSecond: rate, burst: capacity, now: now) },
            { bucket in bucket.take(now: now) }
        )
    }
}
