import IngestCore
import Logging
import ServiceLifecycle
import UnixSignals

/// Writes line protocol to InfluxDB in batches: the thin executor of the pure ``WriteLedger``
/// (README, "How the write path works").
///
/// The ledger decides everything: buffers and batch cutting, writes in flight, retries with backoff,
/// spooling, refused-line isolation, the memory bound, the shutdown drain and which lines are safe.
/// This actor feeds it events (lines appended, the timer, results of I/O, stop signals) with the time
/// on its clock, and performs the actions it returns: HTTP writes, spool and dead-letter writes in
/// tasks of their own (the disk work itself runs on the spool's file thread), one timer, waking
/// appenders that waited for memory, trimming the crash journal, counters and log lines.
///
/// An actor because appends (the pipeline, the journal's recovery) and I/O results arrive from many
/// tasks; the ledger is a value, so every event is applied whole before the next one.
public actor BatchWriter: Service {
    public nonisolated let metrics: WriterMetrics
    public nonisolated let configuration: BatchWriterConfiguration

    let client: any InfluxWriting
    let store: (any OverflowStore)?
    /// Hears which sequence numbers are safe: the crash journal (trims itself) and, with
    /// DURABILITY=journal/broker, the MQTT acknowledgements.
    let journal: (any SafeSequenceObserver)?
    let logger: Logger
    /// Time since the writer was created, on the injected clock.
    let now: @Sendable () -> Duration
    let sleep: @Sendable (Duration) async throws -> Void

    var ledger: WriteLedger
    /// The ledger's safe mark in the sequence numbers the observer knows (journal or broker mode).
    var safeSequenceMarks: JournalMarkTracker
    /// Appenders waiting for memory, by the ledger's appender id.
    var waitingAppenders: [Int: CheckedContinuation<Void, Never>] = [:]
    /// Appenders resumed early (their task was cancelled): a later wake-up for them is ignored.
    var releasedAppenders: Set<Int> = []
    /// The task sleeping until the ledger's timer; replaced whenever the ledger re-arms it.
    var timer: Task<Void, Never>?
    /// Callers of ``drain(timeout:)`` waiting for the ledger to report the drain over.
    var drainWaiters: [CheckedContinuation<Void, Never>] = []
    /// What the shutdown drain put in the spool past its limit, and what it could keep nowhere.
    var shutdown = ShutdownTally()
    /// When the first stop signal came (ledger time): the drain's deadline counts from it.
    var stopRequestedAt: Int64?

    struct ShutdownTally {
        var linesSpooled = 0
        var linesLost = 0
        var batchesLost = 0
    }

    public init<C: Clock>(
        configuration: BatchWriterConfiguration,
        client: some InfluxWriting,
        store: (any OverflowStore)? = nil,
        journal: (any SafeSequenceObserver)? = nil,
        logger: Logger,
        clock: C = ContinuousClock(),
        seed: UInt64 = UInt64.random(in: 0 ... .max)
    ) where C.Duration == Duration {
        self.configuration = configuration
        self.client = client
        self.store = store
        self.journal = journal
        self.safeSequenceMarks = JournalMarkTracker(awaiting: journal?.awaitedSequences ?? [])
        self.logger = logger
        self.metrics = WriterMetrics()
        self.ledger = WriteLedger(configuration: configuration.ledgerConfiguration(hasSpool: store != nil), seed: seed)
        let start = clock.now
        self.now = { start.duration(to: clock.now) }
        self.sleep = { try await clock.sleep(for: $0) }
    }

    /// The ledger's clock: milliseconds since the writer was created.
    var ledgerTime: Int64 {
        let elapsed = now().components
        return elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
    }

    // MARK: - Service

    public func run() async throws {
        logger.info("batch writer started", metadata: [
            "batch_size": "\(configuration.batchSize)", "flush_interval_ms": "\(configuration.flushIntervalMilliseconds)",
            "concurrency": "\(configuration.concurrency)", "max_concurrency": "\(ledger.controller.maximum)",
            "max_buffered_lines": "\(configuration.maxBufferedLines)", "max_buffered_bytes": "\(configuration.maxBufferedBytes)",
        ])
        // The first SIGTERM or SIGINT lifts the memory bound at once: the service group stops the
        // writer only after the MQTT source and the pipeline, and a pipeline suspended in `append`
        // waiting for memory (InfluxDB down, spool full) would never see the intake close, so the
        // shutdown would never reach the writer. A second one stops the drain's wait: what is left
        // goes to the spool at once.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let signalWatch = Task {
            var seen = 0
            for await _ in signals {
                seen += 1
                if seen == 1 { self.beginStopping() }
                if seen >= 2 { self.abandonDrain(); return }
            }
        }
        defer { signalWatch.cancel() }
        // Everything happens in events; this task only waits for the graceful shutdown (or, outside a
        // service group, for its cancellation).
        await cancelWhenGracefulShutdown {
            let (untilCancelled, keepOpen) = AsyncStream<Never>.makeStream()
            for await _ in untilCancelled {}
            keepOpen.finish()
        }
        // SHUTDOWN_TIMEOUT_SECONDS counts from the stop signal, not from when the services before the
        // writer (the MQTT client's wait for acknowledgements, the pipeline) are done.
        var timeout = Int64(configuration.shutdownTimeoutSeconds * 1000)
        if let stopRequestedAt { timeout = max(0, timeout - (ledgerTime - stopRequestedAt)) }
        _ = await drain(timeout: .milliseconds(timeout))
        timer?.cancel()
        logger.info("batch writer stopped")
    }

    // MARK: - Intake

    /// Hands over newline-terminated lines of line protocol for `database` (one call per chunk per
    /// database). Suspends while memory is full (`maxBufferedLines`): that is how backpressure reaches
    /// the MQTT intake. The lines are in the ledger from the call on, so if the calling task is
    /// cancelled while suspended it is let go and nothing is lost.
    ///
    /// `lineCount` is the number of lines in `lines`; the writer counts newlines itself for its
    /// bookkeeping, so a wrong count cannot corrupt it. A missing final newline is added.
    public func append(database: String, lines: [UInt8], lineCount: Int, journalSequences: ClosedRange<UInt64>?) async {
        guard !lines.isEmpty else { return }
        var lines = lines
        if lines.last != UInt8(ascii: "\n") { lines.append(UInt8(ascii: "\n")) }
        let count = lines.withUnsafeBytes { NewlineScan.count(in: $0) }
        assert(count == lineCount, "append(lineCount: \(lineCount)) but the chunk has \(count) lines")
        let firstLine = ledger.linesAppended + 1
        if let journalSequences {
            safeSequenceMarks.record(firstLine: firstLine, lineCount: count, sequences: journalSequences)
        }
        let (result, actions) = ledger.append(database: database, lines: lines, lineCount: count, now: ledgerTime)
        perform(actions)
        guard case .wait(let appender) = result, releasedAppenders.remove(appender) == nil else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waitingAppenders[appender] = continuation
            }
        } onCancel: {
            Task { await self.release(appender: appender) }
        }
    }

    /// A cancelled appender goes on; its lines stay in the ledger, waiting for memory.
    private func release(appender: Int) {
        guard let continuation = waitingAppenders.removeValue(forKey: appender) else { return }
        releasedAppenders.insert(appender)
        continuation.resume()
    }

    func wake(appender: Int) {
        if let continuation = waitingAppenders.removeValue(forKey: appender) {
            continuation.resume()
        } else if releasedAppenders.remove(appender) == nil {
            // Woken before it started waiting (within the same event): it need not wait at all.
            releasedAppenders.insert(appender)
        }
    }
}
