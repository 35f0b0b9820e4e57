import Foundation
@testable import IngestService
import TestSupport
import XCTest

final class DeadLetterWriterTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    private let log = SpoolTestLog()

    override func setUpWithError() throws { temporary = try TemporaryDirectory(prefix: "deadletter-test") }
    override func tearDown() { temporary.remove() }

    func testWritesReadableFileWithHeaderAndExactlyTheLines() async throws {
        let time = Date(timeIntervalSince1970: 1_770_628_523.045)
        let writer = try DeadLetterWriter(directory: temporary.path + "/dead-letter", logger: log.logger, now: { time })
        let refused = [
            Array(#"telemetry,device_id=d1,site_id=s1 temp_c="warm" 1770628523045000000"#.utf8),
            Array("telemetry,device_id=d2,site_id=s1 temp_c=1i 1770628523046000000\n".utf8),
        ]
        let path = try await writer.write(
            database: "telemetry_t1", status: 400, error: "partial write:\nfield type conflict", lines: refused)

        XCTAssertTrue(path.hasPrefix(temporary.path + "/dead-letter/deadletter-"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text, """
            # ingestd dead letter
            # time: 2026-02-09T09:15:23.045Z
            # database: telemetry_t1
            # status: 400
            # error: partial write: field type conflict
            # lines: 2
            telemetry,device_id=d1,site_id=s1 temp_c="warm" 1770628523045000000
            telemetry,device_id=d2,site_id=s1 temp_c=1i 1770628523046000000

            """)
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertEqual(lines.map { Array($0.utf8) }, refused.map { Array($0.prefix { $0 != UInt8(ascii: "\n") }) })
        XCTAssertTrue(log.all.isEmpty, "DurableStore logs dead-letter files, not the writer")
    }

    func testDistinctFilesForTheSameMillisecond() async throws {
        let time = Date(timeIntervalSince1970: 1_770_628_523)
        let directory = temporary.path + "/dead-letter"
        let writer = try DeadLetterWriter(directory: directory, logger: log.logger, now: { time })
        let first = try await writer.write(
            database: "db", status: 422, error: "bad", lines: ["a v=1i 1", "b v=2i 2\n", "c v=3i 3"].map { Array($0.utf8) })
        let second = try await writer.write(database: "db", status: 400, error: "bad", lines: [Array("d v=4i 4\n".utf8)])
        XCTAssertNotEqual(first, second)
        XCTAssertTrue(try String(contentsOfFile: first, encoding: .utf8)
            .hasSuffix("# lines: 3\na v=1i 1\nb v=2i 2\nc v=3i 3\n"))
        XCTAssertTrue(try String(contentsOfFile: second, encoding: .utf8).hasSuffix("# lines: 1\nd v=4i 4\n"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).count, 2, "no temporary files left")
    }
}
