@testable import IngestCore
import XCTest

/// The segments a buffer keeps its lines in (README, "Throughput when InfluxDB is slow"): whole lines,
/// in order, at most one batch's bytes each, full ones a whole number of batches.
final class LineSegmentsTests: XCTestCase {
    /// Lines of one width each, so a limit in bytes is a limit in lines.
    func lines(_ range: Range<Int>) -> [UInt8] {
        Array(range.map { "m,n=\(1_000 + $0) v=1\n" }.joined().utf8)
    }

    func text(_ segments: LineSegments) -> [String] {
        segments.segments.map { String(decoding: $0.bytes, as: UTF8.self) }
    }

    func testChunksStayInOneSegmentUpToTheLimit() {
        var segments = LineSegments()
        segments.append(lines(0..<3), lineCount: 3, segmentLimit: 1_000, lineMultiple: 2)
        segments.append(lines(3..<5), lineCount: 2, segmentLimit: 1_000, lineMultiple: 2)
        XCTAssertEqual(segments.segments.count, 1)
        XCTAssertFalse(segments.hasFullSegment)
        XCTAssertEqual(segments.byteCount, lines(0..<5).count)
        XCTAssertEqual(text(segments), [String(decoding: lines(0..<5), as: UTF8.self)])
    }

    func testAFullSegmentKeepsAWholeMultipleAndTheNewOneTakesTheRest() {
        var segments = LineSegments()
        let limit = lines(0..<7).count  // seven lines fit, the eighth does not
        segments.append(lines(0..<7), lineCount: 7, segmentLimit: limit, lineMultiple: 3)
        segments.append(lines(7..<9), lineCount: 2, segmentLimit: limit, lineMultiple: 3)
        XCTAssertEqual(segments.segments.map(\.lineCount), [6, 3])
        XCTAssertEqual(text(segments), [String(decoding: lines(0..<6), as: UTF8.self),
                                        String(decoding: lines(6..<9), as: UTF8.self)])
        XCTAssertEqual(segments.byteCount, lines(0..<9).count)
        XCTAssertTrue(segments.hasFullSegment)
        XCTAssertGreaterThanOrEqual(segments.segments[1].bytes.capacity, limit, "a backlog's next segment reserves a batch")
    }

    func testASegmentOfFewerLinesThanTheMultipleStaysWhole() {
        var segments = LineSegments()
        let limit = lines(0..<2).count
        segments.append(lines(0..<2), lineCount: 2, segmentLimit: limit, lineMultiple: 500)
        segments.append(lines(2..<3), lineCount: 1, segmentLimit: limit, lineMultiple: 500)
        XCTAssertEqual(segments.segments.map(\.lineCount), [2, 1])
    }

    func testAChunkLargerThanTheLimitIsASegmentOfItsOwn() {
        var segments = LineSegments()
        segments.append(lines(0..<1), lineCount: 1, segmentLimit: 20, lineMultiple: 1)
        segments.append(lines(1..<10), lineCount: 9, segmentLimit: 20, lineMultiple: 1)
        segments.append(lines(10..<11), lineCount: 1, segmentLimit: 20, lineMultiple: 1)
        XCTAssertEqual(segments.segments.map(\.lineCount), [1, 9, 1])
        XCTAssertEqual(text(segments).joined(), String(decoding: lines(0..<11), as: UTF8.self))
    }

    func testRemovingKeepsOrderAndCount() {
        var segments = LineSegments()
        let limit = lines(0..<4).count
        for i in stride(from: 0, to: 12, by: 2) {
            segments.append(lines(i..<(i + 2)), lineCount: 2, segmentLimit: limit, lineMultiple: 2)
        }
        XCTAssertEqual(segments.segments.map(\.lineCount), [4, 4, 4])
        let prefix = segments.removePrefixOfFirstSegment(bytes: lines(0..<1).count, lines: 1)
        XCTAssertEqual(prefix, lines(0..<1))
        XCTAssertEqual(segments.removeFirstSegment().bytes, lines(1..<4))
        XCTAssertEqual(segments.byteCount, lines(4..<12).count)
        XCTAssertEqual(segments.removeFirstSegment().lineCount, 4)
        XCTAssertEqual(segments.removeFirstSegment().bytes, lines(8..<12))
        XCTAssertTrue(segments.segments.isEmpty)
        XCTAssertEqual(segments.byteCount, 0)
    }

    func testStartOfLastLines() {
        let bytes = lines(0..<4)
        func start(_ count: Int) -> Int { bytes.withUnsafeBytes { NewlineScan.startOfTrailingLines(count, in: $0) } }
        XCTAssertEqual(start(0), bytes.count)
        XCTAssertEqual(start(1), lines(0..<3).count)
        XCTAssertEqual(start(4), 0)
    }
}
