import XCTest
@testable import IngestCore

/// The subscriber's protocol state without sockets: events in, actions and bytes out.
final class MQTTSubscriberStateMachineTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    /// A sent packet, as the tests compare them: its type and packet identifier (0 when it has none)
    /// or, for DISCONNECT, its reason code.
    private struct Sent: Equatable, CustomStringConvertible {
        var type: UInt8
        var value: UInt16
        init(_ type: UInt8, _ value: UInt16 = 0) { self.type = type; self.value = value }
        var description: String { "\(MQTTPacketType.name(of: type)) \(value)" }
        static func pubAck(_ id: UInt16) -> Sent { Sent(MQTTPacketType.pubAck, id) }
        static func pubRec(_ id: UInt16) -> Sent { Sent(MQTTPacketType.pubRec, id) }
        static func pubComp(_ id: UInt16) -> Sent { Sent(MQTTPacketType.pubComp, id) }
        static let pingReq = Sent(MQTTPacketType.pingReq)
    }

    /// Frames what the machine wrote.
    private func sent(_ out: inout [UInt8]) -> [Sent] {
        defer { out.removeAll() }
        var result: [Sent] = []
        out.withUnsafeBytes { raw in
            var offset = 0
            while let frame = try! MQTTFrame.next(in: raw, from: offset, maxPacketBytes: 1 << 20) {
                switch frame.type {
                case MQTTPacketType.pubAck, MQTTPacketType.pubRec, MQTTPacketType.pubComp, MQTTPacketType.subscribe:
                    result.append(Sent(frame.type, UInt16(raw[frame.bodyStart]) << 8 | UInt16(raw[frame.bodyStart + 1])))
                case MQTTPacketType.disconnect:
                    result.append(Sent(frame.type, frame.bodyLength > 0 ? UInt16(raw[frame.bodyStart]) : 0))
                default:
                    result.append(Sent(frame.type))
                }
                offset = frame.end
            }
            XCTAssertEqual(offset, raw.count, "only whole packets are written")
        }
        return result
    }

    private func machine(_ version: MQTTProtocolVersion = .v5, filters: [String] = ["tenant/+/device/+/+"], qos: UInt8 = 1,
                         shared: Bool = false, keepAlive: UInt16 = 60) -> MQTTSubscriberStateMachine {
        MQTTSubscriberStateMachine(configuration: MQTTSubscriberConfiguration(
            connect: MQTTConnectOptions(protocolVersion: version, clientID: "ingestd", cleanStart: false, keepAliveSeconds: keepAlive),
            filters: filters, qos: qos, sharedSubscriptions: shared, connAckTimeoutNanos: 30 * second))
    }

    /// Opens a connection and accepts it; returns the CONNACK's action.
    @discardableResult
    private func connect(_ machine: inout MQTTSubscriberStateMachine, _ out: inout [UInt8], now: UInt64 = 0,
                         _ connAck: MQTTConnAck = MQTTConnAck(sessionPresent: true, reasonCode: 0)) -> MQTTSubscriberAction {
        machine.connectionOpened(now: now, into: &out)
        XCTAssertEqual(sent(&out), [Sent(MQTTPacketType.connect)])
        let action = machine.receive(.connAck(connAck), now: now, into: &out)
        out.removeAll()
        return action
    }

    private func publish(_ id: UInt16, qos: UInt8 = 1, alias: UInt16 = 0) -> MQTTInboundPacket {
        .publish(MQTTPublish(qos: qos, duplicate: false, retain: false, packetID: id, topic: 0..<1, payload: 1..<2, topicAlias: alias))
    }

    // MARK: - Connect and subscribe

    func testConnectThenSubscribeEachFilter() {
        var machine = machine(filters: ["a/+", "b/#"])
        var out: [UInt8] = []
        machine.connectionOpened(now: 0, into: &out)
        XCTAssertEqual(sent(&out), [Sent(MQTTPacketType.connect)])
        XCTAssertFalse(machine.isConnected)
        let connAck = MQTTConnAck(sessionPresent: false, reasonCode: 0)
        XCTAssertEqual(machine.receive(.connAck(connAck), now: 1, into: &out), .connected(connAck, limitations: []))
        XCTAssertEqual(sent(&out), [Sent(MQTTPacketType.subscribe, 1), Sent(MQTTPacketType.subscribe, 2)])
        XCTAssertTrue(machine.isConnected)
        XCTAssertEqual(machine.receive(.subAck(packetID: 2, reasonCodes: [1]), now: 2, into: &out), .subscribed(filter: "b/#", .granted(qos: 1)))
        XCTAssertEqual(machine.receive(.subAck(packetID: 1, reasonCodes: [1]), now: 2, into: &out), .subscribed(filter: "a/+", .granted(qos: 1)))
        XCTAssertEqual(machine.receive(.subAck(packetID: 1, reasonCodes: [1]), now: 2, into: &out), .none, "an unknown SUBACK is ignored")
    }

    /// A downgraded filter is a warning, a refused one an error (MQTT 3.1.1 knows only 0x80).
    func testSubAckDowngradedAndRefused() {
        var machine = machine(filters: ["a", "b", "c"], qos: 2)
        var out: [UInt8] = []
        connect(&machine, &out)
        XCTAssertEqual(machine.receive(.subAck(packetID: 1, reasonCodes: [0]), now: 0, into: &out),
                       .subscribed(filter: "a", .downgraded(granted: 0, requested: 2)))
        XCTAssertEqual(machine.receive(.subAck(packetID: 2, reasonCodes: [0x87]), now: 0, into: &out),
                       .subscribed(filter: "b", .refused(code: 0x87, reason: "not authorized")))
        XCTAssertEqual(machine.receive(.subAck(packetID: 3, reasonCodes: [2]), now: 0, into: &out), .subscribed(filter: "c", .granted(qos: 2)))
        var v311 = self.machine(.v311, filters: ["a"])
        connect(&v311, &out)
        XCTAssertEqual(v311.receive(.subAck(packetID: 1, reasonCodes: [0x80]), now: 0, into: &out),
                       .subscribed(filter: "a", .refused(code: 0x80, reason: "failure")))
    }

    func testRefusedConnAckClosesWithTheReasonAndTheBrokersText() {
        var machine = machine()
        var out: [UInt8] = []
        machine.connectionOpened(now: 0, into: &out)
        out.removeAll()
        let refusal = MQTTConnAck(sessionPresent: false, reasonCode: 0x86, reasonString: "user unknown")
        let action = machine.receive(.connAck(refusal), now: 0, into: &out)
        XCTAssertEqual(action, .close(.refused(code: 0x86, reason: "bad user name or password", reasonString: "user unknown")))
        XCTAssertEqual(sent(&out), [], "nothing is sent to a broker that refused")
        XCTAssertFalse(machine.connectionAccepted, "a refused connection is a failed attempt")
        var v311 = self.machine(.v311)
        v311.connectionOpened(now: 0, into: &out)
        XCTAssertEqual(v311.receive(.connAck(MQTTConnAck(sessionPresent: false, reasonCode: 5)), now: 0, into: &out),
                       .close(.refused(code: 5, reason: "not authorized", reasonString: nil)))
    }

    func testSecondConnAckIsAProtocolError() {
        var machine = machine()
        var out: [UInt8] = []
        connect(&machine, &out)
        guard case .close(.protocolViolation(0x82, _)) = machine.receive(.connAck(MQTTConnAck(sessionPresent: true, reasonCode: 0)), now: 0, into: &out) else {
            return XCTFail("a second CONNACK must end the connection")
        }
        machine.messagesTaken(0, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [Sent(MQTTPacketType.disconnect, 0x82)])
    }

    // MARK: - Capabilities the broker announces

    func testSharedSubscriptionsUnavailableAreNotSubscribed() {
        var machine = machine(filters: ["$share/g/a"], shared: true)
        var out: [UInt8] = []
        machine.connectionOpened(now: 0, into: &out)
        out.removeAll()
        let connAck = MQTTConnAck(sessionPresent: false, reasonCode: 0, sharedSubscriptionAvailable: false)
        XCTAssertEqual(machine.receive(.connAck(connAck), now: 0, into: &out),
                       .connected(connAck, limitations: [.sharedSubscriptionsUnavailable(filters: ["$share/g/a"])]))
        XCTAssertEqual(sent(&out), [])
    }

    func testMQTT311SharedSubscriptionsWarnOnceAcrossReconnects() {
        var machine = machine(.v311, filters: ["$share/g/a"], shared: true)
        var out: [UInt8] = []
        let connAck = MQTTConnAck(sessionPresent: false, reasonCode: 0)
        machine.connectionOpened(now: 0, into: &out)
        out.removeAll()
        XCTAssertEqual(machine.receive(.connAck(connAck), now: 0, into: &out), .connected(connAck, limitations: [.sharedSubscriptionsUnknown]))
        XCTAssertEqual(sent(&out), [Sent(MQTTPacketType.subscribe, 1)], "subscribed anyway: many 3.1.1 brokers support it")
        machine.connectionClosed()
        machine.connectionOpened(now: 0, into: &out)
        out.removeAll()
        XCTAssertEqual(machine.receive(.connAck(connAck), now: 0, into: &out), .connected(connAck, limitations: []))
    }

    func testWildcardsUnavailableAndALowerMaximumQoS() {
        var machine = machine(filters: ["a/+", "b/c", "d/#"], qos: 2)
        var out: [UInt8] = []
        machine.connectionOpened(now: 0, into: &out)
        out.removeAll()
        let connAck = MQTTConnAck(sessionPresent: false, reasonCode: 0, maximumQoS: 1, wildcardSubscriptionAvailable: false)
        XCTAssertEqual(machine.receive(.connAck(connAck), now: 0, into: &out), .connected(connAck, limitations: [
            .wildcardSubscriptionsUnavailable(filters: ["a/+", "d/#"]), .maximumQoS(1),
        ]))
        XCTAssertEqual(sent(&out), [Sent(MQTTPacketType.subscribe, 1)], "only b/c")
        XCTAssertEqual(machine.receive(.subAck(packetID: 1, reasonCodes: [1]), now: 0, into: &out),
                       .subscribed(filter: "b/c", .downgraded(granted: 1, requested: 2)))
    }

    // MARK: - Acknowledgements

    func testAcknowledgementsWaitUntilTakenAndLeaveInArrivalOrder() {
        var machine = machine()
        var out: [UInt8] = []
        connect(&machine, &out)
        for id: UInt16 in [7, 3, 9] {
            XCTAssertEqual(machine.receive(publish(id), now: 0, into: &out), .deliver(MQTTPublish(
                qos: 1, duplicate: false, retain: false, packetID: id, topic: 0..<1, payload: 1..<2)))
        }
        XCTAssertEqual(machine.receive(publish(0, qos: 0), now: 0, into: &out), .deliver(MQTTPublish(
            qos: 0, duplicate: false, retain: false, packetID: 0, topic: 0..<1, payload: 1..<2)))
        XCTAssertEqual(sent(&out), [], "nothing is acknowledged before the intake took it")
        machine.messagesTaken(2, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubAck(7), .pubAck(3)])
        XCTAssertEqual(machine.acknowledgements.pendingMessages, 2)
        machine.messagesTaken(2, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubAck(9)], "QoS 0 needs no acknowledgement")
        XCTAssertEqual(machine.acknowledgements.pendingMessages, 0)
    }

    /// Defect: a redelivered QoS 2 PUBLISH and a new one in the same read; the duplicate's PUBREC was
    /// written first. MQTT-4.6.0-2/3: acknowledgements leave in the order the PUBLISHes arrived.
    func testRepeatedPubRecKeepsItsPlaceInArrivalOrder() {
        var machine = machine(qos: 2)
        var out: [UInt8] = []
        connect(&machine, &out)
        XCTAssertNotEqual(machine.receive(publish(5, qos: 2), now: 0, into: &out), .none)
        machine.messagesTaken(1, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubRec(5)])
        XCTAssertEqual(machine.acknowledgements.awaitingRelease, [5])

        // The connection drops before PUBREL; the broker resends PUBLISH 5 (DUP) after a new message.
        machine.connectionClosed()
        connect(&machine, &out, MQTTConnAck(sessionPresent: true, reasonCode: 0))
        XCTAssertNotEqual(machine.receive(publish(6, qos: 2), now: 0, into: &out), .none)
        XCTAssertEqual(machine.receive(publish(5, qos: 2), now: 0, into: &out), .none, "already handed on: not again")
        XCTAssertNotEqual(machine.receive(publish(8, qos: 2), now: 0, into: &out), .none)
        machine.messagesTaken(0, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [], "the repeated PUBREC waits behind message 6")
        machine.messagesTaken(1, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubRec(6), .pubRec(5)])
        machine.messagesTaken(1, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubRec(8)])

        // And the other way round, within one read: the duplicate first.
        machine.connectionClosed()
        connect(&machine, &out)
        XCTAssertEqual(machine.receive(publish(5, qos: 2), now: 0, into: &out), .none)
        XCTAssertNotEqual(machine.receive(publish(10, qos: 2), now: 0, into: &out), .none)
        machine.messagesTaken(1, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubRec(5), .pubRec(10)])
    }

    func testPubRelIsAnsweredWithPubCompAlsoAfterAReconnectOrRestart() {
        var machine = machine(qos: 2)
        var out: [UInt8] = []
        connect(&machine, &out)
        _ = machine.receive(publish(5, qos: 2), now: 0, into: &out)
        machine.messagesTaken(1, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubRec(5)])
        machine.connectionClosed()
        connect(&machine, &out)
        XCTAssertEqual(machine.receive(.pubRel(packetID: 5), now: 0, into: &out), .none)
        XCTAssertEqual(sent(&out), [.pubComp(5)])
        XCTAssertEqual(machine.acknowledgements.awaitingRelease, [])
        // A PUBREL for an identifier this process never saw (PUBREC sent before a restart).
        XCTAssertEqual(machine.receive(.pubRel(packetID: 77), now: 0, into: &out), .none)
        XCTAssertEqual(sent(&out), [.pubComp(77)])
        // Released: the identifier is new again.
        XCTAssertNotEqual(machine.receive(publish(5, qos: 2), now: 0, into: &out), .none)
    }

    func testANewSessionForgetsWhatAwaitedRelease() {
        var machine = machine(qos: 2)
        var out: [UInt8] = []
        connect(&machine, &out)
        _ = machine.receive(publish(5, qos: 2), now: 0, into: &out)
        machine.messagesTaken(1, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubRec(5)])
        machine.connectionClosed()
        connect(&machine, &out, MQTTConnAck(sessionPresent: false, reasonCode: 0))
        XCTAssertNotEqual(machine.receive(publish(5, qos: 2), now: 0, into: &out), .none, "a new session's message 5 is a new message")
    }

    /// What the intake did not take before the connection ended is never acknowledged: the broker
    /// delivers it again.
    func testUnreleasedAcknowledgementsDieWithTheConnection() {
        var machine = machine()
        var out: [UInt8] = []
        connect(&machine, &out)
        _ = machine.receive(publish(1), now: 0, into: &out)
        _ = machine.receive(publish(2), now: 0, into: &out)
        machine.messagesTaken(1, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubAck(1)])
        machine.connectionClosed()
        connect(&machine, &out)
        machine.messagesTaken(0, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [])
    }

    // MARK: - Protocol violations and the broker's DISCONNECT

    /// Defect: a PUBLISH with a topic alias ingestd never allowed was acknowledged, then rejected.
    /// Now: what arrived before it is acknowledged, it is not, and DISCONNECT 0x94 follows.
    func testTopicAliasIsAProtocolErrorAndIsNotAcknowledged() {
        var machine = machine()
        var out: [UInt8] = []
        connect(&machine, &out)
        _ = machine.receive(publish(1), now: 0, into: &out)
        let action = machine.receive(publish(2, alias: 3), now: 0, into: &out)
        guard case .close(.protocolViolation(code: 0x94, let detail)) = action else { return XCTFail("\(action)") }
        XCTAssertTrue(detail.contains("topic alias 3"), detail)
        XCTAssertEqual(machine.receive(publish(4), now: 0, into: &out), .none, "nothing after it is taken")
        machine.messagesTaken(1, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [.pubAck(1), Sent(MQTTPacketType.disconnect, 0x94)])
        machine.messagesTaken(0, now: 0, into: &out)
        XCTAssertEqual(sent(&out), [], "the DISCONNECT is sent once")
    }

    func testBrokerDisconnectEndsTheConnectionWithItsReason() {
        var machine = machine()
        var out: [UInt8] = []
        connect(&machine, &out)
        let action = machine.receive(.disconnect(reasonCode: 0x8E, reasonString: "taken over by 10.0.0.2"), now: 0, into: &out)
        XCTAssertEqual(action, .close(.disconnectedByBroker(code: 0x8E, reason: "session taken over", reasonString: "taken over by 10.0.0.2")))
        if case .close(let end) = action {
            XCTAssertEqual(end.description, "session taken over")
            XCTAssertEqual(end.reasonString, "taken over by 10.0.0.2")
        }
        XCTAssertEqual(machine.receive(publish(1), now: 0, into: &out), .none)
        XCTAssertFalse(machine.disconnect(into: &out), "no DISCONNECT back to a broker that left")
        XCTAssertTrue(machine.connectionAccepted, "a lost connection, not a failed attempt, while it closes")
        machine.connectionClosed()
        XCTAssertFalse(machine.connectionAccepted)
    }

    func testGracefulDisconnectOnlyWhenConnected() {
        var machine = machine()
        var out: [UInt8] = []
        machine.connectionOpened(now: 0, into: &out)
        out.removeAll()
        XCTAssertFalse(machine.disconnect(into: &out))
        _ = machine.receive(.connAck(MQTTConnAck(sessionPresent: false, reasonCode: 0)), now: 0, into: &out)
        out.removeAll()
        XCTAssertTrue(machine.disconnect(into: &out))
        XCTAssertEqual(sent(&out), [Sent(MQTTPacketType.disconnect, 0)])
    }

    // MARK: - Time

    func testKeepAlivePingsAndNoticesAMissingPingResp() {
        var machine = machine(keepAlive: 10)
        var out: [UInt8] = []
        connect(&machine, &out)
        XCTAssertNil(machine.tick(now: 9 * second, into: &out))
        XCTAssertEqual(sent(&out), [])
        XCTAssertNil(machine.tick(now: 10 * second, into: &out))
        XCTAssertEqual(sent(&out), [.pingReq])
        XCTAssertNil(machine.tick(now: 15 * second, into: &out))
        XCTAssertEqual(sent(&out), [], "one PINGREQ at a time")
        XCTAssertEqual(machine.receive(.pingResp, now: 16 * second, into: &out), .none)
        XCTAssertNil(machine.tick(now: 19 * second, into: &out))
        XCTAssertEqual(sent(&out), [], "the PINGREQ at 10 s counts as sent")
        XCTAssertNil(machine.tick(now: 20 * second, into: &out))
        XCTAssertEqual(sent(&out), [.pingReq])
        XCTAssertEqual(machine.tick(now: 30 * second + 1, into: &out), .noPingResp)
    }

    func testAcknowledgementsCountAsTrafficAndServerKeepAliveWins() {
        var machine = machine(keepAlive: 60)
        var out: [UInt8] = []
        connect(&machine, &out, MQTTConnAck(sessionPresent: true, reasonCode: 0, serverKeepAlive: 5))
        _ = machine.receive(publish(1), now: 0, into: &out)
        machine.messagesTaken(1, now: 4 * second, into: &out)
        out.removeAll()
        XCTAssertNil(machine.tick(now: 8 * second, into: &out))
        XCTAssertEqual(sent(&out), [])
        XCTAssertNil(machine.tick(now: 9 * second, into: &out))
        XCTAssertEqual(sent(&out), [.pingReq], "the broker's 5 s, not our 60 s")
    }

    func testNoConnAckWithinTheTimeout() {
        var machine = machine()
        var out: [UInt8] = []
        machine.connectionOpened(now: 0, into: &out)
        XCTAssertNil(machine.tick(now: 30 * second, into: &out))
        XCTAssertEqual(machine.tick(now: 30 * second + 1, into: &out), .noConnAck)
    }

    /// Defect: while the MQTT thread waited on a full intake, no PINGREQ went out and the broker
    /// dropped the connection after 1.5 x keep-alive.
    func testPingsWhileBlockedOnAFullIntake() {
        var machine = machine(keepAlive: 10)
        var out: [UInt8] = []
        connect(&machine, &out)
        _ = machine.receive(publish(1), now: 0, into: &out)
        machine.tickWhileBlocked(now: 4 * second, into: &out)
        XCTAssertEqual(sent(&out), [])
        machine.tickWhileBlocked(now: 5 * second, into: &out)
        XCTAssertEqual(sent(&out), [.pingReq])
        machine.tickWhileBlocked(now: 9 * second, into: &out)
        XCTAssertEqual(sent(&out), [])
        machine.tickWhileBlocked(now: 10 * second, into: &out)
        machine.tickWhileBlocked(now: 15 * second, into: &out)
        machine.tickWhileBlocked(now: 20 * second, into: &out)
        XCTAssertEqual(sent(&out), [.pingReq, .pingReq, .pingReq], "every half keep-alive, however long the wait")
        // The wait is over: the PINGRESP deadline counts from the last PINGREQ.
        machine.messagesTaken(1, now: 21 * second, into: &out)
        XCTAssertEqual(sent(&out), [.pubAck(1)])
        XCTAssertNil(machine.tick(now: 21 * second, into: &out))
        XCTAssertEqual(machine.receive(.pingResp, now: 21 * second, into: &out), .none)
        XCTAssertNil(machine.tick(now: 31 * second, into: &out))
    }
}
