#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `CLOCK_REALTIME`, read directly: the MQTT threads stamp every message with it, and `IngestCore`
/// stays free of Foundation.
public struct SystemWallClock: WallClock {
    public init() {}

    public func nanosecondsSinceEpoch() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) &* 1_000_000_000 &+ Int64(spec.tv_nsec)
    }
}
