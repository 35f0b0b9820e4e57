/// The broker's answer (SUBACK) for one filter.
public enum MQTTSubscriptionResult: Equatable, Sendable {
    case granted(qos: UInt8)
    /// Granted below the requested QoS: QoS 0 loses messages across restarts and reconnects.
    case downgraded(granted: UInt8, requested: UInt8)
    case refused(code: UInt8, reason: String)
}
