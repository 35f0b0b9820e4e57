/// Events worth a log line or a counter.
public enum WriteLedgerReport: Sendable, Equatable {
    case batchCut(database: String, lines: Int)
    case written(database: String, lines: Int, attempts: Int)
    case retryScheduled(database: String, lines: Int, attempt: Int, delayMilliseconds: Int, status: Int?, message: String)
    case spooled(database: String, lines: Int, attempt: Int, atShutdown: Bool)
    case spoolFailed(database: String, lines: Int)
    case deadLettered(database: String, lines: Int, status: Int)
    case writtenAfterIsolation(database: String, lines: Int)
    case appendWaits(lines: Int, buffered: Int)
    /// The shutdown drain is over: what was written, spooled, and what could not be kept.
    case drained(linesLost: Int)
    /// A batch that could be neither written nor spooled at the deadline.
    case lost(database: String, lines: Int)
}
