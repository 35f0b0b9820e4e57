/// Takes finished line protocol for one database; the batch writer is the real one. The pipeline
/// hands over one chunk per database at a time, never one call per message.
public protocol LineSink: Sendable {
    /// `lines` holds `lineCount` newline-terminated lines. May suspend when the writer's memory is
    /// full: that is how backpressure travels back to the MQTT intake. `journalSequences` are the
    /// lines' numbers in the crash journal (DURABILITY=journal), one per line, for the writer to
    /// acknowledge once the lines are safe in InfluxDB, the spool or the dead-letter folder.
    func append(database: String, lines: [UInt8], lineCount: Int, journalSequences: ClosedRange<UInt64>?) async
}

extension LineSink {
    public func append(database: String, lines: [UInt8], lineCount: Int) async {
        await append(database: database, lines: lines, lineCount: lineCount, journalSequences: nil)
    }
}
