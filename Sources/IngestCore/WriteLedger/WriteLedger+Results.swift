/// Results of the executor's I/O, fed back into the ledger.
extension WriteLedger {
    /// A ``WriteLedgerAction/write(_:)`` finished.
    public mutating func writeFinished(_ id: LedgerBatch.ID, outcome: WriteOutcome, now: Int64) -> [WriteLedgerAction] {
        var actions: [WriteLedgerAction] = []
        if let abandoned = abandonedWrites.removeValue(forKey: id) {
            // Spooled at the deadline meanwhile: if it was written too, the replay overwrites it with itself.
            writeReturned(database: abandoned.database, startedAt: abandoned.startedAt, outcome: outcome, now: now)
            finish(&actions, now: now)
            return actions
        }
        guard var batch = batches[id], case .writing = batch.state else {
            preconditionFailure("writeFinished(\(id)) for a batch that is \(batches[id]?.state.name ?? "unknown")")
        }
        writeReturned(database: batch.database, startedAt: batch.writeStartedAt, outcome: outcome, now: now)
        switch outcome {
        case .written:
            influxUp = true
            remove(batch)
            actions.append(.report(.written(database: batch.database, lines: batch.lineCount, attempts: batch.failedAttempts + 1)))
        case .retryable:
            influxUp = false
            batch.failedAttempts += 1
            retryOrSpool(batch, outcome: outcome, now: now, into: &actions)
        case .refused:
            influxUp = true
            var isolation = RefusedLineIsolation(body: batch.body)
            let step = isolation.start(outcome)
            batch.state = .isolating(isolation)
            batches[id] = batch
            take(step, for: id, now: now, into: &actions)
        }
        finish(&actions, now: now)
        return actions
    }

    /// A ``WriteLedgerAction/writeLines(batch:database:body:lineCount:)`` (bisection) finished.
    public mutating func isolationWriteFinished(_ id: LedgerBatch.ID, outcome: WriteOutcome, now: Int64) -> [WriteLedgerAction] {
        var actions: [WriteLedgerAction] = []
        if abandonedIsolationWrites.remove(id) != nil {
            finish(&actions, now: now)
            return actions
        }
        guard let batch = batches[id], case .isolating(var isolation) = batch.state, isolation.writing != nil else {
            preconditionFailure("isolationWriteFinished(\(id)) for a batch that is \(batches[id]?.state.name ?? "unknown")")
        }
        if case .retryable = outcome { influxUp = false } else { influxUp = true }
        let step = isolation.finished(outcome)
        batches[id]!.state = .isolating(isolation)
        take(step, for: id, now: now, into: &actions)
        finish(&actions, now: now)
        return actions
    }

    /// A ``WriteLedgerAction/spool(_:pastLimit:)`` finished; `stored` false on a full spool or a disk error.
    public mutating func spoolFinished(_ id: LedgerBatch.ID, stored: Bool, now: Int64) -> [WriteLedgerAction] {
        var actions: [WriteLedgerAction] = []
        guard var batch = batches[id] else { preconditionFailure("spoolFinished(\(id)) for an unknown batch") }
        switch batch.state {
        case .spooling:
            if stored {
                batches[id] = nil
                if let appender = batch.waitingAppender {
                    actions.append(.wakeAppender(appender))
                } else {
                    release(batch)
                }
                actions.append(.report(.spooled(database: batch.database, lines: batch.lineCount,
                                                attempt: batch.failedAttempts + 1, atShutdown: false)))
            } else if let appender = batch.waitingAppender {
                // The chunk waits for memory after all, first in line.
                batches[id] = nil
                waiting.insert(WaitingChunk(appender: appender, database: batch.database, lines: batch.body,
                                            count: batch.lineCount, firstLine: batch.firstLine), at: 0)
            } else {
                actions.append(.report(.spoolFailed(database: batch.database, lines: batch.lineCount)))
                if phase == .spoolingRest {
                    dispose(&batch, into: &actions)
                } else {
                    scheduleRetry(&batch, outcome: nil, now: now, into: &actions)
                }
            }
        case .spoolingAtShutdown:
            batches[id] = nil
            if let appender = batch.waitingAppender { actions.append(.wakeAppender(appender)) } else { release(batch) }
            if stored {
                actions.append(.report(.spooled(database: batch.database, lines: batch.lineCount,
                                                attempt: batch.failedAttempts + 1, atShutdown: true)))
            } else {
                linesLost += batch.lineCount
                lostFloor = min(lostFloor ?? batch.firstLine, batch.firstLine)
                actions.append(.report(.lost(database: batch.database, lines: batch.lineCount)))
            }
        default:
            preconditionFailure("spoolFinished(\(id)) for a batch that is \(batch.state.name)")
        }
        finish(&actions, now: now)
        return actions
    }

    /// A ``WriteLedgerAction/deadLetter(batch:database:status:message:lines:)`` finished.
    public mutating func deadLetterFinished(_ id: LedgerBatch.ID, stored: Bool, now: Int64) -> [WriteLedgerAction] {
        var actions: [WriteLedgerAction] = []
        guard var batch = batches[id], case .deadLettering(let isolation) = batch.state else {
            preconditionFailure("deadLetterFinished(\(id)) for a batch that is \(batches[id]?.state.name ?? "unknown")")
        }
        if stored {
            remove(batch)
            let status = isolation.refused.first?.status ?? 0
            actions.append(.report(.deadLettered(database: batch.database, lines: isolation.refused.count, status: status)))
            actions.append(.report(.writtenAfterIsolation(database: batch.database, lines: isolation.writtenLines)))
        } else if phase == .spoolingRest {
            dispose(&batch, into: &actions)
        } else {
            // Try the whole batch again later; the lines InfluxDB took overwrite themselves.
            batch.failedAttempts += 1
            scheduleRetry(&batch, outcome: nil, now: now, into: &actions)
        }
        finish(&actions, now: now)
        return actions
    }

    // MARK: - Helpers

    mutating func remove(_ batch: LedgerBatch) {
        batches[batch.id] = nil
        release(batch)
    }

    /// The batch's lines leave memory.
    mutating func release(_ batch: LedgerBatch) {
        linesInMemory -= batch.lineCount
        bytesInMemory -= batch.body.count
    }

    mutating func take(_ step: RefusedLineIsolation.Step, for id: LedgerBatch.ID, now: Int64, into actions: inout [WriteLedgerAction]) {
        guard var batch = batches[id], case .isolating(let isolation) = batch.state else {
            preconditionFailure("isolation step for a batch that is \(batches[id]?.state.name ?? "unknown")")
        }
        switch step {
        case let .write(range, body):
            actions.append(.writeLines(batch: id, database: batch.database, body: body, lineCount: range.count))
        case .resolved where isolation.refused.isEmpty:
            remove(batch)
            actions.append(.report(.writtenAfterIsolation(database: batch.database, lines: isolation.writtenLines)))
        case .resolved:
            batch.state = .deadLettering(isolation: isolation)
            batches[id] = batch
            let first = isolation.refused[0]
            actions.append(.deadLetter(batch: id, database: batch.database, status: first.status, message: first.message,
                                       lines: isolation.refused.map(\.line)))
        case .interrupted(let outcome):
            influxUp = false
            batch.failedAttempts += 1
            retryOrSpool(batch, outcome: outcome, now: now, into: &actions)
        }
    }

    /// After a failure that can pass: to the spool once the batch is `spoolAfterMilliseconds` old,
    /// else another attempt after the backoff delay.
    mutating func retryOrSpool(_ batch: LedgerBatch, outcome: WriteOutcome, now: Int64, into actions: inout [WriteLedgerAction]) {
        var batch = batch
        if phase == .spoolingRest {
            dispose(&batch, into: &actions)
        } else if configuration.hasSpool, now - batch.createdAt >= configuration.spoolAfterMilliseconds {
            batch.state = .spooling
            batches[batch.id] = batch
            actions.append(.spool(batch, pastLimit: false))
        } else {
            scheduleRetry(&batch, outcome: outcome, now: now, into: &actions)
        }
    }

    mutating func scheduleRetry(_ batch: inout LedgerBatch, outcome: WriteOutcome?, now: Int64, into actions: inout [WriteLedgerAction]) {
        var retryAfter: Double?
        var status: Int?
        var message = "spool or dead-letter write failed"
        if case let .retryable(code, after, text)? = outcome {
            retryAfter = after
            status = code
            message = text
        }
        let attempt = max(1, batch.failedAttempts)
        let delay = configuration.backoff.delayMilliseconds(attempt: attempt, retryAfterSeconds: retryAfter, unit: random.unit())
        batch.state = .waitingRetry(until: now + Int64(delay))
        batches[batch.id] = batch
        actions.append(.report(.retryScheduled(database: batch.database, lines: batch.lineCount, attempt: attempt,
                                               delayMilliseconds: delay, status: status, message: message)))
    }

    mutating func spoolAtShutdown(_ batch: inout LedgerBatch, into actions: inout [WriteLedgerAction]) {
        batch.state = .spoolingAtShutdown
        batches[batch.id] = batch
        actions.append(.spool(batch, pastLimit: true))
    }
}
