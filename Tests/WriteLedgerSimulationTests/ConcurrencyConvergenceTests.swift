import IngestCore
import XCTest

/// The concurrency controller inside the write ledger against a simulated InfluxDB of a seeded
/// capacity (README, "Throughput when InfluxDB is slow"): beyond `capacity` writes at once each write
/// takes longer in proportion, beyond twice the capacity it answers 503. With work always waiting,
/// the limit must settle around the capacity (never at the bound it was given, never stuck at 1),
/// stay within its bounds, and every line must be written.
final class ConcurrencyConvergenceTests: XCTestCase {
    func testTheLimitSettlesAroundTheCapacityOfASimulatedInfluxDB() {
        for seed in UInt64(1)...60 {
            var random = SeededRandom(seed: seed)
            let capacity = 1 + Int(random.next() % 12)
            let base = 5 + Int64(random.next() % 200)
            let line = Array("m v=1 0000000\n".utf8)
            let configuration = WriteLedgerConfiguration(
                batchSize: 1, maxBatchBytes: line.count, flushIntervalMilliseconds: 1_000,
                concurrency: 1 + Int(random.next() % 4), maxConcurrency: 64, maxBufferedLines: 10_000,
                spoolAfterMilliseconds: .max, backoff: RetryBackoff(baseMilliseconds: 1, maxDelayMilliseconds: 10),
                hasSpool: false)
            var ledger = WriteLedger(configuration: configuration, seed: seed)
            var pending: [(at: Int64, id: LedgerBatch.ID, outcome: WriteOutcome)] = []
            var now: Int64 = 0
            var appended = 0
            var written = 0
            var limits: [Int] = []
            func perform(_ actions: [WriteLedgerAction]) {
                for case .write(let batch) in actions {
                    let inFlight = ledger.writesInFlight
                    let outcome: WriteOutcome = inFlight > 2 * capacity
                        ? .retryable(status: 503, retryAfterSeconds: nil, message: "overloaded") : .written
                    let latency = base * Int64(max(capacity, inFlight)) / Int64(capacity) + Int64(random.next() % 3)
                    pending.append((now + latency, batch.id, outcome))
                }
            }
            for _ in 0..<3_000 {
                while ledger.linesInMemory < 200 && appended < 20_000 {
                    appended += 1
                    perform(ledger.append(database: "db", lines: line, lineCount: 1, now: now).1)
                }
                guard let next = pending.indices.min(by: { pending[$0].at < pending[$1].at }) else {
                    perform(ledger.timerFired(now: now + 10))
                    now += 10
                    continue
                }
                let event = pending.remove(at: next)
                now = max(now, event.at)
                if event.outcome == .written { written += 1 }
                perform(ledger.writeFinished(event.id, outcome: event.outcome, now: now))
                perform(ledger.timerFired(now: now))
                XCTAssertTrue((1...64).contains(ledger.writeConcurrency), "seed \(seed)")
                limits.append(ledger.writeConcurrency)
            }
            let settled = limits.suffix(limits.count / 2)
            let average = Double(settled.reduce(0, +)) / Double(settled.count)
            XCTAssertGreaterThanOrEqual(average, Double(capacity) / 2, "seed \(seed): capacity \(capacity), base \(base) ms")
            XCTAssertLessThanOrEqual(average, Double(2 * capacity + 1), "seed \(seed): capacity \(capacity), base \(base) ms")
            XCTAssertLessThanOrEqual(settled.max()!, 2 * capacity + 2, "seed \(seed): the limit ran away")
            XCTAssertGreaterThan(written, 1_000, "seed \(seed)")
        }
    }
}
