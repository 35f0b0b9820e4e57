/// A strict RFC 8259 reader over raw bytes, just enough for the envelope: it walks the document
/// once, validates everything it passes (including values it skips and UTF-8 in strings), and
/// hands out strings decoded into a reusable scratch buffer and numbers as their literal bytes.
/// Every failure is `BAD_JSON`.
struct JSONReader {
    /// Nesting beyond this is refused instead of recursing further, so a hostile payload of
    /// `[[[[…` cannot exhaust the stack.
    static let maxDepth = 64

    enum ValueKind {
        case string, number, object, array, bool, null
    }

    /// A number as written: `start..<end` in the payload, and whether it has neither fraction nor exponent.
    struct NumberToken {
        var start: Int
        var end: Int
        var isInteger: Bool
    }

    let bytes: UnsafeRawBufferPointer
    var index: Int = 0
    /// The last string read: a slice of the payload when it had no escapes (the usual case, no
    /// copy), else its unescaped UTF-8 in `scratch`.
    private var stringStart = 0
    private var stringEnd = 0
    private var stringInScratch = false
    private var scratch: [UInt8] = []

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { index >= bytes.count }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Consumes `byte` if it is next (after whitespace).
    @inline(__always)
    mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        if index < bytes.count && bytes[index] == byte {
            index += 1
            return true
        }
        return false
    }

    mutating func expect(_ byte: UInt8) throws(RejectReason) {
        guard consume(byte) else { throw .badJSON }
    }

    /// Kind of the next value, judged by its first byte (after whitespace).
    mutating func peekKind() throws(RejectReason) -> ValueKind {
        skipWhitespace()
        guard index < bytes.count else { throw .badJSON }
        switch bytes[index] {
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw .badJSON
        }
    }

    mutating func readLiteral(_ word: StaticString) throws(RejectReason) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw .badJSON }
        let text = word.utf8Start
        for offset in 0..<count where bytes[index + offset] != text[offset] {
            throw .badJSON
        }
        index += count
    }

    mutating func readBool() throws(RejectReason) -> Bool {
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "t") {
            try readLiteral("true")
            return true
        }
        try readLiteral("false")
        return false
    }

    mutating func readNull() throws(RejectReason) {
        skipWhitespace()
        try readLiteral("null")
    }

    // MARK: strings

    /// Reads and validates a string; see `withLastString`.
    mutating func readString() throws(RejectReason) {
        try expect(UInt8(ascii: "\""))
        stringStart = index
        stringInScratch = false
        // Fast path, the usual string: printable ASCII up to the closing quote, read in place,
        // eight bytes per step up to the first one that needs a closer look (usually the quote).
        var cursor = index
        while bytes.count - cursor >= 8 {
            let flags = Self.flagSpecialBytes(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: cursor, as: UInt64.self)))
            if flags != 0 {
                cursor += flags.trailingZeroBitCount / 8
                break
            }
            cursor += 8
        }
        while cursor < bytes.count {
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") {
                stringEnd = cursor
                index = cursor + 1
                return
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { break }
            cursor += 1
        }
        // An escape, a control character, non-ASCII UTF-8 or the end of the input: the full loop
        // takes over where the fast path stopped (nothing has been copied yet).
        index = cursor
        while true {
            guard index < bytes.count else { throw .badJSON }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                stringEnd = index
                index += 1
                return
            }
            if byte == UInt8(ascii: "\\") {
                if !stringInScratch {
                    // First escape: from here on the decoded text differs from the payload.
                    stringInScratch = true
                    scratch.removeAll(keepingCapacity: true)
                    scratch.append(bytes: UnsafeRawBufferPointer(rebasing: bytes[stringStart..<index]))
                }
                try readEscape()
            } else if byte < 0x20 {
                throw .badJSON
            } else if byte < 0x80 {
                if stringInScratch { scratch.append(byte) }
                index += 1
            } else {
                let start = index
                try skipMultiByteScalar()
                if stringInScratch { scratch.append(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<index])) }
            }
        }
    }

    /// Eight string bytes, the first in the lowest bits: sets the high bit of each byte that is `"`,
    /// `\\`, a control character or not ASCII, at least for the first such byte; a later byte may
    /// be flagged wrongly, so only the lowest flag says where to look. These are the classic SWAR
    /// tests: `(x - 0x01…) & ~x & 0x80…` flags the zero bytes of `x`, and a borrow that could flag
    /// a byte wrongly only runs upwards from a byte that is zero.
    @inline(__always)
    static func flagSpecialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
        let backslashes = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
        let control = (word &- ones &* 0x20) & ~word
        let quote = (quotes &- ones) & ~quotes
        let backslash = (backslashes &- ones) & ~backslashes
        return (control | quote | backslash | word) & highBits
    }

    /// Runs `body` on the last string's UTF-8 bytes (valid only during the call).
    @inline(__always)
    func withLastString<R>(_ body: (UnsafeRawBufferPointer) throws(RejectReason) -> R) throws(RejectReason) -> R {
        if stringInScratch {
            return try scratch.withUnsafeBytes { raw in
                Result { () throws(RejectReason) -> R in try body(raw) }
            }.get()
        }
        return try body(UnsafeRawBufferPointer(rebasing: bytes[stringStart..<stringEnd]))
    }

    var lastStringCount: Int { stringInScratch ? scratch.count : stringEnd - stringStart }

    /// Validates one UTF-8 sequence (no overlongs, no surrogates, nothing above U+10FFFF).
    private mutating func skipMultiByteScalar() throws(RejectReason) {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw .badJSON
        }
        guard bytes.count - index >= length else { throw .badJSON }
        let second = bytes[index + 1]
        guard second >= low && second <= high else { throw .badJSON }
        for offset in 2..<max(length, 2) where bytes[index + offset] & 0xC0 != 0x80 {
            throw .badJSON
        }
        index += length
    }

    private mutating func readEscape() throws(RejectReason) {
        guard bytes.count - index >= 2 else { throw .badJSON }
        let code = bytes[index + 1]
        index += 2
        switch code {
        case UInt8(ascii: "\""): scratch.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): scratch.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): scratch.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4()
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                // A high surrogate is only valid as the first half of an escaped pair.
                guard bytes.count - index >= 2,
                      bytes[index] == UInt8(ascii: "\\"),
                      bytes[index + 1] == UInt8(ascii: "u")
                else { throw .badJSON }
                index += 2
                let low = try readHex4()
                guard low >= 0xDC00 && low <= 0xDFFF else { throw .badJSON }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw .badJSON
            }
            appendUTF8(scalar)
        default:
            throw .badJSON
        }
    }

    private mutating func readHex4() throws(RejectReason) -> UInt32 {
        guard bytes.count - index >= 4 else { throw .badJSON }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw .badJSON
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // The accessors below branch by hand instead of going through `withLastString`: they run for
    // every key, and the generic closure path costs runtime metadata lookups there.

    private var lastStringSlice: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[stringStart..<stringEnd])
    }

    /// The last string read, as a Swift string (already validated, so decoding cannot repair anything).
    func lastString() -> String {
        stringInScratch ? String(decoding: scratch, as: UTF8.self) : String(decoding: lastStringSlice, as: UTF8.self)
    }

    /// The last string read, as a metric key: its bytes, no String.
    func lastMetricName() -> MetricName {
        stringInScratch ? scratch.withUnsafeBytes { MetricName($0) } : MetricName(lastStringSlice)
    }

    func lastStringEquals(_ word: StaticString) -> Bool {
        guard lastStringCount == word.utf8CodeUnitCount else { return false }
        if stringInScratch {
            return scratch.withUnsafeBytes { $0.hasSameBytes(as: word) }
        }
        return lastStringSlice.hasSameBytes(as: word)
    }

    /// True when the last string read has exactly `other`'s bytes (a compiled JSON pointer token).
    func lastStringEquals(_ other: [UInt8]) -> Bool {
        guard lastStringCount == other.count else { return false }
        return other.withUnsafeBytes { word in
            stringInScratch ? scratch.withUnsafeBytes { $0.hasSameBytes(as: word) } : lastStringSlice.hasSameBytes(as: word)
        }
    }

    /// Appends the last string's decoded UTF-8 to `buffer`, one copy.
    func appendLastString(to buffer: inout [UInt8]) {
        if stringInScratch {
            scratch.withUnsafeBytes { buffer.append(bytes: $0) }
        } else {
            buffer.append(bytes: lastStringSlice)
        }
    }

    /// The last string's first byte, 0 when it is empty: lets callers pick the one word to compare.
    var lastStringFirstByte: UInt8 {
        guard lastStringCount > 0 else { return 0 }
        return stringInScratch ? scratch[0] : bytes[stringStart]
    }

    func lastStringIsRepresentableName() -> Bool {
        if stringInScratch {
            return scratch.withUnsafeBytes { LineProtocolText.isRepresentableName($0) }
        }
        return LineProtocolText.isRepresentableName(lastStringSlice)
    }

    // MARK: skipping (numbers are in JSONReader+Numbers.swift)

    /// Validates and skips one value of any kind. `depth` is the nesting level of that value.
    mutating func skipValue(depth: Int) throws(RejectReason) {
        switch try peekKind() {
        case .string: try readString()
        case .number: _ = try readNumber()
        case .bool: _ = try readBool()
        case .null: try readNull()
        case .object:
            guard depth <= JSONReader.maxDepth else { throw .badJSON }
            index += 1
            if consume(UInt8(ascii: "}")) { return }
            repeat {
                skipWhitespace()
                try readString()
                try expect(UInt8(ascii: ":"))
                try skipValue(depth: depth + 1)
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        case .array:
            guard depth <= JSONReader.maxDepth else { throw .badJSON }
            index += 1
            if consume(UInt8(ascii: "]")) { return }
            repeat {
                try skipValue(depth: depth + 1)
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
        }
    }
}
