import Foundation
import IngestCore
import TestSupport
import XCTest

/// Nothing accepted is lost: InfluxDB outages, slow and failing answers, shutdown while InfluxDB is
/// down, a second instance, a full spool. Each test counts points against what was published and
/// fails on a single missing one.
final class DurabilityTests: XCTestCase {
    private var harness: IngestdHarness!

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
    }

    override func tearDown() async throws {
        await harness.tearDown()
    }

    private func registry(_ devices: [String]) throws {
        var fleet = Fleet()
        for device in devices { fleet.add(device) }
        try fleet.write(to: harness.registryPath)
    }

    private static let quickRetries = [
        "INFLUX_TIMEOUT_MS": "2000", "INFLUX_RETRY_BASE_MS": "100", "INFLUX_RETRY_MAX_DELAY_MS": "1000",
    ]

    /// InfluxDB stops in the middle of a 20,000-message stream and comes back: every point arrives,
    /// part of them through the disk spool.
    func testInfluxDBStoppedMidStreamLosesNothing() async throws {
        let devices = (1...20).map { "d\($0)" }
        try registry(devices)
        try await harness.startIngestd(Self.quickRetries.merging(["SPOOL_AFTER_MS": "1000"]) { _, new in new })

        try await harness.publish(devices: devices, count: 500)
        try await harness.waitForStats("first half written") { $0["received"] == "10000" && $0["influx_buffer"] == "0" }

        await harness.influx.stop()
        try await harness.publish(devices: devices, count: 500, from: 500)
        try await harness.waitForStats("second half received, InfluxDB seen down, batches spooled") {
            $0["received"] == "20000" && $0["influx_up"] == "0" && Int($0["spool_batches"] ?? "0") ?? 0 > 0
        }

        try await harness.influx.restart()
        try await harness.waitForStats("spool replayed", timeout: 180) {
            $0["spool_batches"] == "0" && $0["influx_buffer"] == "0" && Int($0["spool_replayed"] ?? "0") ?? 0 > 0
        }
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
        let count = try await harness.count()
        XCTAssertEqual(count, 20000)
    }

    /// InfluxDB down when SIGTERM comes: what could not be written is spooled and ingestd exits 0; the
    /// next start replays it, and `ingestd spool status` tells the story in between.
    func testSigtermWhileInfluxDBIsDownSpoolsAndTheNextStartReplays() async throws {
        try registry(["d1", "d2"])
        await harness.influx.stop()
        try await harness.startIngestd(Self.quickRetries.merging(["SHUTDOWN_TIMEOUT_SECONDS": "2"]) { _, new in new })
        try await harness.publish(devices: ["d1", "d2"], count: 150)
        try await harness.waitUntilReceived(300)
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
        XCTAssertTrue(harness.log.contains("the rest is in the spool"), harness.log)

        let status = try await IngestdProcess.runToCompletion(arguments: ["spool", "status"], environment: harness.environment())
        XCTAssertEqual(status.code, 0, status.output)
        XCTAssertFalse(status.output.contains(" 0 segments"), status.output)

        try await harness.influx.restart()
        try await harness.startIngestd(Self.quickRetries)
        try await harness.waitForStats("spool replayed", timeout: 120) { $0["spool_batches"] == "0" && $0["spool_replayed"] == "300" }
        let exitCode = try await harness.stopIngestd()
        XCTAssertEqual(exitCode, 0)
        let count = try await harness.count()
        XCTAssertEqual(count, 300)
        let after = try await IngestdProcess.runToCompletion(arguments: ["spool", "status"], environment: harness.environment())
        XCTAssertTrue(after.output.contains(" 0 segments"), after.output)
    }

    /// A second ingestd on the same spool directory exits 75 naming the PID that holds it; so do the
    /// spool commands while the daemon runs.
    func testASecondInstanceOnTheSameSpoolExits75() async throws {
        try registry(["d1"])
        let first = try await harness.startIngestd()
        var environment = harness.environment()
        environment["MQTT_CLIENT_ID"] = "second"
        let second = try await IngestdProcess.runToCompletion(arguments: ["run"], environment: environment)
        XCTAssertEqual(second.code, 75, second.output)
        XCTAssertTrue(second.output.contains("pid=\(first.process.pid)"), second.output)
        let purge = try await IngestdProcess.runToCompletion(arguments: ["spool", "purge", "--yes-delete-data"], environment: environment)
        XCTAssertEqual(purge.code, 75, purge.output)
        let exitCode = try await harness.stopIngestd()
        XCTAssertEqual(exitCode, 0)
    }

    /// The spool is full while InfluxDB is down: ingestd stops reading MQTT (the broker holds the
    /// rest) instead of dropping anything, says so, and delivers everything once InfluxDB is back.
    func testAFullSpoolPausesIntakeAndLosesNothing() async throws {
        let devices = (1...10).map { "d\($0)" }
        try registry(devices)
        await harness.influx.stop()
        try await harness.startIngestd(Self.quickRetries.merging([
            "SPOOL_MAX_BYTES": "1048576", "SPOOL_AFTER_MS": "0", "INFLUX_MAX_BUFFER_LINES": "1000",
            "INTAKE_CAPACITY": "100", "INFLUX_BATCH_SIZE": "200",
        ]) { _, new in new })
        // About 175 bytes a line: 12,000 lines do not fit in 1 MiB of spool plus 1,000 in memory.
        try await harness.publish(devices: devices, count: 1200)
        try await harness.waitForStats("spool full and intake paused", timeout: 120) {
            $0["spool_full"] == "1" && Int($0["received"] ?? "0") ?? 0 < 12000
        }
        XCTAssertTrue(harness.log.contains("spool full"), harness.log)

        try await harness.influx.restart()
        try await harness.waitForStats("everything received and written", timeout: 240) {
            $0["received"] == "12000" && $0["influx_buffer"] == "0" && $0["spool_batches"] == "0"
        }
        let exitCode = try await harness.stopIngestd()
        XCTAssertEqual(exitCode, 0)
        let count = try await harness.count()
        XCTAssertEqual(count, 12000)
    }
}

extension DurabilityTests {
    /// `kill -9` with lines only in memory (a flush interval far longer than the test): with
    /// DURABILITY=journal the next start writes every line the journal had synced.
    func testKillNineWithTheCrashJournalLosesNothingThatWasSynced() async throws {
        try registry(["d1", "d2"])
        let slowFlush = ["DURABILITY": "journal", "JOURNAL_SYNC_MS": "50",
                         "INFLUX_FLUSH_INTERVAL_MS": "3600000", "INFLUX_BATCH_SIZE": "100000"]
        let first = try await harness.startIngestd(slowFlush)
        try await harness.publish(devices: ["d1", "d2"], count: 1000)
        try await harness.waitUntilReceived(2000)
        // The next stats line comes a second later: by then the journal has synced many times.
        let seen = first.logLines(message: "stats").count
        try await eventually("another stats line", timeout: 30) { first.logLines(message: "stats").count > seen }
        first.process.signal(SIGKILL)
        _ = try await first.process.waitForExit(timeout: 30)
        let before = try await harness.count()
        XCTAssertEqual(before, 0, "nothing was written before the crash")

        let second = try await harness.startIngestd(["DURABILITY": "journal"])
        try await eventually("journal replayed into InfluxDB", timeout: 120) {
            (try? await self.harness.count()) == 2000
        }
        XCTAssertTrue(second.process.log().contains("crash journal: writing what the previous run had not delivered"))
        let exitCode = try await harness.stopIngestd()
        XCTAssertEqual(exitCode, 0)
    }

    /// `kill -9` in the middle of a stream with DURABILITY=journal: a message is acknowledged only once
    /// the journal sync covering it is done, so the crash loses nothing (README "Delivery guarantees";
    /// `AcknowledgedMeansSafeTests` kills repeatedly).
    func testKillNineMidStreamWithTheJournalLosesNothing() async throws {
        let devices = (1...10).map { "d\($0)" }
        try registry(devices)
        let settings = ["DURABILITY": "journal", "JOURNAL_SYNC_MS": "50", "INTAKE_CAPACITY": "200"]
        let first = try await harness.startIngestd(settings)
        let harness = self.harness!
        let publisher = Task { try await harness.publish(devices: devices, count: 1000) }
        try await harness.waitForStats("mid-stream") { Int($0["received"] ?? "0") ?? 0 >= 2000 }
        first.process.signal(SIGKILL)
        _ = try await first.process.waitForExit(timeout: 30)
        try await publisher.value

        try await harness.startIngestd(settings)
        try await harness.waitForStats("the rest received and written", timeout: 180) {
            $0["influx_buffer"] == "0" && Int($0["received"] ?? "0") ?? 0 > 0
        }
        // The broker redelivers what it had not handed over; wait until nothing more comes in.
        var last = -1
        try await eventually("point count settles", timeout: 120, every: 2) {
            let now = try await self.harness.count()
            defer { last = now }
            return now == last
        }
        let exitCode = try await harness.stopIngestd()
        XCTAssertEqual(exitCode, 0)
        let count = try await harness.count()
        let lost = 10_000 - count
        XCTAssertEqual(lost, 0, "points lost by a kill -9 with DURABILITY=journal")
    }
}

/// Faults only a fake InfluxDB can produce on demand.
final class InfluxFaultTests: XCTestCase {
    /// 503 with Retry-After, 429, 413, an answer slower than INFLUX_TIMEOUT_MS, and a batch with one
    /// line InfluxDB refuses: every good line is written once the faults clear, the bad line is in the
    /// dead-letter folder and nothing else is.
    func testEveryGoodLineIsWrittenAndOnlyTheBadLineIsSetAside() async throws {
        let directory = try TemporaryDirectory(prefix: "ingestd-faults")
        let broker = try await MosquittoServer.start()
        let fake = try await FakeInflux.start()
        var ingestd: IngestdProcess?
        defer { directory.remove() }

        do {
            var fleet = Fleet()
            for device in ["d1", "d2", "conflict"] { fleet.add(device) }
            try fleet.write(to: directory.file("devices.json"))
            try await fake.script([
                .init(status: 503, body: #"{"error":"busy"}"#, retryAfter: "1"),
                .init(status: 429, body: #"{"error":"slow down"}"#),
                .init(status: 413, body: #"{"error":"too large"}"#),
                .init(status: 204, delay: 3),
            ])
            try await fake.refuse(writesContaining: "device_id=conflict")

            let process = try IngestdProcess(environment: [
                "MQTT_HOST": broker.host, "MQTT_PORT": "\(broker.port)", "MQTT_CLIENT_ID": "faults",
                "INFLUXDB_URL": fake.baseURL, "INFLUXDB_API": "v3", "INFLUXDB_TOKEN": "t0ken",
                "REGISTRY_FILE": directory.file("devices.json"), "SPOOL_DIR": directory.file("spool"),
                "RATE_LIMIT_RPS": "0", "LOG_STATS_EVERY_SECONDS": "1", "INFLUX_FLUSH_INTERVAL_MS": "200",
                "INFLUX_BATCH_SIZE": "50", "INFLUX_TIMEOUT_MS": "1000", "INFLUX_CONCURRENCY": "1",
                "INFLUX_RETRY_BASE_MS": "50", "INFLUX_RETRY_MAX_DELAY_MS": "2000",
            ], logPath: directory.file("ingestd.log"))
            ingestd = process
            try await eventually("subscribed", timeout: 60) { process.process.log().contains("msg=\"mqtt subscribed\"") }

            var good: [String] = []
            for device in ["d1", "d2"] {
                let lines = (0..<100).map { Fleet.telemetry(device, seq: $0) }
                try await broker.publish(topic: Fleet.topic(device), lines: lines)
            }
            try await broker.publish(topic: Fleet.topic("conflict"), payload: Fleet.telemetry("conflict", seq: 0))
            try await eventually("all written or set aside", timeout: 120) {
                let stats = process.latestStats()
                return stats["received"] == "201" && stats["influx_buffer"] == "0" && stats["dead_letter_lines"] == "1"
            }
            process.process.signal(SIGTERM)
            let code = try await process.process.waitForExit(timeout: 60)
            XCTAssertEqual(code, 0, process.process.log())

            // Every good line reached the fake in a request it answered 204: the first four requests
            // got the scripted faults, and every request containing the bad line was refused.
            let requests = try await fake.requests().filter { $0.path.hasPrefix("/api/v3/write_lp") }
            XCTAssertGreaterThan(requests.count, 4)
            var accepted = Set<String>()
            for request in requests.dropFirst(4) where !request.bodyText.contains("device_id=conflict") {
                accepted.formUnion(request.bodyText.split(separator: "\n").map(String.init))
            }
            for device in ["d1", "d2"] {
                for seq in 0..<100 {
                    good.append("device_id=\(device),site_id=site-1 seq=\(seq)i,")
                }
            }
            for marker in good {
                XCTAssertTrue(accepted.contains { $0.contains(marker) }, "missing: \(marker)")
            }
            XCTAssertEqual(accepted.count, 200, "every good line, each once in the accepted requests")

            let deadLetterFolder = directory.file("spool/dead-letter")
            let files = try FileManager.default.contentsOfDirectory(atPath: deadLetterFolder)
            let setAside = try files.flatMap { file in
                try String(contentsOfFile: "\(deadLetterFolder)/\(file)", encoding: .utf8)
                    .split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
            }
            XCTAssertEqual(setAside.count, 1, "\(setAside)")
            XCTAssertTrue(setAside.first?.hasPrefix("telemetry,device_id=conflict,site_id=site-1 seq=0i") ?? false, "\(setAside)")
            let stats = process.latestStats()
            XCTAssertGreaterThanOrEqual(Int(stats["retries"] ?? "0") ?? 0, 3)
        } catch {
            print("---- ingestd log ----\n\(ingestd?.process.log() ?? "")")
            await ingestd?.process.stop()
            await broker.remove()
            await fake.stop()
            throw error
        }
        await ingestd?.process.stop()
        await broker.remove()
        await fake.stop()
    }
}
