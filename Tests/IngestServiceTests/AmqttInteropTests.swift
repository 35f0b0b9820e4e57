import IngestCore
import TestSupport
import XCTest
@testable import IngestService

/// The interoperability scenarios against amqtt (PyPI; MQTT 3.1.1, QoS 2, sessions in memory only).
final class AmqttInteropTests: MQTTBrokerInteropTests {
    override func makeBroker() async throws -> any MQTTTestBroker { try await AmqttServer.start() }

    func testDeliveryPersistentSessionAndQoS2() async throws {
        let broker = try await startBroker()
        for client in MQTTClientKind.allCases {
            try await checkDeliveryAndPersistentSession(broker, client: client)
        }
        try await checkQoS2Subscription(broker, client: .native)
    }

    /// amqtt forgets the session on restart: the client must subscribe again by itself.
    func testReconnectAfterBrokerRestartSubscribesAgain() async throws {
        try await checkReconnectAfterBrokerRestart(try await startBroker(), client: .native)
    }

    /// amqtt 0.12 never answers an MQTT 5 CONNECT: after the native client's 30 s CONNACK timeout the
    /// attempt is logged as failed with a hint to set 3.1.1, and ingestd keeps retrying.
    func testMQTT5ConnectUnansweredIsAFailedAttemptWithAHint() async throws {
        let broker = try await startBroker()
        let running = RunningSource(makeConfiguration(broker, client: .native, version: .v5))
        try await eventually("the failed attempt logged", timeout: 90) { running.logs.count("mqtt connect failed") >= 1 }
        try await running.stop()
        let failure = try XCTUnwrap(running.logs.with("mqtt connect failed").first)
        XCTAssertTrue(failure.metadata["hint"]?.contains("MQTT_PROTOCOL=3.1.1") ?? false, "\(failure.metadata)")
        XCTAssertEqual(running.logs.count("mqtt connected"), 0)
        XCTAssertEqual(running.source.metrics.connected, 0)
    }
}
