/// The texts of MQTT reason codes (MQTT 5 §2.4) and MQTT 3.1.1 CONNACK return codes (§3.2.2.3), for
/// log lines. Both clients use this table, so a refused connection reads the same whichever runs.
public enum MQTTReasonCode {
    // The codes the subscriber acts on.
    public static let success: UInt8 = 0x00
    public static let normalDisconnection: UInt8 = 0x00
    public static let unspecifiedError: UInt8 = 0x80
    public static let malformedPacket: UInt8 = 0x81
    public static let protocolError: UInt8 = 0x82
    public static let notAuthorized: UInt8 = 0x87
    public static let badUserNameOrPassword: UInt8 = 0x86
    public static let topicAliasInvalid: UInt8 = 0x94
    public static let packetTooLarge: UInt8 = 0x95

    /// The text of an MQTT 5 reason code.
    public static func text(_ code: UInt8) -> String {
        switch code {
        case 0x00: "success"
        case 0x01: "granted QoS 1"
        case 0x02: "granted QoS 2"
        case 0x04: "disconnect with will message"
        case 0x10: "no matching subscribers"
        case 0x11: "no subscription existed"
        case 0x18: "continue authentication"
        case 0x19: "re-authenticate"
        case 0x80: "unspecified error"
        case 0x81: "malformed packet"
        case 0x82: "protocol error"
        case 0x83: "implementation specific error"
        case 0x84: "unsupported protocol version"
        case 0x85: "client identifier not valid"
        case 0x86: "bad user name or password"
        case 0x87: "not authorized"
        case 0x88: "server unavailable"
        case 0x89: "server busy"
        case 0x8A: "banned"
        case 0x8B: "server shutting down"
        case 0x8C: "bad authentication method"
        case 0x8D: "keep alive timeout"
        case 0x8E: "session taken over"
        case 0x8F: "topic filter invalid"
        case 0x90: "topic name invalid"
        case 0x91: "packet identifier in use"
        case 0x92: "packet identifier not found"
        case 0x93: "receive maximum exceeded"
        case 0x94: "topic alias invalid"
        case 0x95: "packet too large"
        case 0x96: "message rate too high"
        case 0x97: "quota exceeded"
        case 0x98: "administrative action"
        case 0x99: "payload format invalid"
        case 0x9A: "retain not supported"
        case 0x9B: "QoS not supported"
        case 0x9C: "use another server"
        case 0x9D: "server moved"
        case 0x9E: "shared subscriptions not supported"
        case 0x9F: "connection rate exceeded"
        case 0xA0: "maximum connect time"
        case 0xA1: "subscription identifiers not supported"
        case 0xA2: "wildcard subscriptions not supported"
        default: "reason code 0x\(String(code, radix: 16))"
        }
    }

    /// The text of a CONNACK's code for `protocolVersion` (MQTT 3.1.1 has return codes 0–5 of its own).
    public static func connAckText(_ code: UInt8, protocolVersion: MQTTProtocolVersion) -> String {
        guard protocolVersion == .v311 else { return text(code) }
        switch code {
        case 0: return "connection accepted"
        case 1: return "unacceptable protocol version"
        case 2: return "identifier rejected"
        case 3: return "server unavailable"
        case 4: return "bad user name or password"
        case 5: return "not authorized"
        default: return "return code \(code)"
        }
    }

    /// Whether a refused CONNACK's code means the credentials or the broker's ACL refused us.
    public static func isCredentialProblem(_ code: UInt8, protocolVersion: MQTTProtocolVersion) -> Bool {
        protocolVersion == .v311 ? code == 4 || code == 5 : code == badUserNameOrPassword || code == notAuthorized
    }

    /// The text of one SUBACK code: a granted QoS (< 0x80) or a refusal (MQTT 3.1.1 knows only 0x80).
    public static func subAckText(_ code: UInt8, protocolVersion: MQTTProtocolVersion) -> String {
        if protocolVersion == .v311 && code == 0x80 { return "failure" }
        switch code {
        case 0x00: return "granted QoS 0"
        default: return text(code)
        }
    }
}
