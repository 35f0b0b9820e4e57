import IngestCore
import XCTest

final class TokenBucketTests: XCTestCase {
    let second: UInt64 = 1_000_000_000

    func testStartsFullAndEmpties() {
        var bucket = TokenBucket(ratePerSecond: 5, burst: 3, now: 0)
        XCTAssertEqual(bucket.tokens, 3)
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertFalse(bucket.take(now: 0))
    }

    func testRefillsAtRate() {
        var bucket = TokenBucket(ratePerSecond: 5, burst: 1, now: 0)
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertFalse(bucket.take(now: 199_999_999), "just under 1/5 s is not a full token")
        XCTAssertTrue(bucket.take(now: 200_000_000))
        XCTAssertFalse(bucket.take(now: 200_000_000))
    }

    func testRefillIsCappedAtBurst() {
        var bucket = TokenBucket(ratePerSecond: 100, burst: 2, now: 0)
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertTrue(bucket.take(now: 0))
        let later = 3600 * second
        XCTAssertTrue(bucket.take(now: later))
        XCTAssertTrue(bucket.take(now: later))
        XCTAssertFalse(bucket.take(now: later))
    }

    func testFractionalRate() {
        var bucket = TokenBucket(ratePerSecond: 0.5, burst: 1, now: 0)
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertFalse(bucket.take(now: second))
        XCTAssertTrue(bucket.take(now: 2 * second))
    }

    func testClockGoingBackwardsAddsNothing() {
        var bucket = TokenBucket(ratePerSecond: 1, burst: 1, now: 10 * second)
        XCTAssertTrue(bucket.take(now: 10 * second))
        XCTAssertFalse(bucket.take(now: 5 * second))
        XCTAssertTrue(bucket.take(now: 11 * second))
    }

    func testWithManualClock() {
        let clock = ManualClock(now: 1_000)
        var bucket = TokenBucket(ratePerSecond: 2, burst: 1, now: clock.now())
        XCTAssertTrue(bucket.take(now: clock.now()))
        XCTAssertFalse(bucket.take(now: clock.now()))
        clock.advance(by: second / 2)
        XCTAssertTrue(bucket.take(now: clock.now()))
    }
}
