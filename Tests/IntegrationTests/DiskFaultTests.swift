import Foundation
import IngestCore
import TestSupport
import XCTest

/// Faults of the real disk under the real binary: `SPOOL_DIR` on a file system that fills up, and a
/// spool segment and a crash-journal file damaged in the middle and truncated (README, Delivery
/// guarantees).
final class DiskFaultTests: XCTestCase {
    var harness: IngestdHarness!
    private var mountPoint: String?

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
    }

    override func tearDown() async throws {
        // ingestd first: a file system with an open file cannot be unmounted.
        if let ingestd = harness.ingestd { await ingestd.process.stop(grace: 30) }
        if let mountPoint { Self.unmount(mountPoint) }
        await harness.tearDown()
    }

    func registry(_ devices: [String]) throws {
        var fleet = Fleet()
        for device in devices { fleet.add(device) }
        try fleet.write(to: harness.registryPath)
    }

    static let quickRetries = [
        "INFLUX_TIMEOUT_MS": "2000", "INFLUX_RETRY_BASE_MS": "100", "INFLUX_RETRY_MAX_DELAY_MS": "1000",
    ]

    // MARK: - A full file system

    /// `SPOOL_DIR` on a 1 MiB tmpfs, far below `SPOOL_MAX_BYTES`, InfluxDB down and twice as much
    /// traffic as fits: the file system fills, ingestd says once that the spool is full, keeps
    /// running while the broker holds the rest, and delivers every message once InfluxDB is back.
    func testSpoolOnAFullFileSystemPausesIntakeAndLosesNothing() async throws {
        let spool = harness.spoolDirectory
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        try mountTmpfs(at: spool, bytes: 1 << 20)

        let devices = (1...10).map { "d\($0)" }
        try registry(devices)
        await harness.influx.stop()
        try await harness.startIngestd(Self.quickRetries.merging([
            "SPOOL_AFTER_MS": "0", "INFLUX_MAX_BUFFER_LINES": "1000", "INTAKE_CAPACITY": "100", "INFLUX_BATCH_SIZE": "200",
        ]) { _, new in new })
        // About 175 bytes a line: 12,000 lines need about 2 MiB of spool.
        try await harness.publish(devices: devices, count: 1200)
        try await harness.waitForStats("file system full and intake paused", timeout: 120) {
            $0["spool_full"] == "1" && Int($0["received"] ?? "0") ?? 0 < 12000
        }
        // Still paused a few stats lines later, still running, and said so once.
        let ingestd = try XCTUnwrap(harness.ingestd)
        let seen = ingestd.logLines(message: "stats").count
        try await eventually("three more stats lines", timeout: 30) { ingestd.logLines(message: "stats").count >= seen + 3 }
        XCTAssertTrue(ingestd.process.isRunning)
        XCTAssertLessThan(Int(ingestd.latestStats()["received"] ?? "0") ?? 0, 12000, "the broker holds the rest")
        let full = harness.log.split(separator: "\n").filter { $0.contains("spool full") }
        XCTAssertEqual(full.count, 1, harness.log)
        XCTAssertFalse(harness.log.contains("cannot write to the spool"), "a full file system is a full spool, not an error per batch")

        try await harness.influx.restart()
        try await harness.waitForStats("everything received and written", timeout: 240) {
            $0["received"] == "12000" && $0["influx_buffer"] == "0" && $0["spool_batches"] == "0"
        }
        let exitCode = try await harness.stopIngestd()
        XCTAssertEqual(exitCode, 0)
        let count = try await harness.count()
        XCTAssertEqual(count, 12000)
        XCTAssertTrue(harness.log.contains("spool has room again"), harness.log)
    }

    private func mountTmpfs(at path: String, bytes: Int) throws {
        guard geteuid() == 0 else {
            throw XCTSkip("mounting a tmpfs for SPOOL_DIR needs root (CI runs the suite as root); skipped")
        }
        let result = try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", path])
        guard result.code == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (\(result.output.trimmingCharacters(in: .whitespacesAndNewlines))); skipped")
        }
        mountPoint = path
    }

    private static func unmount(_ path: String) {
        if (try? run("/bin/umount", [path]))?.code != 0 {
            _ = try? run("/bin/umount", ["-l", path])
        }
    }

    private static func run(_ executable: String, _ arguments: [String]) throws -> (code: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
