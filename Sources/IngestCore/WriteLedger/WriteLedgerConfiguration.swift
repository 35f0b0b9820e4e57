/// The write ledger's limits, from the `INFLUX_*`, `SPOOL_*` and `SHUTDOWN_*` settings (README,
/// "Settings").
public struct WriteLedgerConfiguration: Sendable, Equatable {
    /// A buffer is due for a write at this many lines (`INFLUX_BATCH_SIZE`) …
    public var batchSize: Int
    /// … or bytes; and a batch is at most this large (`INFLUX_MAX_BATCH_BYTES`; a single longer line
    /// is a batch of its own).
    public var maxBatchBytes: Int
    /// … or when its oldest line is this old (`INFLUX_FLUSH_INTERVAL_MS`).
    public var flushIntervalMilliseconds: Int64
    /// Writes in flight at start; the controller adapts it (`INFLUX_CONCURRENCY`).
    public var concurrency: Int
    /// The most writes in flight the controller may allow (`INFLUX_MAX_CONCURRENCY`).
    public var maxConcurrency: Int
    /// Lines in memory not yet safe before appends wait (`INFLUX_MAX_BUFFER_LINES`).
    public var maxBufferedLines: Int
    /// … or bytes (`INFLUX_MAX_BUFFER_BYTES`).
    public var maxBufferedBytes: Int
    /// A batch not written this long after it was cut goes to the spool (`SPOOL_AFTER_MS`).
    public var spoolAfterMilliseconds: Int64
    /// Exponential backoff with full jitter between attempts (`INFLUX_RETRY_BASE_MS`, `INFLUX_RETRY_MAX_DELAY_MS`).
    public var backoff: RetryBackoff
    /// False when there is no disk spool: batches then only wait and retry.
    public var hasSpool: Bool

    public init(batchSize: Int, maxBatchBytes: Int, flushIntervalMilliseconds: Int64, concurrency: Int,
                maxConcurrency: Int? = nil, maxBufferedLines: Int, maxBufferedBytes: Int = .max,
                spoolAfterMilliseconds: Int64, backoff: RetryBackoff, hasSpool: Bool) {
        self.batchSize = max(1, batchSize)
        self.maxBatchBytes = max(1, maxBatchBytes)
        self.flushIntervalMilliseconds = max(1, flushIntervalMilliseconds)
        self.concurrency = max(1, concurrency)
        self.maxConcurrency = max(self.concurrency, maxConcurrency ?? self.concurrency)
        self.maxBufferedLines = max(1, maxBufferedLines)
        self.maxBufferedBytes = max(1, maxBufferedBytes)
        self.spoolAfterMilliseconds = max(0, spoolAfterMilliseconds)
        self.backoff = backoff
        self.hasSpool = hasSpool
    }
}
