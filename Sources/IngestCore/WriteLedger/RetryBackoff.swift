/// Delay before the next attempt of a failed write: exponential backoff with full jitter, bounded
/// by a maximum, never shorter than what the server asked for with `Retry-After` (itself capped at
/// the maximum, so an operator's bound on latency holds).
public struct RetryBackoff: Sendable, Equatable {
    public var baseMilliseconds: Int
    public var maxDelayMilliseconds: Int

    public init(baseMilliseconds: Int, maxDelayMilliseconds: Int) {
        self.baseMilliseconds = max(1, baseMilliseconds)
        self.maxDelayMilliseconds = max(self.baseMilliseconds, maxDelayMilliseconds)
    }

    /// The exponential ceiling for `attempt` (1 = the first attempt failed): base·2^(attempt-1),
    /// at most the maximum.
    public func ceilingMilliseconds(attempt: Int) -> Int {
        let exponent = min(max(0, attempt - 1), 30)
        let (product, overflow) = baseMilliseconds.multipliedReportingOverflow(by: 1 << exponent)
        return overflow ? maxDelayMilliseconds : min(product, maxDelayMilliseconds)
    }

    /// - Parameters:
    ///   - attempt: how many attempts have failed so far (1 after the first failure).
    ///   - retryAfterSeconds: the server's `Retry-After`, if any.
    ///   - unit: a random number in 0...1 (injected so tests can pin it).
    public func delayMilliseconds(attempt: Int, retryAfterSeconds: Double?, unit: Double = Double.random(in: 0...1)) -> Int {
        let jittered = Int((Double(ceilingMilliseconds(attempt: attempt)) * min(max(unit, 0), 1)).rounded())
        guard let retryAfterSeconds, retryAfterSeconds.isFinite, retryAfterSeconds > 0 else { return jittered }
        let asked = Int(min(retryAfterSeconds * 1000, Double(maxDelayMilliseconds)).rounded(.up))
        return max(jittered, asked)
    }
}
