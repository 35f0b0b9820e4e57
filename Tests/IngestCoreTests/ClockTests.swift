import Foundation
import IngestCore
import XCTest

final class ClockTests: XCTestCase {
    func testSystemClockIsMonotonic() {
        let clock = SystemMonotonicClock()
        var previous = clock.now()
        for _ in 0..<1_000 {
            let current = clock.now()
            XCTAssertGreaterThanOrEqual(current, previous)
            previous = current
        }
    }

    func testManualClock() {
        let clock = ManualClock()
        XCTAssertEqual(clock.now(), 0)
        clock.advance(by: 5)
        XCTAssertEqual(clock.now(), 5)
        clock.set(100)
        XCTAssertEqual(clock.now(), 100)
        let shared: any MonotonicClock = clock
        XCTAssertEqual(shared.now(), 100)
    }

    func testCoarseClockIsMonotonicAndTheWallClockIsNearFoundations() {
        let coarse = CoarseMonotonicClock()
        var previous = coarse.now()
        for _ in 0..<1_000 {
            let current = coarse.now()
            XCTAssertGreaterThanOrEqual(current, previous)
            previous = current
        }
        let wall = SystemWallClock().nanosecondsSinceEpoch()
        let foundation = Int64(Date().timeIntervalSince1970 * 1e9)
        XCTAssertLessThan(abs(wall - foundation), 5_000_000_000, "CLOCK_REALTIME is the time Date reads")
        XCTAssertEqual(ManualClock(now: 42).nanosecondsSinceEpoch(), 42)
    }
}
