import Foundation
import IngestCore
import TestSupport
import XCTest

/// The built ingestd with REGISTRY=postgres against a real PostgreSQL, mosquitto and InfluxDB.
final class RegistryPostgresTests: XCTestCase {
    private var harness: IngestdHarness!
    private var postgres: PostgresServer!

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
        postgres = try await PostgresServer.start()
        try await postgres.sql(PostgresServer.createRegistryTable)
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount > 0 {
            print("---- ingestd log ----\n\(harness?.log ?? "")\n---- postgres log ----\n\(postgres?.log() ?? "")")
        }
        await harness?.tearDown()
        await postgres?.remove()
    }

    private func environment(_ overrides: [String: String]) -> [String: String] {
        var environment = [
            "REGISTRY": "postgres", "PG_HOST": postgres.host, "PG_PORT": "\(postgres.port)", "PG_DB": postgres.database,
            "PG_USER": postgres.user, "PG_SSLMODE": "disable",
        ]
        environment.merge(overrides) { _, new in new }
        return environment
    }

    private func insert(_ device: String, site: String = "site-1", status: String = "ACTIVE") async throws {
        try await postgres.sql("""
            INSERT INTO device_registry (tenant_id, device_id, site_id, status, provision_token_hash) \
            VALUES ('\(Fleet.tenant)', '\(device)', '\(site)', '\(status)', '\(TokenHasher.sha256Hex(Fleet.token(device)))')
            """)
    }

    /// One INSERT for many devices (one psql run, not one per device).
    private func insert(devices: [String], site: String = "site-1") async throws {
        let rows = devices.map { "('\(Fleet.tenant)', '\($0)', '\(site)', 'ACTIVE', '\(TokenHasher.sha256Hex(Fleet.token($0)))')" }
        try await postgres.sql("""
            INSERT INTO device_registry (tenant_id, device_id, site_id, status, provision_token_hash) VALUES \(rows.joined(separator: ", "))
            """)
    }

    private func stat(_ key: String) -> Int {
        Int(harness.ingestd?.latestStats()[key] ?? "0") ?? 0
    }

    private func publish(_ device: String, seqs: Range<Int>) async throws {
        try await harness.broker.publish(topic: Fleet.topic(device), lines: seqs.map { Fleet.telemetry(device, seq: $0) })
    }

    /// DEV mode with NOTIFY: valid points arrive, rejects land in the quarantine file with masked tokens;
    /// PostgreSQL stopped: the cached device keeps flowing, a new one waits and is refused as
    /// REGISTRY_UNAVAILABLE; PostgreSQL back: new devices are accepted without a restart; a device
    /// revoked in the table is refused at once through NOTIFY.
    func testOutagesRevocationAndDevQuarantine() async throws {
        try await postgres.sql(PostgresServer.notifyTrigger(channel: "device_registry_changed"))
        for device in ["d1", "d2", "d3"] { try await insert(device) }
        let quarantine = harness.directory.file("quarantine/rejects.jsonl")
        try await harness.startIngestd(environment([
            "MODE": "DEV", "QUARANTINE_FILE": quarantine, "AUTH_CACHE_TTL_SECONDS": "1", "REGISTRY_WAIT_SECONDS": "2",
            "REGISTRY_NOTIFY_CHANNEL": "device_registry_changed",
        ]))
        var received = 0
        try await publish("d1", seqs: 0..<10)
        try await harness.broker.publish(topic: Fleet.topic("stranger"), payload: Fleet.telemetry("stranger", seq: 0))
        try await harness.broker.publish(topic: Fleet.topic("d1"), payload: #"{"site_id":"site-1","seq":99,"provision_token":"wrong-secret"}"#)
        received += 12
        try await harness.waitUntilReceived(received)
        try await eventually("10 points in InfluxDB", timeout: 60) { try await self.harness.count() == 10 }
        XCTAssertEqual(stat("rejected_UNREGISTERED_DEVICE"), 1)
        XCTAssertEqual(stat("rejected_TOKEN_INVALID"), 1)
        try await eventually("quarantine file written", timeout: 30) {
            ((try? String(contentsOfFile: quarantine, encoding: .utf8)) ?? "").split(separator: "\n").count == 2
        }
        let records = try String(contentsOfFile: quarantine, encoding: .utf8)
        XCTAssertTrue(records.contains(#""reason":"UNREGISTERED_DEVICE""#), records)
        XCTAssertTrue(records.contains(#""reason":"TOKEN_INVALID""#), records)
        XCTAssertTrue(records.contains(#"\"provision_token\":\"***\""#), records)
        XCTAssertFalse(records.contains("wrong-secret"), records)
        XCTAssertFalse(records.contains(Fleet.token("stranger")), records)

        // PostgreSQL down: d1 (cached, soon past its 1 s TTL) keeps flowing; d2 (never seen) is refused.
        await postgres.stop()
        try await Task.sleep(for: .milliseconds(1500))
        try await publish("d1", seqs: 10..<15)
        try await publish("d2", seqs: 0..<1)
        received += 6
        try await harness.waitUntilReceived(received)
        try await eventually("d1's points during the outage arrive", timeout: 60) { try await self.harness.count() == 15 }
        // d2 waits on its own (REGISTRY_WAIT_SECONDS) while d1's points flow.
        try await harness.waitForStats("d2 refused") { $0["rejected_REGISTRY_UNAVAILABLE"] == "1" }
        XCTAssertTrue(harness.log.contains("registry unavailable"), harness.log)
        try await harness.waitForStats("the stats line says the registry is down") { $0["registry_up"] == "0" }

        // PostgreSQL back: d3 (never seen) is accepted, no restart.
        try await postgres.launch()
        try await eventually("ingestd sees the registry again", timeout: 60) { self.harness.log.contains("registry available again") }
        try await harness.waitForStats("the stats line says the registry is back") { $0["registry_up"] == "1" }
        try await publish("d3", seqs: 0..<1)
        received += 1
        try await harness.waitUntilReceived(received)
        try await eventually("d3's point arrives", timeout: 60) { try await self.harness.count() == 16 }

        // Revoked in the table: the next message is refused (NOTIFY, or the 1 s TTL at the latest).
        try await postgres.sql("UPDATE device_registry SET status = 'REVOKED' WHERE device_id = 'd3'")
        try await publish("d3", seqs: 1..<2)
        received += 1
        try await harness.waitUntilReceived(received)
        try await eventually("d3 refused as revoked", timeout: 30) { self.stat("rejected_DEVICE_REVOKED") == 1 }
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
    }

    /// PROD mode: no quarantine file whatever STORE_REJECTS says; a long TTL keeps a revoked device
    /// writing until SIGHUP clears the cache.
    func testProdWritesNoQuarantineAndSighupClearsTheCache() async throws {
        try await insert("d1")
        let quarantine = harness.directory.file("rejects.jsonl")
        try await harness.startIngestd(environment([
            "MODE": "PROD", "STORE_REJECTS": "1", "QUARANTINE_FILE": quarantine, "AUTH_CACHE_TTL_SECONDS": "3600",
        ]))
        try await publish("d1", seqs: 0..<5)
        try await harness.broker.publish(topic: Fleet.topic("stranger"), payload: Fleet.telemetry("stranger", seq: 0))
        try await harness.waitUntilReceived(6)
        try await eventually("5 points", timeout: 60) { try await self.harness.count() == 5 }

        try await postgres.sql("UPDATE device_registry SET status = 'REVOKED' WHERE device_id = 'd1'")
        try await publish("d1", seqs: 5..<6)
        try await harness.waitUntilReceived(7)
        try await eventually("the cached record still lets d1 write", timeout: 60) { try await self.harness.count() == 6 }

        harness.ingestd?.process.signal(SIGHUP)
        try await eventually("cache cleared", timeout: 30) { self.harness.log.contains("auth cache cleared") }
        try await publish("d1", seqs: 6..<7)
        try await harness.waitUntilReceived(8)
        try await eventually("d1 refused as revoked after SIGHUP", timeout: 30) { self.stat("rejected_DEVICE_REVOKED") == 1 }
        XCTAssertEqual(stat("rejected_UNREGISTERED_DEVICE"), 1)
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: quarantine))
        let points = try await harness.count()
        XCTAssertEqual(points, 6)
    }

    // MARK: slow or hung registry (README "Slow or hung registry")

    /// The issue's scenario: 50 devices warm in the cache, another session holds an ACCESS EXCLUSIVE
    /// lock on the table; a device not in the cache publishes, then the 50 do. Their 200 messages are
    /// stored while the lock is still held, the newcomer is refused within REGISTRY_WAIT_SECONDS (plus
    /// a margin), the stats line says the registry is down, and once the lock is gone the newcomer is
    /// accepted.
    func testLockedTableStallsOnlyTheDeviceThatMustBeLookedUp() async throws {
        let cached = (0..<50).map { "d\($0)" }
        try await insert(devices: cached + ["newcomer"])
        let wait = 3.0
        try await harness.startIngestd(environment(["REGISTRY_WAIT_SECONDS": "\(Int(wait))", "AUTH_CACHE_TTL_SECONDS": "600"]))
        try await harness.publish(devices: cached, count: 1)
        try await harness.waitUntilReceived(50)
        try await eventually("the 50 warm-up points", timeout: 60) { try await self.harness.count() == 50 }

        let lock = try await postgres.holdTableLock("device_registry")
        defer { Task { await lock.stop(grace: 2) } }

        let published = Date()
        try await publish("newcomer", seqs: 0..<1)
        try await harness.publish(devices: cached, count: 4, from: 1)
        try await eventually("the cached devices' 200 messages stored while the lock is held", timeout: 60) {
            try await self.harness.count() == 250
        }
        let stillHeld = try await postgres.isTableLocked("device_registry")
        XCTAssertTrue(stillHeld, "the lock must still be held, or this proves nothing")
        try await eventually("the newcomer refused as REGISTRY_UNAVAILABLE", timeout: 60) {
            self.harness.ingestd?.logLines(message: "registry lookup failed, message refused").isEmpty == false
        }
        // When ingestd refused it, by its own log line's timestamp (the test's checks come later).
        let refusal = try XCTUnwrap(harness.ingestd?.logLines(message: "registry lookup failed, message refused").first)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let refusedAt = try XCTUnwrap(IngestdProcess.logfmtFields(refusal)["ts"].flatMap { formatter.date(from: $0) })
        let refusedAfter = refusedAt.timeIntervalSince(published)
        XCTAssertLessThan(refusedAfter, wait + 2, "refused \(refusedAfter) s after it was published")
        try await harness.waitForStats("the refusal counted") { $0["rejected_REGISTRY_UNAVAILABLE"] == "1" }
        try await harness.waitForStats("the stats line says the registry is down") { $0["registry_up"] == "0" }
        XCTAssertEqual(stat("rejected"), 1)

        // The lock goes: the registry is up again and the newcomer is accepted.
        try await postgres.releaseTableLock(lock)
        try await harness.waitForStats("the stats line says the registry is back") { $0["registry_up"] == "1" }
        try await publish("newcomer", seqs: 1..<2)
        try await eventually("the newcomer's point stored", timeout: 60) { try await self.harness.count() == 251 }
        try await harness.waitForStats("nothing waits any more") {
            $0["registry_lookups_waiting"] == "0" && $0["registry_messages_waiting"] == "0"
        }
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
    }

    /// PostgreSQL behind a proxy that delays every packet by 500 ms while a fleet of cached and new
    /// devices publishes: every message of both is stored, none refused, and the stats line shows
    /// the slow lookups.
    func testSlowRegistryDelaysNoCachedDeviceAndAcceptsNewOnes() async throws {
        let cached = (0..<10).map { "c\($0)" }
        let newcomers = (0..<10).map { "n\($0)" }
        try await insert(devices: cached + newcomers)
        let proxy = try await DelayProxy.start(targetPort: postgres.port, delay: 0.5)
        defer { Task { await proxy.stop() } }
        try await harness.startIngestd(environment([
            "PG_PORT": "\(proxy.port)", "REGISTRY_WAIT_SECONDS": "30", "AUTH_CACHE_TTL_SECONDS": "600",
        ]))
        try await harness.publish(devices: cached, count: 1)
        try await eventually("the warm-up points", timeout: 120) { try await self.harness.count() == 10 }

        for (old, new) in zip(cached, newcomers) {
            try await publish(new, seqs: 0..<5)
            try await publish(old, seqs: 1..<21)
        }
        try await harness.waitUntilReceived(10 + 250)
        try await eventually("every message of the fleet stored", timeout: 120) { try await self.harness.count() == 260 }
        XCTAssertEqual(stat("rejected"), 0)
        try await harness.waitForStats("the slow lookups show in the stats line") {
            (Int($0["registry_lookup_ms"] ?? "0") ?? 0) >= 500 && $0["registry_messages_waiting"] == "0"
        }
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
    }
}
