import Synchronization

/// Counters of the spool, the dead-letter folder and `corrupt/` for the stats line.
public final class SpoolMetrics: Sendable {
    /// Segments on disk now (`spool_batches`).
    public let segments = Atomic<Int>(0)
    /// Bytes on disk now (`spool_bytes`).
    public let bytes = Atomic<Int>(0)
    /// 1 while the spool refuses segments for lack of room (`spool_full`).
    public let full = Atomic<Int>(0)
    /// Lines replayed from the spool into InfluxDB since start (`spool_replayed`).
    public let replayedLines = Atomic<Int>(0)
    /// Lines set aside in the dead-letter folder since start (`dead_letter_lines`).
    public let deadLetterLines = Atomic<Int>(0)
    /// Damaged spool segments and journal files moved to `corrupt/` since start (`corrupt_files`).
    public let corruptFiles = Atomic<Int>(0)
    /// Lines in those files that could not be delivered (`corrupt_lines`).
    public let corruptLines = Atomic<Int>(0)

    public init() {}
}
