import Synchronization

/// Counters of the batch writer, cumulative since start, read by the stats task at any time from
/// any thread. The names in parentheses are the keys of the stats line.
public final class WriterMetrics: Sendable {
    /// Batches InfluxDB acknowledged (`influx_batch_ok`). Dry-run batches count here too.
    public let batchesOK = Atomic<Int>(0)
    /// Failed write attempts (`influx_batch_err`): every attempt that did not end in a 2xx — each
    /// retryable failure (a batch retried three times before succeeding adds 3) plus each batch
    /// InfluxDB refused for good (also counted in `batchesRejected`).
    public let batchesFailed = Atomic<Int>(0)
    /// Batches InfluxDB refused for good (400, 413, 422); their lines are in `linesRejected`.
    public let batchesRejected = Atomic<Int>(0)
    /// Batches cut from a buffer (on size, bytes, interval or shutdown) (`influx_flushes`).
    /// Retries of a batch are not flushes.
    public let flushes = Atomic<Int>(0)
    /// Lines in memory not yet acknowledged: buffered, queued, in flight or waiting for a retry
    /// (`influx_buffer`).
    public let bufferedLines = Atomic<Int>(0)
    /// Lines InfluxDB acknowledged.
    public let linesWritten = Atomic<Int>(0)
    /// Lines in batches InfluxDB refused for good (for 400 `partial write`, InfluxDB 1.x kept the
    /// good lines of the batch; the whole batch is counted here).
    public let linesRejected = Atomic<Int>(0)
    /// Retries scheduled after retryable failures.
    public let retries = Atomic<Int>(0)
    /// 1 after the last attempt got an answer from InfluxDB that is not a retryable failure, 0
    /// after a retryable failure (connection error, timeout, 5xx, 429, 401/403, 404), starts at 1.
    public let influxUp = Atomic<Int>(1)
    /// Writes the adaptive controller allows in flight now (`influx_concurrency`): the write ledger's
    /// `writeConcurrency`, set by the writer after each event.
    public let writeConcurrency = Atomic<Int>(0)
    /// Lines in the last batch cut (`influx_last_batch_lines`): the ledger's `batchLines`; it grows
    /// with the backlog up to `INFLUX_MAX_BATCH_BYTES`.
    public let lastBatchLines = Atomic<Int>(0)
    private let lastError = Mutex<String?>(nil)

    public init() {}

    /// The last write failure, one short line without secrets (nil if there was none).
    public var lastWriteError: String? { lastError.withLock { $0 } }

    func setLastWriteError(_ message: String) { lastError.withLock { $0 = message } }
}
