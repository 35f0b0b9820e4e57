/// The acknowledgement bookkeeping of a subscriber (MQTT 3.1.1 §4.3, MQTT 5 §4.3): which PUBLISHes
/// still await their PUBACK/PUBREC, and which QoS 2 messages were answered with PUBREC and await the
/// broker's PUBREL.
///
/// ## Arrival order
/// Every PUBLISH takes a place in one queue when it arrives, and acknowledgements leave only from the
/// front of it (MQTT-4.6.0-2/3: in the order the PUBLISHes arrived). A redelivered QoS 2 PUBLISH
/// that was already handed on is answered with a repeated PUBREC that also waits for its place, so it
/// never overtakes a new message that arrived before it.
///
/// ## Releasing
/// `release(messages:into:)` says that the next `count` messages in arrival order are safe to
/// acknowledge: today, taken by the intake. The same call can later mean "written to InfluxDB, the
/// spool or the journal" without changing the order rules: what is not released stays unacknowledged,
/// and when the connection ends the broker delivers it again.
///
/// Allocation-free on the hot path: the queue's storage is reused from burst to burst.
public struct MQTTAcknowledgements: Sendable {
    private enum Kind: UInt8, Sendable { case none, pubAck, pubRec, repeatedPubRec }

    private struct Entry: Sendable {
        var kind: Kind
        var packetID: UInt16
        /// False for a repeated PUBREC: not a message of its own, sent as soon as its turn comes.
        var isMessage: Bool { kind != .repeatedPubRec }
    }

    private var entries: [Entry] = []
    private var head = 0
    /// QoS 2 identifiers answered with PUBREC and not yet released by PUBREL. Part of the session, so
    /// it outlives a connection; cleared when the broker starts a new session.
    public private(set) var awaitingRelease = Set<UInt16>()

    public init(reservingCapacity capacity: Int = 256) {
        entries.reserveCapacity(capacity)
    }

    /// Messages that arrived and are not yet released.
    public var pendingMessages: Int {
        var count = 0
        for entry in entries[head...] where entry.isMessage { count += 1 }
        return count
    }

    /// A PUBLISH arrived. Returns true when it is a message to hand on, false for a QoS 2 message
    /// handed on before (its PUBREC is repeated in its turn, MQTT 5 §4.3.3).
    public mutating func received(qos: UInt8, packetID: UInt16) -> Bool {
        switch qos {
        case 0:
            entries.append(Entry(kind: .none, packetID: 0))
        case 1:
            entries.append(Entry(kind: .pubAck, packetID: packetID))
        default:
            if awaitingRelease.contains(packetID) {
                entries.append(Entry(kind: .repeatedPubRec, packetID: packetID))
                return false
            }
            entries.append(Entry(kind: .pubRec, packetID: packetID))
        }
        return true
    }

    /// Encodes the acknowledgements of the next `count` messages, and of repeated PUBRECs up to the
    /// first message not released, in arrival order. Returns whether anything was written.
    @discardableResult
    public mutating func release(messages count: Int, into out: inout [UInt8]) -> Bool {
        var remaining = count
        var wrote = false
        while head < entries.count {
            let entry = entries[head]
            if entry.isMessage {
                guard remaining > 0 else { break }
                remaining -= 1
            }
            switch entry.kind {
            case .none:
                break
            case .pubAck:
                MQTTPacketEncoder.pubAck(packetID: entry.packetID, to: &out)
                wrote = true
            case .pubRec:
                awaitingRelease.insert(entry.packetID)
                MQTTPacketEncoder.pubRec(packetID: entry.packetID, to: &out)
                wrote = true
            case .repeatedPubRec:
                MQTTPacketEncoder.pubRec(packetID: entry.packetID, to: &out)
                wrote = true
            }
            head += 1
        }
        precondition(remaining == 0, "released more messages than arrived")
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        }
        return wrote
    }

    /// The broker's PUBREL: the QoS 2 delivery is complete (answered with PUBCOMP by the caller).
    public mutating func releasedByBroker(packetID: UInt16) {
        awaitingRelease.remove(packetID)
    }

    /// The connection ended: what was not released stays unacknowledged, and the broker delivers it
    /// again on the next connection.
    public mutating func connectionEnded() {
        entries.removeAll(keepingCapacity: true)
        head = 0
    }

    /// The broker started a new session (CONNACK without Session Present): it remembers no PUBREC.
    public mutating func sessionEnded() {
        awaitingRelease.removeAll()
    }
}
