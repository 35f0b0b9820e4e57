import Foundation
import TestSupport
import XCTest

/// HEALTH_LISTEN on the built binary: /metrics parses as Prometheus text and its counters equal the
/// stats line's, /readyz turns 503 while the broker is down, `ingestd healthcheck` exits 0 or 1.
final class HealthTests: XCTestCase {
    private var harness: IngestdHarness!
    private var address = ""
    /// The stats line's keys and how /metrics names them (README "Health and metrics"), written out
    /// here rather than taken from the exporter, so a renamed or dropped metric fails this test.
    private let counterKeys = ["received", "enqueued", "dropped", "rejected", "skipped_fields", "influx_batch_ok",
                               "influx_batch_err", "influx_flushes", "retries", "auth_cache_hits", "auth_cache_misses",
                               "mqtt_reconnects"]
    private let gaugeKeys = ["influx_buffer", "influx_up", "spool_batches", "auth_cache_size", "mqtt_connected",
                             "registry_up", "registry_lookups_waiting", "registry_messages_waiting", "registry_lookup_ms"]

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
        address = "127.0.0.1:\(FreePort.next())"
        var fleet = Fleet()
        fleet.add("d1")
        fleet.add("d2")
        try fleet.write(to: harness.registryPath)
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount > 0 { print("---- ingestd log ----\n\(harness.log)") }
        await harness.tearDown()
    }

    private struct Answer {
        var status: Int
        var body: String
    }

    /// GET with the curl command (an independent HTTP client).
    private func get(_ path: String) async throws -> Answer {
        let directory = try TemporaryDirectory(prefix: "curl")
        defer { directory.remove() }
        guard let curl = ExecutableLocator.find("curl") else { throw HarnessError("curl not found") }
        let child = try ChildProcess(name: "curl", executable: curl,
                                     arguments: ["-s", "-m", "5", "-o", directory.file("body"), "-w", "%{http_code}", "http://\(address)\(path)"],
                                     logPath: directory.file("status"))
        _ = try await child.waitForExit(timeout: 30)
        let body = (try? String(contentsOfFile: directory.file("body"), encoding: .utf8)) ?? ""
        return Answer(status: Int(child.log().trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, body: body)
    }

    func testMetricsMatchTheStatsLine() async throws {
        let process = try await harness.startIngestd(["HEALTH_LISTEN": address])
        try await harness.broker.publish(topic: Fleet.topic("d1"), lines: (0..<30).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.broker.publish(topic: Fleet.topic("d2"), lines: (0..<12).map { Fleet.telemetry("d2", seq: $0) })
        try await harness.broker.publish(topic: Fleet.topic("stranger"), lines: (0..<5).map { Fleet.telemetry("stranger", seq: $0) })
        try await harness.broker.publish(topic: Fleet.topic("d1"), lines: Array(repeating: "{not json", count: 3))
        try await harness.waitUntilReceived(50)
        try await eventually("everything written") { process.latestStats()["influx_buffer"] == "0" && harness.log.contains("influx_batch_ok=") }

        // The stats line is written every second: scrape until one scrape matches the line after it.
        var mismatches: [String] = []
        try await eventually("a scrape that matches the stats line", timeout: 30, every: 0.5) {
            let parsed = try await PrometheusText.parse(try await get("/metrics").body)
            let stats = process.latestStats()
            mismatches = []
            for key in counterKeys where parsed.samples["ingestd_\(key)_total"] != Double(stats[key] ?? "x") {
                mismatches.append("\(key): metrics \(parsed.samples["ingestd_\(key)_total"].map { "\($0)" } ?? "-") stats \(stats[key] ?? "-")")
            }
            for key in gaugeKeys where parsed.samples["ingestd_\(key)"] != Double(stats[key] ?? "x") {
                mismatches.append("\(key): metrics \(parsed.samples["ingestd_\(key)"].map { "\($0)" } ?? "-") stats \(stats[key] ?? "-")")
            }
            for (key, value) in stats where key.hasPrefix("rejected_") {
                let reason = String(key.dropFirst("rejected_".count))
                if parsed.samples["ingestd_rejected_reason_total{reason=\"\(reason)\"}"] != Double(value) { mismatches.append(key) }
            }
            return mismatches.isEmpty && stats["received"] == "50"
        }
        XCTAssertEqual(mismatches, [])
        let parsed = try await PrometheusText.parse(try await get("/metrics").body)
        XCTAssertEqual(parsed.samples["ingestd_received_total"], 50)
        XCTAssertEqual(parsed.samples["ingestd_rejected_reason_total{reason=\"UNREGISTERED_DEVICE\"}"], 5)
        XCTAssertEqual(parsed.samples["ingestd_rejected_reason_total{reason=\"BAD_JSON\"}"], 3)
        XCTAssertEqual(parsed.families["ingestd_influx_write_duration_seconds"], "histogram")
        XCTAssertEqual(parsed.families["ingestd_influx_batch_lines"], "histogram")
        XCTAssertEqual(parsed.samples["ingestd_influx_batch_lines_sum"], 42, "every written line is in a batch")
        XCTAssertEqual(parsed.samples["ingestd_influx_write_duration_seconds_count"], parsed.samples["ingestd_influx_batch_ok_total"])
        let value1 = try await harness.count()
        XCTAssertEqual(value1, 42, "the points of d1 and d2")
        let value2 = try await harness.stopIngestd()
        XCTAssertEqual(value2, 0)
    }

    func testReadyzFollowsTheBrokerAndHealthcheckExitsAccordingly() async throws {
        try await harness.startIngestd(["HEALTH_LISTEN": address])
        let alive = try await get("/healthz")
        XCTAssertEqual(alive.status, 200)
        try await eventually("ready") { try await get("/readyz").status == 200 }
        var check = try await IngestdProcess.runToCompletion(arguments: ["healthcheck"], environment: ["HEALTH_LISTEN": address])
        XCTAssertEqual(check.code, 0, check.output)

        await harness.broker.stop()
        try await eventually("not ready while the broker is down", timeout: 60) { try await get("/readyz").status == 503 }
        let notReady = try await get("/readyz")
        XCTAssertTrue(notReady.body.contains("mqtt_connected 0"), notReady.body)
        let stillAlive = try await get("/healthz")
        XCTAssertEqual(stillAlive.status, 200, "still alive")
        check = try await IngestdProcess.runToCompletion(arguments: ["healthcheck", "--address", address], environment: [:])
        XCTAssertEqual(check.code, 1, check.output)
        XCTAssertTrue(check.output.contains("503"), check.output)

        try await harness.broker.launch()
        try await eventually("ready again after the broker is back", timeout: 90) { try await get("/readyz").status == 200 }
        let value3 = try await harness.stopIngestd()
        XCTAssertEqual(value3, 0)
    }

    func testHealthcheckWithoutAServerOrAddressFails() async throws {
        var check = try await IngestdProcess.runToCompletion(arguments: ["healthcheck"], environment: [:])
        XCTAssertEqual(check.code, 1)
        XCTAssertTrue(check.output.contains("HEALTH_LISTEN"), check.output)
        check = try await IngestdProcess.runToCompletion(arguments: ["healthcheck"], environment: ["HEALTH_LISTEN": address])
        XCTAssertEqual(check.code, 1, "nothing listens there")
    }

    func testABadHealthListenStopsStartWithExit78() async throws {
        let result = try await IngestdProcess.runToCompletion(arguments: ["check-config"],
                                                              environment: harness.environment(["HEALTH_LISTEN": "9464"]))
        XCTAssertEqual(result.code, 78)
        XCTAssertTrue(result.output.contains("HEALTH_LISTEN"), result.output)
    }
}
