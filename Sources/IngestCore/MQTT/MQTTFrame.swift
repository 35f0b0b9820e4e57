/// One complete MQTT control packet inside a receive buffer: its first byte and where its body lies.
///
/// The receive path reads the socket in large chunks and frames every packet already there, instead
/// of reading each header byte with its own system call.
public struct MQTTFrame: Equatable, Sendable {
    /// The packet's first byte: type in the high nibble, flags in the low one.
    public var header: UInt8
    /// Offset of the body (after the remaining-length field) in the buffer.
    public var bodyStart: Int
    public var bodyLength: Int

    public init(header: UInt8, bodyStart: Int, bodyLength: Int) {
        self.header = header
        self.bodyStart = bodyStart
        self.bodyLength = bodyLength
    }

    public var type: UInt8 { header >> 4 }
    public var flags: UInt8 { header & 0x0F }
    /// Offset just after the packet: where the next one starts.
    public var end: Int { bodyStart + bodyLength }

    /// True when `buffer` holds the whole packet.
    public func isComplete(in buffer: UnsafeRawBufferPointer) -> Bool { end <= buffer.count }

    /// The whole packet's size in bytes (header included).
    public func packetBytes(from start: Int) -> Int { end - start }

    /// The packet that starts at `start`, or nil when the buffer does not yet hold all of it.
    ///
    /// Throws when the remaining-length field is malformed, or when the whole packet would exceed
    /// `maxPacketBytes` (known from the header alone, before its body arrives).
    public static func next(in buffer: UnsafeRawBufferPointer, from start: Int, maxPacketBytes: Int) throws(MQTTProtocolError) -> MQTTFrame? {
        guard let frame = try header(in: buffer, from: start) else { return nil }
        let total = frame.packetBytes(from: start)
        guard total <= maxPacketBytes else { throw .packetTooLarge(bytes: total, limit: maxPacketBytes) }
        return frame.isComplete(in: buffer) ? frame : nil
    }

    /// The packet that starts at `start` as its header describes it, whether or not its body has
    /// arrived yet (nil while the header itself is incomplete): how the receive path learns that a
    /// PUBLISH is too large to keep before reading its body.
    public static func header(in buffer: UnsafeRawBufferPointer, from start: Int) throws(MQTTProtocolError) -> MQTTFrame? {
        let available = buffer.count - start
        guard available >= 2 else { return nil }
        var length = 0
        var multiplier = 1
        var index = start + 1
        while true {
            guard index < buffer.count else { return nil }
            let byte = buffer[index]
            length += Int(byte & 0x7F) * multiplier
            index += 1
            if byte & 0x80 == 0 { break }
            multiplier *= 128
            // At most four length bytes (MQTT 3.1.1 §2.2.3, MQTT 5 §1.5.5).
            if index - start - 1 >= 4 { throw .malformedRemainingLength }
        }
        return MQTTFrame(header: buffer[start], bodyStart: index, bodyLength: length)
    }
}
