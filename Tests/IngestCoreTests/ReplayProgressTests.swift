import XCTest
@testable import IngestCore

final class ReplayProgressTests: XCTestCase {
    func testTheBarCountsAndTheSummarySayWhatWasSentAndWhatIsLeft() {
        var progress = ReplayProgress(totalSegments: 4)
        XCTAssertEqual(progress.bar(width: 8), "[........]   0% 0/4 segments, 0 lines")
        progress.sent(lines: 500)
        XCTAssertEqual(progress.bar(width: 8), "[##......]  25% 1/4 segments, 500 lines")
        progress.kept()
        progress.missing()
        XCTAssertEqual(progress.counts, "3/4 segments, 500 lines, 1 kept, 1 unreadable")
        XCTAssertEqual(progress.leftSegments, 2, "the kept one and the one not reached")
        progress.sent(lines: 20)
        XCTAssertEqual(progress.bar(width: 8), "[########] 100% 4/4 segments, 520 lines, 1 kept, 1 unreadable")
        XCTAssertEqual(progress.summary, "spool replay: 2 of 4 segments sent (520 lines), 1 unreadable (moved to corrupt/), 1 left in the spool")
    }

    func testAnEmptySpoolIsDoneAtOnce() {
        let progress = ReplayProgress(totalSegments: 0)
        XCTAssertEqual(progress.bar(width: 4), "[####] 100% 0/0 segments, 0 lines")
        XCTAssertEqual(progress.summary, "spool replay: 0 of 0 segments sent (0 lines), nothing left")
    }
}
