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
        for client in MQTTClientKind.allCases {
            try await checkDeliveryAndPersistentSession(broker, client: client)
        }
        try await checkQoS2Subscription(broker, client: .native)
    }

    func testReconnectAfterBrokerRestartKeepsTheSession() async throws {
        try await checkReconnectAfterBrokerRestart(try await startBroker(), client: .native)
    }
}
