/// What the executor (socket, poll, TLS, intake) must do after an event. Bytes to send are already
/// appended to the output buffer the event was given.
public enum MQTTSubscriberAction: Equatable, Sendable {
    case none
    /// Hand the message on; its acknowledgement waits in arrival order for `messagesTaken`.
    case deliver(MQTTPublish)
    /// CONNACK accepted; `limitations` are to be logged (subscriptions already queued).
    case connected(MQTTConnAck, limitations: [MQTTBrokerLimitation])
    /// A SUBACK for one filter.
    case subscribed(filter: String, MQTTSubscriptionResult)
    /// End the connection after handing on and acknowledging what arrived before this packet
    /// (`messagesTaken` then appends the DISCONNECT, if one is due).
    case close(MQTTConnectionEnd)
}
