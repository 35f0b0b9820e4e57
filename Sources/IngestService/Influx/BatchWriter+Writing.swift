/// Write slots: starting writes, taking their results, and the bookkeeping after every change.
extension BatchWriter {
    /// Starts writes while slots are free.
    func pump() {
        while inFlight < max(1, configuration.concurrency), !ready.isEmpty {
            let batch = ready.removeFirst()
            inFlight += 1
            inFlightBatches[batch.id] = batch
            let client = self.client
            Task {
                let result = await client.write(database: batch.database, body: batch.body, lineCount: batch.lineCount)
                self.finished(batch, result: result)
            }
        }
    }

    private func finished(_ batch: Batch, result: InfluxWriteResult) {
        inFlight -= 1
        inFlightBatches[batch.id] = nil
        if spooledAtShutdown.remove(batch.id) != nil {
            pump()
            return
        }
        switch result {
        case .written:
            metrics.batchesOK.wrappingAdd(1, ordering: .relaxed)
            metrics.linesWritten.wrappingAdd(batch.lineCount, ordering: .relaxed)
            metrics.influxUp.store(1, ordering: .relaxed)
            linesInMemory -= batch.lineCount
            if batch.failedAttempts > 0 {
                logger.info("batch written after retries", metadata: [
                    "database": "\(batch.database)", "lines": "\(batch.lineCount)",
                    "attempt": "\(batch.failedAttempts + 1)",
                ])
            }
        case .retryable(let failure):
            metrics.batchesFailed.wrappingAdd(1, ordering: .relaxed)
            metrics.setLastWriteError(failure.shortDescription)
            metrics.influxUp.store(0, ordering: .relaxed)
            if let store, !abandoned, now() - batch.createdAt >= .milliseconds(configuration.spoolAfterMilliseconds) {
                park(batch) { await store.spool(database: batch.database, body: batch.body, lineCount: batch.lineCount) } resume: { writer, spooled in
                    writer.spoolFinished(batch, spooled: spooled, failure: failure)
                }
            } else {
                scheduleRetry(batch, failure: failure)
            }
        case .rejected(let failure):
            metrics.batchesFailed.wrappingAdd(1, ordering: .relaxed)
            metrics.setLastWriteError(failure.shortDescription)
            metrics.influxUp.store(1, ordering: .relaxed)
            let isolator = RefusedLineIsolator(client: client)
            park(batch) {
                await isolator.isolate(database: batch.database, body: batch.body, failure: failure)
            } resume: { writer, outcome in
                await writer.isolated(batch, outcome: outcome)
            }
        }
        afterChange()
    }

    func afterChange() {
        publishBufferedLines()
        resumeSpaceWaiters()
        pump()
        acknowledgeJournal()
        resumeIdleWaitersIfIdle()
    }

    /// Tells the crash journal (and the MQTT acknowledgements) which lines are safe (in InfluxDB, the
    /// spool or the dead-letter folder): every number below the smallest one still buffered, queued,
    /// in flight or arriving.
    func acknowledgeJournal() {
        guard let journal, let highest = highestSequence else { return }
        var lowest = UInt64.max
        for buffer in buffers.values { if let first = buffer.sequenceRuns.first?.start { lowest = min(lowest, first) } }
        for first in appendingSequences.keys { lowest = min(lowest, first) }
        func consider(_ batch: Batch) {
            if let first = batch.firstSequence, !spooledAtShutdown.contains(batch.id) { lowest = min(lowest, first) }
        }
        ready.forEach(consider)
        waitingRetry.values.forEach(consider)
        inFlightBatches.values.forEach(consider)
        parkedBatches.values.forEach(consider)
        let mark = lowest == .max ? highest : lowest &- 1
        guard lowest > 0, mark > acknowledgedSequence else { return }
        acknowledgedSequence = mark
        journal.acknowledge(upTo: mark)
    }

    func publishBufferedLines() {
        metrics.bufferedLines.store(linesInMemory, ordering: .relaxed)
    }
}
