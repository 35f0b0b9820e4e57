/// One MQTT message as the MQTT thread hands it to the intake.
///
/// Both clients copy topic and payload out of memory they reuse (the native client's receive
/// buffer, libmosquitto's `mosquitto_message`, freed when `on_message` returns), so the value owns
/// its bytes and can cross to the pipeline task.
public struct InboundMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    /// Wall-clock time in nanoseconds since the Unix epoch, taken when the callback copied the message.
    public var receivedAtNanos: Int64
    /// The message's place among all messages taken from the intake (0, 1, 2, …), set by the pipeline
    /// as it takes it: the key of its MQTT acknowledgement in the `AcknowledgementGate`
    /// (DURABILITY=journal or broker). It travels with the message through the registry waiting room.
    public var deliveryNumber: UInt64 = 0

    public init(topic: String, payload: [UInt8], receivedAtNanos: Int64) {
        self.topic = topic
        self.payload = payload
        self.receivedAtNanos = receivedAtNanos
    }
}
