import IngestCore
import XCTest

final class RefusedLineIsolationTests: XCTestCase {
    private let body = Array("a 1\nb 2\nbad 3\nd 4\n".utf8)

    private func lineText(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testAPartialWriteNamesTheRefusedLinesAndTheRestCountsAsWritten() {
        var isolation = RefusedLineIsolation(body: body)
        let step = isolation.start(.refused(status: 400, message: "partial write",
                                            refusedLines: [.init(lineNumber: 3, message: "invalid field")]))
        XCTAssertEqual(step, .resolved)
        XCTAssertEqual(isolation.refused.map { lineText($0.line) }, ["bad 3\n"])
        XCTAssertEqual(isolation.refused.first?.message, "invalid field")
        XCTAssertEqual(isolation.writtenLines, 3)
    }

    func testALineNumberOutsideTheBatchIsIgnored() {
        var isolation = RefusedLineIsolation(body: body)
        let step = isolation.start(.refused(status: 400, message: "x", refusedLines: [.init(lineNumber: 9, message: "")]))
        XCTAssertEqual(step, .resolved)
        XCTAssertEqual(isolation.refused.count, 0)
        XCTAssertEqual(isolation.writtenLines, 4)
    }

    /// Whole-batch 400 (InfluxDB 1.x/2.x): halves, then quarters, down to the one bad line.
    func testBisectionFindsExactlyTheRefusedLine() {
        var isolation = RefusedLineIsolation(body: body)
        let refusal = WriteOutcome.refused(status: 400, message: "unable to parse", refusedLines: nil)
        var step = isolation.start(refusal)
        var writes: [String] = []
        while case let .write(_, sent) = step {
            let text = lineText(sent)
            writes.append(text)
            step = isolation.finished(text.contains("bad") ? refusal : .written)
        }
        XCTAssertEqual(step, .resolved)
        XCTAssertEqual(writes, ["a 1\nb 2\n", "bad 3\nd 4\n", "bad 3\n", "d 4\n"])
        XCTAssertEqual(isolation.refused.map { lineText($0.line) }, ["bad 3\n"])
        XCTAssertEqual(isolation.writtenLines, 3)
    }

    func testARetryableFailureInterruptsTheSearch() {
        var isolation = RefusedLineIsolation(body: body)
        guard case .write = isolation.start(.refused(status: 413, message: "too large", refusedLines: nil)) else {
            return XCTFail("expected a write of the first half")
        }
        let down = WriteOutcome.retryable(status: 503, retryAfterSeconds: nil, message: "unavailable")
        XCTAssertEqual(isolation.finished(down), .interrupted(down))
    }

    func testASingleRefusedLineIsRefusedWithoutAnotherWrite() {
        var isolation = RefusedLineIsolation(body: Array("bad 1".utf8))
        XCTAssertEqual(isolation.start(.refused(status: 400, message: "no", refusedLines: nil)), .resolved)
        XCTAssertEqual(isolation.refused.map { lineText($0.line) }, ["bad 1\n"], "a missing final newline is added")
    }
}
