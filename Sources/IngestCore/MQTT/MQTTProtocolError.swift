/// Why bytes from the broker could not be read as MQTT. Any of these ends the connection: the
/// stream can no longer be framed, so the session reconnects and the broker redelivers whatever was
/// not acknowledged.
public enum MQTTProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The remaining-length field ran over its four bytes.
    case malformedRemainingLength
    /// A packet larger than the receive limit.
    case packetTooLarge(bytes: Int, limit: Int)
    /// A packet whose body does not match its type (too short, a length field that runs past the end).
    case malformedPacket(type: UInt8, detail: String)

    public var description: String {
        switch self {
        case .malformedRemainingLength: "malformed remaining length"
        case .packetTooLarge(let bytes, let limit): "packet of \(bytes) bytes exceeds the limit of \(limit) bytes"
        case .malformedPacket(let type, let detail): "malformed \(MQTTPacketType.name(of: type)) packet: \(detail)"
        }
    }
}
