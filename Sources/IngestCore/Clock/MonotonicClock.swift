/// Monotonic time in nanoseconds. Only differences mean anything; the origin is arbitrary.
public protocol MonotonicClock: Sendable {
    func now() -> UInt64
}
