/// What the write ledger asks its executor to do. The executor performs each and reports the result
/// back as an event (README, "How the write path works").
public enum WriteLedgerAction: Sendable {
    /// POST the batch to InfluxDB; report with `writeFinished`.
    case write(LedgerBatch)
    /// POST part of a refused batch (bisection); report with `isolationWriteFinished`.
    case writeLines(batch: LedgerBatch.ID, database: String, body: [UInt8], lineCount: Int)
    /// Store the batch in the spool (`pastLimit`: beyond `SPOOL_MAX_BYTES`, at shutdown); report with `spoolFinished`.
    case spool(LedgerBatch, pastLimit: Bool)
    /// Set refused lines aside; report with `deadLetterFinished`.
    case deadLetter(batch: LedgerBatch.ID, database: String, status: Int, message: String, lines: [[UInt8]])
    /// Call `timerFired` at this ledger time (replaces any earlier timer).
    case armTimer(at: Int64)
    /// Every line numbered up to this is in InfluxDB, the spool or the dead-letter folder.
    case linesSafe(upTo: UInt64)
    /// Resume the appender that was told to wait.
    case wakeAppender(Int)
    /// For logs and metrics.
    case report(WriteLedgerReport)
}
