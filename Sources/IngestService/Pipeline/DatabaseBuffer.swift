import IngestCore

/// Lines for one database collected while one chunk is processed.
struct DatabaseBuffer {
    private(set) var bytes: [UInt8] = []
    private(set) var lineCount = 0

    /// Encodes one line; on a refusal the buffer is left exactly as it was.
    mutating func append(_ message: ValidatedMessage, receivedAtNanos: Int64, encoder: LineProtocolEncoder) throws(RejectReason) -> Int {
        let mark = bytes.count
        do {
            let skipped = try encoder.append(message, receivedAtNanos: receivedAtNanos, to: &bytes)
            lineCount += 1
            return skipped
        } catch {
            bytes.removeSubrange(mark...)
            throw error
        }
    }

    /// Lines a mapping rule wrote (README, "Mapping other devices"), complete with their newlines.
    mutating func append(lines: [UInt8], lineCount: Int) {
        bytes.append(contentsOf: lines)
        self.lineCount += lineCount
    }

    /// Empties the buffer for the next chunk. The bytes were handed to the writer by value; a fresh
    /// array avoids copy-on-write of the one the writer now holds.
    mutating func reset() {
        bytes = []
        bytes.reserveCapacity(64 * 1024)
        lineCount = 0
    }
}
