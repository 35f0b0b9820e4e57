/// Per-database buffers: lines wait here until a free write slot cuts them into a batch.
extension WriteLedger {
    mutating func insert(database: String, lines: [UInt8], count: Int, firstLine: UInt64, now: Int64,
                         into actions: inout [WriteLedgerAction]) {
        // Taken out of the dictionary so appending does not copy the bytes (copy-on-write).
        var buffer = buffers.removeValue(forKey: database) ?? Buffer(oldest: now)
        if buffer.lineCount == 0 { buffer.oldest = now }
        buffer.bytes.append(lines, lineCount: count, segmentLimit: configuration.maxBatchBytes,
                            lineMultiple: configuration.batchSize)
        if let last = buffer.runs.last, last.start + UInt64(last.count) == firstLine {
            buffer.runs[buffer.runs.count - 1].count += count
        } else {
            buffer.runs.append(LineRun(start: firstLine, count: count))
        }
        buffer.lineCount += count
        if boundLifted {
            // Stopping: everything becomes a batch at once, for the drain.
            if buffer.isDue { dueDatabases.removeAll { $0 == database } }
            while buffer.lineCount > 0 { readyQueue.append(cutBatch(from: &buffer, database: database, now: now, into: &actions)) }
            return
        }
        if !buffer.isDue && isDueBySize(buffer, database: database, now: now) {
            buffer.isDue = true
            dueDatabases.append(database)
        }
        buffers[database] = buffer
    }

    /// Moves the first lines of `buffer` (at most `maxBatchBytes` bytes, at least one line) into a new
    /// `ready` batch, and returns its id (the caller queues or starts it). Unless `whole` (a stop), a
    /// batch is a whole multiple of `batchSize` lines when at least `batchSize` fit: the rest waits
    /// for more lines or the flush interval, so a backlog of whole batches leaves no remainder behind
    /// to wait for the timer.
    mutating func cutBatch(from buffer: inout Buffer, database: String, now: Int64, whole: Bool = true,
                           into actions: inout [WriteLedgerAction]) -> LedgerBatch.ID {
        let lines: Int
        let body: [UInt8]
        let batchSize = configuration.batchSize
        let maxBytes = configuration.maxBatchBytes
        let segmentLines = buffer.bytes.firstLineCount
        let last = !buffer.bytes.hasFullSegment
        if !last && buffer.bytes.firstByteCount <= maxBytes {
            // A backlog of more than one batch: its oldest segment is a batch as it stands.
            lines = segmentLines
            body = buffer.bytes.removeFirstSegment().bytes
        } else if buffer.bytes.firstByteCount <= maxBytes
                    && (whole || segmentLines <= batchSize || segmentLines % batchSize == 0) {
            // The only segment, a batch as it stands: the common case, without scanning it.
            lines = segmentLines
            body = Self.fitted(buffer.bytes.removeFirstSegment().bytes)
        } else {
            // Whole lines up to the batch's bytes (one chunk larger than a batch, or the last
            // segment), rounded down to whole `batchSize`s when it is the buffer's last.
            let roundable = !whole && last && segmentLines >= batchSize
            var (count, end) = buffer.bytes.leadingLinesOfFirstSegment(
                maxLines: roundable ? segmentLines - segmentLines % batchSize : Int.max, maxBytes: maxBytes)
            if roundable && count > batchSize && count % batchSize != 0 {
                (count, end) = buffer.bytes.leadingLinesOfFirstSegment(maxLines: count - count % batchSize, maxBytes: maxBytes)
            }
            precondition(count > 0, "a buffer of \(buffer.lineCount) lines has no whole line")
            lines = count
            if end == buffer.bytes.firstByteCount {
                body = Self.fitted(buffer.bytes.removeFirstSegment().bytes)
            } else {
                body = buffer.bytes.removePrefixOfFirstSegment(bytes: end, lines: count)
            }
        }
        buffer.lineCount -= lines
        let firstLine = buffer.runs[0].start
        var remaining = lines
        while remaining > 0 {
            let taken = min(remaining, buffer.runs[0].count)
            remaining -= taken
            if taken == buffer.runs[0].count {
                buffer.runs.removeFirst()
            } else {
                buffer.runs[0].start += UInt64(taken)
                buffer.runs[0].count -= taken
            }
        }
        let batch = LedgerBatch(id: takeBatchID(), database: database, body: body, lineCount: lines,
                                createdAt: now, firstLine: firstLine, state: .ready, waitingAppender: nil)
        batches[batch.id] = batch
        batchLines = lines
        actions.append(.report(.batchCut(database: database, lines: lines)))
        return batch.id
    }

    /// `bytes` in an allocation of its own size when it holds much more: a buffer that grew during a
    /// backlog keeps its capacity, and a batch in flight for a second should not hold megabytes it
    /// does not use (peak RSS, README "Throughput when InfluxDB is slow").
    static func fitted(_ bytes: [UInt8]) -> [UInt8] {
        bytes.capacity > 2 * bytes.count + 65_536 ? bytes.withUnsafeBufferPointer { Array($0) } : bytes
    }

    /// Cuts the first due buffer's lines into a batch for a free slot; the buffer's remainder, if
    /// any, goes to the back of the due databases.
    mutating func cutDueBuffer(at index: Int, now: Int64, into actions: inout [WriteLedgerAction]) -> LedgerBatch.ID {
        let database = dueDatabases.remove(at: index)
        guard var buffer = buffers.removeValue(forKey: database), buffer.isDue else {
            preconditionFailure("cutting \(database), whose buffer is not due")
        }
        let id = cutBatch(from: &buffer, database: database, now: now, whole: false, into: &actions)
        if buffer.lineCount > 0 {
            // Fewer than `batchSize` lines left over (or more than one batch's bytes): they came in
            // while the batch filled up, and wait for more lines or a flush interval from now.
            buffer.oldest = now
            buffer.isDue = isDueBySize(buffer, database: database, now: now)
            // Still due (a backlog larger than one batch): after the other databases.
            if buffer.isDue { dueDatabases.append(database) }
            buffers[database] = buffer
        }
        return id
    }

    /// Due by size: a batch's bytes, or `INFLUX_BATCH_SIZE` lines; but while the database has a write
    /// in flight and no appender waits for memory, only once ``paceMilliseconds`` have passed since
    /// its last cut left lines behind, or since its first line came in (README, "Throughput when
    /// InfluxDB is slow").
    func isDueBySize(_ buffer: Buffer, database: String, now: Int64) -> Bool {
        if buffer.bytes.byteCount >= configuration.maxBatchBytes { return true }
        guard buffer.lineCount >= configuration.batchSize else { return false }
        guard let pace = paceMilliseconds, writesInFlightByDatabase[database] != nil, waiting.isEmpty else { return true }
        return now - buffer.oldest >= pace
    }

    /// How long a database with a write in flight lets its lines gather before a slot may take them:
    /// one write's latency shared by the slots the controller allows (nil when that is under 2 ms, or
    /// before the first latency is known). Against a slow InfluxDB (a second per write) a slot that
    /// took the few hundred lines there happened to be would be gone for that second while the
    /// backlog waited for the next round trip. Paced, the slots free up through the round trip and
    /// each carries the lines of its share of it; against a fast InfluxDB nothing changes.
    var paceMilliseconds: Int64? {
        guard let latency = controller.baselineMilliseconds else { return nil }
        let pace = Int64((latency / Double(max(1, controller.limit))).rounded(.down))
        return pace >= 2 ? pace : nil
    }

    func isDueByTime(_ buffer: Buffer, now: Int64) -> Bool {
        now - buffer.oldest >= configuration.flushIntervalMilliseconds
    }

    /// Lets waiting appenders in, in order, while their lines fit (all of them once the bound is lifted).
    mutating func admitWaiting(now: Int64, into actions: inout [WriteLedgerAction]) {
        while let chunk = waiting.first, boundLifted || hasSpace(for: chunk.count, bytes: chunk.lines.count) {
            waiting.removeFirst()
            linesInMemory += chunk.count
            bytesInMemory += chunk.lines.count
            insert(database: chunk.database, lines: chunk.lines, count: chunk.count, firstLine: chunk.firstLine,
                   now: now, into: &actions)
            actions.append(.wakeAppender(chunk.appender))
        }
    }

    // MARK: - Timer

    /// The timer armed by the last ``WriteLedgerAction/armTimer(at:)`` fired (or any time: early calls
    /// are harmless).
    public mutating func timerFired(now: Int64) -> [WriteLedgerAction] {
        var actions: [WriteLedgerAction] = []
        armedTimer = nil
        // Sorted, so the order of due databases (and a simulation's replay) never depends on hash order.
        for database in buffers.keys.sorted() {
            guard let buffer = buffers[database], !buffer.isDue,
                  isDueByTime(buffer, now: now) || isDueBySize(buffer, database: database, now: now) else { continue }
            buffers[database]!.isDue = true
            dueDatabases.append(database)
        }
        var due: [LedgerBatch.ID] = []
        for (id, batch) in batches {
            if case .waitingRetry(let until) = batch.state, until <= now { due.append(id) }
        }
        for id in due.sorted(by: >) {
            batches[id]!.state = .ready
            readyQueue.insert(id, at: 0)
        }
        if case .draining(let deadline) = phase, now >= deadline {
            spoolEverythingLeft(now: now, into: &actions)
        }
        finish(&actions, now: now)
        return actions
    }

    /// When the next timer should fire: a buffer's flush, a retry, the drain deadline. A due buffer
    /// needs no timer: the next free slot takes it.
    var nextTimer: Int64? {
        var next: Int64?
        func consider(_ time: Int64) { next = min(next ?? time, time) }
        let pace = paceMilliseconds
        for buffer in buffers.values where buffer.lineCount > 0 && !buffer.isDue {
            consider(buffer.oldest + configuration.flushIntervalMilliseconds)
            // A paced buffer (see `isDueBySize`) is due once its pace has passed.
            if let pace, buffer.lineCount >= configuration.batchSize { consider(buffer.oldest + pace) }
        }
        for batch in batches.values { if case .waitingRetry(let until) = batch.state { consider(until) } }
        if case .draining(let deadline) = phase { consider(deadline) }
        return next
    }
}
