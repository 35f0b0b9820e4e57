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

    let client: any InfluxWriting
    let store: (any OverflowStore)?
    let journal: (any SafeSequenceObserver)?
    let logger: Logger
    let backoff: RetryBackoff
    /// Time since the writer was created, on the injected clock.
    let now: @Sendable () -> Duration
    let sleep: @Sendable (Duration) async throws -> Void

    struct Buffer {
        var bytes: [UInt8] = []
        var lineCount = 0
        /// When its oldest line arrived (on `now`).
        var oldest: Duration
        /// Crash-journal numbers of the lines, in order (empty without a journal).
        var sequenceRuns: [SequenceRun] = []
    }

    struct SequenceRun {
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

    struct SpaceWaiter {
        let id: Int
        let lines: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    var buffers: [String: Buffer] = [:]
    /// Batches waiting for a write slot; retries go first.
    var ready: [Batch] = []
    var inFlight = 0
    /// Batches being written, by id: shutdown spools them too if InfluxDB does not answer in time.
    var inFlightBatches: [Int: Batch] = [:]
    /// Batches handed to the spool or the refused-line isolator and not back yet.
    var parkedBatches: [Int: Batch] = [:]
    /// Batches spooled at shutdown while a write or a park was still running: its late result is
    /// ignored, the lines are already on disk.
    var spooledAtShutdown: Set<Int> = []
    /// Set by a second SIGTERM/SIGINT: stop waiting for InfluxDB and spool what is left.
    var abandoned = false
    /// First journal numbers of appends that are waiting for memory or being spooled: not yet in a
    /// buffer, but not safe either.
    var appendingSequences: [UInt64: Int] = [:]
    var highestSequence: UInt64?
    var acknowledgedSequence: UInt64 = 0
    /// Batches waiting out their backoff delay, by id.
    var waitingRetry: [Int: Batch] = [:]
    /// Lines in memory not yet acknowledged or refused (including space reserved for resumed waiters).
    var linesInMemory = 0
    var nextID = 0
    var spaceWaiters: [SpaceWaiter] = []
    var idleWaiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    /// Set when `run()` begins its shutdown; never reset.
    var shuttingDown = false
    var drainsInProgress = 0
    /// While draining, every append is flushed at once and the memory bound is lifted (the intake
    /// has stopped; what is left must get out, not wait).
    var flushesImmediately: Bool { shuttingDown || drainsInProgress > 0 }

    public init<C: Clock>(
        configuration: BatchWriterConfiguration,
        client: some InfluxWriting,
        store: (any OverflowStore)? = nil,
        journal: (any SafeSequenceObserver)? = nil,
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

    // MARK: - Service

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
    func resumeSpaceWaiters() {
        while let first = spaceWaiters.first, flushesImmediately || hasSpace(for: first.lines) {
            spaceWaiters.removeFirst()
            linesInMemory += first.lines
            first.continuation.resume()
        }
    }

    private static func countLines(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { NewlineScan.count(in: $0) }
    }
}
