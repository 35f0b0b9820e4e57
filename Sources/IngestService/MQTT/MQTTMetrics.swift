import Synchronization

/// Live counters of the MQTT intake, read by the stats line and health checks. Written only by the
/// MQTT network thread; readable from anywhere.
public final class MQTTMetrics: Sendable {
    private let connectedFlag = Atomic<Int>(0)
    private let received = Atomic<Int>(0)
    private let reconnectCount = Atomic<Int>(0)
    private let subscribedFlag = Atomic<Int>(0)
    private let oversizedCount = Atomic<Int>(0)
    private let unacknowledgedCount = Atomic<Int>(0)

    public init() {}

    /// 1 while a CONNACK-accepted connection is up, else 0.
    public var connected: Int { connectedFlag.load(ordering: .relaxed) }
    /// 1 once the broker granted a subscription on the current connection, else 0 (for sd_notify READY=1).
    public var subscribed: Int { subscribedFlag.load(ordering: .relaxed) }
    /// Messages delivered by the broker since start (every message, before any validation).
    public var messagesReceived: Int { received.load(ordering: .relaxed) }
    /// Successful connections after the first one.
    public var reconnects: Int { reconnectCount.load(ordering: .relaxed) }
    /// PUBLISHes larger than the receive limit whose body the native client read past without
    /// keeping it (handed on cut short, so they are rejected as PAYLOAD_TOO_LARGE and acknowledged).
    public var oversized: Int { oversizedCount.load(ordering: .relaxed) }
    /// Messages the current connection handed on whose acknowledgement waits until they are safe
    /// (DURABILITY=journal/broker; README "Durability modes"). Near `MQTT_RECEIVE_MAXIMUM`, the window
    /// is what limits the rate.
    public var unacknowledged: Int { unacknowledgedCount.load(ordering: .relaxed) }

    func setConnected(_ up: Bool) {
        connectedFlag.store(up ? 1 : 0, ordering: .relaxed)
        if !up { subscribedFlag.store(0, ordering: .relaxed) }
    }
    func setSubscribed() { subscribedFlag.store(1, ordering: .relaxed) }
    /// A read burst of `count` messages (one atomic update per burst, not per message).
    func recordMessages(_ count: Int) { received.add(count, ordering: .relaxed) }
    func recordOversized() { oversizedCount.add(1, ordering: .relaxed) }
    func setUnacknowledged(_ count: Int) { unacknowledgedCount.store(count, ordering: .relaxed) }
    func recordReconnect() { reconnectCount.add(1, ordering: .relaxed) }
}
