import IngestCore
import XCTest

final class RateLimiterTests: XCTestCase {
    let a = DeviceKey(tenantID: "t", deviceID: "a")
    let b = DeviceKey(tenantID: "t", deviceID: "b")

    func testBurstThenRate() {
        var limiter = RateLimiter(ratePerSecond: 5, burst: 20, maxDevices: 100)
        XCTAssertTrue(limiter.isEnabled)
        for _ in 0..<20 { XCTAssertTrue(limiter.allow(a, now: 0)) }
        XCTAssertFalse(limiter.allow(a, now: 0))
        XCTAssertTrue(limiter.allow(a, now: 200_000_000))
        XCTAssertFalse(limiter.allow(a, now: 200_000_000))
    }

    func testBucketsArePerTenantAndDevice() {
        var limiter = RateLimiter(ratePerSecond: 1, burst: 1, maxDevices: 100)
        XCTAssertTrue(limiter.allow(a, now: 0))
        XCTAssertFalse(limiter.allow(a, now: 0))
        XCTAssertTrue(limiter.allow(b, now: 0))
        XCTAssertTrue(limiter.allow(DeviceKey(tenantID: "other", deviceID: "a"), now: 0))
        XCTAssertEqual(limiter.trackedDevices, 3)
    }

    func testZeroRateDisables() {
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 10)
        XCTAssertFalse(limiter.isEnabled)
        for _ in 0..<10_000 { XCTAssertTrue(limiter.allow(a, now: 0)) }
        XCTAssertEqual(limiter.trackedDevices, 0)
    }

    func testMapIsBoundedAndEvictedDeviceStartsFull() {
        var limiter = RateLimiter(ratePerSecond: 1, burst: 1, maxDevices: 2)
        XCTAssertTrue(limiter.allow(a, now: 0))
        XCTAssertFalse(limiter.allow(a, now: 0))
        XCTAssertTrue(limiter.allow(b, now: 0))
        XCTAssertTrue(limiter.allow(DeviceKey(tenantID: "t", deviceID: "c"), now: 0))  // evicts a, least recently seen
        XCTAssertEqual(limiter.trackedDevices, 2)
        XCTAssertEqual(limiter.evictions, 1)
        XCTAssertTrue(limiter.allow(a, now: 0), "a was evicted, so it comes back with a full bucket")
        for i in 0..<1_000 {
            _ = limiter.allow(DeviceKey(tenantID: "t", deviceID: "flood\(i)"), now: 0)
        }
        XCTAssertEqual(limiter.trackedDevices, 2)
    }

    func testRecentlySeenDeviceIsNotTheOneEvicted() {
        var limiter = RateLimiter(ratePerSecond: 1, burst: 1, maxDevices: 2)
        XCTAssertTrue(limiter.allow(a, now: 0))
        XCTAssertTrue(limiter.allow(b, now: 0))
        XCTAssertFalse(limiter.allow(a, now: 0))  // a is now the most recent
        XCTAssertTrue(limiter.allow(DeviceKey(tenantID: "t", deviceID: "c"), now: 0))  // evicts b
        XCTAssertFalse(limiter.allow(a, now: 0), "a kept its (empty) bucket")
        XCTAssertTrue(limiter.allow(b, now: 0), "b was evicted and starts full")
    }
}
