/// Per-database buffers: lines wait here until a free write slot cuts them into a batch.
extension WriteLedger {
    mutating func insert(database: String, lines: [UInt8], count: Int, firstLine: UInt64, now: Int64,
                         into actions: inout [WriteLedgerAction]) {
        // Taken out of the dictionary so appending does not copy the bytes (copy-on-write).
        var buffer = buffers.removeValue(forKey: database) ?? Buffer(oldest: now)
        if buffer.lineCount == 0 { buffer.oldest = now }
        buffer.bytes.append(contentsOf: lines)
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
        if !buffer.isDue && isDueBySize(buffer) {
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
        let roundDown = !whole && buffer.lineCount > batchSize && buffer.lineCount % batchSize != 0
        if buffer.bytes.count <= configuration.maxBatchBytes && !roundDown {
            // The common case: the whole buffer, without scanning it.
            lines = buffer.lineCount
            body = Self.fitted(buffer.bytes)
            buffer.bytes = []
        } else {
            var maxLines = whole || buffer.lineCount < batchSize ? Int.max : buffer.lineCount - buffer.lineCount % batchSize
            var (count, end) = buffer.bytes.withUnsafeBytes {
                NewlineScan.leadingLines(in: $0, maxLines: maxLines, maxBytes: configuration.maxBatchBytes)
            }
            if !whole && count > batchSize && count % batchSize != 0 {
                maxLines = count - count % batchSize
                (count, end) = buffer.bytes.withUnsafeBytes {
                    NewlineScan.leadingLines(in: $0, maxLines: maxLines, maxBytes: configuration.maxBatchBytes)
                }
            }
            precondition(count > 0, "a buffer of \(buffer.lineCount) lines has no whole line")
            lines = count
            if end == buffer.bytes.count {
                body = Self.fitted(buffer.bytes)
                buffer.bytes = []
            } else {
                body = Array(buffer.bytes[..<end])
                let left = buffer.bytes.count - end
                if left < buffer.bytes.capacity / 4 {
                    // A small remainder of a large buffer: its own allocation, so the large one is freed.
                    buffer.bytes = buffer.bytes.withUnsafeBufferPointer { Array($0[end...]) }
                } else {
                    buffer.bytes.removeFirst(end)
                }
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
            buffer.isDue = isDueBySize(buffer)
            // Still due (a backlog larger than one batch): after the other databases.
            if buffer.isDue { dueDatabases.append(database) }
            buffers[database] = buffer
        }
        return id
    }

    func isDueBySize(_ buffer: Buffer) -> Bool {
        buffer.lineCount >= configuration.batchSize || buffer.bytes.count >= configuration.maxBatchBytes
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
            guard let buffer = buffers[database], !buffer.isDue, isDueByTime(buffer, now: now) else { continue }
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
        for buffer in buffers.values where buffer.lineCount > 0 && !buffer.isDue {
            consider(buffer.oldest + configuration.flushIntervalMilliseconds)
        }
        for batch in batches.values { if case .waitingRetry(let until) = batch.state { consider(until) } }
        if case .draining(let deadline) = phase { consider(deadline) }
        return next
    }
}
