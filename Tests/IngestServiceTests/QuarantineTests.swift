import Foundation
import IngestCore
@testable import IngestService
import Logging
import ServiceLifecycle
import Synchronization
import TestSupport
import XCTest

/// The quarantine: token masking, the JSON Lines file and its rotation, DEV versus PROD, and the
/// per-minute reject counts written to InfluxDB.
final class QuarantineTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUp() async throws { directory = try TemporaryDirectory(prefix: "quarantine") }
    override func tearDown() async throws { directory.remove() }

    func testTokensAreMaskedInValidBrokenAndTruncatedPayloads() {
        func mask(_ text: String) -> String { String(decoding: TokenMasker.masked(Array(text.utf8)), as: UTF8.self) }
        XCTAssertEqual(mask(#"{"site_id":"s","provision_token":"secret-1","seq":1}"#), #"{"site_id":"s","provision_token":"***","seq":1}"#)
        XCTAssertEqual(mask(#"{"provision_token" : "a\"b", "x":1}"#), #"{"provision_token" : "***", "x":1}"#)
        XCTAssertEqual(mask(#"{"provision_token":12345}"#), #"{"provision_token":***}"#)
        XCTAssertEqual(mask(#"{not json "provision_token":"secret"#), #"{not json "provision_token":"***"#)
        XCTAssertEqual(mask(#"no token here"#), #"no token here"#)
        XCTAssertFalse(mask(#"[{"provision_token":"s1"},{"provision_token":"s2"}]"#).contains("s1"))
    }

    func testDevModeWritesMaskedTruncatedRecordsAndRotates() async throws {
        let path = directory.file("q/rejects.jsonl")
        let service = QuarantineService(
            configuration: QuarantineConfiguration(filePath: path, maxFileBytes: 10_000, maxPayloadBytes: 64, countsToInflux: false),
            sink: nil, logger: Logger(label: "test"))
        XCTAssertTrue(service.storesPayloads)
        let payload = #"{"site_id":"s1","provision_token":"very-secret","metrics":{"v":1},"pad":""# + String(repeating: "x", count: 200) + #""}"#
        // About 230 bytes a record: 60 records fill the 10,000-byte file once and start a second one.
        for n in 0..<60 {
            service.record(topic: "tenant/acme/device/d\(n)/telemetry", payload: Array(payload.utf8), reason: .tokenInvalid,
                           receivedAtNanos: 1_770_628_523_045_000_000)
        }
        try await runUntilWritten(service, count: 60)
        let current = try String(contentsOfFile: path, encoding: .utf8)
        let rotated = try String(contentsOfFile: path + ".1", encoding: .utf8)
        let lines = (rotated + current).split(separator: "\n")
        XCTAssertEqual(lines.count, 60)
        XCTAssertLessThanOrEqual(current.utf8.count, 10_000)
        XCTAssertLessThanOrEqual(rotated.utf8.count, 10_000)
        XCTAssertFalse((rotated + current).contains("very-secret"))
        let first = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(first["reason"] as? String, "TOKEN_INVALID")
        XCTAssertEqual(first["tenant_id"] as? String, "acme")
        XCTAssertEqual(first["device_id"] as? String, "d0")
        XCTAssertEqual(first["topic"] as? String, "tenant/acme/device/d0/telemetry")
        XCTAssertEqual(first["time"] as? String, "2026-02-09T09:15:23.045Z")
        XCTAssertEqual((first["payload"] as? String)?.utf8.count, 64)
        XCTAssertEqual(first["payload"] as? String, String(#"{"site_id":"s1","provision_token":"***","metrics":{"v":1},"pad":"xxxxxxx"#.prefix(64)))
        XCTAssertEqual(first["payload_truncated"] as? Bool, true)
        XCTAssertEqual(first["payload_bytes"] as? Int, payload.utf8.count)
    }

    func testProdModeStoresNoPayloadAndNoFile() async throws {
        var environment = ["MODE": "PROD", "STORE_REJECTS": "1", "QUARANTINE_FILE": directory.file("rejects.jsonl"), "REGISTRY": "none"]
        let prod = try Settings(environment: environment, hostname: "h").quarantineConfiguration
        XCTAssertNil(prod.filePath)
        XCTAssertFalse(prod.isActive)
        environment["MODE"] = "DEV"
        XCTAssertEqual(try Settings(environment: environment, hostname: "h").quarantineConfiguration.filePath, directory.file("rejects.jsonl"))
        environment["STORE_REJECTS"] = "0"
        XCTAssertNil(try Settings(environment: environment, hostname: "h").quarantineConfiguration.filePath)

        // Counting to InfluxDB in PROD: the payload never reaches the quarantine task.
        environment = ["MODE": "PROD", "REJECT_COUNTS_TO_INFLUX": "1", "REGISTRY": "none"]
        let counting = try Settings(environment: environment, hostname: "h").quarantineConfiguration
        let service = QuarantineService(configuration: counting, sink: nil, logger: Logger(label: "test"))
        XCTAssertFalse(service.storesPayloads)
    }

    func testRejectCountsArePerTenantReasonAndMinuteInTheTenantsDatabase() async throws {
        let sink = RecordingSink()
        let minute: Int64 = 1_770_628_500_000_000_000  // 09:15:00
        let now = WallClockBox(minute + 30_000_000_000)
        let service = QuarantineService(
            configuration: QuarantineConfiguration(filePath: nil, maxFileBytes: 4096, maxPayloadBytes: 64, countsToInflux: true),
            sink: sink, logger: Logger(label: "test"), wallClock: { now.value })
        for _ in 0..<3 { service.record(topic: "tenant/acme/device/d1/telemetry", payload: nil, reason: .tokenInvalid, receivedAtNanos: minute + 1) }
        service.record(topic: "tenant/acme/device/d2/telemetry", payload: nil, reason: .rateLimited, receivedAtNanos: minute + 2)
        service.record(topic: "tenant/beta/device/d2/telemetry", payload: nil, reason: .rateLimited, receivedAtNanos: minute + 3)
        service.record(topic: "tenant/acme/device/d1/telemetry", payload: nil, reason: .tokenInvalid, receivedAtNanos: minute + 60_000_000_000)
        service.record(topic: "garbage", payload: nil, reason: .badTopicFormat, receivedAtNanos: minute)

        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        // Nothing is written while the minute is still running.
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertEqual(sink.lines.count, 0)
        // The minute ends: its points go out.
        now.value = minute + 61_000_000_000
        try await eventually("the finished minute is written", timeout: 10) { sink.lines.count == 3 }
        XCTAssertEqual(Set(sink.lines), [
            "telemetry_acme ingest_rejects,reason=TOKEN_INVALID,tenant_id=acme count=3i \(minute)",
            "telemetry_acme ingest_rejects,reason=RATE_LIMITED,tenant_id=acme count=1i \(minute)",
            "telemetry_beta ingest_rejects,reason=RATE_LIMITED,tenant_id=beta count=1i \(minute)",
        ])
        // At stop, the current minute goes out too.
        await group.triggerGracefulShutdown()
        try await running.value
        XCTAssertEqual(sink.lines.last, "telemetry_acme ingest_rejects,reason=TOKEN_INVALID,tenant_id=acme count=1i \(minute + 60_000_000_000)")
        XCTAssertEqual(sink.lines.count, 4)
    }

    /// Runs the service until `count` records are in the file, then stops it.
    private func runUntilWritten(_ service: QuarantineService, count: Int) async throws {
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        try await eventually("\(count) records written", timeout: 10) { service.written >= count }
        await group.triggerGracefulShutdown()
        try await running.value
    }
}

/// A LineSink that keeps `database line` strings.
final class RecordingSink: LineSink {
    private let stored = Mutex<[String]>([])
    var lines: [String] { stored.withLock { $0 } }

    func append(database: String, lines: [UInt8], lineCount: Int, journalSequences: ClosedRange<UInt64>?) async {
        let text = String(decoding: lines, as: UTF8.self)
        stored.withLock { stored in
            for line in text.split(separator: "\n") { stored.append("\(database) \(line)") }
        }
    }
}

/// A settable wall clock for the quarantine's minute boundaries.
final class WallClockBox: Sendable {
    private let stored: Mutex<Int64>
    init(_ value: Int64) { stored = Mutex(value) }
    var value: Int64 {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}
