/// One database's buffered lines, as segments of whole lines of at most one batch's bytes each (a
/// single appended chunk larger than that is a segment of its own).
///
/// Why segments and not one array (README, "Throughput when InfluxDB is slow"): while InfluxDB is slow
/// a buffer holds tens of megabytes. One growing array doubles its capacity as it grows, so it can
/// hold twice its bytes, and cutting a batch off its front moves everything behind it. Segments cost
/// neither: a full segment is a batch as it stands, handed to the write without a copy, and only the
/// newest segment grows.
struct LineSegments: Sendable {
    struct Segment: Sendable {
        var bytes: [UInt8]
        var lineCount: Int
    }

    /// Oldest first; only the last one grows.
    private(set) var segments: [Segment] = []
    /// The bytes of every segment.
    private(set) var byteCount = 0

    /// More than one segment: the first is full, and a batch on its own.
    var hasFullSegment: Bool { segments.count > 1 }
    /// The oldest segment's bytes and lines (0 when empty). Scalars, not the segment: a copy of it
    /// held across a mutation of the first segment would make that mutation copy its bytes.
    var firstByteCount: Int { segments.first?.bytes.count ?? 0 }
    var firstLineCount: Int { segments.first?.lineCount ?? 0 }

    /// How many whole lines lead the oldest segment, at most `maxLines` and `maxBytes` (at least one
    /// line if there is one), and where they end.
    func leadingLinesOfFirstSegment(maxLines: Int, maxBytes: Int) -> (lines: Int, end: Int) {
        guard let first = segments.first else { return (0, 0) }
        return first.bytes.withUnsafeBytes { NewlineScan.leadingLines(in: $0, maxLines: maxLines, maxBytes: maxBytes) }
    }

    /// Appends a chunk of whole lines. It starts a new segment when it would take the newest past
    /// `segmentLimit` bytes. The full segment keeps a whole multiple of `lineMultiple` lines when it has
    /// that many (its last few lines move to the new one), so a backlog cut into segments leaves the
    /// same remainder as one cut into batches of `lineMultiple` lines. A segment started that way
    /// reserves the limit at once: a buffer that filled one segment is in a backlog and will fill the
    /// next, without doubling copies on the way.
    mutating func append(_ lines: [UInt8], lineCount: Int, segmentLimit: Int, lineMultiple: Int) {
        guard !lines.isEmpty else { return }
        byteCount += lines.count
        guard let last = segments.indices.last else {
            segments.append(Segment(bytes: lines, lineCount: lineCount))
            return
        }
        if segments[last].bytes.count + lines.count <= segmentLimit {
            segments[last].bytes.append(contentsOf: lines)
            segments[last].lineCount += lineCount
            return
        }
        let tailLines = segments[last].lineCount >= lineMultiple ? segments[last].lineCount % lineMultiple : 0
        let tailStart = segments[last].bytes.withUnsafeBytes { NewlineScan.startOfTrailingLines(tailLines, in: $0) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(max(segmentLimit, segments[last].bytes.count - tailStart + lines.count))
        bytes.append(contentsOf: segments[last].bytes[tailStart...])
        bytes.append(contentsOf: lines)
        segments[last].bytes.removeSubrange(tailStart...)
        segments[last].lineCount -= tailLines
        segments.append(Segment(bytes: bytes, lineCount: tailLines + lineCount))
    }

    /// Removes and returns the oldest segment whole.
    mutating func removeFirstSegment() -> Segment {
        let segment = segments.removeFirst()
        byteCount -= segment.bytes.count
        return segment
    }

    /// Removes and returns the first `end` bytes (`lines` whole lines) of the oldest segment, which
    /// holds more than that.
    mutating func removePrefixOfFirstSegment(bytes end: Int, lines: Int) -> [UInt8] {
        precondition(!segments.isEmpty && end < segments[0].bytes.count && lines < segments[0].lineCount,
                     "splitting a segment at its end")
        let prefix = Array(segments[0].bytes[..<end])
        let left = segments[0].bytes.count - end
        if left < segments[0].bytes.capacity / 4 {
            // A small remainder of a large segment: its own allocation, so the large one is freed.
            segments[0].bytes = segments[0].bytes.withUnsafeBufferPointer { Array($0[end...]) }
        } else {
            segments[0].bytes.removeFirst(end)
        }
        segments[0].lineCount -= lines
        byteCount -= end
        return prefix
    }
}
