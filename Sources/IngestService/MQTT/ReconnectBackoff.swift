/// Exponential reconnect backoff with jitter: attempt n waits a uniformly random time in
/// `[base/2, base]` with `base = min(max, min·2ⁿ)`, never less than `min`. Jitter keeps many ingestd
/// instances from hammering a restarted broker in lockstep (libmosquitto's own
/// `mosquitto_reconnect_delay_set` has none). `reset()` after a successful CONNACK.
struct ReconnectBackoff: Sendable {
    let minimum: Duration
    let maximum: Duration
    private(set) var attempt = 0

    init(minimum: Duration, maximum: Duration) {
        self.minimum = minimum
        self.maximum = Swift.max(minimum, maximum)
    }

    mutating func reset() { attempt = 0 }

    mutating func nextDelay<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let minSeconds = minimum.seconds
        let maxSeconds = maximum.seconds
        let base = Swift.min(maxSeconds, minSeconds * Double(1 << Swift.min(attempt, 30)))
        attempt += 1
        let jittered = Double.random(in: (base / 2)...base, using: &generator)
        return .nanoseconds(Int64(Swift.max(minSeconds, jittered) * 1e9))
    }

    mutating func nextDelay() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return nextDelay(using: &generator)
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
