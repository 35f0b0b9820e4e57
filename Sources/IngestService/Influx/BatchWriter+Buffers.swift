import IngestCore

/// Per-database buffers: lines are cut into batches by size, and by age on the flush timer.
extension BatchWriter {
    func insert(database: String, lines: [UInt8], count: Int, sequences: ClosedRange<UInt64>?) {
        // Taken out of the dictionary so appending does not copy the bytes (copy-on-write).
        var buffer = buffers.removeValue(forKey: database) ?? Buffer(oldest: now())
        if buffer.lineCount == 0 { buffer.oldest = now() }
        buffer.bytes.append(contentsOf: lines)
        if let sequences { buffer.sequenceRuns.append(SequenceRun(start: sequences.lowerBound, count: count)) }
        buffer.lineCount += count
        while buffer.lineCount >= configuration.batchSize || buffer.bytes.count >= configuration.maxBatchBytes {
            cutBatch(from: &buffer, database: database)
        }
        if flushesImmediately {
            while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database) }
        }
        if buffer.lineCount > 0 { buffers[database] = buffer }
    }

    /// Moves the first lines of `buffer` — at most `batchSize` lines and `maxBatchBytes` bytes,
    /// but at least one line — into a new batch on the ready list.
    func cutBatch(from buffer: inout Buffer, database: String) {
        let maxLines = max(1, configuration.batchSize)
        let maxBytes = configuration.maxBatchBytes
        let (lines, end) = buffer.bytes.withUnsafeBytes {
            NewlineScan.leadingLines(in: $0, maxLines: maxLines, maxBytes: maxBytes)
        }
        let body: [UInt8]
        if end == buffer.bytes.count {
            body = buffer.bytes
            buffer.bytes = []
        } else {
            body = Array(buffer.bytes[..<end])
            buffer.bytes.removeFirst(end)
        }
        buffer.lineCount -= lines
        let firstSequence = buffer.sequenceRuns.first?.start
        var remaining = lines
        while remaining > 0, !buffer.sequenceRuns.isEmpty {
            let taken = min(remaining, buffer.sequenceRuns[0].count)
            remaining -= taken
            if taken == buffer.sequenceRuns[0].count {
                buffer.sequenceRuns.removeFirst()
            } else {
                buffer.sequenceRuns[0].start += UInt64(taken)
                buffer.sequenceRuns[0].count -= taken
            }
        }
        ready.append(Batch(id: nextID, database: database, body: body, lineCount: lines, createdAt: now(),
                           firstSequence: firstSequence))
        nextID += 1
        metrics.flushes.wrappingAdd(1, ordering: .relaxed)
    }

    /// Flushes buffers whose oldest line is due; returns how long until the next one is.
    private func flushDueBuffers() -> Duration {
        let interval = Duration.milliseconds(max(1, configuration.flushIntervalMilliseconds))
        let current = now()
        var next = interval
        for database in Array(buffers.keys) {
            guard var buffer = buffers.removeValue(forKey: database) else { continue }
            let age = current - buffer.oldest
            if age >= interval {
                while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database) }
            } else {
                next = min(next, interval - age)
                buffers[database] = buffer
            }
        }
        pump()
        return max(next, .milliseconds(1))
    }

    func runFlushTimer() async {
        while !Task.isCancelled {
            let wait = flushDueBuffers()
            do { try await sleep(wait) } catch { return }
        }
    }
}
