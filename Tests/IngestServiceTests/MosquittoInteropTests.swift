import IngestCore
import TestSupport
import XCTest
@testable import IngestService

/// The interoperability scenarios against mosquitto, the broker the rest of the suite uses: MQTT 5 and
/// 3.1.1, QoS 2 granted as asked, sessions kept across a restart.
final class MosquittoInteropTests: MQTTBrokerInteropTests {
    override func makeBroker() async throws -> any MQTTTestBroker { try await MosquittoServer.start() }

    func testDeliveryAndPersistentSession() async throws {
        let broker = try await startBroker()
        for client in MQTTClientKind.allCases {
            for version in MQTTProtocolVersion.allCases {
                try await checkDeliveryAndPersistentSession(broker, client: client, version: version)
            }
        }
    }

    func testQoS2Subscription() async throws {
        try await checkQoS2Subscription(try await startBroker(), client: .native)
    }

    func testReconnectAfterBrokerRestart() async throws {
        try await checkReconnectAfterBrokerRestart(try await startBroker(), client: .native)
    }
}
