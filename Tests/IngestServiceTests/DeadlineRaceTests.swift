@testable import IngestService
import Synchronization
import XCTest

final class DeadlineRaceTests: XCTestCase {
    struct Failure: Error, Equatable {}

    func testAnOperationThatEndsInTimeGivesItsValueOrItsError() async throws {
        let value = try await DeadlineRace.run(until: .now + .seconds(30)) { 42 }
        XCTAssertEqual(value, 42)
        do {
            _ = try await DeadlineRace.run(until: .now + .seconds(30)) { () async throws -> Int in throw Failure() }
            XCTFail("the operation's error must reach the caller")
        } catch {
            XCTAssertEqual(error as? Failure, Failure())
        }
    }

    /// An operation that ignores cancellation (as a query waiting for its answer does) cannot hold the
    /// caller past the deadline; it is cancelled and left to end on its own.
    func testTheDeadlineHoldsAgainstAnOperationThatIgnoresCancellation() async throws {
        let gate = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let sawCancellation = Atomic<Bool>(false)
        let started = ContinuousClock.now
        let value = try await DeadlineRace.run(until: started + .milliseconds(200)) { () async -> Int in
            await withCheckedContinuation { continuation in gate.withLock { $0 = continuation } }
            sawCancellation.store(Task.isCancelled, ordering: .relaxed)
            return 1
        }
        XCTAssertNil(value)
        XCTAssertLessThan(started.duration(to: .now), .seconds(10), "returned at the deadline, not when the operation ended")
        // Let the operation end: it was cancelled at the deadline.
        while gate.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(5)) }
        gate.withLock { $0?.resume() }
        let deadline = ContinuousClock.now + .seconds(10)
        while !sawCancellation.load(ordering: .relaxed), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        XCTAssertTrue(sawCancellation.load(ordering: .relaxed))
    }

    func testCancellingTheCallerEndsTheWait() async throws {
        let gate = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let task = Task {
            try await DeadlineRace.run(until: .now + .seconds(3600)) { () async -> Int in
                await withCheckedContinuation { continuation in gate.withLock { $0 = continuation } }
                return 1
            }
        }
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("a cancelled caller gets CancellationError")
        } catch {
            XCTAssertTrue(error is CancellationError)
        }
        // The operation may not have started at all; if it did, let it end.
        try await Task.sleep(for: .milliseconds(50))
        gate.withLock { $0?.resume(); $0 = nil }
    }
}
