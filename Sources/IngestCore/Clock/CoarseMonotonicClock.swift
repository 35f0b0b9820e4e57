#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The monotonic clock at the kernel tick's resolution (a few ms), for stamps read once per message
/// or per loop turn (the MQTT heartbeat's activity time): on VMs whose TSC the vDSO cannot use,
/// `CLOCK_MONOTONIC` is a system call while the coarse clock never is.
public struct CoarseMonotonicClock: MonotonicClock {
    public init() {}

    public func now() -> UInt64 {
        var spec = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_MONOTONIC_COARSE, &spec)
        #else
        clock_gettime(CLOCK_MONOTONIC, &spec)
        #endif
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }
}
