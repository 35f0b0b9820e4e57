import Foundation
import TestSupport
import XCTest

/// SIGTERM always stops ingestd within `SHUTDOWN_TIMEOUT_SECONDS` plus a bounded margin, even in the
/// worst corner: InfluxDB down, the spool at `SPOOL_MAX_BYTES`, memory full and the intake blocked
/// (README, "Delivery guarantees": a shutdown may take the spool past its limit so that nothing
/// acknowledged is lost).
final class ShutdownDeadlineTests: XCTestCase {
    private var harness: IngestdHarness!

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
    }

    override func tearDown() async throws {
        await harness.tearDown()
    }

    func testSigtermWithInfluxDownSpoolFullAndMemoryFullExitsInTimeAndLosesNothing() async throws {
        let devices = (1...10).map { "d\($0)" }
        var fleet = Fleet()
        for device in devices { fleet.add(device) }
        try fleet.write(to: harness.registryPath)
        await harness.influx.stop()
        let settings = [
            "INFLUX_TIMEOUT_MS": "2000", "INFLUX_RETRY_BASE_MS": "100", "INFLUX_RETRY_MAX_DELAY_MS": "1000",
            "SPOOL_MAX_BYTES": "1048576", "SPOOL_AFTER_MS": "0", "INFLUX_MAX_BUFFER_LINES": "100",
            "INTAKE_CAPACITY": "10", "INFLUX_BATCH_SIZE": "50", "SHUTDOWN_TIMEOUT_SECONDS": "2",
        ]
        try await harness.startIngestd(settings)
        // About 175 bytes a line: 12,000 lines do not fit in 1 MiB of spool plus 100 lines in memory.
        try await harness.publish(devices: devices, count: 1200)
        try await harness.waitForStats("spool full, memory full, intake paused", timeout: 120) {
            $0["spool_full"] == "1" && Int($0["influx_buffer"] ?? "0") ?? 0 >= 50 && Int($0["received"] ?? "0") ?? 0 < 12000
        }

        guard let first = harness.ingestd else { return XCTFail("ingestd is not running") }
        let signalled = ContinuousClock.now
        first.process.signal(SIGTERM)
        // 2 s of SHUTDOWN_TIMEOUT_SECONDS, the MQTT disconnect, the spool's fsyncs: well under 30 s.
        let code = try await first.process.waitForExit(timeout: 30)
        let took = ContinuousClock.now - signalled
        XCTAssertEqual(code, 0, harness.log)
        XCTAssertTrue(harness.log.contains("stop requested"), harness.log)
        XCTAssertTrue(harness.log.contains("the rest is in the spool"), harness.log)
        XCTAssertFalse(harness.log.contains("are lost at exit"), harness.log)
        print("shutdown took \(took)")

        // InfluxDB back: the spool (past its limit now) and the broker's backlog arrive, every message.
        try await harness.influx.restart()
        try await harness.startIngestd(settings)
        try await harness.waitForStats("everything written", timeout: 240) {
            $0["spool_batches"] == "0" && $0["influx_buffer"] == "0"
        }
        try await eventually("every message in InfluxDB", timeout: 120) {
            try await self.harness.count() == 12000
        }
        let exitCode = try await harness.stopIngestd()
        XCTAssertEqual(exitCode, 0)
        let count = try await harness.count()
        XCTAssertEqual(count, 12000)
    }
}
