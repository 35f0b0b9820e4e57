import Dispatch
import Foundation
@testable import IngestService
import XCTest

/// The durability actors' executor: their jobs run on its thread, one at a time, and a job stuck on
/// the disk holds that thread only, never the cooperative pool.
final class FileIOThreadTests: XCTestCase {
    private actor Probe {
        let thread: FileIOThread
        private var inside = 0
        private(set) var overlapped = false

        init(thread: FileIOThread) { self.thread = thread }

        nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

        func threadName() -> String? { FileIOThreadTests.currentThreadName() }

        func work() {
            inside += 1
            if inside > 1 { overlapped = true }
            usleep(200)
            inside -= 1
        }
    }

    /// The kernel's name of the calling thread (what `top -H` shows).
    static func currentThreadName() -> String? {
        (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?
            .trimmingCharacters(in: .newlines)
    }

    func testActorJobsRunOnTheThreadOneAtATime() async {
        let probe = Probe(thread: FileIOThread(name: "test-file-io"))
        let name = await probe.threadName()
        XCTAssertEqual(name, "test-file-io")
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 { group.addTask { await probe.work() } }
        }
        let overlapped = await probe.overlapped
        XCTAssertFalse(overlapped)
    }

    func testABlockedDiskCallHoldsOnlyItsOwnThread() async throws {
        let thread = FileIOThread(name: "test-file-io")
        let release = DispatchSemaphore(value: 0)
        let blocked = Task { await thread.run { release.wait(); return FileIOThreadTests.currentThreadName() } }
        // Far more pool work than the pool has threads: it all finishes while the I/O thread waits.
        let done = await withTaskGroup(of: Int.self) { group in
            for index in 0..<100 { group.addTask { index } }
            return await group.reduce(0) { $0 + $1 }
        }
        XCTAssertEqual(done, 4950)
        release.signal()
        let name = await blocked.value
        XCTAssertEqual(name, "test-file-io")

        struct Failure: Error, Equatable {}
        do {
            try await thread.run { () throws(Failure) in throw Failure() }
            XCTFail("the error comes back")
        } catch {
            XCTAssertEqual(error, Failure())
        }
    }
}
