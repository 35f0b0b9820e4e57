#if canImport(Glibc)
import Glibc
#endif

// Clocks and formatting shared by the two MQTT loops.

/// The monotonic clock at the kernel tick's resolution (a few ms), for the heartbeat's activity
/// stamps: read once per message and per loop turn, it must be cheap, and on VMs whose TSC the vDSO
/// cannot use, `CLOCK_MONOTONIC` is a system call while the coarse clock never is.
func coarseMonotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func wallClockNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

func formatSeconds(_ d: Duration) -> String {
    let s = d.seconds
    return String(Double(Int(s * 10)) / 10)
}
