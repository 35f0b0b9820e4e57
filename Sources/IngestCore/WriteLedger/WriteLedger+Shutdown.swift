/// Stopping: lift the memory bound, drain until the deadline, spool what is left (README,
/// "Delivery guarantees", SIGTERM).
extension WriteLedger {
    /// The first stop signal: appenders waiting for memory are let in over the bound and every later
    /// append is cut into a batch at once, so the pipeline can empty the intake and stop.
    public mutating func stopRequested(now: Int64) -> [WriteLedgerAction] {
        var actions: [WriteLedgerAction] = []
        if phase == .running { phase = .stopping }
        cutEveryBuffer(now: now, into: &actions)
        finish(&actions, now: now)
        return actions
    }

    /// The shutdown drain begins: every buffer is cut, batches waiting out a backoff are tried at once,
    /// and at `deadline` whatever is left goes to the spool.
    public mutating func drainStarted(now: Int64, deadline: Int64) -> [WriteLedgerAction] {
        var actions: [WriteLedgerAction] = []
        switch phase {
        case .running, .stopping: phase = .draining(deadline: deadline)
        case .draining, .spoolingRest: break
        }
        cutEveryBuffer(now: now, into: &actions)
        var due: [LedgerBatch.ID] = []
        for (id, batch) in batches { if case .waitingRetry = batch.state { due.append(id) } }
        for id in due.sorted(by: >) {
            batches[id]!.state = .ready
            readyQueue.insert(id, at: 0)
        }
        if now >= deadline { spoolEverythingLeft(now: now, into: &actions) }
        finish(&actions, now: now)
        return actions
    }

    /// The deadline passed, or a second stop signal: stop waiting for InfluxDB.
    public mutating func deadlineReached(now: Int64) -> [WriteLedgerAction] {
        var actions: [WriteLedgerAction] = []
        if phase == .running { phase = .stopping }
        spoolEverythingLeft(now: now, into: &actions)
        finish(&actions, now: now)
        return actions
    }

    mutating func cutEveryBuffer(now: Int64, into actions: inout [WriteLedgerAction]) {
        for database in buffers.keys.sorted() {
            guard var buffer = buffers.removeValue(forKey: database) else { continue }
            while buffer.lineCount > 0 { readyQueue.append(cutBatch(from: &buffer, database: database, now: now, into: &actions)) }
        }
        dueDatabases.removeAll()
    }

    /// Every batch not already on its way to disk goes to the spool, past `SPOOL_MAX_BYTES`: its lines
    /// were acknowledged to the broker and the process is about to exit. A write still in flight may
    /// yet succeed; the line is then in InfluxDB and in the spool, and the replay overwrites it.
    mutating func spoolEverythingLeft(now: Int64, into actions: inout [WriteLedgerAction]) {
        phase = .spoolingRest
        admitWaiting(now: now, into: &actions)
        cutEveryBuffer(now: now, into: &actions)
        readyQueue.removeAll()
        for id in batches.keys.sorted() {
            var batch = batches[id]!
            switch batch.state {
            case .spooling, .spoolingAtShutdown, .deadLettering:
                continue // already on their way to disk; a failure comes back here
            case .writing:
                abandonedWrites[id] = (batch.writeStartedAt, batch.database)
            case .isolating(let isolation):
                if isolation.writing != nil { abandonedIsolationWrites.insert(id) }
            case .ready, .waitingRetry:
                break
            }
            dispose(&batch, into: &actions)
        }
    }

    /// After the deadline: to the spool past its limit, or lost when there is no spool.
    mutating func dispose(_ batch: inout LedgerBatch, into actions: inout [WriteLedgerAction]) {
        if configuration.hasSpool {
            spoolAtShutdown(&batch, into: &actions)
        } else {
            batches[batch.id] = nil
            release(batch)
            linesLost += batch.lineCount
            lostFloor = min(lostFloor ?? batch.firstLine, batch.firstLine)
            actions.append(.report(.lost(database: batch.database, lines: batch.lineCount)))
        }
    }

    /// After the deadline, batches cut from late appends go straight to disk.
    mutating func disposeReadyBatches(into actions: inout [WriteLedgerAction]) {
        for id in readyQueue {
            guard var batch = batches[id], case .ready = batch.state else { continue }
            dispose(&batch, into: &actions)
        }
        readyQueue.removeAll()
    }
}
