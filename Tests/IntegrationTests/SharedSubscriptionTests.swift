import Foundation
import TestSupport
import XCTest

/// Scale-out: two ingestd instances in one MQTT_SHARED_GROUP split one stream through the broker's
/// shared subscription ($share/<group>/<topic>): every message is written exactly once, and both
/// instances did part of the work.
final class SharedSubscriptionTests: XCTestCase {
    private var harness: IngestdHarness!
    private var second: IngestdProcess?

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount > 0 {
            print("---- ingestd A ----\n\(harness.log)\n---- ingestd B ----\n\(second?.process.log() ?? "")")
        }
        if let second { await second.process.stop(grace: 30) }
        await harness.tearDown()
    }

    func testTwoInstancesSplitTheStreamAndWriteEveryMessageOnce() async throws {
        var fleet = Fleet()
        let devices = (1...20).map { "d\($0)" }
        for device in devices { fleet.add(device) }
        try fleet.write(to: harness.registryPath)

        let a = try await harness.startIngestd(["MQTT_SHARED_GROUP": "ingest", "MQTT_CLIENT_ID": "ingestd-a"])
        let b = try IngestdProcess(
            // Each instance has its own client id and its own spool (a shared SPOOL_DIR is refused: exit 75).
            environment: harness.environment([
                "MQTT_SHARED_GROUP": "ingest", "MQTT_CLIENT_ID": "ingestd-b", "SPOOL_DIR": harness.directory.file("spool-b"),
            ]),
            logPath: harness.directory.file("ingestd-b.log"))
        second = b
        try await eventually("ingestd B subscribed", timeout: 60) { b.process.log().contains("msg=\"mqtt subscribed\"") }
        XCTAssertTrue(a.process.log().contains("$share/ingest/tenant/+/device/+/+"), "A subscribed through the group")
        XCTAssertTrue(b.process.log().contains("$share/ingest/tenant/+/device/+/+"), "B subscribed through the group")

        let perDevice = 25
        for device in devices {
            try await harness.broker.publish(topic: Fleet.topic(device), lines: (0..<perDevice).map { Fleet.telemetry(device, seq: $0) })
        }
        let total = devices.count * perDevice

        func received(_ p: IngestdProcess) -> Int { Int(p.latestStats()["received"] ?? "0") ?? 0 }
        try await eventually("both instances together received \(total)", timeout: 120) { received(a) + received(b) >= total }

        // SIGTERM both: each drains what it took.
        a.process.signal(SIGTERM)
        b.process.signal(SIGTERM)
        let value1 = try await a.process.waitForExit(timeout: 90)
        XCTAssertEqual(value1, 0)
        let value2 = try await b.process.waitForExit(timeout: 90)
        XCTAssertEqual(value2, 0)

        let statsA = a.latestStats(), statsB = b.latestStats()
        let enqueuedA = Int(statsA["enqueued"] ?? "0") ?? 0, enqueuedB = Int(statsB["enqueued"] ?? "0") ?? 0
        XCTAssertGreaterThan(enqueuedA, 0, "instance A did work")
        XCTAssertGreaterThan(enqueuedB, 0, "instance B did work")
        XCTAssertEqual(enqueuedA + enqueuedB, total, "every message taken exactly once across the group")
        XCTAssertEqual(Int(statsA["rejected"] ?? "-1"), 0)
        XCTAssertEqual(Int(statsB["rejected"] ?? "-1"), 0)
        let value3 = try await harness.count()
        XCTAssertEqual(value3, total, "every point in InfluxDB")
    }
}
