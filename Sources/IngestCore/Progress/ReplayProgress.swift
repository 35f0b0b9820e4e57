/// Where `ingestd spool replay` stands, and how it shows it: a bar redrawn in place on a terminal,
/// a plain line (for a log) otherwise, and the summary at the end. Pure values, so the texts are
/// tested without a terminal.
public struct ReplayProgress: Sendable, Equatable {
    public let totalSegments: Int
    public private(set) var sentSegments = 0
    public private(set) var keptSegments = 0
    public private(set) var missingSegments = 0
    public private(set) var lines = 0

    public init(totalSegments: Int) {
        self.totalSegments = totalSegments
    }

    public var doneSegments: Int { sentSegments + keptSegments + missingSegments }
    /// Segments still in the spool at the end: not sent, or not reached.
    public var leftSegments: Int { totalSegments - sentSegments - missingSegments }

    public mutating func sent(lines: Int) {
        sentSegments += 1
        self.lines += lines
    }

    public mutating func kept() { keptSegments += 1 }
    public mutating func missing() { missingSegments += 1 }

    /// `[#########...........]  45% 9/20 segments, 4500 lines, 1 kept` in `width` bar cells.
    public func bar(width: Int = 30) -> String {
        let fraction = totalSegments == 0 ? 1 : Double(doneSegments) / Double(totalSegments)
        let filled = min(width, Int((fraction * Double(width)).rounded(.down)))
        let percent = Int((fraction * 100).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let padded = String(repeating: " ", count: max(0, 3 - String(percent).count)) + "\(percent)"
        return "[\(bar)] \(padded)% \(counts)"
    }

    /// `9/20 segments, 4500 lines, 1 kept`, for a line every few seconds when not on a terminal.
    public var counts: String {
        var text = "\(doneSegments)/\(totalSegments) segments, \(lines) lines"
        if keptSegments > 0 { text += ", \(keptSegments) kept" }
        if missingSegments > 0 { text += ", \(missingSegments) unreadable" }
        return text
    }

    /// The last line: what was sent and what is left (README "Spool tools").
    public var summary: String {
        var text = "spool replay: \(sentSegments) of \(totalSegments) segments sent (\(lines) lines)"
        if missingSegments > 0 { text += ", \(missingSegments) unreadable (moved to corrupt/)" }
        text += leftSegments == 0 ? ", nothing left" : ", \(leftSegments) left in the spool"
        return text
    }
}
