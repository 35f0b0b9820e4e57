import Foundation
import TestSupport
import XCTest

/// README "Logs": when standard error is the journal's stream (`JOURNAL_STREAM` names its
/// device:inode), every line starts with its syslog priority, so `journalctl -p warning` works; on
/// any other standard error the lines stay plain.
final class JournaldTests: XCTestCase {
    /// Runs ingestd with standard error appended to `log`, and `JOURNAL_STREAM` set to the device and
    /// inode of `streamFile` (the log itself: stderr is "the journal"; another file: it is not).
    private func start(_ arguments: [String], environment: [String: String], log: String, streamFile: String) throws -> ChildProcess {
        guard let binary = IngestdProcess.binaryPath() else { throw XCTSkip("no ingestd binary (swift build first)") }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        _ = FileManager.default.createFile(atPath: streamFile, contents: nil)
        // `2>>` opens the same inode that was stat'ed, as systemd hands its stream to the service.
        let script = #"JOURNAL_STREAM=$(stat -c %d:%i "$1") exec "$3" "$4" 2>>"$2""#
        var env = environment
        env["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return try ChildProcess(name: "ingestd-journal", executable: "/bin/sh",
                                arguments: ["-c", script, "sh", streamFile, log, binary] + arguments,
                                environment: env, logPath: log + ".stdout")
    }

    private func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func testABadSettingIsLoggedAtPriorityCriticalWhenStderrIsTheJournal() async throws {
        let directory = try TemporaryDirectory(prefix: "ingestd-journal")
        defer { directory.remove() }
        let log = directory.file("stderr.log")
        let child = try start(["run"], environment: ["MQTT_PORT": "abc", "REGISTRY": "none"], log: log, streamFile: log)
        let code = try await child.waitForExit(timeout: 60)
        XCTAssertEqual(code, 78)
        let output = lines(log)
        XCTAssertEqual(output.count, 1, output.joined(separator: "\n"))
        XCTAssertTrue(output.first?.hasPrefix("<2>ts=") ?? false, output.joined(separator: "\n"))
    }

    func testDaemonLinesCarryTheirPriorityOnlyOnTheJournalStream() async throws {
        let directory = try TemporaryDirectory(prefix: "ingestd-journal")
        defer { directory.remove() }
        // A broker port nobody listens on: ingestd starts, warns about REGISTRY=none and keeps retrying.
        let environment = ["REGISTRY": "none", "MQTT_HOST": "127.0.0.1", "MQTT_PORT": "\(FreePort.next())",
                           "SPOOL_DIR": directory.file("spool"), "LOG_STATS_EVERY_SECONDS": "0"]
        for journal in [true, false] {
            let log = directory.file("stderr-\(journal).log")
            let child = try start(["run"], environment: environment, log: log,
                                  streamFile: journal ? log : directory.file("elsewhere-\(journal)"))
            try await eventually("the REGISTRY=none warning and the start-up line in \(log)", timeout: 60) {
                let output = self.lines(log)
                return output.contains { $0.contains("level=warning") && $0.contains("REGISTRY=none") }
                    && output.contains { $0.contains("msg=\"ingestd starting\"") }
            }
            await child.stop()
            let output = lines(log)
            let warning = try XCTUnwrap(output.first { $0.contains("REGISTRY=none") })
            let starting = try XCTUnwrap(output.first { $0.contains("msg=\"ingestd starting\"") })
            if journal {
                XCTAssertTrue(warning.hasPrefix("<4>ts="), warning)
                XCTAssertTrue(starting.hasPrefix("<6>ts="), starting)
                XCTAssertTrue(output.allSatisfy { $0.range(of: #"^<[2-7]>ts="#, options: .regularExpression) != nil }, output.joined(separator: "\n"))
            } else {
                XCTAssertTrue(output.allSatisfy { $0.hasPrefix("ts=") }, output.joined(separator: "\n"))
            }
        }
    }
}
