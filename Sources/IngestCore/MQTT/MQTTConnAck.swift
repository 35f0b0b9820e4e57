/// A decoded CONNACK: the broker's verdict and, with MQTT 5, what it announces about itself
/// (MQTT 5 §3.2.2.3). An absent capability property means "available" (the specification's default).
public struct MQTTConnAck: Equatable, Sendable {
    public var sessionPresent: Bool
    /// MQTT 3.1.1 return code or MQTT 5 reason code; 0 = accepted.
    public var reasonCode: UInt8
    /// Server Keep Alive: replaces the client's own keep-alive when present.
    public var serverKeepAlive: UInt16?
    /// The broker's human-readable reason, for the log (a refusal's explanation).
    public var reasonString: String?
    /// Maximum QoS: the highest QoS the broker supports; nil = 2.
    public var maximumQoS: UInt8?
    public var retainAvailable = true
    public var wildcardSubscriptionAvailable = true
    public var sharedSubscriptionAvailable = true

    public init(sessionPresent: Bool, reasonCode: UInt8, serverKeepAlive: UInt16? = nil, reasonString: String? = nil,
                maximumQoS: UInt8? = nil, retainAvailable: Bool = true, wildcardSubscriptionAvailable: Bool = true,
                sharedSubscriptionAvailable: Bool = true) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.serverKeepAlive = serverKeepAlive
        self.reasonString = reasonString
        self.maximumQoS = maximumQoS
        self.retainAvailable = retainAvailable
        self.wildcardSubscriptionAvailable = wildcardSubscriptionAvailable
        self.sharedSubscriptionAvailable = sharedSubscriptionAvailable
    }
}
