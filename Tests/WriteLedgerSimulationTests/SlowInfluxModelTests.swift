import IngestCore
import XCTest

/// The write ledger against a modelled slow InfluxDB, on a virtual clock (README, "Throughput when
/// InfluxDB is slow"): a backlog arrives as fast as the broker delivers it and every write takes a
/// fixed latency, whatever its size. How long the drain takes, in virtual time, with the defaults.
final class SlowInfluxModelTests: XCTestCase {
    struct Drain {
        var milliseconds: Int64
        var maxConcurrency: Int
        var maxBatchLines: Int
        var writes: Int
    }

    /// `lines` lines of about 190 bytes over `databases` databases arrive at `arrivalPerSecond` (as
    /// the benchmark's backlog does); InfluxDB answers each write after `latency` ms.
    func drain(lines: Int, databases: Int, arrivalPerSecond: Int, latency: Int64,
               initialConcurrency: Int = 16, maxConcurrency: Int = 64, maxBufferedLines: Int = 200_000,
               maxBufferedBytes: Int = 64 << 20) -> Drain {
        let configuration = WriteLedgerConfiguration(
            batchSize: 500, maxBatchBytes: 8 << 20, flushIntervalMilliseconds: 1_000,
            concurrency: initialConcurrency, maxConcurrency: maxConcurrency, maxBufferedLines: maxBufferedLines,
            maxBufferedBytes: maxBufferedBytes, spoolAfterMilliseconds: 10_000,
            backoff: RetryBackoff(baseMilliseconds: 250, maxDelayMilliseconds: 30_000), hasSpool: true)
        var ledger = WriteLedger(configuration: configuration, seed: 1)
        let line = Array(("telemetry,tenant_id=acme,device_id=d001,site_id=site-1 temp_c=21.5,humidity=45.67,"
            + "door_open=false,rssi=-60i,battery_v=3.015 1733300000000000000\n").utf8)
        let chunk = 10
        let body = Array(repeating: line, count: chunk).flatMap { $0 }
        var pending: [(at: Int64, id: LedgerBatch.ID)] = []
        var timer: Int64?
        var waiting = false
        var appended = 0
        var written = 0
        var now: Int64 = 0
        var result = Drain(milliseconds: 0, maxConcurrency: 0, maxBatchLines: 0, writes: 0)
        func perform(_ actions: [WriteLedgerAction]) {
            for action in actions {
                switch action {
                case .write(let batch):
                    pending.append((now + latency, batch.id))
                    result.writes += 1
                    result.maxBatchLines = max(result.maxBatchLines, batch.lineCount)
                case .armTimer(let at): timer = at
                case .wakeAppender: waiting = false
                default: break
                }
            }
            result.maxConcurrency = max(result.maxConcurrency, ledger.writesInFlight)
        }
        while written < lines {
            // The next event: an arrival (unless the appender waits for memory), a write's answer, the timer.
            let arrival = appended < lines && !waiting ? Int64(appended) * 1_000 / Int64(arrivalPerSecond) : Int64.max
            let answer = pending.map(\.at).min() ?? .max
            let tick = timer ?? .max
            let next = min(arrival, answer, tick)
            XCTAssertLessThan(next, .max, "stuck after \(written) lines")
            if next == .max { break }
            now = max(now, next)
            if next == answer {
                let index = pending.firstIndex { $0.at == answer }!
                let id = pending.remove(at: index).id
                written += ledger.batches[id]!.lineCount
                perform(ledger.writeFinished(id, outcome: .written, now: now))
            } else if next == arrival {
                let database = "telemetry_t\((appended / chunk) % databases)"
                let (answer, actions) = ledger.append(database: database, lines: body, lineCount: chunk, now: now)
                appended += chunk
                if case .wait = answer { waiting = true }
                perform(actions)
            } else {
                timer = nil
                perform(ledger.timerFired(now: now))
            }
        }
        result.milliseconds = now
        return result
    }

    /// One line of what a drain did, for the test log (`model: …`).
    func report(_ what: String, _ slow: Drain, instant: Drain? = nil) {
        let before = instant.map { "instant \($0.milliseconds) ms; " } ?? ""
        print("model: \(what): \(before)\(slow.milliseconds) ms, concurrency \(slow.maxConcurrency), "
              + "largest batch \(slow.maxBatchLines) lines, \(slow.writes) writes")
    }

    func testOneDatabaseAtOneSecondDrainsInAFewRoundTrips() {
        let instant = drain(lines: 200_000, databases: 1, arrivalPerSecond: 230_000, latency: 1)
        let slow = drain(lines: 200_000, databases: 1, arrivalPerSecond: 230_000, latency: 1_000)
        report("1 database, 200,000 lines, 1 s latency", slow, instant: instant)
        // The last lines arrive at 870 ms and take a second: two round trips in all, not 200 (500 lines × 2 per second).
        XCTAssertLessThanOrEqual(slow.milliseconds, 2_100)
        XCTAssertGreaterThan(slow.maxBatchLines, 10_000, "batches grew with the backlog")
    }

    func testAHundredDatabasesAtOneSecond() {
        let instant = drain(lines: 200_000, databases: 100, arrivalPerSecond: 230_000, latency: 1)
        let slow = drain(lines: 200_000, databases: 100, arrivalPerSecond: 230_000, latency: 1_000)
        report("100 databases, 200,000 lines, 1 s latency", slow, instant: instant)
        // Slow start from INFLUX_CONCURRENCY 16: 16, 48, 64 writes per round trip; a database needs its own.
        XCTAssertLessThanOrEqual(slow.milliseconds, 3_300)
        XCTAssertGreaterThanOrEqual(slow.maxConcurrency, 32)
    }

    /// A backlog three times what memory holds: once memory is full, lines come in only as writes free
    /// them; the writes in flight must still carry most of memory (a batch takes what waits), or the
    /// drain would crawl at slots × INFLUX_BATCH_SIZE per round trip.
    func testABacklogLargerThanMemoryKeepsMemoryInFlight() {
        let slow = drain(lines: 600_000, databases: 1, arrivalPerSecond: 230_000, latency: 1_000)
        report("1 database, 600,000 lines, 1 s latency", slow)
        // Memory (200,000 lines) per round trip: three round trips and the first.
        XCTAssertLessThanOrEqual(slow.milliseconds, 4_100)
    }

    func testAtAHundredMillisecondsTheDrainKeepsUpWithTheArrivals() {
        let instant = drain(lines: 200_000, databases: 1, arrivalPerSecond: 230_000, latency: 1)
        let slow = drain(lines: 200_000, databases: 1, arrivalPerSecond: 230_000, latency: 100)
        report("1 database, 200,000 lines, 100 ms latency", slow, instant: instant)
        XCTAssertLessThanOrEqual(slow.milliseconds, instant.milliseconds + 150)
    }

    /// A backlog of a million lines (a few minutes of a fleet's outage) with memory bound by bytes:
    /// once the first round trip is over, the drain keeps up with the arrivals.
    func testAMillionLinesAtOneSecondKeepUpWithTheArrivals() {
        let instant = drain(lines: 1_000_000, databases: 1, arrivalPerSecond: 330_000, latency: 1,
                            maxBufferedLines: 1_000_000, maxBufferedBytes: 64 << 20)
        let slow = drain(lines: 1_000_000, databases: 1, arrivalPerSecond: 330_000, latency: 1_000,
                         maxBufferedLines: 1_000_000, maxBufferedBytes: 64 << 20)
        report("1 database, 1,000,000 lines, 1 s latency", slow, instant: instant)
        XCTAssertLessThanOrEqual(slow.milliseconds, instant.milliseconds + 1_500)
    }
}
