/// Byte-level escaping rules of InfluxDB line protocol, as the 1.x parser applies them.
///
/// The 1.x scanner treats a backslash as "skip the next byte", but its unescaper only turns
/// `\,` `\=` `\ ` `\"` back into the character. A literal backslash is therefore written as is,
/// and survives, unless it is the last byte (it would swallow the separator that follows) or
/// precedes one of those four characters (the pair would be unescaped). Such names cannot be
/// represented at all and are refused by the callers.
enum LineProtocolText {
    @inline(__always)
    static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    /// True when `bytes` can be written as a tag key, tag value, field key or measurement and
    /// read back unchanged. Concrete (not generic) so the hot path gets a tight loop.
    static func isRepresentableName(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if bytes.isEmpty { return false }
        var previousWasBackslash = false
        for byte in bytes {
            if isControl(byte) { return false }
            if previousWasBackslash {
                switch byte {
                case UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: " "), UInt8(ascii: "\""):
                    return false
                default: break
                }
            }
            previousWasBackslash = byte == UInt8(ascii: "\\")
        }
        return !previousWasBackslash
    }

    static func isRepresentableName(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        isRepresentableName(UnsafeRawBufferPointer(bytes))
    }

    static func isRepresentableName(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isRepresentableName(UnsafeRawBufferPointer($0)) }
    }

    /// Measurement: `,` and space are escaped. Returns false (having written garbage the caller
    /// must discard) when the name is not representable.
    static func appendMeasurement(_ text: String, to buffer: inout [UInt8]) -> Bool {
        appendEscaped(text, escapingEquals: false, to: &buffer)
    }

    /// Tag keys, tag values and field keys: `,`, `=` and space are escaped. Returns false (having
    /// written garbage the caller must discard) when the name is not representable.
    static func appendName(_ text: String, to buffer: inout [UInt8]) -> Bool {
        appendEscaped(text, escapingEquals: true, to: &buffer)
    }

    static func appendName(_ name: MetricName, to buffer: inout [UInt8]) -> Bool {
        name.withUTF8 { appendEscaped($0, escapingEquals: true, to: &buffer) }
    }

    /// Raw bytes as a tag key, tag value or field key (mapping rules build names from JSON keys).
    static func appendName(_ bytes: UnsafeRawBufferPointer, to buffer: inout [UInt8]) -> Bool {
        appendEscaped(bytes, escapingEquals: true, to: &buffer)
    }

    /// Raw bytes as a measurement.
    static func appendMeasurement(_ bytes: UnsafeRawBufferPointer, to buffer: inout [UInt8]) -> Bool {
        appendEscaped(bytes, escapingEquals: false, to: &buffer)
    }

    /// String field value from raw UTF-8, quotes included: `"` and `\` are escaped.
    static func appendQuoted(_ bytes: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        for byte in bytes {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                buffer.append(UInt8(ascii: "\\"))
            }
            buffer.append(byte)
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// Escapes and checks representability in the same pass, so the hot path reads each name once.
    @inline(__always)
    private static func appendEscaped(_ text: String, escapingEquals: Bool, to buffer: inout [UInt8]) -> Bool {
        if let result = text.utf8.withContiguousStorageIfAvailable({ bytes in
            appendEscaped(UnsafeRawBufferPointer(bytes), escapingEquals: escapingEquals, to: &buffer)
        }) {
            return result
        }
        var copy = text
        return copy.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0), escapingEquals: escapingEquals, to: &buffer) }
    }

    private static func appendEscaped(_ bytes: UnsafeRawBufferPointer, escapingEquals: Bool, to buffer: inout [UInt8]) -> Bool {
        // Most names need no escaping at all: one bulk copy instead of per-byte appends.
        var plain = !bytes.isEmpty
        for byte in bytes where byte <= UInt8(ascii: " ") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "=")
            || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") || byte == 0x7F {
            plain = false
            break
        }
        if plain {
            buffer.append(bytes: bytes)
            return true
        }
        var representable = !bytes.isEmpty
        var previousWasBackslash = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: ","), UInt8(ascii: " "):
                if previousWasBackslash { representable = false }
                buffer.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "="):
                if previousWasBackslash { representable = false }
                if escapingEquals { buffer.append(UInt8(ascii: "\\")) }
            case UInt8(ascii: "\""):
                if previousWasBackslash { representable = false }
            default:
                if isControl(byte) { representable = false }
            }
            buffer.append(byte)
            previousWasBackslash = byte == UInt8(ascii: "\\")
        }
        return representable && !previousWasBackslash
    }

    /// String field value, quotes included: `"` and `\` are escaped.
    static func appendQuoted(_ text: String, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                buffer.append(UInt8(ascii: "\\"))
            }
            buffer.append(byte)
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// Line protocol has no escape for line breaks, even inside quoted strings
    /// (InfluxDB docs: "Line protocol does not support the newline character \n in tag or field values").
    static func containsLineBreak(_ text: String) -> Bool {
        for byte in text.utf8 where byte == 0x0A || byte == 0x0D { return true }
        return false
    }

    static func appendDecimal(_ value: Int64, to buffer: inout [UInt8]) {
        if value < 0 {
            buffer.append(UInt8(ascii: "-"))
        }
        appendDecimal(value.magnitude, to: &buffer)
    }

    static func appendDecimal(_ value: UInt64, to buffer: inout [UInt8]) {
        // Digits come out least significant first: fill a 20-byte scratch (UInt64.max has 20
        // digits) from its end and append them in one bulk copy, not one append per digit.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { scratch in
            var start = 20
            var remaining = value
            repeat {
                start -= 1
                scratch[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remaining % 10)
                remaining /= 10
            } while remaining > 0
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[start..<20]))
        }
    }
}
