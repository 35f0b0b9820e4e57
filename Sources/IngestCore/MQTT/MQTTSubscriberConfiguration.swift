/// What the subscriber state machine needs to know: how to connect, what to subscribe, and how long
/// to wait for the broker's CONNACK.
public struct MQTTSubscriberConfiguration: Equatable, Sendable {
    public var connect: MQTTConnectOptions
    /// The filters as sent (with a shared group, `$share/<group>/<topic>`), one SUBSCRIBE each.
    public var filters: [String]
    public var qos: UInt8
    /// True when `filters` are shared subscriptions (`MQTT_SHARED_GROUP`).
    public var sharedSubscriptions: Bool
    public var connAckTimeoutNanos: UInt64

    public init(connect: MQTTConnectOptions, filters: [String], qos: UInt8, sharedSubscriptions: Bool,
                connAckTimeoutNanos: UInt64 = 30_000_000_000) {
        self.connect = connect
        self.filters = filters
        self.qos = qos
        self.sharedSubscriptions = sharedSubscriptions
        self.connAckTimeoutNanos = connAckTimeoutNanos
    }

    public var protocolVersion: MQTTProtocolVersion { connect.protocolVersion }
}
