/// One batch in the write ledger: lines of one database, from the moment they were cut from a buffer
/// (or taken as a whole chunk for the spool) until InfluxDB, the spool or the dead-letter folder has
/// them.
public struct LedgerBatch: Sendable {
    public typealias ID = Int

    public let id: ID
    public let database: String
    public let body: [UInt8]
    public let lineCount: Int
    /// When it was cut (ledger time, ms): the spool takes it `spoolAfterMilliseconds` later.
    public let createdAt: Int64
    /// The ledger's number of its first line (its others are higher, not necessarily contiguous).
    public let firstLine: UInt64
    public internal(set) var failedAttempts = 0
    /// When its last write started (ledger time, ms): the concurrency controller's latency.
    public internal(set) var writeStartedAt: Int64 = 0
    public internal(set) var state: State
    /// A chunk that found memory full while InfluxDB was down, spooled whole: its appender waits.
    public let waitingAppender: Int?

    /// Where the batch is. Every batch in the ledger is in exactly one state; a batch leaves the
    /// ledger when InfluxDB, the spool or the dead-letter folder holds it.
    public enum State: Sendable {
        /// Waiting for a write slot.
        case ready
        /// A write is in flight.
        case writing
        /// Waiting out its backoff delay until the given time.
        case waitingRetry(until: Int64)
        /// Handed to the spool; waiting for the result.
        case spooling
        /// InfluxDB refused it; narrowing down to the refused lines.
        case isolating(RefusedLineIsolation)
        /// The refused lines are being written to the dead-letter folder.
        case deadLettering(isolation: RefusedLineIsolation)
        /// Being spooled at the shutdown deadline (past `SPOOL_MAX_BYTES`); a late write result is ignored.
        case spoolingAtShutdown

        public var name: String {
            switch self {
            case .ready: "ready"
            case .writing: "writing"
            case .waitingRetry: "waitingRetry"
            case .spooling: "spooling"
            case .isolating: "isolating"
            case .deadLettering: "deadLettering"
            case .spoolingAtShutdown: "spoolingAtShutdown"
            }
        }
    }
}
