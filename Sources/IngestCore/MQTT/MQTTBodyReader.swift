/// Reads the fields of one packet body, never past its end: a length field that points outside the
/// body is a malformed packet, not a crash.
struct MQTTBodyReader {
    let buffer: UnsafeRawBufferPointer
    let type: UInt8
    private(set) var position: Int
    let end: Int

    init(_ frame: MQTTFrame, in buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        self.type = frame.type
        self.position = frame.bodyStart
        self.end = frame.end
    }

    var remaining: Int { end - position }

    mutating func byte() throws(MQTTProtocolError) -> UInt8 {
        guard position < end else { throw malformed("ends early") }
        defer { position += 1 }
        return buffer[position]
    }

    mutating func uint16() throws(MQTTProtocolError) -> UInt16 {
        guard end - position >= 2 else { throw malformed("ends early") }
        defer { position += 2 }
        return UInt16(buffer[position]) << 8 | UInt16(buffer[position + 1])
    }

    mutating func uint32() throws(MQTTProtocolError) -> UInt32 {
        let high = try uint16()
        return UInt32(high) << 16 | UInt32(try uint16())
    }

    /// A variable byte integer (MQTT 5 §1.5.5): property lengths and identifiers.
    mutating func variableInteger() throws(MQTTProtocolError) -> Int {
        var value = 0
        var multiplier = 1
        for _ in 0..<4 {
            let next = try byte()
            value += Int(next & 0x7F) * multiplier
            if next & 0x80 == 0 { return value }
            multiplier *= 128
        }
        throw malformed("variable byte integer longer than four bytes")
    }

    /// A two-byte length followed by that many bytes (UTF-8 strings and binary data).
    mutating func lengthPrefixed() throws(MQTTProtocolError) -> Range<Int> {
        let length = Int(try uint16())
        return try take(length)
    }

    /// A UTF-8 string property (invalid bytes become U+FFFD: it is only logged).
    mutating func string() throws(MQTTProtocolError) -> String {
        let range = try lengthPrefixed()
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[range]), as: UTF8.self)
    }

    mutating func take(_ count: Int) throws(MQTTProtocolError) -> Range<Int> {
        guard count >= 0, end - position >= count else { throw malformed("a length field runs past the end") }
        defer { position += count }
        return position..<(position + count)
    }

    /// The rest of the body.
    mutating func rest() -> Range<Int> {
        defer { position = end }
        return position..<end
    }

    func malformed(_ detail: String) -> MQTTProtocolError {
        .malformedPacket(type: type, detail: detail)
    }
}
