import IngestCore
import XCTest

final class JournalMarkTrackerTests: XCTestCase {
    func testAppendsInJournalOrderAreAcknowledgedAsTheyBecomeSafe() {
        var tracker = JournalMarkTracker()
        tracker.record(firstLine: 1, lineCount: 3, sequences: 10...12)
        tracker.record(firstLine: 4, lineCount: 2, sequences: 13...14)
        XCTAssertEqual(tracker.linesSafe(upTo: 2), 9, "the first append is not wholly safe")
        XCTAssertEqual(tracker.linesSafe(upTo: 3), 12)
        XCTAssertNil(tracker.linesSafe(upTo: 4), "the mark did not move")
        XCTAssertEqual(tracker.linesSafe(upTo: 5), 14)
    }

    /// Lines the journal recovered from an earlier run carry low numbers but may reach the writer after
    /// new ones: the mark must wait for them.
    func testARecoveredAppendAfterNewerOnesHoldsTheMark() {
        var tracker = JournalMarkTracker()
        tracker.record(firstLine: 1, lineCount: 2, sequences: 100...101)
        tracker.record(firstLine: 3, lineCount: 5, sequences: 1...5)
        XCTAssertNil(tracker.linesSafe(upTo: 2), "sequences 1…5 are not safe yet")
        XCTAssertEqual(tracker.linesSafe(upTo: 7), 101)
    }

    /// The journal recovered lines 1…5 at start; new lines (100…) reach the writer and are written
    /// before the recovered ones are even handed over: the mark must not pass them.
    func testRecoveredLinesNotYetHandedOverHoldTheMark() {
        var tracker = JournalMarkTracker(awaiting: [1...5])
        tracker.record(firstLine: 1, lineCount: 2, sequences: 100...101)
        XCTAssertNil(tracker.linesSafe(upTo: 2), "1…5 are not in the writer yet")
        tracker.record(firstLine: 3, lineCount: 5, sequences: 1...5)
        XCTAssertNil(tracker.linesSafe(upTo: 2))
        XCTAssertEqual(tracker.linesSafe(upTo: 7), 101)
    }

    /// Against a model that scans every append: random appends (sometimes out of journal order, some
    /// without journal numbers, which are not recorded) and a low-water mark that grows in random steps.
    func testMatchesAScanOfEveryAppend() {
        var random = SplitMix64(seed: 0x6A6F75726E616C)
        for _ in 0..<500 {
            var tracker = JournalMarkTracker()
            var appends: [(lastLine: UInt64, sequences: ClosedRange<UInt64>)] = []
            var nextLine: UInt64 = 1
            var nextSequence: UInt64 = 1_000
            var safe: UInt64 = 0
            var acknowledged: UInt64 = 0
            for _ in 0..<60 {
                if random.next() % 3 != 0 {
                    let count = Int(random.next() % 4) + 1
                    if random.next() % 5 != 0 {
                        let sequences: ClosedRange<UInt64>
                        if random.next() % 6 == 0 {
                            let low = random.next() % 900 + 1 // recovered: below the new numbers
                            sequences = low...(low + UInt64(count) - 1)
                        } else {
                            sequences = nextSequence...(nextSequence + UInt64(count) - 1)
                            nextSequence += UInt64(count)
                        }
                        tracker.record(firstLine: nextLine, lineCount: count, sequences: sequences)
                        appends.append((nextLine + UInt64(count) - 1, sequences))
                    }
                    nextLine += UInt64(count)
                } else if safe < nextLine - 1 {
                    safe += random.next() % (nextLine - 1 - safe) + 1
                    let got = tracker.linesSafe(upTo: safe)
                    let unsafe = appends.filter { $0.lastLine > safe }
                    let expected = unsafe.isEmpty
                        ? appends.map(\.sequences.upperBound).max() ?? 0
                        : unsafe.map(\.sequences.lowerBound).min()! - 1
                    if expected > acknowledged {
                        XCTAssertEqual(got, expected)
                        acknowledged = expected
                    } else {
                        XCTAssertNil(got)
                    }
                    XCTAssertEqual(tracker.acknowledged, acknowledged)
                }
            }
        }
    }
}
