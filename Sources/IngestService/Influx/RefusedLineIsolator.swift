import IngestCore

/// Runs the pure ``RefusedLineIsolation`` against InfluxDB: finds exactly which lines of a refused
/// batch InfluxDB will not take, so they alone are set aside (README, "Delivery guarantees"). Shared
/// by the batch writer and the spool replayer.
///
/// - InfluxDB 3 lists the refused lines in its answer (`PartialWriteReport`); the others are stored.
/// - InfluxDB 1.x and 2.x do not say which lines: the batch is split in halves and each half written
///   again, down to single lines (bisection). 413 (too large) is split the same way.
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
        var isolation = RefusedLineIsolation(body: body)
        var step = isolation.start(Self.outcome(of: .rejected(failure)))
        while true {
            switch step {
            case let .write(range, sent):
                let result = await client.write(database: database, body: sent, lineCount: range.count)
                if case .retryable(let failure) = result { return .interrupted(failure) }
                step = isolation.finished(Self.outcome(of: result))
            case .resolved:
                return .resolved(refused: isolation.refused.map { ($0.line, $0.status, $0.message) },
                                 written: isolation.writtenLines)
            case .interrupted:
                preconditionFailure("a retryable failure is returned before it reaches the isolation")
            }
        }
    }

    /// The HTTP client's result as the write ledger reads it: a 400/422 with InfluxDB 3's list of
    /// refused lines names them; any other refusal leaves them to bisection.
    static func outcome(of result: InfluxWriteResult) -> WriteOutcome {
        switch result {
        case .written:
            return .written
        case .retryable(let failure):
            return .retryable(status: failure.statusCode, retryAfterSeconds: failure.retryAfterSeconds,
                              message: failure.shortDescription)
        case .rejected(let failure):
            if case let .status(code, text, _) = failure, code == 400 || code == 422,
               let report = PartialWriteReport(body: text) {
                return .refused(status: code, message: report.error,
                                refusedLines: report.refused.map { .init(lineNumber: $0.lineNumber, message: $0.message) })
            }
            return .refused(status: failure.statusCode ?? 0, message: failure.shortDescription, refusedLines: nil)
        }
    }
}
