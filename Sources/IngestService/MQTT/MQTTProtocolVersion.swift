/// MQTT protocol spoken to the broker.
public enum MQTTProtocolVersion: String, Sendable, CaseIterable {
    /// MQTT 5. With a persistent session the source sends a Session Expiry Interval on CONNECT;
    /// without one an MQTT 5 session ends at disconnect.
    case v5 = "5"
    /// MQTT 3.1.1.
    case v311 = "3.1.1"
}
