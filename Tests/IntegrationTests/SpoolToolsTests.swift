import Foundation
import TestSupport
import XCTest

/// `ingestd spool export` and `ingestd spool replay` on a spool made the real way: InfluxDB down
/// while ingestd takes 300 messages and is stopped (README "Spool tools").
final class SpoolToolsTests: XCTestCase {
    private var harness: IngestdHarness!

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
        var fleet = Fleet()
        fleet.add("d1")
        fleet.add("d2")
        try fleet.write(to: harness.registryPath)
        // Small batches, so the spool holds several segments.
        await harness.influx.stop()
        try await harness.startIngestd(["INFLUX_TIMEOUT_MS": "2000", "INFLUX_RETRY_BASE_MS": "100", "INFLUX_RETRY_MAX_DELAY_MS": "1000",
                                        "SHUTDOWN_TIMEOUT_SECONDS": "2", "INFLUX_BATCH_SIZE": "40"])
        try await harness.publish(devices: ["d1", "d2"], count: 150)
        try await harness.waitUntilReceived(300)
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
    }

    override func tearDown() async throws {
        await harness.tearDown()
    }

    private var segments: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: harness.spoolDirectory)) ?? []).filter { $0.hasSuffix(".spool") }.sorted()
    }

    private func spool(_ arguments: [String]) async throws -> (code: Int32, output: String) {
        try await IngestdProcess.runToCompletion(arguments: ["spool"] + arguments, environment: harness.environment(
            ["INFLUX_TIMEOUT_MS": "2000", "INFLUX_RETRY_BASE_MS": "50", "INFLUX_RETRY_MAX_DELAY_MS": "200"]))
    }

    func testExportWritesOneLineProtocolFilePerDatabaseThatCurlCanSendAsItIs() async throws {
        let before = segments
        XCTAssertGreaterThan(before.count, 1)
        let target = harness.directory.file("export")
        let export = try await spool(["export", target])
        XCTAssertEqual(export.code, 0, export.output)
        XCTAssertTrue(export.output.contains("300 lines in 1 files"), export.output)
        XCTAssertEqual(segments, before, "the spool is left as it was")

        let file = target + "/telemetry_acme.lp"
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 300)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("telemetry,device_id=d") }, "\(lines.first ?? "")")

        // Re-sendable as it is: curl posts the file to InfluxDB 1.x.
        try await harness.influx.restart()
        try await harness.influx.createDatabase("telemetry_acme")
        guard let curl = ExecutableLocator.find("curl") else { return XCTFail("curl not found") }
        let post = try ChildProcess(name: "curl", executable: curl, arguments: [
            "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@\(file)", "\(harness.influx.baseURL)/write?db=telemetry_acme",
        ], logPath: harness.directory.file("curl.log"))
        _ = try await post.waitForExit(timeout: 60)
        XCTAssertEqual(post.log(), "204")
        let count = try await harness.count()
        XCTAssertEqual(count, 300)

        // A folder that is not empty is refused: nothing is mixed into old files.
        let again = try await spool(["export", target])
        XCTAssertEqual(again.code, 1, again.output)
        XCTAssertTrue(again.output.contains("not empty"), again.output)
    }

    func testReplaySendsEverythingWithProgressAndASummary() async throws {
        try await harness.influx.restart()
        let replay = try await spool(["replay"])
        XCTAssertEqual(replay.code, 0, replay.output)
        XCTAssertTrue(replay.output.contains("msg=\"spool replay progress\""), "a line, not a bar, off a terminal: \(replay.output)")
        XCTAssertTrue(replay.output.contains("(300 lines), nothing left"), replay.output)
        XCTAssertEqual(segments, [])
        let count = try await harness.count()
        XCTAssertEqual(count, 300)
    }

    /// On a terminal (util-linux `script` gives it one) replay draws a bar, redrawn in place.
    func testReplayDrawsAProgressBarOnATerminal() async throws {
        guard let script = ExecutableLocator.find("script") else { throw XCTSkip("script (util-linux) is not installed") }
        guard let binary = IngestdProcess.binaryPath() else { return XCTFail("the ingestd binary is not built") }
        try await harness.influx.restart()
        let child = try ChildProcess(name: "script", executable: script, arguments: ["-qec", "'\(binary)' spool replay", "/dev/null"],
                                     environment: harness.environment(), logPath: harness.directory.file("tty.log"))
        let code = try await child.waitForExit(timeout: 120)
        let output = child.log()
        XCTAssertEqual(code, 0, output)
        XCTAssertTrue(output.contains("\r\u{1B}[K[#"), "a bar redrawn in place: \(output)")
        XCTAssertTrue(output.contains("] 100% "), output)
        XCTAssertFalse(output.contains("spool replay progress"), "no progress log lines on a terminal: \(output)")
        XCTAssertEqual(segments, [])
    }

    func testReplayGoesPastASegmentItCannotReadAndExitsNonZero() async throws {
        let all = segments
        XCTAssertGreaterThan(all.count, 2)
        // Damage the second segment's body: its checksum no longer matches.
        let damaged = harness.spoolDirectory + "/" + all[1]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
        bytes[bytes.count - 5] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: damaged))

        try await harness.influx.restart()
        let replay = try await spool(["replay"])
        XCTAssertEqual(replay.code, 1, replay.output)
        XCTAssertTrue(replay.output.contains("1 unreadable (moved to corrupt/)"), replay.output)
        XCTAssertTrue(replay.output.contains("\(all.count - 1) of \(all.count) segments sent"), replay.output)
        XCTAssertEqual(segments, [], "every other segment was sent")
        XCTAssertTrue(FileManager.default.fileExists(atPath: harness.spoolDirectory + "/corrupt/" + all[1]))
        let count = try await harness.count()
        XCTAssertGreaterThan(count, 0)
        XCTAssertLessThan(count, 300)
    }

    func testReplayWhileInfluxDBIsDownKeepsEverythingAndExitsNonZero() async throws {
        let before = segments
        let replay = try await spool(["replay"])
        XCTAssertEqual(replay.code, 1, replay.output)
        XCTAssertTrue(replay.output.contains("\(before.count) left in the spool"), replay.output)
        XCTAssertTrue(replay.output.contains("spool segment not sent"), replay.output)
        XCTAssertEqual(segments, before)
    }
}
