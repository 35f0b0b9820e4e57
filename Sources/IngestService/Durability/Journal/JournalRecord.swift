/// One record of a `CrashJournal` file. Records follow each other with no padding; each carries its
/// own checksum, so a reader can tell a complete record from the torn tail of an interrupted write.
///
/// Format (integers little-endian):
///
///     offset size field
///          0    4 magic "IJR1" (the 1 is the format version)
///          4    1 kind: 1 = lines, 2 = acknowledgement
///          5    1 reserved, 0
///          6    2 database name length N (0 for an acknowledgement)
///          8    8 lines: sequence number of the first line; acknowledgement: every line up to and
///                 including this sequence number is done (in InfluxDB or in the spool)
///         16    4 line count L (0 for an acknowledgement); the lines have numbers sequence..<sequence+L
///         20    4 body length B
///         24    4 CRC-32C of bytes 0..<24, the name and the body
///         28    N database name (UTF-8)
///       28+N    B body: L newline-terminated lines of line protocol
struct JournalRecord: Equatable, Sendable {
    static let magic: [UInt8] = Array("IJR1".utf8)
    static let headerSize = 28
    static let linesKind: UInt8 = 1
    static let acknowledgementKind: UInt8 = 2

    let kind: UInt8
    let sequence: UInt64
    var lineCount: Int
    let database: String
    var body: [UInt8]

    static func lines(firstSequence: UInt64, database: String, lineCount: Int, body: [UInt8]) -> JournalRecord {
        JournalRecord(kind: linesKind, sequence: firstSequence, lineCount: lineCount, database: database, body: body)
    }

    static func acknowledgement(upTo sequence: UInt64) -> JournalRecord {
        JournalRecord(kind: acknowledgementKind, sequence: sequence, lineCount: 0, database: "", body: [])
    }

    var isAcknowledgement: Bool { kind == Self.acknowledgementKind }

    /// The last line's sequence number (for an acknowledgement, the acknowledged one).
    var lastSequence: UInt64 { lineCount > 0 ? sequence + UInt64(lineCount) - 1 : sequence }

    func encode(into bytes: inout [UInt8]) {
        let name = Array(database.utf8)
        let start = bytes.count
        bytes.append(contentsOf: Self.magic)
        bytes.append(kind)
        bytes.append(0)
        bytes.appendLittleEndian(UInt16(name.count))
        bytes.appendLittleEndian(sequence)
        bytes.appendLittleEndian(UInt32(lineCount))
        bytes.appendLittleEndian(UInt32(body.count))
        var crc = CRC32C()
        crc.update(bytes[start...])
        crc.update(name)
        crc.update(body)
        bytes.appendLittleEndian(crc.value)
        bytes.append(contentsOf: name)
        bytes.append(contentsOf: body)
    }

    /// Decodes the record starting at `offset`; returns it and the offset just after it.
    static func decode(_ bytes: [UInt8], at offset: Int) throws(SpoolError) -> (record: JournalRecord, next: Int) {
        let available = bytes.count - offset
        guard available >= headerSize else { throw .torn(expectedBytes: headerSize, actualBytes: available) }
        guard Array(bytes[offset..<offset + 4]) == magic else {
            throw .badMagic(found: bytes.readLittleEndian(UInt32.self, at: offset))
        }
        let kind = bytes[offset + 4]
        let nameLength = Int(bytes.readLittleEndian(UInt16.self, at: offset + 6))
        let sequence = bytes.readLittleEndian(UInt64.self, at: offset + 8)
        let lineCount = Int(bytes.readLittleEndian(UInt32.self, at: offset + 16))
        let bodyLength = Int(bytes.readLittleEndian(UInt32.self, at: offset + 20))
        let stored = bytes.readLittleEndian(UInt32.self, at: offset + 24)
        let total = headerSize + nameLength + bodyLength
        guard available >= total else { throw .torn(expectedBytes: total, actualBytes: available) }
        var crc = CRC32C()
        crc.update(bytes[offset..<offset + 24])
        crc.update(bytes[offset + headerSize..<offset + total])
        guard crc.value == stored else { throw .checksumMismatch(stored: stored, computed: crc.value) }
        guard kind == linesKind || kind == acknowledgementKind else {
            throw .invalidBatch(reason: "unknown journal record kind \(kind)")
        }
        let nameEnd = offset + headerSize + nameLength
        let record = JournalRecord(
            kind: kind, sequence: sequence, lineCount: lineCount,
            database: String(decoding: bytes[offset + headerSize..<nameEnd], as: UTF8.self),
            body: Array(bytes[nameEnd..<offset + total]))
        return (record, offset + total)
    }
}
