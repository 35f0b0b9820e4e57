/// Takes finished line protocol for one database; the batch writer is the real one. The pipeline
/// hands over one chunk per database at a time, never one call per message.
public protocol LineSink: Sendable {
    /// `lines` holds `lineCount` newline-terminated lines. May suspend when the writer's memory is
    /// full: that is how backpressure travels back to the MQTT intake.
    func append(database: String, lines: [UInt8], lineCount: Int) async
}
