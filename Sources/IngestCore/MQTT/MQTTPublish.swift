/// A received PUBLISH: its flags, packet identifier, and where its topic and payload lie in the
/// receive buffer (copied out by the session before the buffer is reused).
public struct MQTTPublish: Equatable, Sendable {
    public var qos: UInt8
    public var duplicate: Bool
    public var retain: Bool
    /// 0 for QoS 0 (which has none).
    public var packetID: UInt16
    public var topic: Range<Int>
    public var payload: Range<Int>
    /// MQTT 5 Topic Alias property, 0 when absent. ingestd announces no Topic Alias Maximum (so 0):
    /// a PUBLISH carrying one is a protocol error (MQTT 5 §3.3.2.3.4).
    public var topicAlias: UInt16

    public init(qos: UInt8, duplicate: Bool, retain: Bool, packetID: UInt16, topic: Range<Int>, payload: Range<Int>,
                topicAlias: UInt16 = 0) {
        self.qos = qos
        self.duplicate = duplicate
        self.retain = retain
        self.packetID = packetID
        self.topic = topic
        self.payload = payload
        self.topicAlias = topicAlias
    }
}
