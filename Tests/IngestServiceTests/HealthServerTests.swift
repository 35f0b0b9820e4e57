import Foundation
import IngestCore
@testable import IngestService
import Logging
import ServiceLifecycle
import Synchronization
import TestSupport
import XCTest

final class HealthServerTests: XCTestCase {
    private let logger = Logger(label: "test")

    private func routes(ready: Bool, metrics: String = "") -> HealthRoutes {
        HealthRoutes(readiness: { ReadinessReport(mqttConnected: ready, influxWritable: true, spoolAccepting: false) },
                     metrics: { metrics })
    }

    func testRoutes() {
        XCTAssertEqual(routes(ready: true).respond(method: "GET", uri: "/healthz").status, 200)
        XCTAssertEqual(routes(ready: false).respond(method: "GET", uri: "/healthz").status, 200, "alive even when not ready")
        XCTAssertEqual(routes(ready: true).respond(method: "GET", uri: "/readyz").status, 200)
        let notReady = routes(ready: false).respond(method: "GET", uri: "/readyz?verbose=1")
        XCTAssertEqual(notReady.status, 503)
        XCTAssertEqual(notReady.body, "not ready\nmqtt_connected 0\ninflux_writable 1\nspool_accepting 0\n")
        let metrics = routes(ready: true, metrics: "x 1\n").respond(method: "GET", uri: "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertEqual(metrics.body, "x 1\n")
        XCTAssertTrue(metrics.contentType.hasPrefix("text/plain; version=0.0.4"))
        XCTAssertEqual(routes(ready: true).respond(method: "GET", uri: "/nope").status, 404)
        XCTAssertEqual(routes(ready: true).respond(method: "POST", uri: "/healthz").status, 405)
    }

    func testReadinessNeedsMQTTAndAWayToStoreBatches() {
        XCTAssertTrue(ReadinessReport(mqttConnected: true, influxWritable: true, spoolAccepting: false).isReady)
        XCTAssertTrue(ReadinessReport(mqttConnected: true, influxWritable: false, spoolAccepting: true).isReady)
        XCTAssertFalse(ReadinessReport(mqttConnected: true, influxWritable: false, spoolAccepting: false).isReady)
        XCTAssertFalse(ReadinessReport(mqttConnected: false, influxWritable: true, spoolAccepting: true).isReady)
    }

    func testServesOverHTTPAndTheProbeReadsIt() async throws {
        let ready = Atomic<Bool>(false)
        let address = Settings.ListenAddress(host: "127.0.0.1", port: Int(FreePort.next()))
        let server = HealthServer(
            address: address,
            routes: HealthRoutes(
                readiness: { ReadinessReport(mqttConnected: ready.load(ordering: .relaxed), influxWritable: true, spoolAccepting: false) },
                metrics: { "ingestd_up 1\n" }),
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let run = Task { try await group.run() }

        try await eventually("the health server listens") { FreePort.isListening(UInt16(address.port)) }
        XCTAssertEqual(try HealthProbe.get(address, path: "/healthz", timeoutSeconds: 5).get().status, 200)
        XCTAssertEqual(try HealthProbe.get(address, path: "/readyz", timeoutSeconds: 5).get().status, 503)
        ready.store(true, ordering: .relaxed)
        let answer = try HealthProbe.get(address, path: "/readyz", timeoutSeconds: 5).get()
        XCTAssertEqual(answer.status, 200)
        XCTAssertTrue(answer.body.hasPrefix("ready\n"), answer.body)
        XCTAssertEqual(try HealthProbe.get(address, path: "/metrics", timeoutSeconds: 5).get().body, "ingestd_up 1\n")
        // Every address ("0.0.0.0") is asked on loopback.
        XCTAssertEqual(try HealthProbe.get(.init(host: "0.0.0.0", port: address.port), path: "/healthz", timeoutSeconds: 5).get().status, 200)

        await group.triggerGracefulShutdown()
        try await run.value
        XCTAssertThrowsError(try HealthProbe.get(address, path: "/healthz", timeoutSeconds: 2).get())
    }

    func testAPortInUseIsAnError() async throws {
        let address = Settings.ListenAddress(host: "127.0.0.1", port: Int(FreePort.next()))
        let first = HealthServer(address: address, routes: routes(ready: true), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [first], logger: logger))
        let run = Task { try await group.run() }
        try await eventually("the first server listens") { FreePort.isListening(UInt16(address.port)) }
        // SO_REUSEADDR does not allow two listeners on one port.
        let second = HealthServer(address: address, routes: routes(ready: true), logger: logger)
        do {
            try await second.run()
            XCTFail("a second server on the same port must fail")
        } catch {}
        await group.triggerGracefulShutdown()
        try await run.value
    }

    /// The exposition parses with prometheus_client; its counters equal the stats line's; the
    /// histograms count the batches written.
    func testMetricsParseAndMatchTheStatsLine() async throws {
        let exporter = MetricsExporter()
        let writer = InstrumentedInfluxWriter(wrapping: FixedResultWriter(result: .written), exporter: exporter)
        for lines in [1, 20, 500] {
            _ = await writer.write(database: "db", body: Array(repeating: 0x41, count: lines * 40), lineCount: lines)
        }
        _ = await InstrumentedInfluxWriter(wrapping: FixedResultWriter(result: .retryable(.transport(curlCode: 7, message: "x"))),
                                           exporter: exporter).write(database: "db", body: [1], lineCount: 1)

        var snapshot = StatsSnapshot()
        snapshot.pipeline.received = 1234
        snapshot.pipeline.enqueued = 1200
        snapshot.pipeline.skippedFields = 3
        for _ in 0..<30 { snapshot.pipeline.reject(.badJSON) }
        for _ in 0..<4 { snapshot.pipeline.reject(.tokenInvalid) }
        snapshot.influxBatchesOK = 3
        snapshot.influxBatchesFailed = 1
        snapshot.influxFlushes = 4
        snapshot.influxBufferedLines = 17
        snapshot.influxRetries = 1
        snapshot.influxUp = false
        snapshot.spoolBatches = 2
        snapshot.spoolBytes = 4096
        snapshot.spoolFull = true
        snapshot.spoolReplayedLines = 77
        snapshot.deadLetterLines = 6
        snapshot.registryUp = false
        snapshot.lastWriteError = "HTTP 503"
        snapshot.authCacheHits = 99
        snapshot.authCacheMisses = 5
        snapshot.authCacheSize = 5
        snapshot.mqttConnected = true
        snapshot.mqttReconnects = 2
        snapshot.corruptFiles = 1
        snapshot.corruptLines = 7
        snapshot.pipeline.registryLookupsWaiting = 2
        snapshot.pipeline.registryMessagesWaiting = 7
        snapshot.registryLookupMilliseconds = 3001
        exporter.recordRegistryLookup(.milliseconds(3001))

        let parsed = try await PrometheusText.parse(exporter.render(snapshot))
        let stats = snapshot.metadata(messagesPerSecond: 0).mapValues { "\($0)" }
        XCTAssertEqual(MetricsContract.mismatches(stats: stats, metrics: parsed), [])
        for key in StatsKey.all {
            XCTAssertEqual(parsed.families["ingestd_\(key.name)"], key.kind == .counter ? "counter" : "gauge", key.name)
        }
        XCTAssertEqual(parsed.samples["ingestd_spool_bytes"], 4096)
        XCTAssertEqual(parsed.samples["ingestd_dead_letter_lines_total"], 6)
        XCTAssertEqual(parsed.samples["ingestd_ready"], 0, "spool full and InfluxDB down")
        XCTAssertEqual(parsed.samples["ingestd_build_info{version=\"\(IngestdVersion.current)\"}"], 1)
        for reason in RejectReason.allCases {
            XCTAssertEqual(parsed.samples["ingestd_rejected_reason_total{reason=\"\(reason.rawValue)\"}"],
                           Double(snapshot.pipeline.rejected(reason)), reason.rawValue)
        }
        XCTAssertEqual(parsed.samples["ingestd_rejected_reason_total{reason=\"BAD_JSON\"}"], 30)
        XCTAssertEqual(parsed.samples["ingestd_registry_up"], 0)
        XCTAssertEqual(parsed.samples["ingestd_registry_messages_waiting"], 7)
        XCTAssertEqual(parsed.families["ingestd_registry_lookup_duration_seconds"], "histogram")
        XCTAssertEqual(parsed.samples["ingestd_registry_lookup_duration_seconds_count"], 1)
        XCTAssertEqual(parsed.families["ingestd_influx_write_duration_seconds"], "histogram")
        XCTAssertEqual(parsed.samples["ingestd_influx_write_duration_seconds_count"], 3, "only written batches")
        XCTAssertEqual(parsed.families["ingestd_influx_batch_lines"], "histogram")
        XCTAssertEqual(parsed.samples["ingestd_influx_batch_lines_count"], 3)
        XCTAssertEqual(parsed.samples["ingestd_influx_batch_lines_sum"], 521)
        XCTAssertEqual(parsed.samples["ingestd_influx_batch_lines_bucket{le=\"10.0\"}"], 1)
        XCTAssertEqual(parsed.samples["ingestd_influx_batch_lines_bucket{le=\"500.0\"}"], 3)
        XCTAssertEqual(parsed.samples["ingestd_influx_batch_bytes_sum"], 521 * 40)

        // A second render with grown counters shows the new values (counters are copied, not added up).
        snapshot.pipeline.received = 2000
        let again = try await PrometheusText.parse(exporter.render(snapshot))
        XCTAssertEqual(again.samples["ingestd_received_total"], 2000)
    }

    /// The comparison itself notices a key missing on either side and a differing value.
    func testTheMetricsContractNoticesAMissingKeyEitherWay() async throws {
        let snapshot = StatsSnapshot()
        let parsed = try await PrometheusText.parse(MetricsExporter().render(snapshot))
        var stats = snapshot.metadata(messagesPerSecond: 0).mapValues { "\($0)" }
        XCTAssertEqual(MetricsContract.mismatches(stats: stats, metrics: parsed), [])
        stats["corrupt_segments"] = "0"
        XCTAssertEqual(MetricsContract.mismatches(stats: stats, metrics: parsed), ["corrupt_segments: in the stats line, not in /metrics"])
        stats["corrupt_segments"] = nil
        stats["spool_bytes"] = nil
        XCTAssertEqual(MetricsContract.mismatches(stats: stats, metrics: parsed),
                       ["spool_bytes: in /metrics (ingestd_spool_bytes), not in the stats line"])
        stats["spool_bytes"] = "1"
        stats["rejected_BAD_JSON"] = "2"
        XCTAssertEqual(MetricsContract.mismatches(stats: stats, metrics: parsed),
                       ["spool_bytes: stats 1, metrics 0.0", "rejected_BAD_JSON: stats 2, metrics 0.0"])
    }
}

private struct FixedResultWriter: InfluxWriting {
    let result: InfluxWriteResult
    func write(database: String, body: [UInt8], lineCount: Int) async -> InfluxWriteResult { result }
}
