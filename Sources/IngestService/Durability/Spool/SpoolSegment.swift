/// One spooled batch: the line protocol InfluxDB did not take, for one database.
///
/// On-disk format (all integers little-endian):
///
///     offset size field
///          0    4 magic "ISPL"
///          4    2 format version (1)
///          6    2 database name length in UTF-8 bytes (N)
///          8    4 line count
///         12    4 body length in bytes (B)
///         16    4 CRC-32C of bytes 0..<16, the name and the body
///         20    N database name (UTF-8)
///       20+N    B body: newline-terminated line protocol
///
/// The version is checked right after the magic, before any length is trusted, so a later format may
/// change everything after it. The file has exactly 20+N+B bytes: fewer is a torn write, more is damage.
public struct SpoolSegment: Sendable, Equatable {
    static let magic: [UInt8] = Array("ISPL".utf8)
    public static let formatVersion: UInt16 = 1
    static let headerSize = 20

    public let database: String
    /// As counted by the writer that produced the batch; stored, not recomputed.
    public let lineCount: Int
    /// Newline-terminated line protocol.
    public let body: [UInt8]

    /// Appends a final newline when the body lacks one, so the body is always newline-terminated.
    public init(database: String, lineCount: Int, body: [UInt8]) throws(SpoolError) {
        guard !database.isEmpty else { throw .invalidBatch(reason: "empty database name") }
        guard database.utf8.count <= Int(UInt16.max) else {
            throw .invalidBatch(reason: "database name of \(database.utf8.count) bytes (at most \(UInt16.max))")
        }
        guard !body.isEmpty else { throw .invalidBatch(reason: "empty body for database \(database)") }
        guard lineCount > 0, lineCount <= Int(UInt32.max) else {
            throw .invalidBatch(reason: "line count \(lineCount) for database \(database)")
        }
        var body = body
        if body.last != UInt8(ascii: "\n") { body.append(UInt8(ascii: "\n")) }
        guard body.count <= Int(UInt32.max) else {
            throw .invalidBatch(reason: "body of \(body.count) bytes (at most \(UInt32.max))")
        }
        self.init(checkedDatabase: database, lineCount: lineCount, body: body)
    }

    private init(checkedDatabase database: String, lineCount: Int, body: [UInt8]) {
        self.database = database
        self.lineCount = lineCount
        self.body = body
    }

    /// Size of `encode()`'s result, known without encoding.
    public var encodedSize: Int { Self.headerSize + database.utf8.count + body.count }

    public func encode() -> [UInt8] {
        let name = Array(database.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encodedSize)
        bytes.append(contentsOf: Self.magic)
        bytes.appendLittleEndian(Self.formatVersion)
        bytes.appendLittleEndian(UInt16(name.count))
        bytes.appendLittleEndian(UInt32(lineCount))
        bytes.appendLittleEndian(UInt32(body.count))
        var crc = CRC32C()
        crc.update(bytes)
        crc.update(name)
        crc.update(body)
        bytes.appendLittleEndian(crc.value)
        bytes.append(contentsOf: name)
        bytes.append(contentsOf: body)
        return bytes
    }

    /// How many lines a segment that fails to decode held, for the `corrupt_lines` count: the line
    /// count of its header when the header is there and has the magic number (exact for a truncated
    /// segment; capped by the bytes after the header, since a damaged count is not caught by the
    /// checksum here), else the newlines in its bytes.
    static func declaredLineCount(_ bytes: [UInt8]) -> Int {
        if bytes.count >= headerSize, Array(bytes[0..<4]) == magic {
            return min(Int(bytes.readLittleEndian(UInt32.self, at: 8)), bytes.count - headerSize)
        }
        return bytes.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    }

    public static func decode(_ bytes: [UInt8]) throws(SpoolError) -> SpoolSegment {
        guard bytes.count >= headerSize else { throw .torn(expectedBytes: headerSize, actualBytes: bytes.count) }
        guard Array(bytes[0..<4]) == magic else { throw .badMagic(found: bytes.readLittleEndian(UInt32.self, at: 0)) }
        let version = bytes.readLittleEndian(UInt16.self, at: 4)
        guard version == formatVersion else { throw .unsupportedVersion(found: version, supported: formatVersion) }
        let nameLength = Int(bytes.readLittleEndian(UInt16.self, at: 6))
        let lineCount = Int(bytes.readLittleEndian(UInt32.self, at: 8))
        let bodyLength = Int(bytes.readLittleEndian(UInt32.self, at: 12))
        let stored = bytes.readLittleEndian(UInt32.self, at: 16)
        let total = headerSize + nameLength + bodyLength
        guard bytes.count >= total else { throw .torn(expectedBytes: total, actualBytes: bytes.count) }
        guard bytes.count == total else { throw .lengthMismatch(declaredBytes: total, actualBytes: bytes.count) }
        var crc = CRC32C()
        crc.update(bytes[0..<16])
        crc.update(bytes[headerSize...])
        guard crc.value == stored else { throw .checksumMismatch(stored: stored, computed: crc.value) }
        let nameEnd = headerSize + nameLength
        let database = String(decoding: bytes[headerSize..<nameEnd], as: UTF8.self)
        return SpoolSegment(checkedDatabase: database, lineCount: lineCount, body: Array(bytes[nameEnd...]))
    }
}
