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
///
/// Batches are cut when a write slot is free (README, "Throughput when InfluxDB is slow"): a
/// database's buffer is *due* once it holds `batchSize` lines or `maxBatchBytes` bytes, or its oldest
/// line is `flushIntervalMilliseconds` old; a free slot takes everything a due buffer holds, up to
/// `maxBatchBytes`. On a quiet stream a slot is free at once and batches are as before; when writes
/// are slow, lines pile up while the slots are busy and the next batch takes them all.
public struct WriteLedger: Sendable {
    public let configuration: WriteLedgerConfiguration
    var random: SeededRandom
    /// The adaptive limit on writes in flight.
    public internal(set) var controller: ConcurrencyController
    /// Writes allowed in flight now (the stats key `influx_concurrency`).
    public var writeConcurrency: Int { controller.limit }
    /// Lines in the last batch cut, 0 before the first (the stats key `influx_last_batch_lines`).
    public internal(set) var batchLines = 0

    struct LineRun: Sendable {
        var start: UInt64
        var count: Int
    }

    struct Buffer: Sendable {
        var bytes = LineSegments()
        var lineCount = 0
        var oldest: Int64
        /// The numbers of its lines, in order.
        var runs: [LineRun] = []
        /// In ``WriteLedger/dueDatabases``: the next free slot may cut it.
        var isDue = false
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
    /// Databases whose buffer is due, in the order they became due (a buffer cut only in part goes to
    /// the back: round robin). Exactly the buffers with `isDue`.
    var dueDatabases: [String] = []
    public internal(set) var batches: [LedgerBatch.ID: LedgerBatch] = [:]
    /// Batches waiting for a write slot, oldest first (retries go first).
    var readyQueue: [LedgerBatch.ID] = []
    public internal(set) var writesInFlight = 0
    /// Writes in flight per database: the next slot goes to the database with the fewest, so one slow
    /// or failing database cannot hold every slot.
    var writesInFlightByDatabase: [String: Int] = [:]
    /// Writes (or bisection writes) still out for batches that were spooled at the deadline, with
    /// when each started and its database.
    var abandonedWrites: [LedgerBatch.ID: (startedAt: Int64, database: String)] = [:]
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
    /// Their bytes.
    public internal(set) var bytesInMemory = 0
    /// False after a write failed for a reason that can pass; true after InfluxDB answered.
    public internal(set) var influxUp = true
    public internal(set) var phase: Phase = .running
    var armedTimer: Int64?
    var reportedDrained = false

    public init(configuration: WriteLedgerConfiguration, seed: UInt64) {
        self.configuration = configuration
        self.random = SeededRandom(seed: seed)
        self.controller = ConcurrencyController(initial: configuration.concurrency, maximum: configuration.maxConcurrency)
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

    /// Bytes in buffers, not yet cut into batches.
    public var bytesBuffered: Int { buffers.values.reduce(0) { $0 + $1.bytes.byteCount } }

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
        if !boundLifted && (!waiting.isEmpty || !hasSpace(for: lineCount, bytes: lines.count)) {
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
        bytesInMemory += lines.count
        insert(database: database, lines: lines, count: lineCount, firstLine: first, now: now, into: &actions)
        finish(&actions, now: now)
        return (.taken, actions)
    }

    /// The memory bound (`INFLUX_MAX_BUFFER_LINES`, `INFLUX_MAX_BUFFER_BYTES`); one chunk always fits
    /// into empty memory.
    func hasSpace(for lines: Int, bytes: Int) -> Bool {
        linesInMemory == 0
            || (linesInMemory + lines <= configuration.maxBufferedLines && bytesInMemory + bytes <= configuration.maxBufferedBytes)
    }

    mutating func takeBatchID() -> LedgerBatch.ID {
        defer { nextBatchID += 1 }
        return nextBatchID
    }
}
