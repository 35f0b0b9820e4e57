/// After every event: start writes while slots are free, fairly between databases; admit waiting
/// appenders; report newly safe lines; arm the timer.
extension WriteLedger {
    mutating func finish(_ actions: inout [WriteLedgerAction], now: Int64) {
        admitWaiting(now: now, into: &actions)
        if phase == .spoolingRest { disposeReadyBatches(into: &actions) }
        while writesInFlight < writeConcurrency, let id = nextBatchToWrite(now: now, into: &actions) {
            startWrite(id, now: now, into: &actions)
        }
        if writesInFlight >= writeConcurrency && hasWorkWaiting {
            controller.limitReached()
        }
        let safe = lowestUnsafeLine - 1
        if safe > safeUpTo {
            safeUpTo = safe
            actions.append(.linesSafe(upTo: safe))
        }
        if let next = nextTimer, next != armedTimer {
            armedTimer = next
            actions.append(.armTimer(at: next))
        }
        if isDrained && !reportedDrained {
            reportedDrained = true
            actions.append(.report(.drained(linesLost: linesLost)))
        }
    }

    /// A ready batch or a due buffer waits for a slot. (Both lists hold exactly that: whatever takes
    /// a batch out of `ready` or a buffer out of the ledger removes it from its list.)
    var hasWorkWaiting: Bool { !readyQueue.isEmpty || !dueDatabases.isEmpty }

    /// The next write for a free slot: from the database with the fewest writes in flight (so a slow
    /// or failing database cannot take every slot; README, "Throughput when InfluxDB is slow"); among
    /// equals a ready batch (a retry: its lines are the oldest) before a due buffer, each in queue
    /// order. Nil when nothing waits.
    mutating func nextBatchToWrite(now: Int64, into actions: inout [WriteLedgerAction]) -> LedgerBatch.ID? {
        var best: (load: Int, fromBuffer: Bool, index: Int)?
        var seen = Set<String>()
        for (index, id) in readyQueue.enumerated() {
            let database = batches[id]!.database
            guard seen.insert(database).inserted else { continue }
            let load = writesInFlightByDatabase[database] ?? 0
            if best == nil || load < best!.load { best = (load, false, index) }
            if load == 0 { break }
        }
        if best.map({ $0.load > 0 }) ?? true {
            for (index, database) in dueDatabases.enumerated() {
                let load = writesInFlightByDatabase[database] ?? 0
                if best == nil || load < best!.load { best = (load, true, index) }
                if load == 0 { break }
            }
        }
        guard let best else { return nil }
        if best.fromBuffer { return cutDueBuffer(at: best.index, now: now, into: &actions) }
        return readyQueue.remove(at: best.index)
    }

    mutating func startWrite(_ id: LedgerBatch.ID, now: Int64, into actions: inout [WriteLedgerAction]) {
        guard var batch = batches[id], case .ready = batch.state else {
            preconditionFailure("starting a write of batch \(id), which is \(batches[id]?.state.name ?? "unknown")")
        }
        batch.state = .writing
        batch.writeStartedAt = now
        batches[id] = batch
        writesInFlight += 1
        writesInFlightByDatabase[batch.database, default: 0] += 1
        actions.append(.write(batch))
    }

    /// Bookkeeping of a write that came back (its batch's result is handled by the caller).
    mutating func writeReturned(database: String, startedAt: Int64, outcome: WriteOutcome, now: Int64) {
        precondition(writesInFlight > 0, "a write returned with no write in flight")
        writesInFlight -= 1
        let left = (writesInFlightByDatabase[database] ?? 0) - 1
        precondition(left >= 0, "a write to \(database) returned with none in flight there")
        writesInFlightByDatabase[database] = left == 0 ? nil : left
        controller.writeFinished(startedAt: startedAt, now: now, signal: ConcurrencyController.signal(of: outcome))
    }

    /// The smallest line number not yet safe (`nextLine` when every line is).
    var lowestUnsafeLine: UInt64 {
        var lowest = lostFloor ?? nextLine
        for buffer in buffers.values { if let run = buffer.runs.first { lowest = min(lowest, run.start) } }
        for batch in batches.values { lowest = min(lowest, batch.firstLine) }
        for chunk in waiting { lowest = min(lowest, chunk.firstLine) }
        return lowest
    }
}
