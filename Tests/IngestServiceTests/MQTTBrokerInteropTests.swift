import IngestCore
import Foundation
import TestSupport
import XCTest
@testable import IngestService

/// The same MQTT source scenarios against every broker implementation the suite starts: mosquitto,
/// RabbitMQ's MQTT plugin and amqtt (README "Tests"). Each subclass names its broker; what a broker
/// cannot do is read from its `MQTTBrokerCapabilities` and checked as such (RabbitMQ grants QoS 1 for
/// a QoS 2 subscription; amqtt forgets sessions on restart), never skipped silently.
///
/// The scenario bodies live here, the test methods in the subclasses: test discovery on Linux lists
/// only the methods a class declares itself, and this class must run none on its own.
class MQTTBrokerInteropTests: XCTestCase {
    private var brokers: [any MQTTTestBroker] = []

    /// Starts the broker under test; subclasses override.
    func makeBroker() async throws -> any MQTTTestBroker {
        fatalError("a subclass names the broker")
    }

    override func tearDown() async throws {
        for broker in brokers { await broker.remove() }
        brokers = []
    }

    /// Starts the broker under test; `tearDown` removes it. The scenarios below share one broker per
    /// test (each run uses a client id of its own), because RabbitMQ takes seconds to start.
    func startBroker() async throws -> any MQTTTestBroker {
        let broker = try await makeBroker()
        brokers.append(broker)
        return broker
    }

    /// The newest MQTT version the broker speaks.
    func version(for broker: any MQTTTestBroker) -> MQTTProtocolVersion {
        broker.capabilities.mqtt5 ? .v5 : .v311
    }

    func makeConfiguration(
        _ broker: any MQTTTestBroker, client: MQTTClientKind, qos: Int = 1, version: MQTTProtocolVersion? = nil
    ) -> MQTTConfiguration {
        var configuration = testConfiguration(
            broker, topics: ["tenant/+/device/+/+", "alerts/#"], protocolVersion: version ?? self.version(for: broker)
        )
        configuration.client = client
        configuration.qos = qos
        // MAX_PAYLOAD_BYTES above the 150 KB payload: a larger one is dropped by the broker (MQTT 5
        // Maximum Packet Size) or cut short by the native client (README "MQTT clients").
        configuration.maxPayloadBytes = 256 * 1024
        return configuration
    }

    // MARK: - Scenarios

    /// QoS 1 messages of every shape (JSON, binary, empty, larger than the native client's 64 KiB read
    /// buffer) from two filters arrive intact; then, with ingestd stopped, the broker keeps the
    /// persistent session's messages and delivers them once and in order to the next run.
    func checkDeliveryAndPersistentSession(
        _ broker: any MQTTTestBroker, client: MQTTClientKind, version: MQTTProtocolVersion? = nil
    ) async throws {
        let configuration = makeConfiguration(broker, client: client, version: version)
        let context = "\(broker.name), \(client), MQTT \(configuration.protocolVersion)"
        let first = RunningSource(configuration)
        try await first.waitUntilSubscribed()
        XCTAssertEqual(first.logs.with("mqtt connected").first?.metadata["session_present"], "false", context)

        let json = #"{"version":"1","ts":"2026-02-09T09:15:23.045Z","site_id":"s1","metrics":{"temp_c":21.5}}"#
        let binary: [UInt8] = [0x00, 0x01, 0xFF, 0xFE, 0x0A, 0x0D, 0x00, 0x80, 0x7F]
        let large = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await broker.publish(topic: "tenant/t1/device/d1/telemetry", payload: json)
        try await broker.publish(topic: "not/subscribed", payload: "ignored")
        try await broker.publish(topic: "alerts/site/9", payload: binary)
        try await broker.publish(topic: "tenant/t2/device/d-é/heartbeat", payload: "")
        try await broker.publish(topic: "tenant/t3/device/big/telemetry", payload: large)
        try await first.waitForMessages(4)
        try await first.stop()
        let byTopic = Dictionary(grouping: first.received.all, by: \.topic)
        XCTAssertEqual(first.received.count, 4, "\(context): \(first.received.all.map(\.topic))")
        XCTAssertEqual(byTopic["tenant/t1/device/d1/telemetry"]?.first?.payload, Array(json.utf8), context)
        XCTAssertEqual(byTopic["alerts/site/9"]?.first?.payload, binary, context)
        XCTAssertEqual(byTopic["tenant/t2/device/d-é/heartbeat"]?.first?.payload, [], context)
        XCTAssertEqual(byTopic["tenant/t3/device/big/telemetry"]?.first?.payload, large, context)

        let topic = "tenant/t1/device/d1/telemetry"
        let lines = (0..<50).map { "m\($0)" }
        try await broker.publish(topic: topic, lines: lines, qos: 1)
        let second = RunningSource(configuration)
        try await second.waitForMessages(lines.count)
        try await second.waitUntilSubscribed()
        try await second.stop()
        XCTAssertEqual(second.received.payloads(topic: topic), lines, "\(context): published while down, once, in order")
        XCTAssertEqual(second.logs.with("mqtt connected").first?.metadata["session_present"], "true", context)
    }

    /// A QoS 2 subscription: the broker grants what it can (its `maximumQoS`), and a backlog published
    /// while ingestd was stopped plus live messages arrive once each, in order.
    func checkQoS2Subscription(_ broker: any MQTTTestBroker, client: MQTTClientKind) async throws {
        let configuration = makeConfiguration(broker, client: client, qos: 2)
        let context = "\(broker.name), \(client)"
        let granted = broker.capabilities.maximumQoS
        let first = RunningSource(configuration)
        try await first.waitUntilSubscribed()
        try await first.stop()
        // A lower grant than asked is a warning of its own (README "MQTT clients").
        let grant = granted < 2 ? "mqtt subscription granted with a lower QoS" : "mqtt subscribed"
        XCTAssertEqual(first.logs.with(grant).first?.metadata["qos"], "\(granted)", "\(context): granted QoS")

        let topic = "tenant/t1/device/d1/telemetry"
        let backlog = (0..<100).map { "b\($0)" }
        try await broker.publish(topic: topic, lines: backlog, qos: granted)
        let second = RunningSource(configuration)
        try await second.waitForMessages(backlog.count)
        try await second.waitUntilSubscribed()
        let live = (0..<100).map { "l\($0)" }
        try await broker.publish(topic: topic, lines: live, qos: granted)
        try await second.waitForMessages(backlog.count + live.count)
        try await second.stop()
        XCTAssertEqual(second.received.payloads(topic: topic), backlog + live, context)
        XCTAssertEqual(second.source.metrics.reconnects, 0, context)
    }

    /// The broker goes away and comes back on the same port: the client reconnects, subscribes again
    /// when the broker forgot the session, and receives what is published after.
    func checkReconnectAfterBrokerRestart(_ broker: any MQTTTestBroker, client: MQTTClientKind) async throws {
        let configuration = makeConfiguration(broker, client: client)
        let context = "\(broker.name), \(client)"
        let running = RunningSource(configuration)
        try await running.waitUntilSubscribed()
        let topic = "tenant/t1/device/d1/telemetry"
        try await broker.publish(topic: topic, payload: "before")
        try await running.waitForMessages(1)

        try await broker.restart()
        try await eventually("reconnected to \(broker.name)", timeout: 120) {
            running.source.metrics.reconnects >= 1 && running.source.metrics.connected == 1
        }
        try await running.waitUntilSubscribed(times: 2, timeout: 60)
        try await broker.publish(topic: topic, lines: ["after-1", "after-2", "after-3"])
        try await running.waitForMessages(4)
        try await running.stop()

        XCTAssertEqual(running.received.payloads(topic: topic), ["before", "after-1", "after-2", "after-3"], context)
        XCTAssertGreaterThanOrEqual(running.logs.count("mqtt disconnected"), 1, context)
        XCTAssertEqual(running.logs.with("mqtt connected").last?.metadata["session_present"],
                       "\(broker.capabilities.keepsSessionsAcrossRestart)", "\(context): session after the restart")
    }
}
