/// What InfluxDB made of one write, as the write ledger needs to know it (the executor maps its HTTP
/// client's result onto this; README, "Delivery guarantees").
public enum WriteOutcome: Sendable, Equatable {
    /// Stored (2xx).
    case written
    /// Worth sending again unchanged: timeouts, connection errors, 5xx, 429, 401/403, 404.
    /// `retryAfterSeconds` is the server's `Retry-After`.
    case retryable(status: Int?, retryAfterSeconds: Double?, message: String)
    /// Sending the same bytes again cannot succeed (400, 413, 422). `refusedLines` are the 1-based
    /// line numbers InfluxDB 3 names in a partial-write answer, each with its message (it stored the
    /// others); nil when the answer does not say (InfluxDB 1.x/2.x, 413): the ledger bisects.
    case refused(status: Int, message: String, refusedLines: [RefusedLine]?)

    public struct RefusedLine: Sendable, Equatable {
        public var lineNumber: Int
        public var message: String

        public init(lineNumber: Int, message: String) {
            self.lineNumber = lineNumber
            self.message = message
        }
    }
}
