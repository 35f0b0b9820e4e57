/// Batches handed to the disk spool or the refused-line isolator, and what comes back.
extension BatchWriter {
    /// Runs `work` for a batch outside the actor's queue (a spool write, the bisection of a refused
    /// batch), keeping the batch counted in memory until `resume` has decided its fate.
    func park<Result: Sendable>(
        _ batch: Batch,
        _ work: @escaping @Sendable () async -> Result,
        resume: @escaping @Sendable (isolated BatchWriter, Result) async -> Void
    ) {
        parkedBatches[batch.id] = batch
        Task {
            let result = await work()
            await self.unpark(batch.id, result: result, resume: resume)
        }
    }

    private func unpark<Result: Sendable>(
        _ id: Int, result: Result, resume: @Sendable (isolated BatchWriter, Result) async -> Void
    ) async {
        parkedBatches[id] = nil
        if spooledAtShutdown.remove(id) != nil { return }
        await resume(self, result)
        afterChange()
    }

    func spoolFinished(_ batch: Batch, spooled: Bool, failure: InfluxWriteFailure) {
        if spooled {
            linesInMemory -= batch.lineCount
            logger.warning("InfluxDB has not taken the batch in time; spooled to disk for replay", metadata: [
                "database": "\(batch.database)", "lines": "\(batch.lineCount)", "attempt": "\(batch.failedAttempts + 1)",
                "error": "\(failure.shortDescription)",
            ])
        } else {
            scheduleRetry(batch, failure: failure)
        }
    }

    func isolated(_ batch: Batch, outcome: RefusedLineIsolator.Outcome) async {
        switch outcome {
        case .interrupted(let failure):
            scheduleRetry(batch, failure: failure)
        case let .resolved(refused, written):
            if !refused.isEmpty {
                let first = refused[0]
                let setAside: Bool
                if let store {
                    setAside = await store.deadLetter(
                        database: batch.database, status: first.status, error: first.error, lines: refused.map(\.line))
                } else {
                    logger.error("InfluxDB refused lines and there is no spool to set them aside", metadata: [
                        "database": "\(batch.database)", "lines": "\(refused.count)", "error": "\(first.error)",
                    ])
                    setAside = true
                }
                guard setAside else {
                    scheduleRetry(batch, failure: .status(code: first.status, body: first.error, retryAfterSeconds: nil))
                    return
                }
                metrics.batchesRejected.wrappingAdd(1, ordering: .relaxed)
                metrics.linesRejected.wrappingAdd(refused.count, ordering: .relaxed)
            }
            metrics.linesWritten.wrappingAdd(written, ordering: .relaxed)
            linesInMemory -= batch.lineCount
        }
    }
}
