import IngestCore
import XCTest

/// The write ledger's transitions one by one (the simulation target checks them under random faults).
final class WriteLedgerTests: XCTestCase {
    private func configuration(batchSize: Int = 2, maxBufferedLines: Int = 4, concurrency: Int = 1,
                               spoolAfter: Int64 = 1_000, hasSpool: Bool = true) -> WriteLedgerConfiguration {
        WriteLedgerConfiguration(batchSize: batchSize, maxBatchBytes: 1 << 20, flushIntervalMilliseconds: 100,
                                 concurrency: concurrency, maxBufferedLines: maxBufferedLines,
                                 spoolAfterMilliseconds: spoolAfter,
                                 backoff: RetryBackoff(baseMilliseconds: 10, maxDelayMilliseconds: 100), hasSpool: hasSpool)
    }

    private func lines(_ names: String...) -> [UInt8] { Array(names.map { "\($0) v=1 1\n" }.joined().utf8) }

    private func writes(_ actions: [WriteLedgerAction]) -> [LedgerBatch] {
        actions.compactMap { if case .write(let batch) = $0 { batch } else { nil } }
    }

    private func spools(_ actions: [WriteLedgerAction]) -> [(LedgerBatch, Bool)] {
        actions.compactMap { if case let .spool(batch, pastLimit) = $0 { (batch, pastLimit) } else { nil } }
    }

    private func safe(_ actions: [WriteLedgerAction]) -> UInt64? {
        actions.compactMap { if case .linesSafe(let upTo) = $0 { upTo } else { nil } }.last
    }

    private func timer(_ actions: [WriteLedgerAction]) -> Int64? {
        actions.compactMap { if case .armTimer(let at) = $0 { at } else { nil } }.last
    }

    func testAFullBufferIsCutAndWrittenAndItsLinesBecomeSafeOnlyOnceWritten() {
        var ledger = WriteLedger(configuration: configuration(), seed: 1)
        let (result, actions) = ledger.append(database: "db", lines: lines("a", "b"), lineCount: 2, now: 0)
        XCTAssertEqual(result, .taken)
        let batch = try! XCTUnwrap(writes(actions).first)
        XCTAssertEqual(batch.lineCount, 2)
        XCTAssertNil(safe(actions), "nothing is safe before InfluxDB answered")
        XCTAssertEqual(ledger.batches[batch.id]?.state.name, "writing")
        let done = ledger.writeFinished(batch.id, outcome: .written, now: 5)
        XCTAssertEqual(safe(done), 2)
        XCTAssertTrue(ledger.batches.isEmpty)
        XCTAssertEqual(ledger.linesInMemory, 0)
    }

    func testAQuietBufferIsFlushedByTheTimer() {
        var ledger = WriteLedger(configuration: configuration(batchSize: 10), seed: 1)
        let (_, actions) = ledger.append(database: "db", lines: lines("a"), lineCount: 1, now: 0)
        XCTAssertTrue(writes(actions).isEmpty)
        XCTAssertEqual(timer(actions), 100)
        XCTAssertTrue(writes(ledger.timerFired(now: 50)).isEmpty, "not due yet")
        XCTAssertEqual(writes(ledger.timerFired(now: 100)).count, 1)
    }

    func testWritesInFlightAreBoundedByTheConcurrency() {
        var ledger = WriteLedger(configuration: configuration(batchSize: 1, maxBufferedLines: 10, concurrency: 2), seed: 1)
        var started: [LedgerBatch] = []
        for database in ["a", "b", "c"] {
            started += writes(ledger.append(database: database, lines: lines(database), lineCount: 1, now: 0).1)
        }
        XCTAssertEqual(started.map(\.database), ["a", "b"])
        XCTAssertEqual(ledger.writesInFlight, 2)
        XCTAssertEqual(writes(ledger.writeFinished(started[0].id, outcome: .written, now: 1)).map(\.database), ["c"])
    }

    /// README, "Throughput when InfluxDB is slow": lines that pile up while every slot is busy go out
    /// together in the next batch, up to `INFLUX_MAX_BATCH_BYTES`.
    func testLinesThatPileUpWhileTheSlotsAreBusyGoOutInOneBatch() {
        var ledger = WriteLedger(configuration: configuration(batchSize: 2, maxBufferedLines: 100), seed: 1)
        let first = writes(ledger.append(database: "db", lines: lines("a", "b"), lineCount: 2, now: 0).1)
        XCTAssertEqual(first.map(\.lineCount), [2], "a quiet stream is cut at INFLUX_BATCH_SIZE")
        for name in ["c", "d", "e", "f", "g"] {
            XCTAssertTrue(writes(ledger.append(database: "db", lines: lines(name), lineCount: 1, now: 10).1).isEmpty)
        }
        let next = writes(ledger.writeFinished(first[0].id, outcome: .written, now: 20))
        XCTAssertEqual(next.map(\.lineCount), [4], "the backlog in one batch, a whole multiple of INFLUX_BATCH_SIZE")
        XCTAssertEqual(ledger.batchLines, 4)
        // The one line left over waits for more lines or for a flush interval from the cut.
        XCTAssertTrue(writes(ledger.writeFinished(next[0].id, outcome: .written, now: 30)).isEmpty)
        XCTAssertTrue(writes(ledger.timerFired(now: 110)).isEmpty)
        XCTAssertEqual(writes(ledger.timerFired(now: 120)).map(\.lineCount), [1])
    }

    func testABatchIsNeverLargerThanMaxBatchBytes() {
        let line = Array("m v=1 1\n".utf8)
        var ledger = WriteLedger(configuration: WriteLedgerConfiguration(
            batchSize: 1, maxBatchBytes: line.count * 3, flushIntervalMilliseconds: 100, concurrency: 1,
            maxBufferedLines: 100, spoolAfterMilliseconds: 1_000,
            backoff: RetryBackoff(baseMilliseconds: 10, maxDelayMilliseconds: 100), hasSpool: true), seed: 1)
        var batch = writes(ledger.append(database: "db", lines: line, lineCount: 1, now: 0).1)[0]
        _ = ledger.append(database: "db", lines: Array(repeating: line, count: 7).flatMap { $0 }, lineCount: 7, now: 1)
        var sizes: [Int] = []
        while true {
            guard let next = writes(ledger.writeFinished(batch.id, outcome: .written, now: 2)).first else { break }
            sizes.append(next.lineCount)
            XCTAssertLessThanOrEqual(next.body.count, line.count * 3)
            batch = next
        }
        XCTAssertEqual(sizes, [3, 3, 1])
        XCTAssertEqual(ledger.safeUpTo, 8)
    }

    func testTheMemoryBoundCountsBytesToo() {
        var ledger = WriteLedger(configuration: WriteLedgerConfiguration(
            batchSize: 100, maxBatchBytes: 1 << 20, flushIntervalMilliseconds: 100, concurrency: 1,
            maxBufferedLines: 1_000, maxBufferedBytes: 30, spoolAfterMilliseconds: 1_000,
            backoff: RetryBackoff(baseMilliseconds: 10, maxDelayMilliseconds: 100), hasSpool: true), seed: 1)
        XCTAssertEqual(ledger.append(database: "db", lines: lines("a", "b"), lineCount: 2, now: 0).0, .taken)
        XCTAssertEqual(ledger.bytesInMemory, 16)
        XCTAssertEqual(ledger.append(database: "db", lines: lines("c", "d"), lineCount: 2, now: 0).0, .wait(appender: 0),
                       "32 bytes > INFLUX_MAX_BUFFER_BYTES 30, far below the line bound")
    }

    /// One database whose writes hang must not hold every slot: the next slot goes to the database
    /// with the fewest writes in flight, before older work of the busy one.
    func testAFreeSlotGoesToTheDatabaseWithTheFewestWritesInFlight() {
        var ledger = WriteLedger(configuration: configuration(batchSize: 1, maxBufferedLines: 100, concurrency: 2), seed: 1)
        let slow = writes(ledger.append(database: "slow", lines: lines("s1"), lineCount: 1, now: 0).1)
        XCTAssertEqual(slow.count, 1)
        let other = writes(ledger.append(database: "slow", lines: lines("s2"), lineCount: 1, now: 1).1)
        XCTAssertEqual(other.map(\.database), ["slow"], "a free slot and nothing else waiting")
        _ = ledger.append(database: "slow", lines: lines("s3"), lineCount: 1, now: 2)
        _ = ledger.append(database: "fast", lines: lines("f1"), lineCount: 1, now: 3)
        let next = writes(ledger.writeFinished(other[0].id, outcome: .retryable(status: 404, retryAfterSeconds: nil,
                                                                                 message: "database not found"), now: 4))
        XCTAssertEqual(next.map(\.database), ["fast"], "slow has a write in flight, fast has none")
    }

    func testOverloadHalvesTheConcurrency() {
        var ledger = WriteLedger(configuration: WriteLedgerConfiguration(
            batchSize: 1, maxBatchBytes: 1 << 20, flushIntervalMilliseconds: 100, concurrency: 4, maxConcurrency: 8,
            maxBufferedLines: 100, spoolAfterMilliseconds: 1_000,
            backoff: RetryBackoff(baseMilliseconds: 10, maxDelayMilliseconds: 100), hasSpool: true), seed: 1)
        var started: [LedgerBatch] = []
        for database in ["a", "b", "c", "d"] {
            started += writes(ledger.append(database: database, lines: lines(database), lineCount: 1, now: 0).1)
        }
        XCTAssertEqual(started.count, 4)
        let busy = WriteOutcome.retryable(status: 503, retryAfterSeconds: nil, message: "busy")
        for batch in started { _ = ledger.writeFinished(batch.id, outcome: busy, now: 10) }
        XCTAssertEqual(ledger.writeConcurrency, 2, "four writes in flight together are one signal")
    }

    func testARetryableFailureWaitsOutTheBackoffHonouringRetryAfter() {
        var ledger = WriteLedger(configuration: configuration(), seed: 1)
        let batch = writes(ledger.append(database: "db", lines: lines("a", "b"), lineCount: 2, now: 0).1)[0]
        let failed = ledger.writeFinished(batch.id, outcome: .retryable(status: 429, retryAfterSeconds: 0.05, message: "slow down"), now: 10)
        XCTAssertFalse(ledger.influxUp)
        guard case .waitingRetry(let until)? = ledger.batches[batch.id]?.state else { return XCTFail("not waiting") }
        XCTAssertGreaterThanOrEqual(until, 60, "Retry-After 50 ms is a floor")
        XCTAssertEqual(timer(failed), until)
        XCTAssertEqual(writes(ledger.timerFired(now: until)).map(\.id), [batch.id])
    }

    func testABatchNotWrittenInTimeGoesToTheSpool() {
        var ledger = WriteLedger(configuration: configuration(spoolAfter: 0), seed: 1)
        let batch = writes(ledger.append(database: "db", lines: lines("a", "b"), lineCount: 2, now: 0).1)[0]
        let failed = ledger.writeFinished(batch.id, outcome: .retryable(status: nil, retryAfterSeconds: nil, message: "refused"), now: 1)
        XCTAssertEqual(spools(failed).map { $0.1 }, [false])
        XCTAssertEqual(safe(ledger.spoolFinished(batch.id, stored: true, now: 2)), 2)
    }

    func testAFullSpoolKeepsTheBatchAndRetries() {
        var ledger = WriteLedger(configuration: configuration(spoolAfter: 0), seed: 1)
        let batch = writes(ledger.append(database: "db", lines: lines("a", "b"), lineCount: 2, now: 0).1)[0]
        _ = ledger.writeFinished(batch.id, outcome: .retryable(status: nil, retryAfterSeconds: nil, message: "refused"), now: 1)
        let refused = ledger.spoolFinished(batch.id, stored: false, now: 2)
        XCTAssertNil(safe(refused))
        XCTAssertEqual(ledger.batches[batch.id]?.state.name, "waitingRetry")
        XCTAssertEqual(ledger.linesInMemory, 2)
    }

    func testAtTheMemoryBoundTheAppenderWaitsAndIsWokenWhenLinesAreWritten() {
        var ledger = WriteLedger(configuration: configuration(batchSize: 2, maxBufferedLines: 2), seed: 1)
        let batch = writes(ledger.append(database: "db", lines: lines("a", "b"), lineCount: 2, now: 0).1)[0]
        let (result, _) = ledger.append(database: "db", lines: lines("c"), lineCount: 1, now: 1)
        XCTAssertEqual(result, .wait(appender: 0))
        XCTAssertEqual(ledger.linesWaiting, 1)
        let done = ledger.writeFinished(batch.id, outcome: .written, now: 2)
        XCTAssertTrue(done.contains { if case .wakeAppender(0) = $0 { true } else { false } })
        XCTAssertEqual(safe(done), 2, "line 3 is in a buffer, not safe")
        XCTAssertEqual(ledger.linesInMemory, 1)
    }

    func testWhileInfluxIsDownAChunkThatFindsMemoryFullGoesToTheSpoolWhole() {
        var ledger = WriteLedger(configuration: configuration(batchSize: 2, maxBufferedLines: 2), seed: 1)
        let batch = writes(ledger.append(database: "db", lines: lines("a", "b"), lineCount: 2, now: 0).1)[0]
        _ = ledger.writeFinished(batch.id, outcome: .retryable(status: 503, retryAfterSeconds: nil, message: "down"), now: 1)
        let (result, actions) = ledger.append(database: "db", lines: lines("c"), lineCount: 1, now: 2)
        XCTAssertEqual(result, .wait(appender: 0))
        let chunk = try! XCTUnwrap(spools(actions).first?.0)
        let stored = ledger.spoolFinished(chunk.id, stored: true, now: 3)
        XCTAssertTrue(stored.contains { if case .wakeAppender(0) = $0 { true } else { false } })
        XCTAssertNil(safe(stored), "lines 1-2 are still waiting for InfluxDB")
    }

    /// v1/v2 whole-batch 400: bisection, only the refused line goes to the dead-letter folder.
    func testARefusedBatchIsNarrowedDownToItsRefusedLine() {
        var ledger = WriteLedger(configuration: configuration(), seed: 1)
        let batch = writes(ledger.append(database: "db", lines: lines("good", "bad"), lineCount: 2, now: 0).1)[0]
        let refusal = WriteOutcome.refused(status: 400, message: "unable to parse", refusedLines: nil)
        var actions = ledger.writeFinished(batch.id, outcome: refusal, now: 1)
        var deadLettered: [[UInt8]] = []
        for _ in 0..<4 {
            if let (body) = actions.compactMap({ if case let .writeLines(_, _, body, _) = $0 { body } else { nil } }).first {
                let text = String(decoding: body, as: UTF8.self)
                actions = ledger.isolationWriteFinished(batch.id, outcome: text.hasPrefix("bad") ? refusal : .written, now: 2)
            } else if let lines = actions.compactMap({ if case let .deadLetter(_, _, _, _, lines) = $0 { lines } else { nil } }).first {
                deadLettered = lines
                actions = ledger.deadLetterFinished(batch.id, stored: true, now: 3)
            }
        }
        XCTAssertEqual(deadLettered.map { String(decoding: $0, as: UTF8.self) }, ["bad v=1 1\n"])
        XCTAssertEqual(safe(actions), 2)
        XCTAssertTrue(ledger.batches.isEmpty)
    }

    /// The shutdown defect: InfluxDB down, spool full, memory full, an appender waiting. A stop lifts
    /// the bound, and the deadline spools everything past the spool's limit.
    func testAStopLetsWaitingAppendersInAndTheDeadlineSpoolsEverythingPastTheLimit() {
        var ledger = WriteLedger(configuration: configuration(batchSize: 2, maxBufferedLines: 2, hasSpool: true), seed: 1)
        let batch = writes(ledger.append(database: "db", lines: lines("a", "b"), lineCount: 2, now: 0).1)[0]
        let (result, _) = ledger.append(database: "db", lines: lines("c"), lineCount: 1, now: 1)
        XCTAssertEqual(result, .wait(appender: 0))
        let stop = ledger.stopRequested(now: 2)
        XCTAssertTrue(stop.contains { if case .wakeAppender(0) = $0 { true } else { false } })
        XCTAssertEqual(ledger.append(database: "db", lines: lines("d"), lineCount: 1, now: 3).0, .taken, "no bound while stopping")
        _ = ledger.drainStarted(now: 4, deadline: 2_004)
        let deadline = ledger.timerFired(now: 2_004)
        let spooled = spools(deadline)
        XCTAssertEqual(spooled.reduce(0) { $0 + $1.0.lineCount }, 4, "every line, the one in flight too")
        XCTAssertTrue(spooled.allSatisfy { $0.1 }, "past SPOOL_MAX_BYTES")
        var last: [WriteLedgerAction] = []
        for (spooledBatch, _) in spooled { last = ledger.spoolFinished(spooledBatch.id, stored: true, now: 2_005) }
        XCTAssertTrue(ledger.isDrained)
        XCTAssertTrue(last.contains { if case .report(.drained(linesLost: 0)) = $0 { true } else { false } })
        XCTAssertEqual(ledger.safeUpTo, 4)
        // The abandoned write's late answer is ignored.
        _ = ledger.writeFinished(batch.id, outcome: .written, now: 3_000)
        XCTAssertEqual(ledger.writesInFlight, 0)
    }
}
