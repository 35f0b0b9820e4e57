import Foundation
import IngestCore
import TestSupport
import XCTest

/// ingestd as an operator runs it: the built binary, a real broker, a real InfluxDB.
final class EndToEndTests: XCTestCase {
    private var harness: IngestdHarness!

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount > 0 { print("---- ingestd log ----\n\(harness.log)") }
        await harness.tearDown()
    }

    /// 2,000 valid telemetry messages and 100 heartbeats from 100 devices, a flooding device, and about
    /// 500 invalid messages covering every reject reason a file registry can give: exactly the valid
    /// points reach InfluxDB, with their tags, fields and timestamps, and every reject is counted.
    func testValidPointsArriveAndEveryRejectIsCountedByReason() async throws {
        var fleet = Fleet()
        let devices = (1...100).map { String(format: "d%03d", $0) }
        for (index, device) in devices.enumerated() { fleet.add(device, site: "site-\(index % 3)") }
        fleet.add("flooder")
        fleet.add("revoked", status: "REVOKED")
        fleet.add("no-token", withToken: false)
        fleet.add("sited", site: "site-registry")
        fleet.add("tokenless")
        fleet.add("wrong-token")
        try fleet.write(to: harness.registryPath)

        // Burst 40 and a refill of one token per 100 s: the flooder's first 40 pass and exactly 10 do not.
        try await harness.startIngestd(["RATE_LIMIT_RPS": "0.01", "RATE_LIMIT_BURST": "40"])

        var published = 0
        for (index, device) in devices.enumerated() {
            let site = "site-\(index % 3)"
            var lines = (0..<20).map { Fleet.telemetry(device, seq: $0, site: site) }
            try await harness.broker.publish(topic: Fleet.topic(device), lines: lines)
            lines = [Fleet.heartbeat(device, seq: 20, site: site)]
            try await harness.broker.publish(topic: Fleet.topic(device, type: "heartbeat"), lines: lines)
            published += 21
        }
        try await harness.broker.publish(topic: Fleet.topic("flooder"), lines: (0..<50).map { Fleet.telemetry("flooder", seq: $0) })
        published += 50

        // Every reason but RATE_LIMITED (the flooder) and REGISTRY_UNAVAILABLE (a file cannot be down).
        let perReason = 29
        let valid = #"{"site_id":"site-1","seq":1,"provision_token":"token-X","metrics":{"v":1}}"#
        let manyMetrics = "{" + (0..<51).map { "\"m\($0)\":1" }.joined(separator: ",") + "}"
        let invalid: [(RejectReason, topic: String, payload: String)] = [
            (.payloadTooLarge, Fleet.topic("big"), #"{"site_id":"s","pad":""# + String(repeating: "x", count: 8200) + #""}"#),
            // Matches the subscription `tenant/+/device/+/+` (a `+` matches an empty level) but has no device id.
            (.badTopicFormat, "tenant/acme/device//telemetry", valid),
            (.unsupportedMsgType, Fleet.topic("d001", type: "config"), valid),
            (.badJSON, Fleet.topic("bad-json"), "{not json"),
            (.unsupportedEnvelopeVersion, Fleet.topic("v2"), #"{"version":"2","site_id":"s"}"#),
            (.tenantMismatchTopicVsPayload, Fleet.topic("tm"), #"{"tenant_id":"other","site_id":"s"}"#),
            (.missingSiteID, Fleet.topic("nosite"), #"{"seq":1}"#),
            (.badTimestamp, Fleet.topic("badts"), #"{"site_id":"s","ts":"yesterday"}"#),
            (.tooManyMetrics, Fleet.topic("many"), #"{"site_id":"s","metrics":"# + manyMetrics + "}"),
            (.metricKeyTooLong, Fleet.topic("longkey"), #"{"site_id":"s","metrics":{""# + String(repeating: "k", count: 129) + #"":1}}"#),
            (.metricKeyInvalid, Fleet.topic("emptykey"), #"{"site_id":"s","metrics":{"":1}}"#),
            (.unregisteredDevice, Fleet.topic("stranger"), valid),
            (.deviceRevoked, Fleet.topic("revoked"), valid.replacingOccurrences(of: "token-X", with: Fleet.token("revoked"))),
            (.siteMismatchRegistryVsPayload, Fleet.topic("sited"), valid.replacingOccurrences(of: "token-X", with: Fleet.token("sited"))),
            (.tokenNotSetInRegistry, Fleet.topic("no-token"), valid),
            (.tokenMissing, Fleet.topic("tokenless"), #"{"site_id":"site-1","seq":1}"#),
            (.tokenInvalid, Fleet.topic("wrong-token"), #"{"site_id":"site-1","seq":1,"provision_token":"wrong"}"#),
        ]
        for (_, topic, payload) in invalid {
            try await harness.broker.publish(topic: topic, lines: Array(repeating: payload, count: perReason))
            published += perReason
        }
        XCTAssertGreaterThanOrEqual(published - 2100 - 50, 490)

        try await harness.waitUntilReceived(published)
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)

        // Exactly the valid points: 100 devices × 20 telemetry + the flooder's first 40, and 100 heartbeats.
        let telemetryCount = try await harness.count("telemetry")
        XCTAssertEqual(telemetryCount, 2040)
        let heartbeatCount = try await harness.count("heartbeat")
        XCTAssertEqual(heartbeatCount, 100)
        let perDevice = try await harness.influx.query(
            "SELECT count(seq) FROM telemetry GROUP BY device_id", database: "telemetry_acme")
        XCTAssertEqual(Self.series(perDevice).count, 101)

        // One point read back whole: tags, fields and the timestamp from `ts`.
        let point = try await harness.influx.query(
            "SELECT * FROM telemetry WHERE device_id = 'd042' AND seq = 7", database: "telemetry_acme")
        let row = try XCTUnwrap(Self.rows(point).first, "\(point)")
        XCTAssertEqual(row["time"] as? String, "2026-02-09T09:15:30.045Z")
        XCTAssertEqual(row["site_id"] as? String, "site-2")
        XCTAssertEqual(row["temp_c"] as? Double, 21.75)
        XCTAssertEqual(row["door_open"] as? Bool, false)
        XCTAssertEqual(row["label"] as? String, "room 7")
        XCTAssertEqual((row["seq"] as? NSNumber)?.intValue, 7)

        // The final stats line counts every message and every reject by reason.
        let stats = try XCTUnwrap(harness.ingestd).latestStats()
        XCTAssertEqual(stats["final"], "1")
        XCTAssertEqual(stats["received"], "\(published)")
        XCTAssertEqual(stats["enqueued"], "2140")
        XCTAssertEqual(stats["dropped"], "0")
        XCTAssertEqual(stats["rejected"], "\(invalid.count * perReason + 10)")
        XCTAssertEqual(stats["rejected_RATE_LIMITED"], "10")
        for (reason, _, _) in invalid {
            XCTAssertEqual(stats["rejected_\(reason.rawValue)"], "\(perReason)", reason.rawValue)
        }
        XCTAssertNil(stats["rejected_REGISTRY_UNAVAILABLE"])
        XCTAssertEqual(stats["influx_buffer"], "0")
    }

    /// SIGTERM right after a burst, with a flush interval far longer than the test: everything that
    /// was accepted is written before ingestd exits 0.
    func testSigtermDrainsEveryBufferBeforeExit() async throws {
        var fleet = Fleet()
        fleet.add("d1")
        fleet.add("d2")
        try fleet.write(to: harness.registryPath)
        try await harness.startIngestd(["INFLUX_FLUSH_INTERVAL_MS": "3600000", "INFLUX_BATCH_SIZE": "100000"])

        for device in ["d1", "d2"] {
            try await harness.broker.publish(topic: Fleet.topic(device), lines: (0..<500).map { Fleet.telemetry(device, seq: $0) })
        }
        try await harness.waitUntilReceived(1000)
        let before = try await harness.influx.query("SHOW DATABASES")
        XCTAssertFalse("\(before)".contains("telemetry_acme"), "nothing should have been flushed yet: \(before)")

        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
        let count = try await harness.count()
        XCTAssertEqual(count, 1000)
        XCTAssertTrue(harness.log.contains("msg=\"pipeline drained\""))
    }

    /// The broker restarts mid-stream: with QoS 1 and a persistent session, ingestd reconnects and
    /// nothing published before, during or after the restart is lost.
    func testBrokerRestartMidStreamLosesNothing() async throws {
        var fleet = Fleet()
        fleet.add("d1")
        try fleet.write(to: harness.registryPath)
        let ingestd = try await harness.startIngestd()

        try await harness.broker.publish(topic: Fleet.topic("d1"), lines: (0..<300).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.waitUntilReceived(300)

        try await harness.broker.restart()
        // Published while ingestd may still be reconnecting: the broker queues them for its session.
        try await harness.broker.publish(topic: Fleet.topic("d1"), lines: (300..<600).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.waitUntilReceived(600)
        try await eventually("reconnect counted", timeout: 30) {
            Int(ingestd.latestStats()["mqtt_reconnects"] ?? "0") ?? 0 >= 1
        }

        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
        let count = try await harness.count()
        XCTAssertEqual(count, 600)
    }

    /// A device revoked in the registry file is refused once ingestd has noticed the change; SIGHUP
    /// reloads at once.
    func testRevokedDeviceIsRefusedAfterTheRegistryReloads() async throws {
        var fleet = Fleet()
        fleet.add("d1")
        try fleet.write(to: harness.registryPath)
        let ingestd = try await harness.startIngestd()

        try await harness.broker.publish(topic: Fleet.topic("d1"), lines: (0..<5).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.waitUntilReceived(5)
        XCTAssertEqual(ingestd.latestStats()["enqueued"], "5")

        var revoked = Fleet()
        revoked.add("d1", status: "REVOKED")
        try revoked.write(to: harness.registryPath)
        try await eventually("registry reloaded after the file changed", timeout: 30) {
            ingestd.logLines(message: "registry reloaded").count >= 1
        }
        try await harness.broker.publish(topic: Fleet.topic("d1"), lines: (5..<10).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.waitUntilReceived(10)
        XCTAssertEqual(ingestd.latestStats()["rejected_DEVICE_REVOKED"], "5")

        ingestd.process.signal(SIGHUP)
        try await eventually("registry reloaded on SIGHUP", timeout: 30) {
            ingestd.logLines(message: "registry reloaded").contains { $0.contains("trigger=SIGHUP") }
        }
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
        let count = try await harness.count()
        XCTAssertEqual(count, 5)
    }

    // MARK: - Reading InfluxDB's JSON

    static func series(_ response: [String: Any]) -> [[String: Any]] {
        let results = response["results"] as? [[String: Any]] ?? []
        return results.first?["series"] as? [[String: Any]] ?? []
    }

    static func rows(_ response: [String: Any]) -> [[String: Any]] {
        series(response).flatMap { series -> [[String: Any]] in
            let columns = series["columns"] as? [String] ?? []
            let values = series["values"] as? [[Any]] ?? []
            return values.map { Dictionary(uniqueKeysWithValues: zip(columns, $0)) }
        }
    }
}
