/// Which MQTT client implementation ingestd uses (MQTT_CLIENT).
public enum MQTTClientKind: String, CaseIterable, Sendable {
    /// ingestd's own subscriber: reads the socket in large chunks and acknowledges a burst in one write.
    case native
    /// libmosquitto, the library ingestd started with; kept as a fallback for brokers or set-ups the
    /// native client has not met.
    case libmosquitto
}
