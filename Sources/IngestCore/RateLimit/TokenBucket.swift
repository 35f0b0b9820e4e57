/// A token bucket: `burst` tokens at most, refilled continuously at `ratePerSecond`.
/// Time is monotonic nanoseconds passed in by the caller.
public struct TokenBucket: Sendable, Equatable {
    public let ratePerSecond: Double
    public let burst: Double
    public private(set) var tokens: Double
    private var lastRefill: UInt64

    /// Starts full, so a device that connects may send its burst at once.
    public init(ratePerSecond: Double, burst: Double, now: UInt64) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        tokens = burst
        lastRefill = now
    }

    /// Takes one token if there is one.
    public mutating func take(now: UInt64) -> Bool {
        // A `now` earlier than the last refill (a caller mixing clocks) adds nothing rather than trapping.
        if now > lastRefill {
            tokens = min(burst, tokens + Double(now - lastRefill) * ratePerSecond / 1_000_000_000)
            lastRefill = now
        }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
