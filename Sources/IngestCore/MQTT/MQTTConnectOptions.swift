/// What a CONNECT packet says about the client.
public struct MQTTConnectOptions: Equatable, Sendable {
    public var protocolVersion: MQTTProtocolVersion
    public var clientID: String
    /// Clean Session (3.1.1) / Clean Start (5).
    public var cleanStart: Bool
    public var keepAliveSeconds: UInt16
    public var username: String?
    public var password: String?
    /// MQTT 5 Session Expiry Interval; sent when not nil. Without it an MQTT 5 session ends with the
    /// connection.
    public var sessionExpirySeconds: UInt32?
    /// MQTT 5 Receive Maximum: how many QoS 1/2 messages the broker may have in flight to us, not yet
    /// acknowledged. Sent when not nil; without it a broker uses its own limit (mosquitto: 20).
    public var receiveMaximum: UInt16?
    /// MQTT 5 Maximum Packet Size: the broker must not send us a larger packet (it drops the message
    /// instead, MQTT 5 §3.1.2.11.4). Sent when not nil.
    public var maximumPacketSize: UInt32?

    public init(protocolVersion: MQTTProtocolVersion, clientID: String, cleanStart: Bool, keepAliveSeconds: UInt16,
                username: String? = nil, password: String? = nil, sessionExpirySeconds: UInt32? = nil,
                receiveMaximum: UInt16? = nil, maximumPacketSize: UInt32? = nil) {
        self.protocolVersion = protocolVersion
        self.clientID = clientID
        self.cleanStart = cleanStart
        self.keepAliveSeconds = keepAliveSeconds
        self.username = username
        self.password = password
        self.sessionExpirySeconds = sessionExpirySeconds
        self.receiveMaximum = receiveMaximum
        self.maximumPacketSize = maximumPacketSize
    }
}
