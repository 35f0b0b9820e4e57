/// Where the batch writer puts what it cannot keep in memory or cannot write: the disk spool for
/// batches to replay later, the dead-letter folder for lines InfluxDB refuses for good. A protocol so
/// the writer's tests can count what it hands over without touching a disk.
public protocol OverflowStore: Sendable {
    /// Writes a batch to the spool; false when it could not (spool full or a disk error), in which
    /// case the caller keeps the batch in memory.
    func spool(database: String, body: [UInt8], lineCount: Int) async -> Bool
    /// Writes a batch to the spool even past `SPOOL_MAX_BYTES`: at shutdown, when the alternative is
    /// losing lines the broker was told are safe. False only on a disk error.
    func spoolPastLimit(database: String, body: [UInt8], lineCount: Int) async -> Bool
    /// Sets refused lines aside with InfluxDB's answer; false on a disk error.
    func deadLetter(database: String, status: Int, error: String, lines: [[UInt8]]) async -> Bool
}

extension OverflowStore {
    /// A store without a size limit spools past it as it always does.
    public func spoolPastLimit(database: String, body: [UInt8], lineCount: Int) async -> Bool {
        await spool(database: database, body: body, lineCount: lineCount)
    }
}
