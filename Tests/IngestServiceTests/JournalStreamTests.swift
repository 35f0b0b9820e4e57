import Foundation
@testable import IngestService
import Logging
import XCTest

/// README "Logs": under systemd each line starts with its syslog priority, so `journalctl -p` works.
final class JournalStreamTests: XCTestCase {
    private let date = Date(timeIntervalSince1970: 1_770_628_523.045)

    func testEveryLevelMapsToItsSyslogPriority() {
        let expected: [Logger.Level: Int] = [.trace: 7, .debug: 7, .info: 6, .notice: 5, .warning: 4, .error: 3, .critical: 2]
        for level in Logger.Level.allCases {
            XCTAssertEqual(SyslogPriority.number(for: level), expected[level], "\(level)")
        }
        XCTAssertEqual(SyslogPriority.prefix(for: .warning), "<4>")
    }

    func testThePrefixStartsLogfmtAndJSONLinesOnlyWhenAsked() {
        let plain = LogLineFormatter(format: .logfmt).render(level: .warning, message: "m", metadata: [:], date: date)
        XCTAssertEqual(plain, "ts=2026-02-09T09:15:23.045Z level=warning msg=m")
        let journal = LogLineFormatter(format: .logfmt, syslogPrefix: true).render(level: .warning, message: "m", metadata: [:], date: date)
        XCTAssertEqual(journal, "<4>ts=2026-02-09T09:15:23.045Z level=warning msg=m")
        let json = LogLineFormatter(format: .json, syslogPrefix: true).render(level: .error, message: "m", metadata: [:], date: date)
        XCTAssertEqual(json, #"<3>{"ts":"2026-02-09T09:15:23.045Z","level":"error","msg":"m"}"#)
    }

    func testJournalStreamParsesDeviceAndInode() {
        XCTAssertEqual(JournalStream(environmentValue: "64769:1234567"), JournalStream(device: 64769, inode: 1_234_567))
        for malformed in [nil, "", "12", "12:", ":34", "a:b", "1:2:3", "-1:2", " 1:2"] {
            XCTAssertNil(JournalStream(environmentValue: malformed), String(describing: malformed))
        }
    }

    func testOnlyTheStreamJOURNAL_STREAMNamesCountsAsTheJournal() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("journal-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = open(folder.appendingPathComponent("a").path, O_CREAT | O_WRONLY, 0o600)
        let second = open(folder.appendingPathComponent("b").path, O_CREAT | O_WRONLY, 0o600)
        XCTAssertGreaterThanOrEqual(first, 0)
        XCTAssertGreaterThanOrEqual(second, 0)
        defer { close(first); close(second) }
        let stream = try XCTUnwrap(JournalStream(fileDescriptor: first))
        let value = "\(stream.device):\(stream.inode)"

        XCTAssertTrue(JournalStream.isJournal(fileDescriptor: first, environment: ["JOURNAL_STREAM": value]))
        // A redirected standard error inherits the variable but is another file: no prefix.
        XCTAssertFalse(JournalStream.isJournal(fileDescriptor: second, environment: ["JOURNAL_STREAM": value]))
        XCTAssertFalse(JournalStream.isJournal(fileDescriptor: first, environment: [:]))
        XCTAssertFalse(JournalStream.isJournal(fileDescriptor: first, environment: ["JOURNAL_STREAM": "\(stream.device):\(stream.inode + 1)"]))
        XCTAssertFalse(JournalStream.isJournal(fileDescriptor: -1, environment: ["JOURNAL_STREAM": value]))
    }
}
