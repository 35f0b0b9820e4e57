/// Finds exactly which lines of a refused batch InfluxDB will not take, so they alone are set aside.
///
/// - InfluxDB 3 lists the refused lines in its answer (`PartialWriteReport`); the others are stored.
/// - InfluxDB 1.x and 2.x do not say which lines: the batch is split in halves and each half written
///   again, down to single lines (bisection). Lines written twice on the way overwrite themselves:
///   every point carries its timestamp.
/// - 413 (too large) is split the same way.
///
/// A retryable failure on the way stops the search: the caller retries the whole batch later.
struct RefusedLineIsolator: Sendable {
    let client: any InfluxWriting

    enum Outcome: Sendable {
        /// Every line is either stored in InfluxDB or in `refused`, with InfluxDB's answer.
        case resolved(refused: [(line: [UInt8], status: Int, error: String)], written: Int)
        case interrupted(InfluxWriteFailure)
    }

    func isolate(database: String, body: [UInt8], failure: InfluxWriteFailure) async -> Outcome {
        let lines = Self.split(body)
        if case let .status(code, text, _) = failure, code == 400 || code == 422,
           let report = PartialWriteReport(body: text) {
            let refusedNumbers = Set(report.refused.map(\.lineNumber))
            let refused = report.refused.compactMap { entry -> ([UInt8], Int, String)? in
                guard entry.lineNumber <= lines.count else { return nil }
                return (lines[entry.lineNumber - 1], code, entry.message.isEmpty ? report.error : entry.message)
            }
            return .resolved(refused: refused, written: lines.count - refusedNumbers.count)
        }
        return await bisect(database: database, lines: lines[...], failure: failure)
    }

    private func bisect(database: String, lines: ArraySlice<[UInt8]>, failure: InfluxWriteFailure) async -> Outcome {
        if lines.count <= 1 {
            let refused = lines.map { ($0, failure.statusCode ?? 0, failure.shortDescription) }
            return .resolved(refused: refused, written: 0)
        }
        var refused: [(line: [UInt8], status: Int, error: String)] = []
        var written = 0
        let middle = lines.startIndex + lines.count / 2
        for half in [lines[..<middle], lines[middle...]] {
            let body = half.flatMap { $0 }
            switch await client.write(database: database, body: body, lineCount: half.count) {
            case .written:
                written += half.count
            case .retryable(let failure):
                return .interrupted(failure)
            case .rejected(let failure):
                switch await bisect(database: database, lines: half, failure: failure) {
                case .interrupted(let failure):
                    return .interrupted(failure)
                case let .resolved(more, moreWritten):
                    refused += more
                    written += moreWritten
                }
            }
        }
        return .resolved(refused: refused, written: written)
    }

    /// Lines with their newline.
    static func split(_ body: [UInt8]) -> [[UInt8]] {
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
