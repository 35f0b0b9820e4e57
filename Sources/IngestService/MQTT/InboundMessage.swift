/// One MQTT message as it left libmosquitto's `on_message` callback.
///
/// libmosquitto frees its `mosquitto_message` (topic and payload) as soon as the callback returns,
/// so the source copies both into this value before handing it on.
public struct InboundMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    /// Wall-clock time in nanoseconds since the Unix epoch, taken when the callback copied the message.
    public var receivedAtNanos: Int64

    public init(topic: String, payload: [UInt8], receivedAtNanos: Int64) {
        self.topic = topic
        self.payload = payload
        self.receivedAtNanos = receivedAtNanos
    }
}
