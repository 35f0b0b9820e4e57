/// The MQTT protocol version ingestd connects with (MQTT_PROTOCOL).
public enum MQTTProtocolVersion: String, CaseIterable, Sendable {
    case v5 = "5"
    case v311 = "3.1.1"
}
