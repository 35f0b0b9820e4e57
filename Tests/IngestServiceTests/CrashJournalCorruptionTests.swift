import Foundation
@testable import IngestService
import TestSupport
import XCTest

/// A journal file damaged in the middle, truncated, or not a journal at all: the readable lines come
/// back, the file is set aside in corrupt/ (named in a log line, counted) and start-up goes on, also
/// the next time (README, Delivery guarantees).
final class CrashJournalCorruptionTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    private var directory: String { temporary.path + "/spool/journal" }
    private var corrupt: String { temporary.path + "/spool/corrupt" }
    private let log = SpoolTestLog()

    override func setUpWithError() throws { temporary = try TemporaryDirectory(prefix: "journal-corrupt") }
    override func tearDown() { temporary.remove() }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Three syncs, three line records of 1, 2 and 3 lines; returns the file and each record's offset.
    private func journalWithThreeRecords() throws -> (path: String, offsets: [Int]) {
        let journal = try CrashJournal(directory: directory, logger: log.logger)
        try journal.append(database: "db", lines: bytes("a v=1i 1\n"))
        try journal.sync()
        try journal.append(database: "db", lines: bytes("b v=2i 2\nb v=3i 3\n"))
        try journal.sync()
        try journal.append(database: "db", lines: bytes("c v=4i 4\nc v=5i 5\nc v=6i 6\n"))
        try journal.sync()
        let name = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasPrefix("journal-") })
        let path = directory + "/" + name
        let content = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        var offsets: [Int] = []
        var offset = 0
        while offset < content.count {
            let (record, next) = try JournalRecord.decode(content, at: offset)
            if !record.isAcknowledgement { offsets.append(offset) }
            offset = next
        }
        XCTAssertEqual(offsets.count, 3)
        return (path, offsets)
    }

    private func rewrite(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
        var content = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        change(&content)
        try Data(content).write(to: URL(fileURLWithPath: path))
    }

    func testARecordDamagedInTheMiddleIsSkippedAndTheRecordsAfterItAreRecovered() throws {
        let (path, offsets) = try journalWithThreeRecords()
        try rewrite(path) { $0[offsets[1] + JournalRecord.headerSize + 4] ^= 0x01 }

        XCTAssertEqual(try CrashJournal.recover(directory: directory, logger: log.logger).map(\.lines),
                       [bytes("a v=1i 1\n"), bytes("c v=4i 4\nc v=5i 5\nc v=6i 6\n")])
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "recover() only reads")

        let next = try CrashJournal(directory: directory, logger: log.logger)
        XCTAssertEqual(next.recovered.map(\.lines), [bytes("a v=1i 1\n"), bytes("c v=4i 4\nc v=5i 5\nc v=6i 6\n")])
        XCTAssertEqual(next.corruptFiles, 1)
        XCTAssertEqual(next.corruptLines, 2, "the two lines of the damaged record")
        let name = (path as NSString).lastPathComponent
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: corrupt), [name])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        let moved = log.records(containing: "moved to corrupt/")
        XCTAssertEqual(moved.count, 1)
        XCTAssertEqual(moved.first?.metadata["file"], path)
        XCTAssertEqual(moved.first?.metadata["moved_to"], corrupt + "/" + name)
        XCTAssertEqual(log.records(containing: "journal record is damaged").first?.metadata["ignored_lines"], "2")

        // The recovered lines are in the new journal: a crash now still gives them back, and the
        // start after it finds nothing damaged (no crash loop, nothing to wipe by hand).
        let third = try CrashJournal(directory: directory, logger: log.logger)
        XCTAssertEqual(third.recovered.map(\.lines), [bytes("a v=1i 1\nc v=4i 4\nc v=5i 5\nc v=6i 6\n")],
                       "renumbered in a row, so read back as one batch")
        XCTAssertEqual(third.corruptFiles, 0)
    }

    func testATruncatedFileKeepsItsIntactRecordsAndIsSetAside() throws {
        let (path, _) = try journalWithThreeRecords()
        try rewrite(path) { $0.removeLast(5) }

        let next = try CrashJournal(directory: directory, logger: log.logger)
        XCTAssertEqual(next.recovered.map(\.lines), [bytes("a v=1i 1\nb v=2i 2\nb v=3i 3\n")])
        XCTAssertEqual(next.corruptFiles, 1)
        XCTAssertEqual(next.corruptLines, 3, "the torn record's header says 3 lines")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: corrupt), [(path as NSString).lastPathComponent])
        XCTAssertEqual(log.records(containing: "torn record").first?.level, .warning)
    }

    func testAFileThatIsNoJournalAtAllDoesNotStopStartUp() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/journal-00000000000000000007.log"
        try Data("not a journal\nat all\n".utf8).write(to: URL(fileURLWithPath: path))

        let journal = try CrashJournal(directory: directory, logger: log.logger)
        XCTAssertEqual(journal.recovered, [])
        XCTAssertEqual(journal.corruptFiles, 1)
        XCTAssertEqual(journal.corruptLines, 2, "counted by newlines when there is no record header")
        XCTAssertEqual(try journal.append(database: "db", lines: bytes("a v=1i 1\n")), 1...1)
        try journal.sync()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: corrupt), ["journal-00000000000000000007.log"])

        // A second damaged file of the same name later gets a name of its own in corrupt/.
        try Data("junk".utf8).write(to: URL(fileURLWithPath: path))
        let again = try CrashJournal(directory: directory, logger: log.logger)
        XCTAssertEqual(again.corruptFiles, 1)
        XCTAssertEqual(again.recovered.map(\.lines), [bytes("a v=1i 1\n")])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: corrupt).sorted(),
                       ["journal-00000000000000000007.log", "journal-00000000000000000007.log.1"])
    }
}
