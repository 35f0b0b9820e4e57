/// The MQTT client's side of the `AcknowledgementGate`: which of the messages the gate released
/// belong to the current connection, and how many of those are still to be acknowledged on it.
///
/// Messages are numbered across connections in the order they were handed to the intake (the
/// gate's numbering). A connection's acknowledgement queue starts empty; messages handed on over an
/// earlier connection stay in the pipeline and are written, but their acknowledgements cannot be sent
/// any more: the broker delivers them again on the new connection (a duplicate that overwrites itself
/// in InfluxDB). So the cursor skips them: only what was handed on since `connectionOpened()` counts.
public struct AcknowledgementCursor: Sendable, Equatable {
    /// Messages handed to the intake since the start, over every connection.
    public private(set) var handedOn: UInt64 = 0
    /// Messages up to this number (exclusive) are acknowledged, or belong to an earlier connection.
    public private(set) var acknowledgedThrough: UInt64 = 0

    public init() {}

    /// A new connection: what earlier connections handed on is no longer ours to acknowledge.
    public mutating func connectionOpened() {
        acknowledgedThrough = handedOn
    }

    /// `count` more messages went to the intake over the current connection.
    public mutating func handedOn(_ count: Int) {
        handedOn += UInt64(count)
    }

    /// Messages of the current connection not yet acknowledged.
    public var outstanding: Int { Int(handedOn - acknowledgedThrough) }

    /// The gate released `released` messages: returns how many of the current connection's messages,
    /// in arrival order, are now to be acknowledged (and counts them as acknowledged).
    public mutating func take(released: UInt64) -> Int {
        let upTo = min(released, handedOn)
        guard upTo > acknowledgedThrough else { return 0 }
        defer { acknowledgedThrough = upTo }
        return Int(upTo - acknowledgedThrough)
    }
}
