#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import IngestCore
import Synchronization
import TestSupport
import XCTest
@testable import IngestService

/// DURABILITY=journal/broker with the native client against `ScriptedBroker`: a PUBACK leaves only
/// once the relay released its message, in arrival order, and never on a later connection than the
/// one that delivered it (README "Durability modes"). The test plays the pipeline's part.
final class NativeMQTTDeferredAcknowledgementTests: XCTestCase {
    private typealias C = ScriptedConnection

    func testPubAcksWaitForTheRelayAndStayWithTheirConnection() async throws {
        let broker = try ScriptedBroker()
        var configuration = MQTTConfiguration(host: "127.0.0.1", port: broker.port, topics: ["t/#"], qos: 1,
                                              clientID: "deferred", reconnectDelayMin: .milliseconds(20),
                                              reconnectDelayMax: .milliseconds(50))
        configuration.heartbeatTimeoutSeconds = 0
        let relay = AcknowledgementRelay()
        let running = RunningSource(configuration, acknowledgements: relay)
        let step = Atomic<Int>(0)
        let payload = Array(#"{"v":1}"#.utf8)

        let script = Task {
            try await onThread { () throws -> [[UInt16]] in
                /// Waits (bounded) for the test to reach `value`.
                func waitForStep(_ value: Int) throws {
                    let deadline = Date().addingTimeInterval(30)
                    while step.load(ordering: .acquiring) < value {
                        guard Date() < deadline else { throw ScriptedBroker.Failure(description: "step \(value) never came") }
                        usleep(2_000)
                    }
                }
                /// PUBACKs until nothing more comes for a moment.
                func pubAcks(_ connection: ScriptedConnection) throws -> [UInt16] {
                    var ids: [UInt16] = []
                    while let packet = try? connection.read(timeout: 0.3) {
                        guard packet.type == MQTTPacketType.pubAck else { continue }
                        ids.append(packet.packetID)
                    }
                    return ids
                }
                var connection = try broker.accept()
                try connection.handshake()
                try connection.grantSubscription()
                try connection.send(C.publish(topic: "t/1", payload: payload, qos: 1, packetID: 1)
                    + C.publish(topic: "t/2", payload: payload, qos: 1, packetID: 2)
                    + C.publish(topic: "t/3", payload: payload, qos: 1, packetID: 3))
                try waitForStep(1)  // handed on, nothing released
                let beforeRelease = try pubAcks(connection)
                step.store(2, ordering: .releasing)
                try waitForStep(3)  // messages 0 and 1 released
                let afterRelease = try pubAcks(connection)
                connection.hangUp()  // message 2 (t/3) stays unacknowledged

                connection = try broker.accept()
                try connection.handshake(sessionPresent: true)
                try connection.grantSubscription()
                try connection.send(C.publish(topic: "t/3", payload: payload, qos: 1, packetID: 3, duplicate: true)
                    + C.publish(topic: "t/4", payload: payload, qos: 1, packetID: 4))
                try waitForStep(4)  // the old connection's message 2 released
                let oldOnNew = try pubAcks(connection)
                step.store(5, ordering: .releasing)
                try waitForStep(6)  // the redelivery and t/4 released
                let new = try pubAcks(connection)
                step.store(7, ordering: .releasing)
                return [beforeRelease, afterRelease, oldOnNew, new]
            }
        }

        try await running.waitForMessages(3)
        step.store(1, ordering: .releasing)
        try await eventually("the broker looked for PUBACKs") { step.load(ordering: .acquiring) == 2 }
        // The pipeline's part: t/1 and t/2 in a round numbered up to 10, t/3 up to 20; safe up to 10.
        relay.decide([0, 1], .safe(upTo: 10))
        relay.decide([2], .safe(upTo: 20))
        relay.acknowledge(upTo: 10)
        XCTAssertEqual(relay.released, 2)
        step.store(3, ordering: .releasing)

        // The connection dropped; t/3 again and t/4 arrive on the next one.
        try await running.waitForMessages(5)
        relay.acknowledge(upTo: 20)  // the first t/3: too late for its connection
        step.store(4, ordering: .releasing)
        try await eventually("the broker looked again") { step.load(ordering: .acquiring) == 5 }
        relay.decide([3, 4], .nothing)
        step.store(6, ordering: .releasing)

        let seen = try await script.value
        XCTAssertEqual(seen[0], [], "nothing acknowledged before the relay released it")
        XCTAssertEqual(seen[1], [1, 2], "released in arrival order; t/3 not yet safe")
        XCTAssertEqual(seen[2], [], "a message of the lost connection is not acknowledged on the new one")
        XCTAssertEqual(seen[3], [3, 4])
        try await eventually("the gauge") { running.source.metrics.unacknowledged == 0 }
        try await running.stop()
        XCTAssertEqual(running.received.all.map(\.topic), ["t/1", "t/2", "t/3", "t/3", "t/4"])
    }
}
