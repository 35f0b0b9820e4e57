import Foundation
import IngestCore
@testable import IngestService
import Logging
import Synchronization
import TestSupport
import XCTest

/// An InfluxDB stand-in that refuses any batch containing one of `refusedMarkers` (like InfluxDB 1.x,
/// without saying which line), or answers with scripted outcomes, or fails every write while `down`.
final class RefusingInflux: InfluxWriting {
    private struct State {
        var refusedMarkers: [String] = []
        var script: [InfluxWriteResult] = []
        var down = false
        var written: [String] = []
        var writes = 0
    }
    private let state = Mutex(State())

    func refuse(linesContaining marker: String) { state.withLock { $0.refusedMarkers.append(marker) } }
    func setScript(_ script: [InfluxWriteResult]) { state.withLock { $0.script = script } }
    func setDown(_ down: Bool) { state.withLock { $0.down = down } }
    var written: [String] { state.withLock { $0.written } }
    var writes: Int { state.withLock { $0.writes } }

    func write(database: String, body: [UInt8], lineCount: Int) async -> InfluxWriteResult {
        let text = String(decoding: body, as: UTF8.self)
        return state.withLock { state in
            state.writes += 1
            if state.down { return .retryable(.transport(curlCode: 7, message: "Couldn't connect to server")) }
            if !state.script.isEmpty { return state.script.removeFirst() }
            if state.refusedMarkers.contains(where: { text.contains($0) }) {
                return .rejected(.status(code: 400, body: #"{"error":"partial write: unable to parse"}"#, retryAfterSeconds: nil))
            }
            state.written += text.split(separator: "\n").map(String.init)
            return .written
        }
    }
}

/// Records what the writer spools and sets aside, without a disk.
final class RecordingStore: OverflowStore {
    private struct State {
        var spooled: [String] = []
        var deadLetters: [String] = []
        var refuseSpool = false
    }
    private let state = Mutex(State())

    var spooled: [String] { state.withLock { $0.spooled } }
    var deadLetters: [String] { state.withLock { $0.deadLetters } }
    func setRefuseSpool(_ refuse: Bool) { state.withLock { $0.refuseSpool = refuse } }

    func spool(database: String, body: [UInt8], lineCount: Int) async -> Bool {
        state.withLock { state in
            guard !state.refuseSpool else { return false }
            state.spooled += String(decoding: body, as: UTF8.self).split(separator: "\n").map(String.init)
            return true
        }
    }

    /// Like `DurableStore`: past the limit, a refusing (full) spool still takes the batch.
    func spoolPastLimit(database: String, body: [UInt8], lineCount: Int) async -> Bool {
        state.withLock { state in
            state.spooled += String(decoding: body, as: UTF8.self).split(separator: "\n").map(String.init)
            return true
        }
    }

    func deadLetter(database: String, status: Int, error: String, lines: [[UInt8]]) async -> Bool {
        state.withLock { state in
            state.deadLetters += lines.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .newlines) }
            return true
        }
    }
}

final class BatchWriterDurabilityTests: XCTestCase {
    private func lines(_ range: Range<Int>) -> (bytes: [UInt8], count: Int, text: [String]) {
        let text = range.map { "m,device_id=d\($0) v=\($0)i \(1_770_628_523_000_000_000 + $0)" }
        return (Array(text.map { $0 + "\n" }.joined().utf8), text.count, text)
    }

    private func makeWriter(_ influx: RefusingInflux, store: RecordingStore?,
                            _ configure: (inout BatchWriterConfiguration) -> Void = { _ in }) -> BatchWriter {
        var configuration = BatchWriterConfiguration(
            flushIntervalMilliseconds: 60_000, retryBaseMilliseconds: 1, retryMaxDelayMilliseconds: 5)
        configure(&configuration)
        var logger = Logger(label: "test.durability")
        logger.logLevel = .critical
        return BatchWriter(configuration: configuration, client: influx, store: store, logger: logger)
    }

    /// InfluxDB 1.x refuses a batch without saying which line: bisection isolates exactly it.
    func testARefusedBatchIsNarrowedDownToTheRefusedLine() async throws {
        let influx = RefusingInflux()
        influx.refuse(linesContaining: "device_id=d13 ")
        let store = RecordingStore()
        let writer = makeWriter(influx, store: store) { $0.batchSize = 20 }
        let chunk = lines(0..<20)
        await writer.append(database: "db", lines: chunk.bytes, lineCount: chunk.count)
        let report = await writer.drain(timeout: .seconds(30))

        XCTAssertTrue(report.completed)
        XCTAssertEqual(store.deadLetters, [chunk.text[13]])
        XCTAssertEqual(Set(influx.written), Set(chunk.text).subtracting([chunk.text[13]]))
        XCTAssertEqual(writer.metrics.linesRejected.load(ordering: .relaxed), 1)
        XCTAssertEqual(writer.metrics.linesWritten.load(ordering: .relaxed), 19)
        XCTAssertEqual(writer.metrics.bufferedLines.load(ordering: .relaxed), 0)
        XCTAssertTrue(store.spooled.isEmpty)
    }

    /// InfluxDB 3 lists the refused lines and has stored the rest: exactly those are set aside and
    /// nothing is sent again (Telegraf would drop the whole batch here).
    func testAnInfluxDB3PartialWriteSetsAsideExactlyTheListedLines() async throws {
        let influx = RefusingInflux()
        let answer = #"{"error":"partial write of line protocol occurred","data":[{"original_line":"x","line_number":2,"error_message":"invalid column type"},{"original_line":"y","line_number":5,"error_message":"invalid column type"}]}"#
        influx.setScript([.rejected(.status(code: 400, body: answer, retryAfterSeconds: nil))])
        let store = RecordingStore()
        let writer = makeWriter(influx, store: store) { $0.batchSize = 6 }
        let chunk = lines(0..<6)
        await writer.append(database: "db", lines: chunk.bytes, lineCount: chunk.count)
        _ = await writer.drain(timeout: .seconds(30))

        XCTAssertEqual(store.deadLetters, [chunk.text[1], chunk.text[4]])
        XCTAssertEqual(influx.writes, 1, "nothing is resent after an InfluxDB 3 partial write")
        XCTAssertEqual(writer.metrics.linesWritten.load(ordering: .relaxed), 4)
        XCTAssertEqual(writer.metrics.linesRejected.load(ordering: .relaxed), 2)
    }

    /// 413: the batch is split until its halves fit; nothing is lost.
    func testTooLargeIsSplitInHalves() async throws {
        let influx = RefusingInflux()
        influx.setScript([.rejected(.status(code: 413, body: "Request Entity Too Large", retryAfterSeconds: nil))])
        let store = RecordingStore()
        let writer = makeWriter(influx, store: store) { $0.batchSize = 8 }
        let chunk = lines(0..<8)
        await writer.append(database: "db", lines: chunk.bytes, lineCount: chunk.count)
        _ = await writer.drain(timeout: .seconds(30))
        XCTAssertEqual(Set(influx.written), Set(chunk.text))
        XCTAssertTrue(store.deadLetters.isEmpty)
        XCTAssertEqual(influx.writes, 3)
    }

    /// A batch InfluxDB has not taken within SPOOL_AFTER_MS leaves memory for the spool.
    func testABatchNotWrittenInTimeGoesToTheSpool() async throws {
        let influx = RefusingInflux()
        influx.setDown(true)
        let store = RecordingStore()
        let writer = makeWriter(influx, store: store) { $0.batchSize = 5; $0.spoolAfterMilliseconds = 0 }
        let chunk = lines(0..<10)
        await writer.append(database: "db", lines: chunk.bytes, lineCount: chunk.count)
        try await eventually("both batches spooled", timeout: 30) { store.spooled.count == 10 }
        XCTAssertEqual(Set(store.spooled), Set(chunk.text))
        try await eventually("memory freed", timeout: 30) { writer.metrics.bufferedLines.load(ordering: .relaxed) == 0 }
        XCTAssertTrue(influx.written.isEmpty)
    }

    /// When the spool cannot take a batch, it stays in memory and is retried: nothing is dropped.
    func testASpoolThatRefusesKeepsTheBatchInMemoryUntilInfluxDBIsBack() async throws {
        let influx = RefusingInflux()
        influx.setDown(true)
        let store = RecordingStore()
        store.setRefuseSpool(true)
        let writer = makeWriter(influx, store: store) { $0.batchSize = 5; $0.spoolAfterMilliseconds = 0 }
        let chunk = lines(0..<5)
        await writer.append(database: "db", lines: chunk.bytes, lineCount: chunk.count)
        try await eventually("several attempts", timeout: 30) { influx.writes >= 3 }
        XCTAssertEqual(writer.metrics.bufferedLines.load(ordering: .relaxed), 5)
        influx.setDown(false)
        let report = await writer.drain(timeout: .seconds(30))
        XCTAssertTrue(report.completed)
        XCTAssertEqual(Set(influx.written), Set(chunk.text))
    }

    /// Shutdown with InfluxDB down: what cannot be written within the timeout is spooled.
    func testShutdownSpoolsWhatCannotBeWrittenInTime() async throws {
        let influx = RefusingInflux()
        influx.setDown(true)
        let store = RecordingStore()
        let writer = makeWriter(influx, store: store) { $0.batchSize = 4; $0.spoolAfterMilliseconds = 3_600_000 }
        let chunk = lines(0..<10)
        await writer.append(database: "db", lines: chunk.bytes, lineCount: chunk.count)
        let report = await writer.drain(timeout: .milliseconds(300))
        XCTAssertEqual(report.linesSpooled, 10)
        XCTAssertEqual(report.linesRemaining, 0)
        XCTAssertEqual(Set(store.spooled), Set(chunk.text))
    }

    /// Memory full while InfluxDB is down: new chunks go straight to the spool instead of waiting.
    func testMemoryFullWhileInfluxDBIsDownSpoolsNewChunks() async throws {
        let influx = RefusingInflux()
        influx.setDown(true)
        let store = RecordingStore()
        let writer = makeWriter(influx, store: store) {
            $0.batchSize = 5; $0.maxBufferedLines = 5; $0.spoolAfterMilliseconds = 3_600_000
        }
        let first = lines(0..<5)
        await writer.append(database: "db", lines: first.bytes, lineCount: first.count)
        try await eventually("InfluxDB seen down", timeout: 30) { writer.metrics.influxUp.load(ordering: .relaxed) == 0 }
        let second = lines(5..<10)
        await writer.append(database: "db", lines: second.bytes, lineCount: second.count)
        XCTAssertEqual(Set(store.spooled), Set(second.text))
    }

    /// InfluxDB down, spool full, memory full: the appender waits. A stop request lets it in, and the
    /// drain spools everything past the spool's limit (README, "Delivery guarantees", SIGTERM).
    func testAStopLetsAnAppenderWaitingForMemoryInAndTheDrainSpoolsPastTheLimit() async throws {
        let influx = RefusingInflux()
        influx.setDown(true)
        let store = RecordingStore()
        store.setRefuseSpool(true)
        let writer = makeWriter(influx, store: store) {
            $0.batchSize = 5; $0.maxBufferedLines = 5; $0.spoolAfterMilliseconds = 0
        }
        let first = lines(0..<5)
        await writer.append(database: "db", lines: first.bytes, lineCount: first.count)
        try await eventually("InfluxDB seen down", timeout: 30) { writer.metrics.influxUp.load(ordering: .relaxed) == 0 }
        let second = lines(5..<10)
        let appended = Flag()
        let appender = Task {
            await writer.append(database: "db", lines: second.bytes, lineCount: second.count)
            appended.set()
        }
        // A moment in which the append must not get through: memory and spool are full.
        try await Task.sleep(for: .milliseconds(200))
        XCTAssertFalse(appended.value)
        await writer.beginStopping()
        await appender.value
        let report = await writer.drain(timeout: .milliseconds(200))
        XCTAssertEqual(report.linesRemaining, 0)
        XCTAssertEqual(Set(store.spooled), Set(first.text + second.text))
    }
}
