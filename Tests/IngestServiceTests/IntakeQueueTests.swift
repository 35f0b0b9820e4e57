import Foundation
import Synchronization
import XCTest
import TestSupport
@testable import IngestService

final class IntakeQueueTests: XCTestCase {
    private static func message(_ seq: Int, topic: String = "t") -> InboundMessage {
        withUnsafeBytes(of: UInt64(seq).littleEndian) { InboundMessage(topic: topic, payload: Array($0), receivedAtNanos: Int64(seq)) }
    }

    private func message(_ seq: Int, topic: String = "t") -> InboundMessage { Self.message(seq, topic: topic) }

    private func seq(_ message: InboundMessage) -> Int {
        Int(message.payload.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
    }

    /// Runs `body` on a fresh thread (never on the cooperative pool, since it may block).
    private func onThread(_ body: @escaping @Sendable () -> Void) {
        Thread { body() }.start()
    }

    func testKeepsOrderAndReturnsChunksUpToMaxCount() async {
        let queue = IntakeQueue(capacity: 10)
        for i in 0..<5 { XCTAssertTrue(queue.put(message(i))) }
        XCTAssertEqual(queue.count, 5)
        XCTAssertEqual(queue.capacity, 10)
        let first = await queue.next(maxCount: 2)
        XCTAssertEqual(first?.map(seq), [0, 1])
        let rest = await queue.next(maxCount: 100)
        XCTAssertEqual(rest?.map(seq), [2, 3, 4])
        XCTAssertEqual(queue.count, 0)
    }

    func testWrapsAroundTheRingBuffer() async {
        let queue = IntakeQueue(capacity: 3)
        var expected = 0
        for round in 0..<10 {
            for i in 0..<3 { XCTAssertTrue(queue.put(message(round * 3 + i))) }
            let taken = await queue.next(maxCount: 2)
            let more = await queue.next(maxCount: 2)
            let all = (taken ?? []) + (more ?? [])
            XCTAssertEqual(all.map(seq), Array(expected..<(expected + 3)))
            expected += 3
        }
    }

    func testParkedConsumerIsWokenByPutFromAnotherThread() async throws {
        let queue = IntakeQueue(capacity: 4)
        let consumer = Task { await queue.next(maxCount: 10) }
        // Give the consumer every chance to park first; correctness does not depend on it.
        try await Task.sleep(nanoseconds: 50_000_000)
        let m = message(7, topic: "a/b")
        onThread { _ = queue.put(m) }
        let got = await consumer.value
        XCTAssertEqual(got, [m])
    }

    func testBlockedProducerIsReleasedWhenTheConsumerTakes() async throws {
        let queue = IntakeQueue(capacity: 2)
        let done = Atomic<Int>(0)
        let m0 = message(0), m1 = message(1), m2 = message(2)
        onThread {
            for m in [m0, m1, m2] {
                _ = queue.put(m)
                done.add(1, ordering: .relaxed)
            }
        }
        try await eventually("two puts done and the third blocked") { done.load(ordering: .relaxed) == 2 && queue.count == 2 }
        // The third put can only finish after room is made.
        XCTAssertEqual(done.load(ordering: .relaxed), 2)
        XCTAssertEqual(queue.producerWaits, 1)
        let first = await queue.next(maxCount: 1)
        XCTAssertEqual(first?.map(seq), [0])
        try await eventually("blocked put released") { done.load(ordering: .relaxed) == 3 }
        let rest = await queue.next(maxCount: 10)
        XCTAssertEqual(rest?.map(seq), [1, 2])
    }

    func testCloseWakesAParkedConsumerWithNil() async throws {
        let queue = IntakeQueue(capacity: 4)
        let consumer = Task { await queue.next(maxCount: 10) }
        try await Task.sleep(nanoseconds: 50_000_000)
        queue.close()
        let got = await consumer.value
        XCTAssertNil(got)
    }

    func testCloseLetsTheConsumerDrainThenReturnsNilAndRefusesPuts() async {
        let queue = IntakeQueue(capacity: 4)
        for i in 0..<3 { queue.put(message(i)) }
        queue.close()
        XCTAssertTrue(queue.isClosed)
        XCTAssertFalse(queue.put(message(99)), "put after close must report the message was not taken")
        let drained = await queue.next(maxCount: 10)
        XCTAssertEqual(drained?.map(seq), [0, 1, 2])
        let end = await queue.next(maxCount: 10)
        XCTAssertNil(end)
        let again = await queue.next(maxCount: 10)
        XCTAssertNil(again)
        queue.close() // idempotent
    }

    func testCloseReleasesABlockedProducerWithFalse() async throws {
        let queue = IntakeQueue(capacity: 1)
        queue.put(message(0))
        let result = Atomic<Int>(-1)
        let m = message(1)
        onThread { result.store(queue.put(m) ? 1 : 0, ordering: .relaxed) }
        try await Task.sleep(nanoseconds: 50_000_000)
        XCTAssertEqual(result.load(ordering: .relaxed), -1, "put must block while the queue is full")
        queue.close()
        try await eventually("blocked put returns") { result.load(ordering: .relaxed) != -1 }
        XCTAssertEqual(result.load(ordering: .relaxed), 0)
        let drained = await queue.next(maxCount: 10)
        XCTAssertEqual(drained?.map(seq), [0])
    }

    func testCancelledConsumerGetsAnEmptyChunk() async throws {
        let queue = IntakeQueue(capacity: 4)
        let consumer = Task { await queue.next(maxCount: 10) }
        try await Task.sleep(nanoseconds: 50_000_000)
        consumer.cancel()
        let got = await consumer.value
        XCTAssertEqual(got, [])
        // The queue still works afterwards.
        queue.put(message(5))
        let next = await queue.next(maxCount: 1)
        XCTAssertEqual(next?.map(seq), [5])
    }

    /// One producer thread, one consumer task, a tiny capacity so the producer blocks constantly:
    /// every message arrives exactly once and in order.
    func testStressOneProducerThreadOneConsumerTask() async throws {
        let total = 100_000
        let queue = IntakeQueue(capacity: 16)
        let refused = Atomic<Int>(0)
        onThread {
            for i in 0..<total where !queue.put(IntakeQueueTests.message(i)) { refused.add(1, ordering: .relaxed) }
            queue.close()
        }
        // A lost wakeup would hang both sides; the watchdog turns that into a failure.
        let watchdog = Task { try await Task.sleep(nanoseconds: 120_000_000_000); queue.close() }
        defer { watchdog.cancel() }
        var expected = 0
        var chunks = 0
        while let chunk = await queue.next(maxCount: Int.random(in: 1...40)) {
            chunks += 1
            for m in chunk {
                XCTAssertEqual(seq(m), expected)
                if seq(m) != expected { return }
                expected += 1
            }
        }
        XCTAssertEqual(expected, total)
        XCTAssertEqual(refused.load(ordering: .relaxed), 0)
        XCTAssertLessThanOrEqual(chunks, total)
    }

    /// Several producer threads: every message exactly once, in order per producer.
    func testStressSeveralProducerThreads() async throws {
        let producers = 4, perProducer = 20_000
        let queue = IntakeQueue(capacity: 8)
        let finished = Atomic<Int>(0)
        for p in 0..<producers {
            onThread {
                for i in 0..<perProducer where !queue.put(IntakeQueueTests.message(i, topic: "p\(p)")) { break }
                if finished.add(1, ordering: .relaxed).newValue == producers { queue.close() }
            }
        }
        let watchdog = Task { try await Task.sleep(nanoseconds: 120_000_000_000); queue.close() }
        defer { watchdog.cancel() }
        var nextSeq: [String: Int] = [:]
        var count = 0
        while let chunk = await queue.next(maxCount: 32) {
            for m in chunk {
                XCTAssertEqual(seq(m), nextSeq[m.topic, default: 0], "out of order on \(m.topic)")
                nextSeq[m.topic] = seq(m) + 1
                count += 1
            }
        }
        XCTAssertEqual(count, producers * perProducer)
        XCTAssertEqual(nextSeq.count, producers)
        XCTAssertTrue(nextSeq.values.allSatisfy { $0 == perProducer })
    }
}
