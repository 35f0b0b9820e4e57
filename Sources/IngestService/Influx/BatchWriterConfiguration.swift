import IngestCore

/// Tuning of the ``BatchWriter``. Defaults match the contract (`INFLUX_BATCH_SIZE`,
/// `INFLUX_FLUSH_INTERVAL_MS`, …).
public struct BatchWriterConfiguration: Sendable, Equatable {
    /// A buffer is due for a write when it holds this many lines; while writes are slow, a batch
    /// takes every whole multiple of it that waits (README, "Throughput when InfluxDB is slow").
    public var batchSize: Int
    /// A buffer is due when it holds this many bytes; no batch is larger (unless one line is).
    public var maxBatchBytes: Int
    /// A buffer is flushed when its oldest line is this old.
    public var flushIntervalMilliseconds: Int
    /// Writes in flight at start; the ledger's controller adapts it.
    public var concurrency: Int
    /// The most writes in flight the controller may allow; nil = `concurrency`, fixed.
    public var maxConcurrency: Int?
    public var retryBaseMilliseconds: Int
    public var retryMaxDelayMilliseconds: Int
    /// How long shutdown waits for buffered, in-flight and retried batches.
    public var shutdownTimeoutSeconds: Double
    /// Memory bound: lines in memory not yet acknowledged. When reached, `append` suspends its
    /// caller until writes free space (backpressure to the intake). Nothing is dropped.
    public var maxBufferedLines: Int
    /// The same bound in bytes of line protocol.
    public var maxBufferedBytes: Int
    /// A batch not written this long after it was cut goes to the disk spool (when there is one).
    public var spoolAfterMilliseconds: Int

    public init(
        batchSize: Int = 500,
        maxBatchBytes: Int = 1 << 20,
        flushIntervalMilliseconds: Int = 1000,
        concurrency: Int = 2,
        maxConcurrency: Int? = nil,
        retryBaseMilliseconds: Int = 250,
        retryMaxDelayMilliseconds: Int = 30_000,
        shutdownTimeoutSeconds: Double = 20,
        maxBufferedLines: Int = 1_000_000,
        maxBufferedBytes: Int = 64 << 20,
        spoolAfterMilliseconds: Int = 10_000
    ) {
        self.batchSize = batchSize
        self.maxBatchBytes = maxBatchBytes
        self.flushIntervalMilliseconds = flushIntervalMilliseconds
        self.concurrency = concurrency
        self.maxConcurrency = maxConcurrency
        self.retryBaseMilliseconds = retryBaseMilliseconds
        self.retryMaxDelayMilliseconds = retryMaxDelayMilliseconds
        self.shutdownTimeoutSeconds = shutdownTimeoutSeconds
        self.maxBufferedLines = maxBufferedLines
        self.maxBufferedBytes = maxBufferedBytes
        self.spoolAfterMilliseconds = spoolAfterMilliseconds
    }

    /// The write ledger's view of these settings.
    func ledgerConfiguration(hasSpool: Bool) -> WriteLedgerConfiguration {
        WriteLedgerConfiguration(
            batchSize: batchSize, maxBatchBytes: maxBatchBytes,
            flushIntervalMilliseconds: Int64(flushIntervalMilliseconds), concurrency: concurrency,
            maxConcurrency: maxConcurrency, maxBufferedLines: maxBufferedLines, maxBufferedBytes: maxBufferedBytes,
            spoolAfterMilliseconds: Int64(spoolAfterMilliseconds),
            backoff: RetryBackoff(baseMilliseconds: retryBaseMilliseconds, maxDelayMilliseconds: retryMaxDelayMilliseconds),
            hasSpool: hasSpool)
    }
}
