import Foundation

/// Names one segment of the `DiskSpool`. The file name carries a zero-padded sequence number (which
/// orders segments, also across restarts, since a new spool continues after the highest number it
/// finds) and the creation time in Unix milliseconds (for the age in `SpoolStatus`; the clock may
/// jump, so it never decides the order): `segment-00000000000000000042-1770628523045.spool`.
public struct SegmentID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let sequence: UInt64
    public let createdAtMilliseconds: Int64

    static let prefix = "segment-"
    static let suffix = ".spool"

    init(sequence: UInt64, createdAtMilliseconds: Int64) {
        self.sequence = sequence
        self.createdAtMilliseconds = createdAtMilliseconds
    }

    /// Accepts only names this type produces (exact round trip), so stray files are never adopted.
    init?(fileName: String) {
        guard fileName.hasPrefix(Self.prefix), fileName.hasSuffix(Self.suffix) else { return nil }
        let core = fileName.dropFirst(Self.prefix.count).dropLast(Self.suffix.count)
        let parts = core.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let sequence = UInt64(parts[0]), let created = Int64(parts[1]) else { return nil }
        self.init(sequence: sequence, createdAtMilliseconds: created)
        guard self.fileName == fileName else { return nil }
    }

    public var fileName: String {
        let digits = String(sequence)
        return Self.prefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits
            + "-\(createdAtMilliseconds)" + Self.suffix
    }

    public var createdAt: Date { Date(timeIntervalSince1970: Double(createdAtMilliseconds) / 1000) }

    public var description: String { fileName }

    public static func < (lhs: SegmentID, rhs: SegmentID) -> Bool {
        (lhs.sequence, lhs.createdAtMilliseconds) < (rhs.sequence, rhs.createdAtMilliseconds)
    }
}
