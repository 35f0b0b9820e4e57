import IngestCore

/// Performing the ledger's actions, and feeding their results back as events.
extension BatchWriter {
    /// Performs `actions` in order. Results that are known at once (a dead-letter write without a
    /// store) are fed back here and their actions performed too; the others come back through tasks.
    func perform(_ actions: [WriteLedgerAction]) {
        var pending = actions[...]
        while let action = pending.popFirst() {
            switch action {
            case .write(let batch):
                startWrite(batch)
            case let .writeLines(id, database, body, lineCount):
                let client = self.client
                // One task per write: the HTTP call itself runs on a curl worker thread, the task only
                // waits for it.
                Task {
                    let result = await client.write(database: database, body: body, lineCount: lineCount)
                    self.isolationWriteFinished(id, result: result)
                }
            case let .spool(batch, pastLimit):
                guard let store else { preconditionFailure("the ledger spools only when there is a spool") }
                // The disk work runs on the spool's own file thread; this task waits for it.
                Task {
                    let stored = pastLimit
                        ? await store.spoolPastLimit(database: batch.database, body: batch.body, lineCount: batch.lineCount)
                        : await store.spool(database: batch.database, body: batch.body, lineCount: batch.lineCount)
                    self.perform(self.ledger.spoolFinished(batch.id, stored: stored, now: self.ledgerTime))
                }
            case let .deadLetter(id, database, status, message, lines):
                if let store {
                    Task {
                        let stored = await store.deadLetter(database: database, status: status, error: message, lines: lines)
                        self.perform(self.ledger.deadLetterFinished(id, stored: stored, now: self.ledgerTime))
                    }
                } else {
                    logger.error("InfluxDB refused lines and there is no spool to set them aside", metadata: [
                        "database": "\(database)", "lines": "\(lines.count)", "status": "\(status)", "error": "\(message)",
                    ])
                    pending.append(contentsOf: ledger.deadLetterFinished(id, stored: true, now: ledgerTime))
                }
            case .armTimer(let at):
                armTimer(at: at)
            case .linesSafe(let line):
                if let journal, let mark = safeSequenceMarks.linesSafe(upTo: line) { journal.acknowledge(upTo: mark) }
            case .wakeAppender(let appender):
                wake(appender: appender)
            case .report(let report):
                record(report)
            }
        }
        metrics.bufferedLines.store(ledger.linesInMemory, ordering: .relaxed)
        metrics.influxUp.store(ledger.influxUp ? 1 : 0, ordering: .relaxed)
        metrics.writeConcurrency.store(ledger.writeConcurrency, ordering: .relaxed)
        metrics.lastBatchLines.store(ledger.batchLines, ordering: .relaxed)
        if !drainWaiters.isEmpty && ledger.isDrained {
            let waiters = drainWaiters
            drainWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    private func startWrite(_ batch: LedgerBatch) {
        let client = self.client
        Task {
            let result = await client.write(database: batch.database, body: batch.body, lineCount: batch.lineCount)
            self.writeFinished(batch, result: result)
        }
    }

    private func writeFinished(_ batch: LedgerBatch, result: InfluxWriteResult) {
        switch result {
        case .written:
            break
        case .retryable(let failure), .rejected(let failure):
            metrics.batchesFailed.wrappingAdd(1, ordering: .relaxed)
            metrics.setLastWriteError(failure.shortDescription)
        }
        perform(ledger.writeFinished(batch.id, outcome: RefusedLineIsolator.outcome(of: result), now: ledgerTime))
    }

    private func isolationWriteFinished(_ id: LedgerBatch.ID, result: InfluxWriteResult) {
        perform(ledger.isolationWriteFinished(id, outcome: RefusedLineIsolator.outcome(of: result), now: ledgerTime))
    }

    // MARK: - Timer

    /// One timer at a time: the ledger re-arms it whenever its next deadline (a buffer's flush
    /// interval, a retry, the drain deadline) changes.
    private func armTimer(at time: Int64) {
        timer?.cancel()
        let delay = Duration.milliseconds(max(1, time - ledgerTime))
        let sleep = self.sleep
        timer = Task {
            do { try await sleep(delay) } catch { return }
            self.timerFired()
        }
    }

    private func timerFired() {
        perform(ledger.timerFired(now: ledgerTime))
    }
}
