import Logging
import Synchronization
import TestSupport
import XCTest
@testable import IngestService

/// A scriptable `InfluxWriting`: records every write, can hold writes until released, and answers
/// scripted outcomes before `.written`. State behind a mutex so tests can read it synchronously.
final class FakeInfluxWriter: InfluxWriting {
    struct Write: Sendable {
        let database: String
        let body: [UInt8]
        let lineCount: Int
        let result: InfluxWriteResult
    }
    private struct State {
        var writes: [Write] = []
        var inFlight = 0
        var maxInFlight = 0
        var script: [InfluxWriteResult] = []
        var alwaysFail: InfluxWriteResult?
        var holding = false
        var held: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    var writes: [Write] { state.withLock { $0.writes } }
    var inFlight: Int { state.withLock { $0.inFlight } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }
    func setScript(_ results: [InfluxWriteResult]) { state.withLock { $0.script = results } }
    func setAlwaysFail(_ result: InfluxWriteResult?) { state.withLock { $0.alwaysFail = result } }
    func hold() { state.withLock { $0.holding = true } }
    func release() {
        let waiting = state.withLock { state in
            state.holding = false
            defer { state.held.removeAll() }
            return state.held
        }
        for continuation in waiting { continuation.resume() }
    }

    func write(database: String, body: [UInt8], lineCount: Int) async -> InfluxWriteResult {
        state.withLock { state in
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
        }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.holding { state.held.append(continuation); return false }
                return true
            }
            if resumeNow { continuation.resume() }
        }
        await Task.yield()
        return state.withLock { state in
            state.inFlight -= 1
            let result = state.alwaysFail ?? (state.script.isEmpty ? .written : state.script.removeFirst())
            state.writes.append(Write(database: database, body: body, lineCount: lineCount, result: result))
            return result
        }
    }

    /// Lines of every successful write (of one database, or all).
    func writtenLines(_ database: String? = nil) -> [String] {
        writes.filter { $0.result == .written && (database == nil || $0.database == database) }
            .flatMap { String(decoding: $0.body, as: UTF8.self).split(separator: "\n").map(String.init) }
    }
    func successfulWrites() -> [Write] { writes.filter { $0.result == .written } }
}

final class BatchWriterTests: XCTestCase {
    private var logger: Logger {
        var logger = Logger(label: "test.batchwriter")
        logger.logLevel = .warning
        return logger
    }

    private func lines(_ range: Range<Int>, measurement: String = "m") -> (bytes: [UInt8], count: Int, text: [String]) {
        let text = range.map { "\(measurement),device_id=d\($0) v=\($0)i \(1_770_628_523_000_000_000 + $0)" }
        return (Array(text.map { $0 + "\n" }.joined().utf8), text.count, text)
    }

    private func makeWriter(_ fake: FakeInfluxWriter, _ configure: (inout BatchWriterConfiguration) -> Void) -> BatchWriter {
        var configuration = BatchWriterConfiguration(flushIntervalMilliseconds: 60_000, retryBaseMilliseconds: 1, retryMaxDelayMilliseconds: 5)
        configure(&configuration)
        return BatchWriter(configuration: configuration, client: fake, logger: logger)
    }

    func testFlushesOnBatchSize() async throws {
        let fake = FakeInfluxWriter()
        let writer = makeWriter(fake) { $0.batchSize = 5 }
        let chunk = lines(0..<12)
        await writer.append(database: "db", lines: chunk.bytes, lineCount: chunk.count)
        try await eventually("the full batches written", timeout: 30) { fake.successfulWrites().count == 1 }
        // The whole multiple of INFLUX_BATCH_SIZE goes out in one write (README, "Throughput when
        // InfluxDB is slow"); the last two lines wait for more.
        XCTAssertEqual(fake.successfulWrites().map(\.lineCount), [10])
        XCTAssertEqual(fake.writtenLines(), Array(chunk.text.prefix(10)))
        try await eventually("two lines left in memory", timeout: 30) { writer.metrics.bufferedLines.load(ordering: .relaxed) == 2 }
        XCTAssertEqual(writer.metrics.flushes.load(ordering: .relaxed), 1)
    }

    func testFlushesOnBytes() async throws {
        let fake = FakeInfluxWriter()
        let chunk = lines(0..<20)
        let lineLength = chunk.bytes.count / 20 // about three lines per batch
        let writer = makeWriter(fake) { $0.batchSize = 10_000; $0.maxBatchBytes = lineLength * 3 + 1 }
        await writer.append(database: "db", lines: chunk.bytes, lineCount: chunk.count)
        try await eventually("batches cut on bytes written", timeout: 30) { fake.writtenLines().count >= 15 }
        for write in fake.successfulWrites() {
            XCTAssertLessThanOrEqual(write.body.count, lineLength * 3 + 1)
            XCTAssertGreaterThan(write.lineCount, 0)
        }
        let drained = await writer.drain(timeout: .seconds(30))
        XCTAssertTrue(drained.completed)
        // Batches of one database are written concurrently (INFLUX_CONCURRENCY 2) and may finish in
        // either order; what counts is that every line is written exactly once.
        XCTAssertEqual(fake.writtenLines().sorted(), chunk.text.sorted())
    }

    func testFlushesOnIntervalPerDatabase() async throws {
        let fake = FakeInfluxWriter()
        let writer = makeWriter(fake) { $0.batchSize = 1000; $0.flushIntervalMilliseconds = 50 }
        let run = Task { try await writer.run() }
        let a = lines(0..<3, measurement: "a")
        let b = lines(0..<2, measurement: "b")
        await writer.append(database: "db_a", lines: a.bytes, lineCount: a.count)
        await writer.append(database: "db_b", lines: b.bytes, lineCount: b.count)
        try await eventually("both databases flushed by the timer", timeout: 30) { fake.successfulWrites().count == 2 }
        XCTAssertEqual(fake.writtenLines("db_a"), a.text)
        XCTAssertEqual(fake.writtenLines("db_b"), b.text)
        // A second round after the first flush is timed from its own first line.
        let more = lines(10..<11, measurement: "a")
        await writer.append(database: "db_a", lines: more.bytes, lineCount: more.count)
        try await eventually("the next line flushed too", timeout: 30) { fake.successfulWrites().count == 3 }
        run.cancel()
        try await run.value
    }

    func testConcurrencyLimitIsNeverExceeded() async throws {
        let fake = FakeInfluxWriter()
        fake.hold()
        let writer = makeWriter(fake) { $0.batchSize = 2; $0.concurrency = 3 }
        // Twenty appends of a whole batch each: three go out, the rest wait for a slot (and then go
        // out together: README, "Throughput when InfluxDB is slow").
        for pair in stride(from: 0, to: 40, by: 2) {
            let part = lines(pair..<pair + 2)
            await writer.append(database: "db", lines: part.bytes, lineCount: part.count)
        }
        try await eventually("three writes in flight", timeout: 30) { fake.inFlight == 3 }
        fake.release()
        try await eventually("everything written", timeout: 30) { fake.writtenLines().count == 40 }
        XCTAssertEqual(fake.writtenLines().sorted(), lines(0..<40).text.sorted())
        let maxInFlight = fake.maxInFlight
        XCTAssertEqual(maxInFlight, 3)
    }

    func testRetryableFailuresAreRetriedUntilWrittenWithoutLossOrDuplication() async throws {
        let fake = FakeInfluxWriter()
        fake.setScript([
            .retryable(.status(code: 503, body: "busy", retryAfterSeconds: nil)),
            .retryable(.transport(curlCode: 28, message: "timeout")),
            .retryable(.status(code: 429, body: "slow down", retryAfterSeconds: 0.01)),
            .retryable(.status(code: 500, body: "oops", retryAfterSeconds: nil)),
        ])
        let writer = makeWriter(fake) { $0.batchSize = 5; $0.concurrency = 2 }
        let chunk = lines(0..<23)
        await writer.append(database: "db", lines: Array(chunk.bytes), lineCount: chunk.count)
        _ = await writer.drain(timeout: .seconds(30))
        XCTAssertEqual(fake.writtenLines().sorted(), chunk.text.sorted())
        XCTAssertEqual(writer.metrics.retries.load(ordering: .relaxed), 4)
        XCTAssertEqual(writer.metrics.batchesFailed.load(ordering: .relaxed), 4)
        // 20 lines (a whole multiple of INFLUX_BATCH_SIZE) in one batch, the 3 left over in another.
        XCTAssertEqual(writer.metrics.batchesOK.load(ordering: .relaxed), 2)
        XCTAssertEqual(writer.metrics.linesWritten.load(ordering: .relaxed), 23)
        XCTAssertEqual(writer.metrics.bufferedLines.load(ordering: .relaxed), 0)
        XCTAssertEqual(writer.metrics.influxUp.load(ordering: .relaxed), 1)
        XCTAssertNotNil(writer.metrics.lastWriteError)
    }

    func testAppendSuspendsAtTheMemoryBoundAndResumes() async throws {
        let fake = FakeInfluxWriter()
        fake.hold()
        let writer = makeWriter(fake) { $0.batchSize = 5; $0.maxBufferedLines = 10 }
        let first = lines(0..<10)
        for half in [lines(0..<5), lines(5..<10)] {
            await writer.append(database: "db", lines: half.bytes, lineCount: half.count)
        }
        try await eventually("both batches in flight", timeout: 30) { fake.inFlight == 2 }
        XCTAssertEqual(writer.metrics.bufferedLines.load(ordering: .relaxed), 10)

        let second = lines(10..<15)
        let returned = Flag()
        let started = Flag()
        let appender = Task {
            started.set()
            await writer.append(database: "db", lines: second.bytes, lineCount: second.count)
            returned.set()
        }
        try await eventually("the appender started", timeout: 30) { started.value }
        for _ in 0..<20 { await Task.yield() }
        XCTAssertFalse(returned.value, "append must wait while 10 lines are in memory")
        XCTAssertEqual(writer.metrics.bufferedLines.load(ordering: .relaxed), 10)

        fake.release()
        try await eventually("the appender resumed", timeout: 30) { returned.value }
        await appender.value
        _ = await writer.drain(timeout: .seconds(30))
        XCTAssertEqual(fake.writtenLines().sorted(), (first.text + second.text).sorted())
    }

    func testGracefulStopDrainsEveryBuffer() async throws {
        let fake = FakeInfluxWriter()
        let writer = makeWriter(fake) { $0.batchSize = 1000; $0.flushIntervalMilliseconds = 600_000 }
        let run = Task { try await writer.run() }
        let a = lines(0..<7, measurement: "a")
        let b = lines(0..<3, measurement: "b")
        await writer.append(database: "db_a", lines: a.bytes, lineCount: a.count)
        await writer.append(database: "db_b", lines: b.bytes, lineCount: b.count)
        XCTAssertEqual(fake.writes.count, 0)
        run.cancel() // outside a ServiceGroup, cancellation is how run() learns to stop
        try await run.value
        XCTAssertEqual(fake.writtenLines("db_a"), a.text)
        XCTAssertEqual(fake.writtenLines("db_b"), b.text)
        XCTAssertEqual(writer.metrics.bufferedLines.load(ordering: .relaxed), 0)
    }

    func testDrainReportsWhatItCouldNotWrite() async throws {
        let fake = FakeInfluxWriter()
        fake.setAlwaysFail(.retryable(.transport(curlCode: 7, message: "connection refused")))
        let writer = makeWriter(fake) { $0.batchSize = 4 }
        let chunk = lines(0..<10)
        await writer.append(database: "db", lines: chunk.bytes, lineCount: chunk.count)
        let report = await writer.drain(timeout: .milliseconds(300))
        XCTAssertFalse(report.completed)
        XCTAssertEqual(report.linesRemaining, 10)
        // A batch of the whole multiple of INFLUX_BATCH_SIZE (8 lines), and the 2 left over, cut at the drain.
        XCTAssertEqual(report.batchesRemaining, 2)
        XCTAssertEqual(report.linesWritten, 0)
        XCTAssertEqual(report.linesSpooled, 0)
        XCTAssertEqual(writer.metrics.influxUp.load(ordering: .relaxed), 0)
        // The drain is the end of the writer's life: without a spool, what InfluxDB did not take is
        // lost at exit (said in a critical log line), and a second drain has nothing left to wait for
        // (its report still counts what the stop lost).
        fake.setAlwaysFail(nil)
        let second = await writer.drain(timeout: .seconds(30))
        XCTAssertEqual(second.linesWritten, 0)
        XCTAssertEqual(second.linesRemaining, 10)
        XCTAssertEqual(fake.successfulWrites().count, 0)
    }
}

/// A thread-safe flag for tests.
final class Flag: Sendable {
    private let state = Mutex(false)
    var value: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}
