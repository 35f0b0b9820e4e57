/// The write ledger's limits, from the `INFLUX_*`, `SPOOL_*` and `SHUTDOWN_*` settings (README,
/// "Settings").
public struct WriteLedgerConfiguration: Sendable, Equatable {
    /// A buffer is cut into a batch at this many lines (`INFLUX_BATCH_SIZE`).
    public var batchSize: Int
    /// … or at this many bytes (`INFLUX_MAX_BATCH_BYTES`); a single longer line is a batch of its own.
    public var maxBatchBytes: Int
    /// … or when its oldest line is this old (`INFLUX_FLUSH_INTERVAL_MS`).
    public var flushIntervalMilliseconds: Int64
    /// Writes in flight at once (`INFLUX_CONCURRENCY`).
    public var concurrency: Int
    /// Lines in memory not yet safe before appends wait (`INFLUX_MAX_BUFFER_LINES`).
    public var maxBufferedLines: Int
    /// A batch not written this long after it was cut goes to the spool (`SPOOL_AFTER_MS`).
    public var spoolAfterMilliseconds: Int64
    /// Exponential backoff with full jitter between attempts (`INFLUX_RETRY_BASE_MS`, `INFLUX_RETRY_MAX_DELAY_MS`).
    public var backoff: RetryBackoff
    /// False when there is no disk spool: batches then only wait and retry.
    public var hasSpool: Bool

    public init(batchSize: Int, maxBatchBytes: Int, flushIntervalMilliseconds: Int64, concurrency: Int,
                maxBufferedLines: Int, spoolAfterMilliseconds: Int64, backoff: RetryBackoff, hasSpool: Bool) {
        self.batchSize = max(1, batchSize)
        self.maxBatchBytes = max(1, maxBatchBytes)
        self.flushIntervalMilliseconds = max(1, flushIntervalMilliseconds)
        self.concurrency = max(1, concurrency)
        self.maxBufferedLines = max(1, maxBufferedLines)
        self.spoolAfterMilliseconds = max(0, spoolAfterMilliseconds)
        self.backoff = backoff
        self.hasSpool = hasSpool
    }
}
