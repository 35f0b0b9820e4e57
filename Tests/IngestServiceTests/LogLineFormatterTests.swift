import Foundation
@testable import IngestService
import Logging
import XCTest

final class LogLineFormatterTests: XCTestCase {
    private let date = Date(timeIntervalSince1970: 1_770_628_523.045)

    func testLogfmtPutsTsLevelMsgFirstAndSortsTheRest() {
        let line = LogLineFormatter(format: .logfmt).render(
            level: .info, message: "stats", metadata: ["received": "10", "enqueued": "9", "dropped": "0"], date: date)
        XCTAssertEqual(line, "ts=2026-02-09T09:15:23.045Z level=info msg=stats dropped=0 enqueued=9 received=10")
    }

    func testLogfmtQuotesValuesThatNeedIt() {
        let line = LogLineFormatter(format: .logfmt).render(
            level: .warning, message: "write failed; will retry",
            metadata: ["error": #"HTTP 503 "busy" \ retry"#, "empty": "", "eq": "a=b", "nl": "two\nlines"], date: date)
        XCTAssertEqual(line, #"ts=2026-02-09T09:15:23.045Z level=warning msg="write failed; will retry" empty="" eq="a=b" error="HTTP 503 \"busy\" \\ retry" nl="two\nlines""#)
        XCTAssertEqual(line.split(separator: "\n").count, 1, "one event, one line")
    }

    func testJSONIsOneObjectPerLineWithNumbersKeptAsNumbers() throws {
        let line = LogLineFormatter(format: .json).render(
            level: .error, message: "spool full \"now\"",
            metadata: ["segments": .stringConvertible(12), "path": "/var/lib/ingestd", "tab": "a\tb\u{1}"], date: date)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["ts"] as? String, "2026-02-09T09:15:23.045Z")
        XCTAssertEqual(object["level"] as? String, "error")
        XCTAssertEqual(object["msg"] as? String, "spool full \"now\"")
        XCTAssertEqual(object["segments"] as? Int, 12)
        XCTAssertEqual(object["path"] as? String, "/var/lib/ingestd")
        XCTAssertEqual(object["tab"] as? String, "a\tb\u{1}")
        XCTAssertFalse(line.contains("\n"))
    }

    func testTimestampsAcrossEraBoundaries() {
        XCTAssertEqual(LogLineFormatter.timestamp(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(LogLineFormatter.timestamp(Date(timeIntervalSince1970: 951_782_400)), "2000-02-29T00:00:00.000Z")
        XCTAssertEqual(LogLineFormatter.timestamp(Date(timeIntervalSince1970: 4_102_444_799.999)), "2099-12-31T23:59:59.999Z")
    }
}
