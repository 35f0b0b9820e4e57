import Foundation
@testable import IngestService
import Synchronization
import TestSupport
import XCTest

final class SpoolDiskSpoolTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    private var directory: String { temporary.path + "/spool" }
    private let log = SpoolTestLog()

    override func setUpWithError() throws { temporary = try TemporaryDirectory(prefix: "spool-test") }
    override func tearDown() { temporary.remove() }

    private func open(maxBytes: Int64 = 1 << 30, now: @escaping @Sendable () -> Date = { Date() }) throws -> DiskSpool {
        try DiskSpool(directory: directory, maxBytes: maxBytes, logger: log.logger, now: now)
    }

    private func lines(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func files(in path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    func testAppendOldestRemoveInOrderAcrossReopen() async throws {
        let first = try open()
        let a = try await first.append(database: "db1", lines: lines("m v=1i 1\n"), lineCount: 1)
        let b = try await first.append(database: "db2", lines: lines("m v=2i 2\nm v=3i 3\n"), lineCount: 2)
        let c = try await first.append(database: "db1", lines: lines("m v=4i 4\n"), lineCount: 1)
        XCTAssertEqual([a.sequence, b.sequence, c.sequence], [1, 2, 3])
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/corrupt"))

        let oldest = try await first.oldest()
        XCTAssertEqual(oldest?.id, a)
        XCTAssertEqual(oldest?.segment.database, "db1")
        XCTAssertEqual(oldest?.segment.body, lines("m v=1i 1\n"))
        await first.remove(a)

        // An earlier run's segments, oldest first; numbering continues after the highest.
        let second = try open()
        let status = await second.status
        XCTAssertEqual(status.segments, 2)
        let d = try await second.append(database: "db3", lines: lines("m v=5i 5"), lineCount: 1)
        XCTAssertEqual(d.sequence, 4)

        var replayed: [(SegmentID, SpoolSegment)] = []
        while let next = try await second.oldest() {
            replayed.append((next.id, next.segment))
            await second.remove(next.id)
        }
        XCTAssertEqual(replayed.map(\.0), [b, c, d])
        XCTAssertEqual(replayed.map(\.1.database), ["db2", "db1", "db3"])
        XCTAssertEqual(replayed[0].1.lineCount, 2)
        XCTAssertEqual(replayed[2].1.body, lines("m v=5i 5\n"))
        let empty = await second.status
        XCTAssertEqual(empty, SpoolStatus(segments: 0, bytes: 0, oldestAgeSeconds: nil))
        XCTAssertEqual(try files(in: directory), ["corrupt"])
    }

    func testRefusesAppendBeyondMaxBytesUntilSpaceIsFreed() async throws {
        let body = lines("m v=1i 1\n")
        let size = Int64(try SpoolSegment(database: "db", lineCount: 1, body: body).encodedSize)
        let spool = try open(maxBytes: 2 * size + size / 2)
        let first = try await spool.append(database: "db", lines: body, lineCount: 1)
        _ = try await spool.append(database: "db", lines: body, lineCount: 1)
        var isFull = await spool.isFull
        XCTAssertFalse(isFull)
        do {
            _ = try await spool.append(database: "db", lines: body, lineCount: 1)
            XCTFail("third append should not fit")
        } catch {
            XCTAssertEqual(error, .full(currentBytes: 2 * size, maxBytes: 2 * size + size / 2))
        }
        isFull = await spool.isFull
        XCTAssertTrue(isFull)
        let count = await spool.status.segments
        XCTAssertEqual(count, 2, "a refused batch leaves no file")
        XCTAssertEqual(try files(in: directory).filter { $0.hasPrefix("segment-") }.count, 2)
        XCTAssertTrue(log.records(containing: "spool full").isEmpty, "DurableStore logs it, once")

        await spool.remove(first)
        isFull = await spool.isFull
        XCTAssertFalse(isFull)
        _ = try await spool.append(database: "db", lines: body, lineCount: 1)
    }

    func testCorruptAndTornSegmentsAreMovedAsideAndReplayContinues() async throws {
        let metrics = SpoolMetrics()
        let spool = try DiskSpool(directory: directory, maxBytes: 1 << 30, logger: log.logger, metrics: metrics)
        let corrupt = try await spool.append(database: "db", lines: lines("m v=1i 1\n"), lineCount: 1)
        let torn = try await spool.append(database: "db", lines: lines("m v=2i 2\n"), lineCount: 1)
        let good = try await spool.append(database: "db", lines: lines("m v=3i 3\n"), lineCount: 1)

        let corruptPath = directory + "/" + corrupt.fileName
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: corruptPath)))
        bytes[bytes.count - 3] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: corruptPath))
        let tornPath = directory + "/" + torn.fileName
        let tornBytes = try Data(contentsOf: URL(fileURLWithPath: tornPath))
        try tornBytes.prefix(tornBytes.count - 4).write(to: URL(fileURLWithPath: tornPath))

        let oldest = try await spool.oldest()
        XCTAssertEqual(oldest?.id, good)
        XCTAssertEqual(oldest?.segment.body, lines("m v=3i 3\n"))
        XCTAssertEqual(try files(in: directory + "/corrupt"), [corrupt.fileName, torn.fileName])
        let status = await spool.status
        XCTAssertEqual(status.segments, 1)
        XCTAssertEqual(status.bytes, Int64(oldest!.segment.encodedSize))

        let records = log.records(containing: "moved to corrupt/")
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records.first?.metadata["file"], corruptPath)
        XCTAssertTrue(records.first?.metadata["error"]?.contains("checksum mismatch") ?? false)
        XCTAssertTrue(records.last?.metadata["error"]?.contains("torn") ?? false)
        XCTAssertEqual(metrics.corruptFiles.load(ordering: .relaxed), 2)
        XCTAssertEqual(metrics.corruptLines.load(ordering: .relaxed), 2, "one line each, from their headers")
    }

    func testGarbageSegmentFromEarlierRunDoesNotStopStartUp() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let garbage = SegmentID(sequence: 7, createdAtMilliseconds: 1_000).fileName
        try Data("not a segment".utf8).write(to: URL(fileURLWithPath: directory + "/" + garbage))
        try Data("someone else's".utf8).write(to: URL(fileURLWithPath: directory + "/notes.txt"))

        let spool = try open()
        let next = try await spool.append(database: "db", lines: lines("m v=1i 1\n"), lineCount: 1)
        XCTAssertEqual(next.sequence, 8)
        let oldest = try await spool.oldest()
        XCTAssertEqual(oldest?.id, next)
        XCTAssertEqual(try files(in: directory + "/corrupt"), [garbage])
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/notes.txt"), "foreign files are left alone")

        // With the spool drained, numbering still continues past quarantined names (7 in corrupt/),
        // so a later quarantine never meets a name already there.
        await spool.remove(next)
        let reopened = try open()
        let after = try await reopened.append(database: "db", lines: lines("m v=2i 2\n"), lineCount: 1)
        XCTAssertEqual(after.sequence, 8)
    }

    func testLeftoverTemporaryFileIsRemovedAtStart() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let leftover = directory + "/" + SegmentID(sequence: 3, createdAtMilliseconds: 5).fileName + ".tmp"
        try Data(try SpoolSegment(database: "db", lineCount: 1, body: lines("m v=1i 1\n")).encode().prefix(10))
            .write(to: URL(fileURLWithPath: leftover))

        let spool = try open()
        XCTAssertFalse(FileManager.default.fileExists(atPath: leftover))
        let status = await spool.status
        XCTAssertEqual(status.segments, 0)
        XCTAssertEqual(log.records(containing: "removed temporary spool file").first?.metadata["file"], leftover)
    }

    func testStatusCountsSegmentsBytesAndAge() async throws {
        let start = Date(timeIntervalSince1970: 1_770_628_523)
        let clock = Mutex(start)
        let spool = try open(now: { clock.withLock { $0 } })
        let a = try await spool.append(database: "db", lines: lines("m v=1i 1\n"), lineCount: 1)
        clock.withLock { $0 = start.addingTimeInterval(30) }
        _ = try await spool.append(database: "telemetry_t1", lines: lines("m v=2i 2\nm v=3i 3\n"), lineCount: 2)
        clock.withLock { $0 = start.addingTimeInterval(90) }

        let expectedBytes = Int64(try SpoolSegment(database: "db", lineCount: 1, body: lines("m v=1i 1\n")).encodedSize
            + SpoolSegment(database: "telemetry_t1", lineCount: 2, body: lines("m v=2i 2\nm v=3i 3\n")).encodedSize)
        let status = await spool.status
        XCTAssertEqual(status, SpoolStatus(segments: 2, bytes: expectedBytes, oldestAgeSeconds: 90))
        XCTAssertEqual(status.description, "segments=2 bytes=\(expectedBytes) oldest_age_seconds=90")

        await spool.remove(a)
        let after = await spool.status
        XCTAssertEqual(after.segments, 1)
        XCTAssertEqual(after.oldestAgeSeconds, 60)
    }
}
