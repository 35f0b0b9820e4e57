#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import IngestCore
import TestSupport
import XCTest
@testable import IngestService

/// The native client against `ScriptedBroker`: the corner cases mosquitto will not produce on demand.
final class NativeMQTTCornerCaseTests: XCTestCase {
    private typealias C = ScriptedConnection

    private func configuration(_ broker: ScriptedBroker, protocolVersion: MQTTProtocolVersion = .v5, qos: Int = 1) -> MQTTConfiguration {
        var configuration = MQTTConfiguration(host: "127.0.0.1", port: broker.port, topics: ["t/#"], qos: qos,
                                              clientID: "scripted", protocolVersion: protocolVersion,
                                              reconnectDelayMin: .milliseconds(20), reconnectDelayMax: .milliseconds(50))
        configuration.heartbeatTimeoutSeconds = 0  // off: defect 3 said it warned after every burst
        return configuration
    }

    private let telemetry = Array(#"{"v":1}"#.utf8)

    /// MQTT 5 §3.3.2.3.4: ingestd allows no topic alias (it announces no Topic Alias Maximum). A
    /// PUBLISH with one is a protocol error: DISCONNECT 0x94, and nothing of it is acknowledged.
    func testTopicAliasDisconnectsWith0x94AndAcknowledgesNothingOfIt() async throws {
        let broker = try ScriptedBroker()
        let running = RunningSource(configuration(broker))
        let payload = telemetry
        let packets = try await onThread {
            let connection = try broker.accept()
            try connection.handshake()
            try connection.grantSubscription()
            try connection.send(C.publish(topic: "t/1", payload: payload, qos: 1, packetID: 1)
                + C.publish(topic: "", payload: payload, qos: 1, packetID: 2, properties: [0x23, 0x00, 0x01]))
            return try connection.readUntilClosed().map { "\($0.type):\($0.body)" }
        }
        XCTAssertEqual(packets, ["4:[0, 1]", "14:[148]"], "PUBACK 1, then DISCONNECT 0x94; no PUBACK 2")
        try await running.waitForMessages(1)
        let lines = running.logs.with("mqtt protocol error by the broker")
        XCTAssertEqual(lines.count, 1)
        XCTAssertEqual(lines.first?.metadata["disconnect_reason"], "topic alias invalid")
        try await eventually("reconnecting") { running.logs.count("mqtt disconnected") == 1 }
        try await running.stop()
        XCTAssertEqual(running.received.all.map(\.topic), ["t/1"])
        XCTAssertEqual(running.logs.count("mqtt no messages"), 0, "HEARTBEAT_TIMEOUT_SECONDS=0 is off")
    }

    /// MQTT-4.6.0-2/3: a redelivered QoS 2 PUBLISH (already handed on) and a new one in the same
    /// read are answered in the order they arrived; the duplicate is not handed on twice.
    func testPubRecsLeaveInArrivalOrderAcrossAReconnect() async throws {
        let broker = try ScriptedBroker()
        let running = RunningSource(configuration(broker, qos: 2))
        let payload = telemetry
        let (first, second) = try await onThread {
            var connection = try broker.accept()
            try connection.handshake()
            try connection.grantSubscription(qos: 2)
            try connection.send(C.publish(topic: "t/5", payload: payload, qos: 2, packetID: 5))
            let first = try connection.expect(MQTTPacketType.pubRec).packetID
            connection.hangUp()  // before PUBREL: the client keeps 5 as awaiting release
            connection = try broker.accept()
            try connection.handshake(sessionPresent: true)
            try connection.grantSubscription(qos: 2)
            try connection.send(C.publish(topic: "t/6", payload: payload, qos: 2, packetID: 6)
                + C.publish(topic: "t/5", payload: payload, qos: 2, packetID: 5, duplicate: true)
                + C.publish(topic: "t/7", payload: payload, qos: 2, packetID: 7))
            var second = try (0..<3).map { _ in try connection.expect(MQTTPacketType.pubRec).packetID }
            try connection.send(C.pubRel(5))
            second.append(try connection.expect(MQTTPacketType.pubComp).packetID)
            return (first, second)
        }
        XCTAssertEqual(first, 5)
        XCTAssertEqual(second, [6, 5, 7, 5], "PUBREC 6, 5, 7 in arrival order, then PUBCOMP 5")
        try await running.waitForMessages(3)
        try await running.stop()
        XCTAssertEqual(running.received.all.map(\.topic), ["t/5", "t/6", "t/7"], "5 handed on once")
    }

    /// The broker's CONNACK says it has no shared subscriptions: one clear error, no SUBSCRIBE, not
    /// ready; and a CONNACK refusal and a DISCONNECT have their Reason String logged.
    func testCapabilitiesAndReasonStringsAreLogged() async throws {
        let broker = try ScriptedBroker()
        var configuration = configuration(broker)
        configuration.sharedGroup = "ingest"
        let running = RunningSource(configuration)
        try await onThread {
            var connection = try broker.accept()
            try connection.expect(MQTTPacketType.connect)
            try connection.send(C.packet(0x20, [0, 0x87] + C.properties(C.reasonString("ACL denies scripted"))))
            connection = try broker.accept()
            try connection.handshake(properties: [0x2A, 0x00])
            // Nothing is subscribed: the next packet is the client's answer to our DISCONNECT (none).
            try connection.send(C.disconnect(code: 0x8B, properties: C.reasonString("maintenance until 10:00")))
            _ = try connection.readUntilClosed()
        }
        // The refused CONNECT is a failed attempt ("mqtt connect failed"); the accepted connection the
        // broker ends is the one "mqtt disconnected".
        try await eventually("the DISCONNECT logged") { running.logs.count("mqtt disconnected") == 1 }
        XCTAssertEqual(running.logs.with("mqtt connect failed").first?.metadata["reason_string"], "ACL denies scripted")
        try await running.stop()
        let refused = running.logs.with("mqtt connection refused: bad credentials or not authorised")
        XCTAssertEqual(refused.first?.metadata["reason_string"], "ACL denies scripted")
        XCTAssertEqual(refused.first?.metadata["reason"], "not authorized")
        XCTAssertEqual(running.logs.count("mqtt broker has no shared subscriptions: not subscribed"), 1)
        XCTAssertEqual(running.logs.count("mqtt subscribed"), 0)
        let disconnected = running.logs.with("mqtt disconnected")
        XCTAssertEqual(disconnected.last?.metadata["reason"], "server shutting down")
        XCTAssertEqual(disconnected.last?.metadata["reason_string"], "maintenance until 10:00")
    }

    /// The same with the libmosquitto fallback: the refusal's Reason String (CONNACK properties) is
    /// logged; libmosquitto 2.0.11 drops a DISCONNECT's properties before its callback, so there
    /// only the reason code is (README "MQTT clients").
    func testReasonStringsAreLoggedWithLibmosquitto() async throws {
        let broker = try ScriptedBroker()
        var configuration = configuration(broker)
        configuration.client = .libmosquitto
        let running = RunningSource(configuration)
        try await onThread {
            var connection = try broker.accept()
            try connection.expect(MQTTPacketType.connect)
            try connection.send(C.packet(0x20, [0, 0x87] + C.properties(C.reasonString("ACL denies scripted"))))
            connection = try broker.accept()
            try connection.handshake()
            try connection.grantSubscription()
            try connection.send(C.disconnect(code: 0x8B, properties: C.reasonString("maintenance until 10:00")))
            _ = try connection.readUntilClosed()
        }
        try await eventually("the DISCONNECT logged") { running.logs.count("mqtt disconnected") == 2 }
        try await running.stop()
        let refused = running.logs.with("mqtt connection refused: bad credentials or not authorised")
        XCTAssertEqual(refused.first?.metadata["reason_string"], "ACL denies scripted")
        let disconnected = running.logs.with("mqtt disconnected")
        XCTAssertEqual(disconnected.last?.metadata["reason"], "server shutting down")
    }

    /// While the intake is full the MQTT thread cannot read, but the broker must still hear from it
    /// within the keep-alive (the defect: mosquitto dropped the connection after 1.5 x keep-alive).
    func testPingsWhileTheIntakeIsFull() async throws {
        let broker = try ScriptedBroker()
        var configuration = configuration(broker)
        configuration.keepAliveSeconds = 5
        let gate = GateBox()
        let running = RunningSource(configuration, capacity: 1, consumerGate: gate)
        let payload = telemetry
        let intake = running.intake
        let logs = running.logs
        let pings = try await onThread {
            let connection = try broker.accept()
            try connection.handshake()
            try connection.grantSubscription()
            try connection.send((1...3).flatMap { C.publish(topic: "t/\($0)", payload: payload, qos: 1, packetID: UInt16($0)) })
            var pings = 0
            var acknowledged: [UInt16] = []
            // Two keep-alive intervals while the intake stays full: PINGREQs must keep coming.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                let packet = try connection.read(timeout: 5)
                switch packet?.type {
                case MQTTPacketType.pingReq:
                    pings += 1
                    XCTAssertEqual(intake.count, 1, "a PINGREQ while the intake is still full")
                case MQTTPacketType.pubAck:
                    acknowledged.append(packet!.packetID)  // the first message, if it came in a read of its own
                default:
                    throw ScriptedBroker.Failure(description: "unexpected \(packet.map { "\($0)" } ?? "close")")
                }
            }
            gate.open()
            try connection.send([0xD0, 0x00])
            while acknowledged.count < 3, let packet = try connection.read(timeout: 30) {
                if packet.type == MQTTPacketType.pubAck { acknowledged.append(packet.packetID) }
            }
            XCTAssertEqual(acknowledged, [1, 2, 3])
            XCTAssertEqual(logs.count("mqtt disconnected"), 0, "the connection lasted through the wait")
            return pings
        }
        XCTAssertGreaterThanOrEqual(pings, 2)
        try await running.waitForMessages(3)
        try await running.stop()
    }

    /// The broker drops the connection while the intake is full: `mqtt_connected` says so at once,
    /// not only once the intake has room again.
    func testAConnectionLostWhileTheIntakeIsFullIsReportedAtOnce() async throws {
        let broker = try ScriptedBroker()
        let gate = GateBox()
        let running = RunningSource(configuration(broker), capacity: 1, consumerGate: gate)
        let payload = telemetry
        let intake = running.intake
        try await onThread {
            let connection = try broker.accept()
            try connection.handshake()
            try connection.grantSubscription()
            try connection.send((1...3).flatMap { C.publish(topic: "t/\($0)", payload: payload, qos: 1, packetID: UInt16($0)) })
            let deadline = Date().addingTimeInterval(30)
            while intake.count < 1 && Date() < deadline { usleep(10_000) }
            connection.hangUp()
        }
        try await eventually("mqtt_connected=0 while blocked") { running.source.metrics.connected == 0 }
        XCTAssertEqual(running.intake.count, 1, "still blocked on the full intake")
        XCTAssertEqual(running.logs.count("mqtt connection lost while the intake is full"), 1)
        gate.open()
        try await eventually("the disconnect handled once there is room") { running.logs.count("mqtt disconnected") == 1 }
        try await running.stop()
    }

    /// A 100 MB PUBLISH (MQTT 3.1.1, no Maximum Packet Size to announce) is read past without being
    /// kept: handed on cut short (so rejected as PAYLOAD_TOO_LARGE), acknowledged in order, counted,
    /// and the process's peak RSS stays near where it was.
    func testA100MBMessageDoesNotCostMemory() async throws {
        let broker = try ScriptedBroker()
        let configuration = configuration(broker, protocolVersion: .v311)
        let running = RunningSource(configuration)
        let payload = telemetry
        let hugeBytes = 100 << 20
        let peakBefore = try Self.peakRSSKiB()
        let acknowledged = try await onThread {
            let connection = try broker.accept()
            try connection.handshake(v5: false)
            try connection.grantSubscription(v5: false)
            try connection.send(C.publish(topic: "t/small", payload: payload, qos: 1, packetID: 1, v5: false))
            // The huge one, streamed in 1 MiB slices so the broker side holds no 100 MB either.
            let topic = C.string("t/huge")
            var header: [UInt8] = [0x32]
            MQTTPacketEncoder.appendVariableInteger(topic.count + 2 + hugeBytes, to: &header)
            try connection.send(header + topic + [0x00, 0x02])
            let slice = [UInt8](repeating: 0x41, count: 1 << 20)
            for _ in 0..<(hugeBytes >> 20) { try connection.send(slice) }
            try connection.send(C.publish(topic: "t/after", payload: payload, qos: 1, packetID: 3, v5: false))
            return try (0..<3).map { _ in try connection.expect(MQTTPacketType.pubAck).packetID }
        }
        XCTAssertEqual(acknowledged, [1, 2, 3])
        try await running.waitForMessages(3)
        let peakAfter = try Self.peakRSSKiB()
        try await running.stop()
        let messages = running.received.all
        XCTAssertEqual(messages.map(\.topic), ["t/small", "t/huge", "t/after"])
        XCTAssertEqual(messages[1].payload.count, configuration.maxPayloadBytes + 1, "kept just enough to be rejected")
        XCTAssertEqual(running.source.metrics.oversized, 1)
        XCTAssertEqual(running.logs.count("mqtt message too large: read past without keeping it"), 1)
        XCTAssertLessThan(peakAfter - peakBefore, 40 << 10, "peak RSS grew by \(peakAfter - peakBefore) KiB")
    }

    /// MQTT 5: the CONNECT announces Maximum Packet Size = MAX_PAYLOAD_BYTES + room for the topic and
    /// properties, so the broker drops larger messages instead of sending them.
    func testConnectAnnouncesMaximumPacketSizeAndSessionExpiry() async throws {
        let broker = try ScriptedBroker()
        var configuration = configuration(broker)
        configuration.maxPayloadBytes = 1000
        configuration.sessionExpirySeconds = 86_400
        let running = RunningSource(configuration)
        let connect = try await onThread { try broker.accept().expect(MQTTPacketType.connect) }
        try await running.stop()
        let limit = UInt32(1000 + MQTTConfiguration.packetOverheadBytes)
        let maximumPacketSize: [UInt8] = [0x27, UInt8(limit >> 24), UInt8(limit >> 16 & 0xFF), UInt8(limit >> 8 & 0xFF), UInt8(limit & 0xFF)]
        let sessionExpiry: [UInt8] = [0x11, 0x00, 0x01, 0x51, 0x80]
        let body = connect.body
        XCTAssertTrue(body.indices.contains { body[$0...].starts(with: maximumPacketSize) }, "\(body)")
        XCTAssertTrue(body.indices.contains { body[$0...].starts(with: sessionExpiry) }, "\(body)")
    }

    /// VmHWM of this process, in KiB.
    private static func peakRSSKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
            throw ScriptedBroker.Failure(description: "no VmHWM in /proc/self/status")
        }
        return kib
    }
}
