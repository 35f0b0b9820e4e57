/// Finds exactly which lines of a refused batch InfluxDB will not take, so they alone are set aside
/// (README, "Delivery guarantees"), as a pure state machine: the caller performs the writes it asks
/// for and reports each outcome.
///
/// - InfluxDB 3 names the refused lines in its answer and has stored the others: done at once.
/// - InfluxDB 1.x and 2.x do not say which lines (nor does a 413): the batch is split in halves and
///   each half written again, down to single lines (bisection). Lines written twice on the way
///   overwrite themselves: every point carries its timestamp.
/// - A retryable failure on the way stops the search: the caller retries the whole batch later.
///
/// One write at a time, in line order.
public struct RefusedLineIsolation: Sendable {
    /// The batch's lines, each with its newline.
    public let lines: [[UInt8]]
    /// Ranges of `lines` still to write, the next one last.
    private var pending: [Range<Int>] = []
    /// The range being written.
    public private(set) var writing: Range<Int>?
    public private(set) var refused: [Refused] = []
    public private(set) var writtenLines = 0

    public struct Refused: Sendable, Equatable {
        public var line: [UInt8]
        public var status: Int
        public var message: String
    }

    public enum Step: Sendable, Equatable {
        /// Write these lines (a sub-range of the batch) and call ``finished(_:)`` with the outcome.
        case write(Range<Int>, body: [UInt8])
        /// Every line is either in InfluxDB or in ``refused``.
        case resolved
        /// A retryable failure: give up the search, retry the whole batch later.
        case interrupted(WriteOutcome)
    }

    /// Starts with the refusal of the whole batch `body`.
    public init(body: [UInt8]) {
        lines = Self.split(body)
    }

    /// The first step, given the whole batch's refusal.
    public mutating func start(_ refusal: WriteOutcome) -> Step {
        precondition(writing == nil && pending.isEmpty && refused.isEmpty && writtenLines == 0,
                     "RefusedLineIsolation.start called twice")
        return handle(refusal, of: 0..<lines.count)
    }

    /// The outcome of the write ``Step/write(_:body:)`` asked for.
    public mutating func finished(_ outcome: WriteOutcome) -> Step {
        guard let range = writing else {
            preconditionFailure("RefusedLineIsolation.finished without a write in flight")
        }
        writing = nil
        return handle(outcome, of: range)
    }

    private mutating func handle(_ outcome: WriteOutcome, of range: Range<Int>) -> Step {
        switch outcome {
        case .written:
            writtenLines += range.count
        case .retryable:
            return .interrupted(outcome)
        case let .refused(status, message, refusedLines?):
            // InfluxDB 3 said which lines (1-based within what was sent) and stored the rest.
            var named = Set<Int>()
            for entry in refusedLines where entry.lineNumber >= 1 && entry.lineNumber <= range.count {
                guard named.insert(entry.lineNumber).inserted else { continue }
                refused.append(Refused(line: lines[range.lowerBound + entry.lineNumber - 1], status: status,
                                       message: entry.message.isEmpty ? message : entry.message))
            }
            writtenLines += range.count - named.count
        case let .refused(status, message, nil):
            if range.count <= 1 {
                for index in range { refused.append(Refused(line: lines[index], status: status, message: message)) }
            } else {
                let middle = range.lowerBound + range.count / 2
                // Last in, first out: the first half is written first.
                pending.append(middle..<range.upperBound)
                pending.append(range.lowerBound..<middle)
            }
        }
        guard let next = pending.popLast() else { return .resolved }
        writing = next
        return .write(next, body: lines[next].flatMap { $0 })
    }

    /// Lines with their newline (a missing final newline is added).
    public static func split(_ body: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        for index in body.indices where body[index] == UInt8(ascii: "\n") {
            lines.append(Array(body[start...index]))
            start = index + 1
        }
        if start < body.count { lines.append(Array(body[start...]) + [UInt8(ascii: "\n")]) }
        return lines
    }
}
