/// Wall-clock time in nanoseconds since the Unix epoch: for timestamps that people or InfluxDB read
/// (when a message was received, quarantine records), never to measure a duration (it can jump; use
/// a `MonotonicClock` for that).
public protocol WallClock: Sendable {
    func nanosecondsSinceEpoch() -> Int64
}
