import IngestCore
import TestSupport
import XCTest
@testable import IngestService

/// The interoperability scenarios against RabbitMQ's MQTT plugin (Debian's 3.10: MQTT 3.1.1 only,
/// QoS 2 downgraded to 1, sessions are durable queues that survive a restart).
final class RabbitMQInteropTests: MQTTBrokerInteropTests {
    override func makeBroker() async throws -> any MQTTTestBroker { try await RabbitMQServer.start() }

    /// One node for every scenario that does not restart it: a node takes seconds to start.
    func testDeliveryPersistentSessionAndQoS2DowngradedTo1() async throws {
        let broker = try await startBroker()
        try await checkMQTT5IsNotSpoken(broker)
        for client in MQTTClientKind.allCases {
            try await checkDeliveryAndPersistentSession(broker, client: client)
        }
        try await checkQoS2Subscription(broker, client: .native)
    }

    func testReconnectAfterBrokerRestartKeepsTheSession() async throws {
        try await checkReconnectAfterBrokerRestart(try await startBroker(), client: .native)
    }

    /// RabbitMQ 3.10 closes an MQTT 5 CONNECT without a CONNACK: with the default `MQTT_PROTOCOL=5` the
    /// native client logs failed attempts with a hint to set 3.1.1 and keeps retrying, never "connected"
    /// (README "MQTT clients").
    private func checkMQTT5IsNotSpoken(_ broker: any MQTTTestBroker) async throws {
        let running = RunningSource(makeConfiguration(broker, client: .native, version: .v5))
        try await eventually("two failed MQTT 5 attempts logged", timeout: 60) { running.logs.count("mqtt connect failed") >= 2 }
        try await running.stop()
        let failure = try XCTUnwrap(running.logs.with("mqtt connect failed").first)
        XCTAssertEqual(failure.metadata["error"], "connection closed by the broker")
        XCTAssertTrue(failure.metadata["hint"]?.contains("MQTT_PROTOCOL=3.1.1") ?? false, "\(failure.metadata)")
        XCTAssertEqual(running.logs.count("mqtt disconnected"), 0, "never connected, so never disconnected")
        XCTAssertEqual(running.logs.count("mqtt connected"), 0)
        XCTAssertEqual(running.source.metrics.connected, 0)
    }
}
