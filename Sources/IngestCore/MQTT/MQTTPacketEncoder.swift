/// Writes the packets a subscribing client sends, appending to an output buffer so that a burst of
/// acknowledgements leaves in one write.
public enum MQTTPacketEncoder {
    public static func connect(_ options: MQTTConnectOptions, to out: inout [UInt8]) {
        var body: [UInt8] = []
        appendString("MQTT", to: &body)
        body.append(options.protocolVersion == .v5 ? 5 : 4)
        var flags: UInt8 = options.cleanStart ? 0x02 : 0
        if options.username != nil { flags |= 0x80 }
        if options.password != nil { flags |= 0x40 }
        body.append(flags)
        appendUInt16(options.keepAliveSeconds, to: &body)
        if options.protocolVersion == .v5 {
            var properties: [UInt8] = []
            if let expiry = options.sessionExpirySeconds {
                properties.append(0x11)
                appendUInt32(expiry, to: &properties)
            }
            if let receiveMaximum = options.receiveMaximum {
                properties.append(0x21)
                appendUInt16(receiveMaximum, to: &properties)
            }
            if let maximumPacketSize = options.maximumPacketSize {
                properties.append(0x27)
                appendUInt32(maximumPacketSize, to: &properties)
            }
            appendVariableInteger(properties.count, to: &body)
            body += properties
        }
        appendString(options.clientID, to: &body)
        if let username = options.username { appendString(username, to: &body) }
        if let password = options.password { appendString(password, to: &body) }
        appendPacket(header: MQTTPacketType.connect << 4, body: body, to: &out)
    }

    /// One SUBSCRIBE for one topic filter (no MQTT 5 options beyond the QoS).
    public static func subscribe(packetID: UInt16, filter: String, qos: UInt8, protocolVersion: MQTTProtocolVersion,
                                 to out: inout [UInt8]) {
        var body: [UInt8] = []
        appendUInt16(packetID, to: &body)
        if protocolVersion == .v5 { body.append(0) }  // no properties
        appendString(filter, to: &body)
        body.append(qos & 0x03)
        appendPacket(header: MQTTPacketType.subscribe << 4 | 0x02, body: body, to: &out)
    }

    /// PUBACK for QoS 1. Remaining length 2 means "success" in MQTT 5 too.
    public static func pubAck(packetID: UInt16, to out: inout [UInt8]) {
        appendAcknowledgement(MQTTPacketType.pubAck << 4, packetID, to: &out)
    }

    /// PUBREC: first answer to a QoS 2 PUBLISH.
    public static func pubRec(packetID: UInt16, to out: inout [UInt8]) {
        appendAcknowledgement(MQTTPacketType.pubRec << 4, packetID, to: &out)
    }

    /// PUBCOMP: answer to PUBREL, ends a QoS 2 delivery.
    public static func pubComp(packetID: UInt16, to out: inout [UInt8]) {
        appendAcknowledgement(MQTTPacketType.pubComp << 4, packetID, to: &out)
    }

    public static func pingReq(to out: inout [UInt8]) {
        out += [MQTTPacketType.pingReq << 4, 0]
    }

    /// DISCONNECT with "normal disconnection": the broker keeps a persistent session and sends no will.
    public static func disconnect(to out: inout [UInt8]) {
        out += [MQTTPacketType.disconnect << 4, 0]
    }

    /// MQTT 5 DISCONNECT with a reason code (e.g. 0x94 Topic Alias invalid) and no properties.
    public static func disconnect(reasonCode: UInt8, to out: inout [UInt8]) {
        out += [MQTTPacketType.disconnect << 4, 1, reasonCode]
    }

    // MARK: - Fields

    private static func appendAcknowledgement(_ header: UInt8, _ packetID: UInt16, to out: inout [UInt8]) {
        out += [header, 2, UInt8(packetID >> 8), UInt8(packetID & 0xFF)]
    }

    private static func appendPacket(header: UInt8, body: [UInt8], to out: inout [UInt8]) {
        out.append(header)
        appendVariableInteger(body.count, to: &out)
        out += body
    }

    static func appendVariableInteger(_ value: Int, to out: inout [UInt8]) {
        precondition(value >= 0 && value <= 268_435_455, "MQTT variable byte integers hold 0...268435455")
        var rest = value
        repeat {
            var byte = UInt8(rest % 128)
            rest /= 128
            if rest > 0 { byte |= 0x80 }
            out.append(byte)
        } while rest > 0
    }

    static func appendUInt16(_ value: UInt16, to out: inout [UInt8]) {
        out += [UInt8(value >> 8), UInt8(value & 0xFF)]
    }

    static func appendUInt32(_ value: UInt32, to out: inout [UInt8]) {
        appendUInt16(UInt16(value >> 16), to: &out)
        appendUInt16(UInt16(value & 0xFFFF), to: &out)
    }

    /// A UTF-8 string with its two-byte length; longer strings are cut at 65,535 bytes (no client id,
    /// filter or credential of ours comes near it).
    static func appendString(_ value: String, to out: inout [UInt8]) {
        let bytes = Array(value.utf8.prefix(65_535))
        appendUInt16(UInt16(bytes.count), to: &out)
        out += bytes
    }
}
