/// Something the broker announced (MQTT 5 CONNACK) or cannot announce (MQTT 3.1.1) that stands in
/// the way of the configured subscription.
public enum MQTTBrokerLimitation: Equatable, Sendable {
    /// MQTT 5 Shared Subscription Available = 0 while `MQTT_SHARED_GROUP` is set: the shared filters
    /// are not subscribed (the broker would refuse them or take them for plain topics).
    case sharedSubscriptionsUnavailable(filters: [String])
    /// MQTT 3.1.1 has no shared subscriptions: a broker without them takes `$share/...` as a plain
    /// filter that matches nothing.
    case sharedSubscriptionsUnknown
    /// MQTT 5 Wildcard Subscription Available = 0: these filters with `+` or `#` are not subscribed.
    case wildcardSubscriptionsUnavailable(filters: [String])
    /// MQTT 5 Maximum QoS below the configured QoS: the broker will grant less.
    case maximumQoS(UInt8)
}
