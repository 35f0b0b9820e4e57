import IngestCore
import XCTest

/// The adaptive concurrency limit (README, "Throughput when InfluxDB is slow").
final class ConcurrencyControllerTests: XCTestCase {
    /// One round trip: `limit` writes started at `now`, answered after `latency`, with work waiting.
    private func roundTrip(_ controller: inout ConcurrencyController, now: inout Int64, latency: Int64,
                           signal: ConcurrencyController.Signal = .answered) {
        let writes = controller.limit
        controller.limitReached()
        for _ in 0..<writes { controller.writeFinished(startedAt: now, now: now + latency, signal: signal) }
        now += latency
    }

    /// Out of slow start (one overload at 8), then a round trip at 100 ms: limit 5, baseline 100 ms.
    private func afterSlowStart(now: inout Int64) -> ConcurrencyController {
        var controller = ConcurrencyController(initial: 8, maximum: 64)
        controller.writeFinished(startedAt: 0, now: 10, signal: .overloaded)
        now = 10
        roundTrip(&controller, now: &now, latency: 100)
        XCTAssertEqual(controller.limit, 5)
        XCTAssertEqual(controller.baselineMilliseconds, 100)
        return controller
    }

    func testSlowStartTriplesPerRoundTripUpToTheMaximum() {
        var controller = ConcurrencyController(initial: 2, maximum: 64)
        var now: Int64 = 0
        var limits: [Int] = []
        for _ in 0..<7 {
            roundTrip(&controller, now: &now, latency: 1_000)
            limits.append(controller.limit)
        }
        XCTAssertEqual(limits, [6, 18, 54, 64, 64, 64, 64])
        XCTAssertTrue(controller.slowStart, "constant latency is not overload")
    }

    func testTheLimitDoesNotGrowWhenNothingWaitsForASlot() {
        var controller = ConcurrencyController(initial: 2, maximum: 64)
        for time in Int64(0)..<20 { controller.writeFinished(startedAt: time * 10, now: time * 10 + 5, signal: .answered) }
        XCTAssertEqual(controller.limit, 2)
    }

    func testOverloadHalvesOncePerRoundTripAndEndsSlowStart() {
        var controller = ConcurrencyController(initial: 16, maximum: 64)
        for _ in 0..<16 { controller.writeFinished(startedAt: 0, now: 100, signal: .overloaded) }
        XCTAssertEqual(controller.limit, 8, "writes in flight together are one signal")
        XCTAssertFalse(controller.slowStart)
        controller.writeFinished(startedAt: 100, now: 200, signal: .overloaded)
        XCTAssertEqual(controller.limit, 4, "a write started after the decrease counts again")
        for time in stride(from: Int64(300), to: 400, by: 10) { controller.writeFinished(startedAt: time, now: time + 5, signal: .overloaded) }
        XCTAssertEqual(controller.limit, 1, "never below 1")
    }

    func testAfterSlowStartTheLimitGrowsByOnePerRoundTrip() {
        var controller = ConcurrencyController(initial: 8, maximum: 64)
        controller.writeFinished(startedAt: 0, now: 10, signal: .overloaded)
        XCTAssertEqual(controller.limit, 4)
        var now: Int64 = 10
        var limits: [Int] = []
        for _ in 0..<4 {
            roundTrip(&controller, now: &now, latency: 100)
            limits.append(controller.limit)
        }
        XCTAssertEqual(limits, [5, 6, 7, 8])
    }

    func testRisingLatencyLowersTheLimitAndAStableOneRaisesItAgain() {
        var now: Int64 = 0
        var controller = afterSlowStart(now: &now)
        roundTrip(&controller, now: &now, latency: 400)
        XCTAssertEqual(controller.limit, 2, "halved: 400 ms is over twice the 155 ms tolerated above 100")
        // Latency stays at 400 ms: the baseline climbs a tenth per window, then the increase resumes.
        var limits: [Int] = []
        for _ in 0..<24 {
            roundTrip(&controller, now: &now, latency: 400)
            limits.append(controller.limit)
        }
        XCTAssertEqual(limits.min(), 1, "while the rise lasts against the baseline")
        XCTAssertEqual(controller.baselineMilliseconds, 400, "a lasting change becomes the baseline")
        XCTAssertGreaterThan(limits.last!, limits.min()! + 5, "then one more per round trip")
    }

    func testASmallRiseTakesAQuarter() {
        var now: Int64 = 0
        var controller = afterSlowStart(now: &now)
        roundTrip(&controller, now: &now, latency: 170)
        XCTAssertEqual(controller.limit, 3, "×3/4: 170 ms is just over the 155 ms tolerated")
    }

    func testTheBaselineIsTheLowestLatencyNotAnAverage() {
        var now: Int64 = 0
        var controller = afterSlowStart(now: &now)
        // A slow creep of 12% per round trip: an average with a quarter's weight would stay within
        // 1.48× behind it and never call it a rise; the baseline rises at most a tenth per window,
        // so the creep is caught.
        var latency: Int64 = 100
        var decreased = false
        for _ in 0..<40 {
            latency += latency * 12 / 100
            let before = controller.limit
            roundTrip(&controller, now: &now, latency: latency)
            if controller.limit < before { decreased = true }
        }
        XCTAssertTrue(decreased, "latency rising 12% per round trip lowers the limit")
    }

    func testSlowStartEndsAtTheFirstSlowWrite() {
        var controller = ConcurrencyController(initial: 16, maximum: 64)
        controller.limitReached()
        for i in Int64(0)..<4 { controller.writeFinished(startedAt: i, now: i + 10, signal: .answered) }
        XCTAssertEqual(controller.limit, 24, "two per write while the latency holds")
        XCTAssertTrue(controller.slowStart)
        controller.writeFinished(startedAt: 20, now: 120, signal: .answered)
        XCTAssertFalse(controller.slowStart, "100 ms against a lowest 10 ms: overload, before the window ends")
        XCTAssertEqual(controller.limit, 12)
    }

    func testFailuresThatSayNothingAboutLoadLeaveTheLimit() {
        var controller = ConcurrencyController(initial: 4, maximum: 64)
        controller.writeFinished(startedAt: 0, now: 10, signal: ConcurrencyController.signal(
            of: .retryable(status: 404, retryAfterSeconds: nil, message: "database not found")))
        controller.writeFinished(startedAt: 0, now: 10, signal: ConcurrencyController.signal(
            of: .retryable(status: 401, retryAfterSeconds: nil, message: "unauthorized")))
        XCTAssertEqual(controller.limit, 4)
        XCTAssertTrue(controller.slowStart)
    }

    func testWhichOutcomesMeanOverload() {
        for status in [nil, 429, 502, 503, 504] as [Int?] {
            XCTAssertEqual(ConcurrencyController.signal(of: .retryable(status: status, retryAfterSeconds: nil, message: "")),
                           .overloaded, "\(String(describing: status))")
        }
        XCTAssertEqual(ConcurrencyController.signal(of: .written), .answered)
        XCTAssertEqual(ConcurrencyController.signal(of: .refused(status: 400, message: "", refusedLines: nil)), .answered)
        XCTAssertEqual(ConcurrencyController.signal(of: .retryable(status: 500, retryAfterSeconds: nil, message: "")), .neutral)
    }

    func testTheInitialLimitIsClampedToTheBounds() {
        XCTAssertEqual(ConcurrencyController(initial: 0, maximum: 4).limit, 1)
        XCTAssertEqual(ConcurrencyController(initial: 10, maximum: 4).limit, 4)
    }
}
