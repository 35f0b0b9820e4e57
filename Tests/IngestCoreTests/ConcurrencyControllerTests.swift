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
        var controller = ConcurrencyController(initial: 8, maximum: 64)
        controller.writeFinished(startedAt: 0, now: 10, signal: .overloaded)
        var now: Int64 = 10
        roundTrip(&controller, now: &now, latency: 100)
        XCTAssertEqual(controller.limit, 5)
        roundTrip(&controller, now: &now, latency: 400)
        XCTAssertEqual(controller.limit, 3, "×3/4 when latency rises")
        // Latency stays at 400 ms: the baseline follows it and the increase resumes.
        var limits: [Int] = []
        for _ in 0..<8 {
            roundTrip(&controller, now: &now, latency: 400)
            limits.append(controller.limit)
        }
        XCTAssertLessThan(limits.min()!, 3, "while the rise lasts against the baseline")
        XCTAssertGreaterThan(limits.last!, limits.min()! + 3, "then one more per round trip")
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
