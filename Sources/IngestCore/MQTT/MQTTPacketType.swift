/// MQTT control packet types (the high nibble of a packet's first byte), MQTT 3.1.1 and 5.
public enum MQTTPacketType {
    public static let connect: UInt8 = 1
    public static let connAck: UInt8 = 2
    public static let publish: UInt8 = 3
    public static let pubAck: UInt8 = 4
    public static let pubRec: UInt8 = 5
    public static let pubRel: UInt8 = 6
    public static let pubComp: UInt8 = 7
    public static let subscribe: UInt8 = 8
    public static let subAck: UInt8 = 9
    public static let unsubscribe: UInt8 = 10
    public static let unsubAck: UInt8 = 11
    public static let pingReq: UInt8 = 12
    public static let pingResp: UInt8 = 13
    public static let disconnect: UInt8 = 14
    public static let auth: UInt8 = 15

    /// The packet type's name as the specification writes it, for logs.
    public static func name(of type: UInt8) -> String {
        let names = ["RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
                     "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"]
        return type < 16 ? names[Int(type)] : "type \(type)"
    }
}
