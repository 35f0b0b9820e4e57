/// Decodes framed packets from the broker (`MQTTFrame`) for one protocol version.
///
/// Only what a subscriber needs is read; MQTT 5 properties are skipped, except CONNACK's (Server
/// Keep Alive, the capabilities, Reason String), DISCONNECT's Reason String and PUBLISH's Topic Alias.
public struct MQTTPacketDecoder: Sendable {
    public var protocolVersion: MQTTProtocolVersion

    public init(protocolVersion: MQTTProtocolVersion) {
        self.protocolVersion = protocolVersion
    }

    private var hasProperties: Bool { protocolVersion == .v5 }

    public func decode(_ frame: MQTTFrame, in buffer: UnsafeRawBufferPointer) throws(MQTTProtocolError) -> MQTTInboundPacket {
        var body = MQTTBodyReader(frame, in: buffer)
        switch frame.type {
        case MQTTPacketType.publish:
            return .publish(try publish(frame, &body))
        case MQTTPacketType.connAck:
            let flags = try body.byte()
            var connAck = MQTTConnAck(sessionPresent: flags & 1 == 1, reasonCode: try body.byte())
            if hasProperties && body.remaining > 0 {
                try Self.forEachProperty(&body) { (identifier, reader) throws(MQTTProtocolError) in
                    switch identifier {
                    case Self.serverKeepAliveProperty: connAck.serverKeepAlive = try reader.uint16()
                    case Self.reasonStringProperty: connAck.reasonString = try reader.string()
                    case 0x24: connAck.maximumQoS = try reader.byte()
                    case 0x25: connAck.retainAvailable = try reader.byte() != 0
                    case 0x28: connAck.wildcardSubscriptionAvailable = try reader.byte() != 0
                    case 0x2A: connAck.sharedSubscriptionAvailable = try reader.byte() != 0
                    default: try Self.skipPropertyValue(identifier, &reader)
                    }
                }
            }
            return .connAck(connAck)
        case MQTTPacketType.pubRel:
            return .pubRel(packetID: try body.uint16())
        case MQTTPacketType.subAck:
            let id = try body.uint16()
            if hasProperties { try skipProperties(&body) }
            let codes = body.rest()
            guard !codes.isEmpty else { throw body.malformed("no reason codes") }
            return .subAck(packetID: id, reasonCodes: Array(buffer[codes]))
        case MQTTPacketType.pingResp:
            return .pingResp
        case MQTTPacketType.disconnect:
            let code = body.remaining > 0 ? try body.byte() : 0
            var reasonString: String?
            if hasProperties && body.remaining > 0 {
                try Self.forEachProperty(&body) { (identifier, reader) throws(MQTTProtocolError) in
                    if identifier == Self.reasonStringProperty { reasonString = try reader.string() }
                    else { try Self.skipPropertyValue(identifier, &reader) }
                }
            }
            return .disconnect(reasonCode: code, reasonString: reasonString)
        default:
            return .ignored(type: frame.type)
        }
    }

    /// The hot path: called once per message, allocates nothing.
    private func publish(_ frame: MQTTFrame, _ body: inout MQTTBodyReader) throws(MQTTProtocolError) -> MQTTPublish {
        let qos = (frame.flags >> 1) & 0x03
        guard qos < 3 else { throw body.malformed("QoS 3") }
        let topic = try body.lengthPrefixed()
        let packetID = qos > 0 ? try body.uint16() : 0
        if qos > 0 && packetID == 0 { throw body.malformed("packet identifier 0") }
        var topicAlias: UInt16 = 0
        if hasProperties {
            // Usually empty (one zero byte); read rather than skipped only for the Topic Alias.
            let length = try body.variableInteger()
            if length > 0 {
                try Self.forEachProperty(&body, length: length) { (identifier, reader) throws(MQTTProtocolError) in
                    if identifier == Self.topicAliasProperty { topicAlias = try reader.uint16() }
                    else { try Self.skipPropertyValue(identifier, &reader) }
                }
            }
        }
        return MQTTPublish(qos: qos, duplicate: frame.flags & 0x08 != 0, retain: frame.flags & 0x01 != 0,
                           packetID: packetID, topic: topic, payload: body.rest(), topicAlias: topicAlias)
    }

    private func skipProperties(_ body: inout MQTTBodyReader) throws(MQTTProtocolError) {
        let length = try body.variableInteger()
        _ = try body.take(length)
    }

    static let serverKeepAliveProperty: UInt8 = 0x13
    static let reasonStringProperty: UInt8 = 0x1F
    static let topicAliasProperty: UInt8 = 0x23

    /// Calls `visit` with each property identifier; `visit` must consume exactly the value.
    static func forEachProperty(
        _ body: inout MQTTBodyReader,
        _ visit: (UInt8, inout MQTTBodyReader) throws(MQTTProtocolError) -> Void
    ) throws(MQTTProtocolError) {
        try forEachProperty(&body, length: try body.variableInteger(), visit)
    }

    /// `forEachProperty` after the property length was read.
    static func forEachProperty(
        _ body: inout MQTTBodyReader, length: Int,
        _ visit: (UInt8, inout MQTTBodyReader) throws(MQTTProtocolError) -> Void
    ) throws(MQTTProtocolError) {
        let end = body.position + length
        guard end <= body.end else { throw body.malformed("properties run past the end") }
        while body.position < end {
            let identifier = try body.variableInteger()
            guard identifier < 256 else { throw body.malformed("property identifier \(identifier)") }
            try visit(UInt8(identifier), &body)
        }
        guard body.position == end else { throw body.malformed("a property runs past the property length") }
    }

    /// Skips one property value by the type MQTT 5 §2.2.2.2 gives its identifier.
    static func skipPropertyValue(_ identifier: UInt8, _ body: inout MQTTBodyReader) throws(MQTTProtocolError) {
        switch identifier {
        case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A: _ = try body.byte()
        case 0x13, 0x21, 0x22, 0x23: _ = try body.uint16()
        case 0x02, 0x11, 0x18, 0x27: _ = try body.uint32()
        case 0x0B: _ = try body.variableInteger()
        case 0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F: _ = try body.lengthPrefixed()
        case 0x26: _ = try body.lengthPrefixed(); _ = try body.lengthPrefixed()
        default: throw body.malformed("unknown property 0x\(String(identifier, radix: 16))")
        }
    }
}
