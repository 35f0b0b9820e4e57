/// The write path's bookkeeping as one value: every line from the moment it is appended until
/// InfluxDB, the disk spool or the dead-letter folder holds it (README, "How the write path works").
///
/// No I/O, no clock reads, no tasks: each event is a `mutating func` that takes the time (ms on the
/// executor's monotonic clock) and returns the actions to perform; the executor performs them and
/// reports the results as further events. Randomness (retry jitter) comes from a seeded generator.
/// Impossible transitions trap with a message.
///
/// Every appended line gets a number (1, 2, 3, … in append order). ``safeUpTo`` is the low-water
/// mark: every line numbered up to it is safe. The crash journal is trimmed by it; acknowledgements
/// to the broker can follow it line by line.
public struct WriteLedger: Sendable {
    public let configuration: WriteLedgerConfiguration
    var random: SeededRandom
    /// Writes allowed in flight at once: controller state, `configuration.concurrency` for now.
    public var writeConcurrency: Int
    /// Lines per batch cut from a buffer: controller state, `configuration.batchSize` for now.
    public var batchLines: Int

    struct LineRun: Sendable {
        var start: UInt64
        var count: Int
    }

    struct Buffer: Sendable {
        var bytes: [UInt8] = []
        var lineCount = 0
        var oldest: Int64
        /// The numbers of its lines, in order.
        var runs: [LineRun] = []
    }

    struct WaitingChunk: Sendable {
        let appender: Int
        let database: String
        let lines: [UInt8]
        let count: Int
        let firstLine: UInt64
    }

    public enum Phase: Sendable, Equatable {
        case running
        /// Stop requested: the memory bound is lifted and every append is cut into a batch at once.
        case stopping
        /// Shutdown drain: waiting for InfluxDB until the deadline.
        case draining(deadline: Int64)
        /// The deadline passed (or a second stop signal): everything left goes to the spool.
        case spoolingRest
    }

    var buffers: [String: Buffer] = [:]
    public internal(set) var batches: [LedgerBatch.ID: LedgerBatch] = [:]
    /// Batches waiting for a write slot, oldest first (retries go first).
    var readyQueue: [LedgerBatch.ID] = []
    public internal(set) var writesInFlight = 0
    /// Writes (or bisection writes) still out for batches that were spooled at the deadline.
    var abandonedWrites: Set<LedgerBatch.ID> = []
    var abandonedIsolationWrites: Set<LedgerBatch.ID> = []
    var waiting: [WaitingChunk] = []
    var nextBatchID = 0
    var nextAppender = 0
    var nextLine: UInt64 = 1
    public internal(set) var safeUpTo: UInt64 = 0
    /// The first line of a batch that could be neither written nor spooled: never reported safe.
    var lostFloor: UInt64?
    public internal(set) var linesLost = 0
    /// Lines in buffers and batches (not in chunks whose appender waits).
    public internal(set) var linesInMemory = 0
    /// False after a write failed for a reason that can pass; true after InfluxDB answered.
    public internal(set) var influxUp = true
    public internal(set) var phase: Phase = .running
    var armedTimer: Int64?
    var reportedDrained = false

    public init(configuration: WriteLedgerConfiguration, seed: UInt64) {
        self.configuration = configuration
        self.random = SeededRandom(seed: seed)
        self.writeConcurrency = configuration.concurrency
        self.batchLines = configuration.batchSize
    }

    public enum AppendResult: Sendable, Equatable {
        /// The lines are in the ledger; the appender goes on.
        case taken
        /// Memory is full: the appender waits for ``WriteLedgerAction/wakeAppender(_:)`` with this id
        /// (its lines are in the ledger meanwhile, numbered, not yet safe).
        case wait(appender: Int)
    }

    /// True once the shutdown drain has nothing left.
    public var isDrained: Bool {
        switch phase {
        case .running, .stopping: false
        case .draining, .spoolingRest: batches.isEmpty && buffers.isEmpty && waiting.isEmpty
        }
    }

    /// Lines appended so far (the highest line number).
    public var linesAppended: UInt64 { nextLine - 1 }

    /// Lines in buffers, not yet cut into batches.
    public var linesBuffered: Int { buffers.values.reduce(0) { $0 + $1.lineCount } }

    /// Lines held by waiting appenders (outside the memory bound).
    public var linesWaiting: Int { waiting.reduce(0) { $0 + $1.count } }

    var boundLifted: Bool { phase != .running }

    // MARK: - Intake

    /// Newline-terminated line protocol for `database`, `lineCount` lines.
    public mutating func append(database: String, lines: [UInt8], lineCount: Int, now: Int64)
        -> (AppendResult, [WriteLedgerAction]) {
        precondition(lineCount > 0 && lines.last == UInt8(ascii: "\n"), "append needs whole lines, got \(lineCount)")
        let first = nextLine
        nextLine += UInt64(lineCount)
        var actions: [WriteLedgerAction] = []
        if !boundLifted && (!waiting.isEmpty || !hasSpace(for: lineCount)) {
            let appender = nextAppender
            nextAppender += 1
            if configuration.hasSpool && !influxUp {
                // InfluxDB is down: memory will not free up soon, so the chunk goes to disk whole.
                let batch = LedgerBatch(id: takeBatchID(), database: database, body: lines, lineCount: lineCount,
                                        createdAt: now, firstLine: first, state: .spooling, waitingAppender: appender)
                batches[batch.id] = batch
                actions.append(.spool(batch, pastLimit: false))
            } else {
                waiting.append(WaitingChunk(appender: appender, database: database, lines: lines, count: lineCount, firstLine: first))
                actions.append(.report(.appendWaits(lines: lineCount, buffered: linesInMemory)))
            }
            finish(&actions, now: now)
            return (.wait(appender: appender), actions)
        }
        linesInMemory += lineCount
        insert(database: database, lines: lines, count: lineCount, firstLine: first, now: now, into: &actions)
        finish(&actions, now: now)
        return (.taken, actions)
    }

    func hasSpace(for lines: Int) -> Bool {
        linesInMemory == 0 || linesInMemory + lines <= configuration.maxBufferedLines
    }

    mutating func takeBatchID() -> LedgerBatch.ID {
        defer { nextBatchID += 1 }
        return nextBatchID
    }

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
        while buffer.lineCount >= batchLines || buffer.bytes.count >= configuration.maxBatchBytes {
            cutBatch(from: &buffer, database: database, now: now, into: &actions)
        }
        if boundLifted {
            while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database, now: now, into: &actions) }
        }
        if buffer.lineCount > 0 { buffers[database] = buffer }
    }

    /// Moves the first lines of `buffer` (at most `batchLines` lines and `maxBatchBytes` bytes, at
    /// least one line) into a new batch on the ready queue.
    mutating func cutBatch(from buffer: inout Buffer, database: String, now: Int64, into actions: inout [WriteLedgerAction]) {
        let (lines, end) = buffer.bytes.withUnsafeBytes {
            NewlineScan.leadingLines(in: $0, maxLines: max(1, batchLines), maxBytes: configuration.maxBatchBytes)
        }
        precondition(lines > 0, "a buffer of \(buffer.lineCount) lines has no whole line")
        let body: [UInt8]
        if end == buffer.bytes.count {
            body = buffer.bytes
            buffer.bytes = []
        } else {
            body = Array(buffer.bytes[..<end])
            buffer.bytes.removeFirst(end)
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
        readyQueue.append(batch.id)
        actions.append(.report(.batchCut(database: database, lines: lines)))
    }

    /// Lets waiting appenders in, in order, while their lines fit (all of them once the bound is lifted).
    mutating func admitWaiting(now: Int64, into actions: inout [WriteLedgerAction]) {
        while let chunk = waiting.first, boundLifted || hasSpace(for: chunk.count) {
            waiting.removeFirst()
            linesInMemory += chunk.count
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
        // Sorted, so batch numbers (and a simulation's replay) never depend on hash order.
        for database in buffers.keys.sorted() {
            guard var buffer = buffers.removeValue(forKey: database) else { continue }
            if now - buffer.oldest >= configuration.flushIntervalMilliseconds {
                while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database, now: now, into: &actions) }
            } else {
                buffers[database] = buffer
            }
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

    /// When the next timer should fire: a buffer's flush, a retry, the drain deadline.
    var nextTimer: Int64? {
        var next: Int64?
        func consider(_ time: Int64) { next = min(next ?? time, time) }
        for buffer in buffers.values where buffer.lineCount > 0 { consider(buffer.oldest + configuration.flushIntervalMilliseconds) }
        for batch in batches.values { if case .waitingRetry(let until) = batch.state { consider(until) } }
        if case .draining(let deadline) = phase { consider(deadline) }
        return next
    }

    // MARK: - After every event

    /// Starts writes while slots are free, admits waiting appenders, reports newly safe lines, arms
    /// the timer.
    mutating func finish(_ actions: inout [WriteLedgerAction], now: Int64) {
        admitWaiting(now: now, into: &actions)
        if phase == .spoolingRest { disposeReadyBatches(into: &actions) }
        while writesInFlight < max(1, writeConcurrency), !readyQueue.isEmpty {
            let id = readyQueue.removeFirst()
            guard var batch = batches[id], case .ready = batch.state else { continue }
            batch.state = .writing
            batches[id] = batch
            writesInFlight += 1
            actions.append(.write(batch))
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

    /// The smallest line number not yet safe (`nextLine` when every line is).
    var lowestUnsafeLine: UInt64 {
        var lowest = lostFloor ?? nextLine
        for buffer in buffers.values { if let run = buffer.runs.first { lowest = min(lowest, run.start) } }
        for batch in batches.values { lowest = min(lowest, batch.firstLine) }
        for chunk in waiting { lowest = min(lowest, chunk.firstLine) }
        return lowest
    }
}
