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
}
