/// A packet a subscribing client can receive from the broker, decoded.
public enum MQTTInboundPacket: Equatable, Sendable {
    case connAck(MQTTConnAck)
    case publish(MQTTPublish)
    /// Second half of the QoS 2 hand-shake: answer with PUBCOMP.
    case pubRel(packetID: UInt16)
    /// One granted QoS (< 0x80) or failure code (>= 0x80) per filter of the SUBSCRIBE.
    case subAck(packetID: UInt16, reasonCodes: [UInt8])
    case pingResp
    /// The broker closes the connection (MQTT 5); code 0 when it gave none, and its Reason String.
    case disconnect(reasonCode: UInt8, reasonString: String?)
    /// PUBACK, PUBREC, PUBCOMP, UNSUBACK, AUTH and client-to-server types: answers to nothing a
    /// subscriber sends, skipped.
    case ignored(type: UInt8)
}
