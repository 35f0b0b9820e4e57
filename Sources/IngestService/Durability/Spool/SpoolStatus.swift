/// What the spool holds at one moment: for `ingestd spool status` and the stats line
/// (`spool_batches` = `segments`, `spool_bytes` = `bytes`).
public struct SpoolStatus: Sendable, Equatable, CustomStringConvertible {
    public var segments: Int
    /// Bytes of all segment files (what `maxBytes` limits).
    public var bytes: Int64
    /// Seconds since the oldest segment was written; nil when the spool is empty.
    public var oldestAgeSeconds: Double?

    public init(segments: Int, bytes: Int64, oldestAgeSeconds: Double?) {
        self.segments = segments
        self.bytes = bytes
        self.oldestAgeSeconds = oldestAgeSeconds
    }

    public var description: String {
        let age = oldestAgeSeconds.map { String(Int($0.rounded(.down))) } ?? "-"
        return "segments=\(segments) bytes=\(bytes) oldest_age_seconds=\(age)"
    }
}
