/// Something that writes one batch of line protocol to one database: ``InfluxClient`` in
/// production, a fake in tests. Implementations never throw and never drop: every outcome is a
/// ``InfluxWriteResult``.
public protocol InfluxWriting: Sendable {
    /// - Parameters:
    ///   - body: newline-terminated lines of line protocol (uncompressed).
    ///   - lineCount: number of lines in `body`, for logs.
    func write(database: String, body: [UInt8], lineCount: Int) async -> InfluxWriteResult
}
