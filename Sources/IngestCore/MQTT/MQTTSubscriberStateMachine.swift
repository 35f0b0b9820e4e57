/// The protocol state of one MQTT 3.1.1/5 subscriber, without I/O: events in (a connection opened, a
/// packet arrived, messages were taken, time passed), actions out (`MQTTSubscriberAction`), and the
/// bytes to send appended to the caller's output buffer, so that everything a turn produces leaves
/// in one write. The native client's session is its executor (socket, poll, TLS, intake).
///
/// One value lives as long as the client: the acknowledgement bookkeeping of the session (QoS 2
/// messages awaiting PUBREL) outlives connections; everything else starts again with
/// `connectionOpened`.
public struct MQTTSubscriberStateMachine: Sendable {
    public let configuration: MQTTSubscriberConfiguration
    public private(set) var acknowledgements = MQTTAcknowledgements()

    private enum Phase: Sendable, Equatable {
        case idle
        case awaitingConnAck(since: UInt64)
        case connected
        /// The connection is ending; `disconnectCode` is the DISCONNECT still to send (MQTT 5).
        case closing(disconnectCode: UInt8?)
    }

    private var phase = Phase.idle
    /// The broker accepted the current connection (CONNACK 0); stays true while it closes.
    public private(set) var connectionAccepted = false
    private var keepAliveNanos: UInt64 = 0
    private var lastSentAt: UInt64 = 0
    private var pingSentAt: UInt64?
    private var nextPacketID: UInt16 = 0
    private var pendingSubscriptions: [(packetID: UInt16, filter: String)] = []
    private var warnedSharedSubscriptionsUnknown = false

    public init(configuration: MQTTSubscriberConfiguration) {
        self.configuration = configuration
    }

    public var isConnected: Bool { phase == .connected }

    // MARK: - Connection

    /// A connection (TCP, TLS) is open: CONNECT goes out.
    public mutating func connectionOpened(now: UInt64, into out: inout [UInt8]) {
        acknowledgements.connectionEnded()
        phase = .awaitingConnAck(since: now)
        connectionAccepted = false
        keepAliveNanos = UInt64(configuration.connect.keepAliveSeconds) * 1_000_000_000
        pingSentAt = nil
        pendingSubscriptions.removeAll()
        MQTTPacketEncoder.connect(configuration.connect, to: &out)
        lastSentAt = now
    }

    /// The connection is gone: what was not acknowledged is the broker's to deliver again.
    public mutating func connectionClosed() {
        acknowledgements.connectionEnded()
        phase = .idle
        connectionAccepted = false
        pingSentAt = nil
    }

    /// A graceful stop: appends DISCONNECT (normal disconnection: the broker keeps a persistent
    /// session and sends no will) when connected. Returns whether it did.
    public mutating func disconnect(into out: inout [UInt8]) -> Bool {
        guard phase == .connected else { return false }
        MQTTPacketEncoder.disconnect(to: &out)
        phase = .closing(disconnectCode: nil)
        return true
    }

    // MARK: - Packets

    public mutating func receive(_ packet: MQTTInboundPacket, now: UInt64, into out: inout [UInt8]) -> MQTTSubscriberAction {
        if case .closing = phase { return .none }
        switch packet {
        case .publish(let publish):
            return receivePublish(publish)
        case .pubRel(let packetID):
            // Answered even for an identifier we do not know (after a restart): MQTT 5 §4.3.3.
            acknowledgements.releasedByBroker(packetID: packetID)
            MQTTPacketEncoder.pubComp(packetID: packetID, to: &out)
            lastSentAt = now
            return .none
        case .connAck(let connAck):
            return receiveConnAck(connAck, now: now, into: &out)
        case .subAck(let packetID, let codes):
            guard let index = pendingSubscriptions.firstIndex(where: { $0.packetID == packetID }) else { return .none }
            let filter = pendingSubscriptions.remove(at: index).filter
            return .subscribed(filter: filter, subscriptionResult(codes[0]))
        case .pingResp:
            pingSentAt = nil
            return .none
        case .disconnect(let code, let reasonString):
            phase = .closing(disconnectCode: nil)
            return .close(.disconnectedByBroker(code: code, reason: MQTTReasonCode.text(code), reasonString: reasonString))
        case .ignored:
            return .none
        }
    }

    private mutating func receivePublish(_ publish: MQTTPublish) -> MQTTSubscriberAction {
        guard phase == .connected else { return .none }
        if publish.topicAlias != 0 {
            // ingestd sends no Topic Alias Maximum, so the broker may use none (MQTT 5 §3.3.2.3.4):
            // a protocol error. Nothing of this message is acknowledged; the broker keeps it.
            return violation(MQTTReasonCode.topicAliasInvalid,
                             "PUBLISH with topic alias \(publish.topicAlias), but ingestd allows none (Topic Alias Maximum 0)")
        }
        return acknowledgements.received(qos: publish.qos, packetID: publish.packetID) ? .deliver(publish) : .none
    }

    private mutating func receiveConnAck(_ connAck: MQTTConnAck, now: UInt64, into out: inout [UInt8]) -> MQTTSubscriberAction {
        guard case .awaitingConnAck = phase else {
            return violation(MQTTReasonCode.protocolError, "a second CONNACK")
        }
        guard connAck.reasonCode == MQTTReasonCode.success else {
            phase = .closing(disconnectCode: nil)
            let reason = MQTTReasonCode.connAckText(connAck.reasonCode, protocolVersion: configuration.protocolVersion)
            return .close(.refused(code: connAck.reasonCode, reason: reason, reasonString: connAck.reasonString))
        }
        phase = .connected
        connectionAccepted = true
        if let serverKeepAlive = connAck.serverKeepAlive { keepAliveNanos = UInt64(serverKeepAlive) * 1_000_000_000 }
        if !connAck.sessionPresent { acknowledgements.sessionEnded() }
        var limitations: [MQTTBrokerLimitation] = []
        var filters = configuration.filters
        if configuration.protocolVersion == .v5 {
            if configuration.sharedSubscriptions && !connAck.sharedSubscriptionAvailable {
                limitations.append(.sharedSubscriptionsUnavailable(filters: filters))
                filters = []
            }
            let wildcards = filters.filter { $0.contains("+") || $0.contains("#") }
            if !connAck.wildcardSubscriptionAvailable && !wildcards.isEmpty {
                limitations.append(.wildcardSubscriptionsUnavailable(filters: wildcards))
                filters.removeAll { wildcards.contains($0) }
            }
            if let maximumQoS = connAck.maximumQoS, maximumQoS < configuration.qos {
                limitations.append(.maximumQoS(maximumQoS))
            }
        } else if configuration.sharedSubscriptions && !warnedSharedSubscriptionsUnknown {
            warnedSharedSubscriptionsUnknown = true
            limitations.append(.sharedSubscriptionsUnknown)
        }
        // Subscribe after every connect, even when the broker kept the session: harmless, and it
        // covers a broker that lost the session or topics changed in the configuration.
        for filter in filters {
            nextPacketID = nextPacketID == UInt16.max ? 1 : nextPacketID + 1
            pendingSubscriptions.append((nextPacketID, filter))
            MQTTPacketEncoder.subscribe(packetID: nextPacketID, filter: filter, qos: configuration.qos,
                                        protocolVersion: configuration.protocolVersion, to: &out)
        }
        lastSentAt = now
        return .connected(connAck, limitations: limitations)
    }

    private func subscriptionResult(_ code: UInt8) -> MQTTSubscriptionResult {
        if code >= 0x80 {
            return .refused(code: code, reason: MQTTReasonCode.subAckText(code, protocolVersion: configuration.protocolVersion))
        }
        return code < configuration.qos ? .downgraded(granted: code, requested: configuration.qos) : .granted(qos: code)
    }

    /// The broker broke the protocol: with MQTT 5 a DISCONNECT with `code` follows the
    /// acknowledgements of what arrived before (MQTT 5 §4.13.1); MQTT 3.1.1 just closes.
    private mutating func violation(_ code: UInt8, _ detail: String) -> MQTTSubscriberAction {
        phase = .closing(disconnectCode: configuration.protocolVersion == .v5 ? code : nil)
        return .close(.protocolViolation(code: code, detail: detail))
    }

    // MARK: - Messages

    /// The next `count` delivered messages, in arrival order, are safe to acknowledge (today: the
    /// intake took them). Appends their PUBACKs/PUBRECs in arrival order, then the DISCONNECT of a
    /// protocol violation if one is due.
    public mutating func messagesTaken(_ count: Int, now: UInt64, into out: inout [UInt8]) {
        if acknowledgements.release(messages: count, into: &out) { lastSentAt = now }
        if case .closing(let code?) = phase {
            MQTTPacketEncoder.disconnect(reasonCode: code, to: &out)
            phase = .closing(disconnectCode: nil)
        }
    }

    // MARK: - Time

    /// The CONNACK deadline and the keep-alive: appends PINGREQ when nothing was sent for a
    /// keep-alive interval; returns why the connection is lost when a deadline passed.
    public mutating func tick(now: UInt64, into out: inout [UInt8]) -> MQTTConnectionEnd? {
        switch phase {
        case .awaitingConnAck(let since):
            if now &- since > configuration.connAckTimeoutNanos { return .noConnAck }
        case .connected:
            guard keepAliveNanos > 0 else { return nil }
            if let sentAt = pingSentAt {
                if now &- sentAt > keepAliveNanos { return .noPingResp }
            } else if now &- lastSentAt >= keepAliveNanos {
                MQTTPacketEncoder.pingReq(to: &out)
                pingSentAt = now
                lastSentAt = now
            }
        case .idle, .closing:
            break
        }
        return nil
    }

    /// While the executor cannot read (it waits for room in the intake), the broker must still hear
    /// from us within its keep-alive: appends PINGREQ when one is due. Their PINGRESPs are read once
    /// the wait is over; the PINGRESP deadline counts from the last of these.
    public mutating func tickWhileBlocked(now: UInt64, into out: inout [UInt8]) {
        guard phase == .connected, keepAliveNanos > 0, now &- lastSentAt >= keepAliveNanos / 2 else { return }
        MQTTPacketEncoder.pingReq(to: &out)
        pingSentAt = now
        lastSentAt = now
    }
}
