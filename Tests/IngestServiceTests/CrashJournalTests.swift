import Foundation
@testable import IngestService
import TestSupport
import XCTest

final class CrashJournalTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    private var directory: String { temporary.path + "/spool" }
    private let log = SpoolTestLog()

    override func setUpWithError() throws { temporary = try TemporaryDirectory(prefix: "journal-test") }
    override func tearDown() { temporary.remove() }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func journalFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("journal-") }.sorted()
    }

    private func recover() throws -> [JournalBatch] { try CrashJournal.recover(directory: directory, logger: log.logger) }

    /// The journal object is dropped without any shutdown step, as in a crash right after a sync.
    func testRecoverReturnsExactlyTheUnacknowledgedLines() throws {
        do {
            let journal = try CrashJournal(directory: directory, logger: log.logger)
            XCTAssertEqual(journal.recovered, [])
            XCTAssertEqual(try journal.append(database: "db1", lines: bytes("a v=1i 1\nb v=2i 2\n")), 1...2)
            XCTAssertEqual(try journal.append(database: "db2", lines: bytes("c v=3i 3")), 3...3)
            XCTAssertEqual(try journal.append(database: "db1", lines: bytes("d v=4i 4\n")), 4...4)
            XCTAssertEqual(try journal.append(database: "db1", lines: bytes("e v=5i 5\n")), 5...5)
            journal.acknowledge(upTo: 1)
            try journal.sync()
        }
        let expected = [
            JournalBatch(database: "db1", lines: bytes("b v=2i 2\n"), lineCount: 1, sequences: 2...2),
            JournalBatch(database: "db2", lines: bytes("c v=3i 3\n"), lineCount: 1, sequences: 3...3),
            JournalBatch(database: "db1", lines: bytes("d v=4i 4\ne v=5i 5\n"), lineCount: 2, sequences: 4...5),
        ]
        XCTAssertEqual(try recover(), expected)
        XCTAssertEqual(try recover(), expected, "recover reads without changing anything")

        // The next run takes them over under new numbers, and the earlier file goes.
        let before = try journalFiles()
        do {
            let second = try CrashJournal(directory: directory, logger: log.logger)
            XCTAssertEqual(second.recovered.map(\.lines), expected.map(\.lines))
            XCTAssertEqual(second.recovered.map(\.database), ["db1", "db2", "db1"])
            XCTAssertEqual(second.recovered.map(\.sequences), [6...6, 7...7, 8...9])
            XCTAssertEqual(try journalFiles().count, 1)
            XCTAssertFalse(try journalFiles().contains(before[0]))
            XCTAssertEqual(try recover().map(\.lines), expected.map(\.lines), "still safe before any acknowledgement")
            XCTAssertEqual(try second.append(database: "db3", lines: bytes("f v=6i 6\n")), 10...10)
            second.acknowledge(upTo: 9)
            try second.sync()
        }
        XCTAssertEqual(try recover(), [JournalBatch(database: "db3", lines: bytes("f v=6i 6\n"), lineCount: 1, sequences: 10...10)])
        let third = try CrashJournal(directory: directory, logger: log.logger)
        third.acknowledge(upTo: third.recovered.last!.sequences.upperBound)
        try third.sync()
        XCTAssertEqual(try recover(), [])
    }

    /// A crash after the next run wrote the taken-over lines but before it deleted the earlier file:
    /// the lines come back once, not twice and not zero times.
    func testCrashBetweenTakeOverAndDeletingEarlierFiles() throws {
        do {
            let journal = try CrashJournal(directory: directory, logger: log.logger)
            try journal.append(database: "db", lines: bytes("a v=1i 1\nb v=2i 2\n"))
            journal.acknowledge(upTo: 1)
            try journal.sync()
        }
        let earlier = try journalFiles()[0]
        let saved = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + earlier))
        do {
            let second = try CrashJournal(directory: directory, logger: log.logger)
            XCTAssertEqual(second.recovered.map(\.lines), [bytes("b v=2i 2\n")])
        }
        try saved.write(to: URL(fileURLWithPath: directory + "/" + earlier))  // as if never deleted
        XCTAssertEqual(try recover().map(\.lines), [bytes("b v=2i 2\n")])
        let third = try CrashJournal(directory: directory, logger: log.logger)
        XCTAssertEqual(third.recovered.map(\.lines), [bytes("b v=2i 2\n")])
    }

    /// The documented loss window: lines appended after the last sync are not on disk.
    func testLinesAppendedAfterTheLastSyncAreNotRecovered() throws {
        let journal = try CrashJournal(directory: directory, logger: log.logger)
        try journal.append(database: "db", lines: bytes("a v=1i 1\n"))
        try journal.sync()
        try journal.append(database: "db", lines: bytes("b v=2i 2\n"))
        XCTAssertEqual(try recover().map(\.lines), [bytes("a v=1i 1\n")])
        try journal.sync()
        XCTAssertEqual(try recover().map(\.lines), [bytes("a v=1i 1\nb v=2i 2\n")])
    }

    func testLinesAcknowledgedBeforeTheSyncAreNeverWritten() throws {
        let journal = try CrashJournal(directory: directory, logger: log.logger)
        let range = try journal.append(database: "db", lines: bytes("secret_marker v=1i 1\n"))
        journal.acknowledge(upTo: range.upperBound)
        try journal.sync()
        let content = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + journalFiles()[0]))
        XCTAssertNil(content.range(of: Data("secret_marker".utf8)))
        XCTAssertEqual(try recover(), [])
    }

    func testAcknowledgementBeyondLastLineIsClamped() throws {
        let journal = try CrashJournal(directory: directory, logger: log.logger)
        try journal.append(database: "db", lines: bytes("a v=1i 1\n"))
        journal.acknowledge(upTo: 1_000)
        try journal.append(database: "db", lines: bytes("b v=2i 2\n"))
        try journal.sync()
        XCTAssertEqual(try recover().map(\.lines), [bytes("b v=2i 2\n")])
        XCTAssertEqual(log.records(containing: "clamped").count, 1)
    }

    func testTornTailIsIgnoredAndLogged() throws {
        let journal = try CrashJournal(directory: directory, logger: log.logger)
        try journal.append(database: "db", lines: bytes("a v=1i 1\n"))
        try journal.sync()
        let path = directory + "/" + (try journalFiles()[0])
        let intact = try Data(contentsOf: URL(fileURLWithPath: path)).count
        try journal.append(database: "db", lines: bytes("b v=2i 2\n"))
        try journal.sync()
        let full = try Data(contentsOf: URL(fileURLWithPath: path))

        // Cut the last record at every byte: the first is always returned, the torn one never.
        for length in intact..<full.count {
            try full.prefix(length).write(to: URL(fileURLWithPath: path))
            XCTAssertEqual(try recover().map(\.lines), [bytes("a v=1i 1\n")], "cut at \(length)")
        }
        let warnings = log.records(containing: "torn record")
        XCTAssertEqual(warnings.count, full.count - intact - 1, "every cut but the one at a record boundary")
        XCTAssertEqual(warnings.first?.metadata["file"], path)
        XCTAssertEqual(warnings.first?.metadata["offset"], "\(intact)")

        // A flipped byte inside the last record is damage, not a tear: also ignored, logged as an error.
        var damaged = [UInt8](full)
        damaged[damaged.count - 2] ^= 0x20
        try Data(damaged).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try recover().map(\.lines), [bytes("a v=1i 1\n")])
        XCTAssertEqual(log.records(containing: "damaged").last?.level, .error)

        // And a start-up over the torn file keeps the intact line.
        try full.prefix(full.count - 3).write(to: URL(fileURLWithPath: path))
        let next = try CrashJournal(directory: directory, logger: log.logger)
        XCTAssertEqual(next.recovered.map(\.lines), [bytes("a v=1i 1\n")])
    }

    func testRotatesAndDeletesFilesOnceEverythingInThemIsAcknowledged() throws {
        let journal = try CrashJournal(directory: directory, logger: log.logger, rotateAfterBytes: 64)
        let first = try journal.append(database: "db", lines: bytes("first v=1i 1\n"))
        try journal.sync()
        XCTAssertEqual(try journalFiles().count, 1)
        let second = try journal.append(database: "db", lines: bytes("second v=2i 2\n"))
        try journal.sync()
        let files = try journalFiles()
        XCTAssertEqual(files.count, 2, "past 64 bytes the next sync starts a new file")
        XCTAssertEqual(try recover().map(\.lines), [bytes("first v=1i 1\nsecond v=2i 2\n")], "lines span both files")

        journal.acknowledge(upTo: first.upperBound)
        try journal.sync()
        XCTAssertFalse(try journalFiles().contains(files[0]), "the first file is fully acknowledged")
        XCTAssertEqual(try recover().map(\.lines), [bytes("second v=2i 2\n")])

        journal.acknowledge(upTo: second.upperBound)
        try journal.sync()
        XCTAssertEqual(try journalFiles().count, 1)
        XCTAssertEqual(try recover(), [])
    }

    func testSyncWithNothingNewWritesNothing() throws {
        let journal = try CrashJournal(directory: directory, logger: log.logger)
        let path = directory + "/" + (try journalFiles()[0])
        let size = try Data(contentsOf: URL(fileURLWithPath: path)).count
        try journal.sync()
        try journal.sync()
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)).count, size)
    }

    func testPeriodicSyncMakesLinesDurableAndStopsOnCancel() async throws {
        let journal = try CrashJournal(directory: directory, logger: log.logger)
        let task = Task { await journal.syncPeriodically(every: .milliseconds(20)) }
        try journal.append(database: "db", lines: bytes("a v=1i 1\n"))
        try await eventually("periodic sync wrote the line", timeout: 30) { try recover().count == 1 }
        task.cancel()
        await task.value
    }

    func testRecordRoundTripAndEveryTruncationIsTorn() throws {
        var bytes: [UInt8] = []
        let record = JournalRecord.lines(firstSequence: 41, database: "telemetry_t1", lineCount: 2, body: self.bytes("a 1\nb 2\n"))
        record.encode(into: &bytes)
        JournalRecord.acknowledgement(upTo: 42).encode(into: &bytes)
        let (decoded, next) = try JournalRecord.decode(bytes, at: 0)
        XCTAssertEqual(decoded, record)
        XCTAssertEqual(decoded.lastSequence, 42)
        let (ack, end) = try JournalRecord.decode(bytes, at: next)
        XCTAssertEqual(ack, .acknowledgement(upTo: 42))
        XCTAssertEqual(end, bytes.count)
        for length in 0..<next {
            XCTAssertThrowsError(try JournalRecord.decode(Array(bytes[0..<length]), at: 0)) { error in
                guard case .torn = error as? SpoolError else { return XCTFail("length \(length): \(error)") }
            }
        }
    }
}
