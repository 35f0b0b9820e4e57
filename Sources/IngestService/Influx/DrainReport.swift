/// What a drain (shutdown) achieved.
public struct DrainReport: Sendable, Equatable {
    /// Lines and batches acknowledged by InfluxDB during the drain.
    public var linesWritten: Int
    public var batchesWritten: Int
    /// Lines and batches InfluxDB refused for good during the drain.
    public var linesRejected: Int
    public var batchesRejected: Int
    /// Lines still in memory when the drain ended (timeout): buffered, in flight or waiting for a
    /// retry. Zero after a complete drain.
    public var linesRemaining: Int
    public var batchesRemaining: Int
    /// Lines written to the disk spool because they could not be written in time.
    public var linesSpooled = 0
    /// True when everything was acknowledged or refused before the timeout.
    public var completed: Bool { linesRemaining == 0 }

    public init(linesWritten: Int = 0, batchesWritten: Int = 0, linesRejected: Int = 0, batchesRejected: Int = 0,
                linesRemaining: Int = 0, batchesRemaining: Int = 0) {
        self.linesWritten = linesWritten
        self.batchesWritten = batchesWritten
        self.linesRejected = linesRejected
        self.batchesRejected = batchesRejected
        self.linesRemaining = linesRemaining
        self.batchesRemaining = batchesRemaining
    }
}
