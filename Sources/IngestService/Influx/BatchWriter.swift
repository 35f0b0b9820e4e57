import IngestCore
import Logging
import ServiceLifecycle
import UnixSignals

/// Collects line protocol per database and writes it to InfluxDB in batches.
///
/// - One buffer per database. A buffer is cut into a batch when it holds `batchSize` lines or
///   `maxBatchBytes` bytes, or when its oldest line is `flushIntervalMilliseconds` old (timer in
///   ``run()``). No batch is larger than those limits (unless a single line is larger than
///   `maxBatchBytes`).
/// - At most `concurrency` writes in flight.
/// - A retryable failure is retried with exponential backoff and full jitter, honouring
///   `Retry-After`; the batch stays in memory and is never dropped. Batches of one database may be
///   written out of order: every point carries its own timestamp.
/// - A batch not written `spoolAfterMilliseconds` after it was cut goes to the disk spool (an
///   ``OverflowStore``), from where the replayer sends it once InfluxDB takes writes again; so does a
///   chunk that finds memory full while InfluxDB is down. When the spool cannot take it, the batch
///   stays in memory and backpressure does the rest.
/// - A batch InfluxDB refuses for good (400/413/422) is narrowed down to exactly the refused lines
///   (``RefusedLineIsolator``); those go to the dead-letter folder, the rest is written.
/// - Memory is bounded by `maxBufferedLines` lines not yet acknowledged: at the bound, ``append``
///   suspends its caller until writes free space — that is how backpressure reaches the MQTT
///   intake. Nothing is dropped.
/// - Shutdown (graceful shutdown of ``run()``, or ``drain(timeout:)``): every buffer is flushed and
///   the writer waits for in-flight writes and retries up to `shutdownTimeoutSeconds`. Appends are
///   accepted until then and during the drain (the pipeline stops before the writer).
public actor BatchWriter: Service {
    public nonisolated let metrics: WriterMetrics
    public nonisolated let configuration: BatchWriterConfiguration

    private let client: any InfluxWriting
    private let store: (any OverflowStore)?
    private let journal: CrashJournal?
    private let logger: Logger
    private let backoff: RetryBackoff
    /// Time since the writer was created, on the injected clock.
    private let now: @Sendable () -> Duration
    private let sleep: @Sendable (Duration) async throws -> Void

    private struct Buffer {
        var bytes: [UInt8] = []
        var lineCount = 0
        /// When its oldest line arrived (on `now`).
        var oldest: Duration
        /// Crash-journal numbers of the lines, in order (empty without a journal).
        var sequenceRuns: [SequenceRun] = []
    }

    private struct SequenceRun {
        var start: UInt64
        var count: Int
    }

    struct Batch: Sendable {
        let id: Int
        let database: String
        let body: [UInt8]
        let lineCount: Int
        /// When the batch was cut (on `now`): the spool takes it `spoolAfterMilliseconds` later.
        let createdAt: Duration
        /// The crash-journal number of its first line; its others are higher.
        var firstSequence: UInt64? = nil
        var failedAttempts = 0
    }

    private struct SpaceWaiter {
        let id: Int
        let lines: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private var buffers: [String: Buffer] = [:]
    /// Batches waiting for a write slot; retries go first.
    private var ready: [Batch] = []
    private var inFlight = 0
    /// Batches being written, by id: shutdown spools them too if InfluxDB does not answer in time.
    private var inFlightBatches: [Int: Batch] = [:]
    /// Batches handed to the spool or the refused-line isolator and not back yet.
    private var parkedBatches: [Int: Batch] = [:]
    /// Batches spooled at shutdown while a write or a park was still running: its late result is
    /// ignored, the lines are already on disk.
    private var spooledAtShutdown: Set<Int> = []
    /// Set by a second SIGTERM/SIGINT: stop waiting for InfluxDB and spool what is left.
    private var abandoned = false
    /// First journal numbers of appends that are waiting for memory or being spooled: not yet in a
    /// buffer, but not safe either.
    private var appendingSequences: [UInt64: Int] = [:]
    private var highestSequence: UInt64?
    private var acknowledgedSequence: UInt64 = 0
    /// Batches waiting out their backoff delay, by id.
    private var waitingRetry: [Int: Batch] = [:]
    /// Lines in memory not yet acknowledged or refused (including space reserved for resumed waiters).
    private var linesInMemory = 0
    private var nextID = 0
    private var spaceWaiters: [SpaceWaiter] = []
    private var idleWaiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    /// Set when `run()` begins its shutdown; never reset.
    private var shuttingDown = false
    private var drainsInProgress = 0
    /// While draining, every append is flushed at once and the memory bound is lifted (the intake
    /// has stopped; what is left must get out, not wait).
    private var flushesImmediately: Bool { shuttingDown || drainsInProgress > 0 }

    public init<C: Clock>(
        configuration: BatchWriterConfiguration,
        client: some InfluxWriting,
        store: (any OverflowStore)? = nil,
        journal: CrashJournal? = nil,
        logger: Logger,
        clock: C = ContinuousClock()
    ) where C.Duration == Duration {
        self.configuration = configuration
        self.client = client
        self.store = store
        self.journal = journal
        self.logger = logger
        self.metrics = WriterMetrics()
        self.backoff = RetryBackoff(
            baseMilliseconds: configuration.retryBaseMilliseconds,
            maxDelayMilliseconds: configuration.retryMaxDelayMilliseconds)
        let start = clock.now
        self.now = { start.duration(to: clock.now) }
        self.sleep = { try await clock.sleep(for: $0) }
    }

    // MARK: - Intake

    /// Hands over newline-terminated lines of line protocol for `database` (one call per chunk per
    /// database). Suspends while `maxBufferedLines` lines are in memory; if the calling task is
    /// cancelled while suspended, the lines are accepted anyway (over the bound) rather than lost.
    ///
    /// `lineCount` is the number of lines in `lines`; the writer counts newlines itself for its
    /// bookkeeping, so a wrong count cannot corrupt it. A missing final newline is added.
    public func append(database: String, lines: [UInt8], lineCount: Int, journalSequences: ClosedRange<UInt64>?) async {
        guard !lines.isEmpty else { return }
        var lines = lines
        if lines.last != UInt8(ascii: "\n") { lines.append(UInt8(ascii: "\n")) }
        let count = Self.countLines(lines)
        assert(count == lineCount, "append(lineCount: \(lineCount)) but the chunk has \(count) lines")
        if let journalSequences {
            appendingSequences[journalSequences.lowerBound, default: 0] += 1
            highestSequence = max(highestSequence ?? 0, journalSequences.upperBound)
        }
        defer {
            if let first = journalSequences?.lowerBound {
                appendingSequences[first]! -= 1
                if appendingSequences[first] == 0 { appendingSequences[first] = nil }
                acknowledgeJournal()
            }
        }

        if !flushesImmediately && (!spaceWaiters.isEmpty || !hasSpace(for: count)) {
            // While InfluxDB is down, memory will not free up soon: the chunk goes to disk. While it
            // is merely slow, waiting is better: the broker holds the rest.
            if let store, metrics.influxUp.load(ordering: .relaxed) == 0,
               await store.spool(database: database, body: lines, lineCount: count) {
                return
            }
            await waitForSpace(count) // on return the space is reserved (counted in linesInMemory)
        } else {
            linesInMemory += count
        }
        insert(database: database, lines: lines, count: count, sequences: journalSequences)
        publishBufferedLines()
        pump()
    }

    private func hasSpace(for lines: Int) -> Bool {
        linesInMemory == 0 || linesInMemory + lines <= configuration.maxBufferedLines
    }

    private func waitForSpace(_ lines: Int) async {
        let id = nextID
        nextID += 1
        logger.debug("memory bound reached, append waits", metadata: [
            "lines": "\(lines)", "buffered": "\(linesInMemory)",
        ])
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                spaceWaiters.append(SpaceWaiter(id: id, lines: lines, continuation: continuation))
            }
        } onCancel: {
            Task { await self.admitWaiter(id: id) }
        }
    }

    /// A cancelled appender: let it in over the bound instead of losing its lines.
    private func admitWaiter(id: Int) {
        guard let index = spaceWaiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = spaceWaiters.remove(at: index)
        linesInMemory += waiter.lines
        waiter.continuation.resume()
    }

    /// Resumes waiting appenders in order while their lines fit (all of them when draining).
    private func resumeSpaceWaiters() {
        while let first = spaceWaiters.first, flushesImmediately || hasSpace(for: first.lines) {
            spaceWaiters.removeFirst()
            linesInMemory += first.lines
            first.continuation.resume()
        }
    }

    private func insert(database: String, lines: [UInt8], count: Int, sequences: ClosedRange<UInt64>?) {
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
    private func cutBatch(from buffer: inout Buffer, database: String) {
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

    private static func countLines(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { NewlineScan.count(in: $0) }
    }

    // MARK: - Flush timer

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

    private func runFlushTimer() async {
        while !Task.isCancelled {
            let wait = flushDueBuffers()
            do { try await sleep(wait) } catch { return }
        }
    }

    // MARK: - Writing

    /// Starts writes while slots are free.
    private func pump() {
        while inFlight < max(1, configuration.concurrency), !ready.isEmpty {
            let batch = ready.removeFirst()
            inFlight += 1
            inFlightBatches[batch.id] = batch
            let client = self.client
            let now = self.now
            Task {
                let started = now()
                let result = await client.write(database: batch.database, body: batch.body, lineCount: batch.lineCount)
                self.finished(batch, result: result, elapsed: now() - started)
            }
        }
    }

    private func finished(_ batch: Batch, result: InfluxWriteResult, elapsed: Duration) {
        inFlight -= 1
        inFlightBatches[batch.id] = nil
        if spooledAtShutdown.remove(batch.id) != nil {
            pump()
            return
        }
        switch result {
        case .written:
            metrics.batchesOK.wrappingAdd(1, ordering: .relaxed)
            metrics.linesWritten.wrappingAdd(batch.lineCount, ordering: .relaxed)
            metrics.writeLatencyMicrosecondsSum.wrappingAdd(Int(elapsed / .microseconds(1)), ordering: .relaxed)
            metrics.writeLatencyCount.wrappingAdd(1, ordering: .relaxed)
            metrics.influxUp.store(1, ordering: .relaxed)
            linesInMemory -= batch.lineCount
            if batch.failedAttempts > 0 {
                logger.info("batch written after retries", metadata: [
                    "database": "\(batch.database)", "lines": "\(batch.lineCount)",
                    "attempt": "\(batch.failedAttempts + 1)",
                ])
            }
        case .retryable(let failure):
            metrics.batchesFailed.wrappingAdd(1, ordering: .relaxed)
            metrics.setLastWriteError(failure.shortDescription)
            metrics.influxUp.store(0, ordering: .relaxed)
            if let store, !abandoned, now() - batch.createdAt >= .milliseconds(configuration.spoolAfterMilliseconds) {
                park(batch) { await store.spool(database: batch.database, body: batch.body, lineCount: batch.lineCount) } resume: { writer, spooled in
                    writer.spoolFinished(batch, spooled: spooled, failure: failure)
                }
            } else {
                scheduleRetry(batch, failure: failure)
            }
        case .rejected(let failure):
            metrics.batchesFailed.wrappingAdd(1, ordering: .relaxed)
            metrics.setLastWriteError(failure.shortDescription)
            metrics.influxUp.store(1, ordering: .relaxed)
            let isolator = RefusedLineIsolator(client: client)
            park(batch) {
                await isolator.isolate(database: batch.database, body: batch.body, failure: failure)
            } resume: { writer, outcome in
                await writer.isolated(batch, outcome: outcome)
            }
        }
        afterChange()
    }

    private func afterChange() {
        publishBufferedLines()
        resumeSpaceWaiters()
        pump()
        acknowledgeJournal()
        resumeIdleWaitersIfIdle()
    }

    /// Tells the crash journal which lines are safe (in InfluxDB, the spool or the dead-letter
    /// folder): every number below the smallest one still buffered, queued, in flight or arriving.
    private func acknowledgeJournal() {
        guard let journal, let highest = highestSequence else { return }
        var lowest = UInt64.max
        for buffer in buffers.values { if let first = buffer.sequenceRuns.first?.start { lowest = min(lowest, first) } }
        for first in appendingSequences.keys { lowest = min(lowest, first) }
        func consider(_ batch: Batch) {
            if let first = batch.firstSequence, !spooledAtShutdown.contains(batch.id) { lowest = min(lowest, first) }
        }
        ready.forEach(consider)
        waitingRetry.values.forEach(consider)
        inFlightBatches.values.forEach(consider)
        parkedBatches.values.forEach(consider)
        let mark = lowest == .max ? highest : lowest &- 1
        guard lowest > 0, mark > acknowledgedSequence else { return }
        acknowledgedSequence = mark
        journal.acknowledge(upTo: mark)
    }

    /// Warns on the first failure of a batch and then on attempts 2, 4, 8, …, so an outage does not
    /// flood the log; the other attempts log at debug. 401/403 are operator errors (credentials) and
    /// are logged as errors on every attempt.
    private func logRetry(_ batch: Batch, failure: InfluxWriteFailure, delayMilliseconds: Int) {
        let metadata: Logger.Metadata = [
            "database": "\(batch.database)", "lines": "\(batch.lineCount)",
            "status": "\(failure.statusCode.map(String.init) ?? "-")", "attempt": "\(batch.failedAttempts)",
            "delay_ms": "\(delayMilliseconds)", "error": "\(failure)",
        ]
        let attempt = batch.failedAttempts
        let prominent = attempt & (attempt - 1) == 0
        switch failure.statusCode {
        case 401, 403:
            // An operator's error: say so on every attempt, the data is kept until it is fixed.
            logger.error("InfluxDB refused the credentials; check INFLUXDB_TOKEN and permissions; will retry", metadata: metadata)
        default:
            logger.log(level: prominent ? .warning : .debug, "write failed; will retry", metadata: metadata)
        }
    }

    private func scheduleRetry(_ batch: Batch, failure: InfluxWriteFailure) {
        var retry = batch
        retry.failedAttempts += 1
        let delay = backoff.delayMilliseconds(attempt: retry.failedAttempts, retryAfterSeconds: failure.retryAfterSeconds)
        metrics.retries.wrappingAdd(1, ordering: .relaxed)
        logRetry(retry, failure: failure, delayMilliseconds: delay)
        waitingRetry[retry.id] = retry
        let sleep = self.sleep
        Task {
            try? await sleep(.milliseconds(delay))
            self.retryDue(id: retry.id)
        }
    }

    /// Runs `work` for a batch outside the actor's queue (a spool write, the bisection of a refused
    /// batch), keeping the batch counted in memory until `resume` has decided its fate.
    private func park<Result: Sendable>(
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

    private func spoolFinished(_ batch: Batch, spooled: Bool, failure: InfluxWriteFailure) {
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

    private func isolated(_ batch: Batch, outcome: RefusedLineIsolator.Outcome) async {
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

    private func retryDue(id: Int) {
        guard let batch = waitingRetry.removeValue(forKey: id) else { return }
        ready.insert(batch, at: 0)
        pump()
    }

    private func publishBufferedLines() {
        metrics.bufferedLines.store(linesInMemory, ordering: .relaxed)
    }

    // MARK: - Shutdown

    public func run() async throws {
        logger.info("batch writer started", metadata: [
            "batch_size": "\(configuration.batchSize)", "flush_interval_ms": "\(configuration.flushIntervalMilliseconds)",
            "concurrency": "\(configuration.concurrency)", "max_buffered_lines": "\(configuration.maxBufferedLines)",
        ])
        // A second SIGTERM or SIGINT (the first starts the graceful shutdown) stops the drain's wait:
        // what is left goes to the spool at once.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        // The first one lifts the memory bound at once: the service group stops the writer only after
        // the MQTT source and the pipeline, and a pipeline suspended in `append` waiting for memory
        // (InfluxDB down, spool full) would never see the intake close, so the shutdown never reached
        // the writer.
        let secondSignal = Task {
            var seen = 0
            for await _ in signals {
                seen += 1
                if seen == 1 { self.beginStopping() }
                if seen >= 2 { self.abandonDrain(); return }
            }
        }
        defer { secondSignal.cancel() }
        await cancelWhenGracefulShutdown { await self.runFlushTimer() }
        shuttingDown = true
        _ = await drain(timeout: .milliseconds(Int(configuration.shutdownTimeoutSeconds * 1000)))
        logger.info("batch writer stopped")
    }

    /// Flushes every buffer and waits, up to `timeout`, until every line in memory is acknowledged
    /// or refused. Batches waiting out a backoff delay are tried once more at once. Logs and returns
    /// what was drained and what is still in memory.
    public func drain(timeout: Duration) async -> DrainReport {
        drainsInProgress += 1
        defer { drainsInProgress -= 1 }
        let before = (
            lines: metrics.linesWritten.load(ordering: .relaxed), batches: metrics.batchesOK.load(ordering: .relaxed),
            linesRejected: metrics.linesRejected.load(ordering: .relaxed), batchesRejected: metrics.batchesRejected.load(ordering: .relaxed)
        )
        logger.info("draining buffers", metadata: ["lines": "\(linesInMemory)", "timeout_ms": "\(timeout / .milliseconds(1))"])
        resumeSpaceWaiters()
        for database in Array(buffers.keys) {
            guard var buffer = buffers.removeValue(forKey: database) else { continue }
            while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database) }
        }
        let retries = waitingRetry.values.sorted { $0.id < $1.id }
        waitingRetry.removeAll()
        ready.insert(contentsOf: retries, at: 0)
        pump()

        _ = await waitUntilIdle(timeout: timeout)
        let linesSpooled = await spoolWhatIsLeft()

        var report = DrainReport(
            linesWritten: metrics.linesWritten.load(ordering: .relaxed) - before.lines,
            batchesWritten: metrics.batchesOK.load(ordering: .relaxed) - before.batches,
            linesRejected: metrics.linesRejected.load(ordering: .relaxed) - before.linesRejected,
            batchesRejected: metrics.batchesRejected.load(ordering: .relaxed) - before.batchesRejected,
            linesRemaining: linesInMemory,
            batchesRemaining: ready.count + inFlightBatches.count + waitingRetry.count + buffers.count + parkedBatches.count
        )
        report.linesSpooled = linesSpooled
        let metadata: Logger.Metadata = [
            "lines": "\(report.linesWritten)", "batches": "\(report.batchesWritten)",
            "lines_rejected": "\(report.linesRejected)", "batches_rejected": "\(report.batchesRejected)",
            "lines_remaining": "\(report.linesRemaining)", "batches_remaining": "\(report.batchesRemaining)",
            "lines_spooled": "\(report.linesSpooled)",
        ]
        if report.completed && linesSpooled == 0 {
            logger.info("drained all buffers", metadata: metadata)
        } else if report.completed {
            logger.warning("InfluxDB did not take everything in time; the rest is in the spool for the next start", metadata: metadata)
        } else {
            logger.critical("lines still in memory could not be written nor spooled and are lost at exit", metadata: metadata)
        }
        return report
    }

    /// The daemon is stopping (first SIGTERM/SIGINT): appends waiting for memory are let in over the
    /// bound and every later append is flushed at once, so the pipeline can empty the intake and stop;
    /// what InfluxDB does not take by the deadline goes to the spool, past `SPOOL_MAX_BYTES` if need be.
    public func beginStopping() {
        guard !shuttingDown else { return }
        shuttingDown = true
        logger.info("stop requested: memory bound lifted so the pipeline can drain the intake", metadata: [
            "lines": "\(linesInMemory)", "waiting_appends": "\(spaceWaiters.count)",
        ])
        resumeSpaceWaiters()
        for database in Array(buffers.keys) {
            guard var buffer = buffers.removeValue(forKey: database) else { continue }
            while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database) }
        }
        publishBufferedLines()
        pump()
    }

    /// Stops a running drain's wait for InfluxDB (second SIGTERM/SIGINT).
    public func abandonDrain() {
        guard !abandoned else { return }
        abandoned = true
        beginStopping()
        logger.warning("second stop signal: spooling what is left instead of waiting for InfluxDB")
        for (id, continuation) in idleWaiters {
            idleWaiters[id] = nil
            continuation.resume(returning: false)
        }
    }

    /// After a drain timed out: every batch still in memory (buffered, ready, waiting for a retry,
    /// in flight or parked) goes to the spool. A write still in flight may yet succeed; the line is
    /// then in InfluxDB and in the spool, and the replay overwrites it with itself.
    private func spoolWhatIsLeft() async -> Int {
        guard let store, linesInMemory > 0 else { return 0 }
        for database in Array(buffers.keys) {
            guard var buffer = buffers.removeValue(forKey: database) else { continue }
            while buffer.lineCount > 0 { cutBatch(from: &buffer, database: database) }
        }
        var batches = ready + waitingRetry.values.sorted { $0.id < $1.id }
        ready.removeAll()
        waitingRetry.removeAll()
        let running = Array(inFlightBatches.values) + Array(parkedBatches.values)
        batches += running
        var spooled = 0
        for batch in batches {
            // Past SPOOL_MAX_BYTES if need be: these lines are acknowledged to the broker, and the
            // process is about to exit (README, "Delivery guarantees").
            guard await store.spoolPastLimit(database: batch.database, body: batch.body, lineCount: batch.lineCount) else {
                // Keep it where it was so the report counts it as remaining.
                if inFlightBatches[batch.id] == nil && parkedBatches[batch.id] == nil { ready.append(batch) }
                continue
            }
            if inFlightBatches[batch.id] != nil || parkedBatches[batch.id] != nil { spooledAtShutdown.insert(batch.id) }
            linesInMemory -= batch.lineCount
            spooled += batch.lineCount
        }
        publishBufferedLines()
        acknowledgeJournal()
        return spooled
    }

    /// True when nothing is in memory; false when `timeout` passed first.
    private func waitUntilIdle(timeout: Duration) async -> Bool {
        if linesInMemory == 0 { return true }
        let id = nextID
        nextID += 1
        let sleep = self.sleep
        let timer = Task {
            try? await sleep(timeout)
            self.resumeIdleWaiter(id: id, idle: false)
        }
        let idle = await withCheckedContinuation { continuation in
            idleWaiters[id] = continuation
        }
        timer.cancel()
        return idle
    }

    private func resumeIdleWaiter(id: Int, idle: Bool) {
        idleWaiters.removeValue(forKey: id)?.resume(returning: idle)
    }

    private func resumeIdleWaitersIfIdle() {
        guard linesInMemory == 0, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for continuation in waiters.values { continuation.resume(returning: true) }
    }
}
