/// A packet a subscribing client can receive from the broker, decoded.
public enum MQTTInboundPacket: Equatable, Sendable {
    /// `reasonCode` is the MQTT 3.1.1 return code or the MQTT 5 reason code (0 = accepted).
    /// `serverKeepAlive` is the MQTT 5 Server Keep Alive, which replaces the client's own.
    case connAck(sessionPresent: Bool, reasonCode: UInt8, serverKeepAlive: UInt16?)
    case publish(MQTTPublish)
    /// Second half of the QoS 2 hand-shake: answer with PUBCOMP.
    case pubRel(packetID: UInt16)
    /// One granted QoS (< 0x80) or failure code (>= 0x80) per filter of the SUBSCRIBE.
    case subAck(packetID: UInt16, reasonCodes: [UInt8])
    case pingResp
    /// The broker closes the connection (MQTT 5); 0 when it gave no reason.
    case disconnect(reasonCode: UInt8)
    /// PUBACK, PUBREC, PUBCOMP, UNSUBACK, AUTH and client-to-server types: answers to nothing a
    /// subscriber sends, skipped.
    case ignored(type: UInt8)
}
