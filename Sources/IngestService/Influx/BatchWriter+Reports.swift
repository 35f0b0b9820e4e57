import IngestCore
import Logging

/// The ledger's reports as counters and log lines. The spool and the dead-letter folder log their own
/// events (`DurableStore`); the writer logs what only it knows: retries, late writes, spooling after
/// `SPOOL_AFTER_MS`.
extension BatchWriter {
    func record(_ report: WriteLedgerReport) {
        switch report {
        case .batchCut:
            metrics.flushes.wrappingAdd(1, ordering: .relaxed)
        case let .written(database, lines, attempts):
            metrics.batchesOK.wrappingAdd(1, ordering: .relaxed)
            metrics.linesWritten.wrappingAdd(lines, ordering: .relaxed)
            if attempts > 1 {
                logger.info("batch written after retries", metadata: [
                    "database": "\(database)", "lines": "\(lines)", "attempt": "\(attempts)",
                ])
            }
        case let .retryScheduled(database, lines, attempt, delay, status, message):
            metrics.retries.wrappingAdd(1, ordering: .relaxed)
            logRetry(database: database, lines: lines, attempt: attempt, delayMilliseconds: delay, status: status, message: message)
        case let .spooled(database, lines, attempt, atShutdown):
            if atShutdown {
                shutdown.linesSpooled += lines
            } else if attempt > 1 {
                logger.warning("InfluxDB has not taken the batch in time; spooled to disk for replay", metadata: [
                    "database": "\(database)", "lines": "\(lines)", "attempt": "\(attempt)",
                    "error": "\(metrics.lastWriteError ?? "-")",
                ])
            } else {
                logger.debug("memory full while InfluxDB is down; chunk spooled to disk", metadata: [
                    "database": "\(database)", "lines": "\(lines)",
                ])
            }
        case .spoolFailed:
            break // the store says why, once (spool full, disk error); the batch stays in memory
        case let .deadLettered(_, lines, _):
            metrics.batchesRejected.wrappingAdd(1, ordering: .relaxed)
            metrics.linesRejected.wrappingAdd(lines, ordering: .relaxed)
        case let .writtenAfterIsolation(_, lines):
            metrics.linesWritten.wrappingAdd(lines, ordering: .relaxed)
        case let .appendWaits(lines, buffered):
            logger.debug("memory bound reached, append waits", metadata: ["lines": "\(lines)", "buffered": "\(buffered)"])
        case .drained:
            break // the drain's caller is resumed once the ledger is drained, after every action
        case let .lost(database, lines):
            shutdown.linesLost += lines
            shutdown.batchesLost += 1
            logger.debug("batch neither written nor spooled by the deadline", metadata: [
                "database": "\(database)", "lines": "\(lines)",
            ])
        }
    }

    /// Warns on the first failure of a batch and then on attempts 2, 4, 8, …, so an outage does not
    /// flood the log; the other attempts log at debug. 401/403 are operator errors (credentials) and
    /// are logged as errors on every attempt.
    private func logRetry(database: String, lines: Int, attempt: Int, delayMilliseconds: Int, status: Int?, message: String) {
        let metadata: Logger.Metadata = [
            "database": "\(database)", "lines": "\(lines)", "status": "\(status.map(String.init) ?? "-")",
            "attempt": "\(attempt)", "delay_ms": "\(delayMilliseconds)", "error": "\(message)",
        ]
        switch status {
        case 401, 403:
            logger.error("InfluxDB refused the credentials; check INFLUXDB_TOKEN and permissions; will retry", metadata: metadata)
        default:
            let prominent = attempt & (attempt - 1) == 0
            logger.log(level: prominent ? .warning : .debug, "write failed; will retry", metadata: metadata)
        }
    }
}
