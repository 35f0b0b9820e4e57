/// Why the state machine ends a connection.
public enum MQTTConnectionEnd: Equatable, Sendable, CustomStringConvertible {
    /// The broker refused the CONNECT (CONNACK with a code other than 0).
    case refused(code: UInt8, reason: String, reasonString: String?)
    /// The broker sent DISCONNECT (MQTT 5).
    case disconnectedByBroker(code: UInt8, reason: String, reasonString: String?)
    /// The broker broke the protocol; with MQTT 5 ingestd sent DISCONNECT with `code` first.
    case protocolViolation(code: UInt8, detail: String)
    case noConnAck
    case noPingResp

    public var description: String {
        switch self {
        case .refused(_, let reason, _): "connection refused: \(reason)"
        case .disconnectedByBroker(let code, let reason, _): code == 0 ? "the broker disconnected" : reason
        case .protocolViolation(_, let detail): "protocol error: \(detail)"
        case .noConnAck: "no CONNACK from the broker"
        case .noPingResp: "keep-alive timeout: no PINGRESP"
        }
    }

    /// The broker's own Reason String, when it gave one.
    public var reasonString: String? {
        switch self {
        case .refused(_, _, let text), .disconnectedByBroker(_, _, let text): text
        default: nil
        }
    }
}
