import IngestCore
import Logging

/// Stopping: lift the memory bound, drain up to the deadline, spool what is left (README,
/// "Delivery guarantees"). The ledger decides; these are its stop events.
extension BatchWriter {
    /// The shutdown drain: flushes every buffer, tries batches waiting out a backoff once more at once,
    /// and waits up to `timeout` for InfluxDB; what it has not taken by then goes to the spool (past
    /// `SPOOL_MAX_BYTES` if need be). Without a spool, what is left then is lost at exit, and said so.
    /// Logs and returns what was drained.
    public func drain(timeout: Duration) async -> DrainReport {
        let before = (
            lines: metrics.linesWritten.load(ordering: .relaxed), batches: metrics.batchesOK.load(ordering: .relaxed),
            linesRejected: metrics.linesRejected.load(ordering: .relaxed),
            batchesRejected: metrics.batchesRejected.load(ordering: .relaxed)
        )
        logger.info("draining buffers", metadata: [
            "lines": "\(ledger.linesInMemory + ledger.linesWaiting)", "timeout_ms": "\(timeout / .milliseconds(1))",
        ])
        let start = ledgerTime
        perform(ledger.drainStarted(now: start, deadline: start + Int64(timeout / .milliseconds(1))))
        if !ledger.isDrained {
            await withCheckedContinuation { drainWaiters.append($0) }
        }
        var report = DrainReport(
            linesWritten: metrics.linesWritten.load(ordering: .relaxed) - before.lines,
            batchesWritten: metrics.batchesOK.load(ordering: .relaxed) - before.batches,
            linesRejected: metrics.linesRejected.load(ordering: .relaxed) - before.linesRejected,
            batchesRejected: metrics.batchesRejected.load(ordering: .relaxed) - before.batchesRejected,
            // Everything the stop spooled or lost, also before the drain began (a second stop signal).
            linesRemaining: shutdown.linesLost,
            batchesRemaining: shutdown.batchesLost
        )
        report.linesSpooled = shutdown.linesSpooled
        let metadata: Logger.Metadata = [
            "lines": "\(report.linesWritten)", "batches": "\(report.batchesWritten)",
            "lines_rejected": "\(report.linesRejected)", "batches_rejected": "\(report.batchesRejected)",
            "lines_remaining": "\(report.linesRemaining)", "batches_remaining": "\(report.batchesRemaining)",
            "lines_spooled": "\(report.linesSpooled)",
        ]
        if report.completed && report.linesSpooled == 0 {
            logger.info("drained all buffers", metadata: metadata)
        } else if report.completed {
            logger.warning("InfluxDB did not take everything in time; the rest is in the spool for the next start", metadata: metadata)
        } else {
            logger.critical("lines still in memory could not be written nor spooled and are lost at exit", metadata: metadata)
        }
        return report
    }

    /// The daemon is stopping (first SIGTERM/SIGINT): appends waiting for memory are let in over the
    /// bound and every later append is flushed at once, so the pipeline can empty the intake and stop.
    public func beginStopping() {
        guard ledger.phase == .running else { return }
        logger.info("stop requested: memory bound lifted so the pipeline can drain the intake", metadata: [
            "lines": "\(ledger.linesInMemory)", "waiting_lines": "\(ledger.linesWaiting)",
        ])
        perform(ledger.stopRequested(now: ledgerTime))
    }

    /// Stops the drain's wait for InfluxDB (second SIGTERM/SIGINT): what is left goes to the spool.
    public func abandonDrain() {
        if case .spoolingRest = ledger.phase { return }
        logger.warning("second stop signal: spooling what is left instead of waiting for InfluxDB")
        perform(ledger.deadlineReached(now: ledgerTime))
    }
}
