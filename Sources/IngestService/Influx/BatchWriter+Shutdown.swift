import Logging

/// Stopping: lift the memory bound, drain up to the deadline, spool what is left (README,
/// "Delivery guarantees").
extension BatchWriter {
    /// Flushes every buffer and waits, up to `timeout`, until every line in memory is acknowledged
    /// or refused. Batches waiting out a backoff delay are tried once more at once. Logs and returns
    /// what was drained and what is still in memory.
    public func drain(timeout: Duration) async -> DrainReport {
        drainsInProgress += 1
        defer { drainsInProgress -= 1 }
        let before = (
            lines: metrics.linesWritten.load(ordering: .relaxed), batches: metrics.batchesOK.load(ordering: .relaxed),
            linesRejected: metrics.linesRejected.load(ordering: .relaxed), batchesRejected: metrics.batchesRejected.load(ordering: .relaxed)
        )
        logger.info("draining buffers", metadata: ["lines": "\(linesInMemory)", "timeout_ms": "\(timeout / .milliseconds(1))"])
        resumeSpaceWaiters()
        for database in Array(buffers.keys) {
            guard var buffer = buffers.removeValue(forKey: database) else { continue }
            while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database) }
        }
        let retries = waitingRetry.values.sorted { $0.id < $1.id }
        waitingRetry.removeAll()
        ready.insert(contentsOf: retries, at: 0)
        pump()

        _ = await waitUntilIdle(timeout: timeout)
        let linesSpooled = await spoolWhatIsLeft()

        var report = DrainReport(
            linesWritten: metrics.linesWritten.load(ordering: .relaxed) - before.lines,
            batchesWritten: metrics.batchesOK.load(ordering: .relaxed) - before.batches,
            linesRejected: metrics.linesRejected.load(ordering: .relaxed) - before.linesRejected,
            batchesRejected: metrics.batchesRejected.load(ordering: .relaxed) - before.batchesRejected,
            linesRemaining: linesInMemory,
            batchesRemaining: ready.count + inFlightBatches.count + waitingRetry.count + buffers.count + parkedBatches.count
        )
        report.linesSpooled = linesSpooled
        let metadata: Logger.Metadata = [
            "lines": "\(report.linesWritten)", "batches": "\(report.batchesWritten)",
            "lines_rejected": "\(report.linesRejected)", "batches_rejected": "\(report.batchesRejected)",
            "lines_remaining": "\(report.linesRemaining)", "batches_remaining": "\(report.batchesRemaining)",
            "lines_spooled": "\(report.linesSpooled)",
        ]
        if report.completed && linesSpooled == 0 {
            logger.info("drained all buffers", metadata: metadata)
        } else if report.completed {
            logger.warning("InfluxDB did not take everything in time; the rest is in the spool for the next start", metadata: metadata)
        } else {
            logger.critical("lines still in memory could not be written nor spooled and are lost at exit", metadata: metadata)
        }
        return report
    }

    /// The daemon is stopping (first SIGTERM/SIGINT): appends waiting for memory are let in over the
    /// bound and every later append is flushed at once, so the pipeline can empty the intake and stop;
    /// what InfluxDB does not take by the deadline goes to the spool, past `SPOOL_MAX_BYTES` if need be.
    public func beginStopping() {
        guard !shuttingDown else { return }
        shuttingDown = true
        logger.info("stop requested: memory bound lifted so the pipeline can drain the intake", metadata: [
            "lines": "\(linesInMemory)", "waiting_appends": "\(spaceWaiters.count)",
        ])
        resumeSpaceWaiters()
        for database in Array(buffers.keys) {
            guard var buffer = buffers.removeValue(forKey: database) else { continue }
            while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database) }
        }
        publishBufferedLines()
        pump()
    }

    /// Stops a running drain's wait for InfluxDB (second SIGTERM/SIGINT).
    public func abandonDrain() {
        guard !abandoned else { return }
        abandoned = true
        beginStopping()
        logger.warning("second stop signal: spooling what is left instead of waiting for InfluxDB")
        for (id, continuation) in idleWaiters {
            idleWaiters[id] = nil
            continuation.resume(returning: false)
        }
    }

    /// After a drain timed out: every batch still in memory (buffered, ready, waiting for a retry,
    /// in flight or parked) goes to the spool. A write still in flight may yet succeed; the line is
    /// then in InfluxDB and in the spool, and the replay overwrites it with itself.
    private func spoolWhatIsLeft() async -> Int {
        guard let store, linesInMemory > 0 else { return 0 }
        for database in Array(buffers.keys) {
            guard var buffer = buffers.removeValue(forKey: database) else { continue }
            while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database) }
        }
        var batches = ready + waitingRetry.values.sorted { $0.id < $1.id }
        ready.removeAll()
        waitingRetry.removeAll()
        let running = Array(inFlightBatches.values) + Array(parkedBatches.values)
        batches += running
        var spooled = 0
        for batch in batches {
            // Past SPOOL_MAX_BYTES if need be: these lines are acknowledged to the broker, and the
            // process is about to exit (README, "Delivery guarantees").
            guard await store.spoolPastLimit(database: batch.database, body: batch.body, lineCount: batch.lineCount) else {
                // Keep it where it was so the report counts it as remaining.
                if inFlightBatches[batch.id] == nil && parkedBatches[batch.id] == nil { ready.append(batch) }
                continue
            }
            if inFlightBatches[batch.id] != nil || parkedBatches[batch.id] != nil { spooledAtShutdown.insert(batch.id) }
            linesInMemory -= batch.lineCount
            spooled += batch.lineCount
        }
        publishBufferedLines()
        acknowledgeJournal()
        return spooled
    }

    /// True when nothing is in memory; false when `timeout` passed first, or a second stop signal
    /// came (also one that came before the drain began: the MQTT client's wait for acknowledgements
    /// at a stop comes first with DURABILITY=journal/broker).
    private func waitUntilIdle(timeout: Duration) async -> Bool {
        if linesInMemory == 0 { return true }
        if abandoned { return false }
        let id = nextID
        nextID += 1
        let sleep = self.sleep
        let timer = Task {
            try? await sleep(timeout)
            self.resumeIdleWaiter(id: id, idle: false)
        }
        let idle = await withCheckedContinuation { continuation in
            idleWaiters[id] = continuation
        }
        timer.cancel()
        return idle
    }

    private func resumeIdleWaiter(id: Int, idle: Bool) {
        idleWaiters.removeValue(forKey: id)?.resume(returning: idle)
    }

    func resumeIdleWaitersIfIdle() {
        guard linesInMemory == 0, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for continuation in waiters.values { continuation.resume(returning: true) }
    }
}
