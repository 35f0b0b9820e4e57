import IngestCore

/// One schedule: a write ledger driven by a seeded PRNG on a virtual clock against simulated peers,
/// with faults, crashes and recovery, then a healthy end and a check of every invariant.
struct SimulationSchedule {
    let seed: UInt64
    var random: SeededRandom
    var peers: SimulatedPeers
    var ledger: WriteLedger
    let configuration: WriteLedgerConfiguration
    var now: Int64 = 0
    /// DURABILITY, and the broker's side of the acknowledgements.
    var session: SimulatedBrokerSession
    var journalMode: Bool { session.mode == .journal }
    var violations: [String] = []

    /// Lines of the current ledger, by number - 1.
    var numbered: [String] = []
    var databaseOf: [String: String] = [:]
    /// Every line handed to a ledger; and those a crash was allowed to lose.
    var accepted: [String] = []
    var allowedLost: Set<String> = []
    /// The simulated crash journal: (number in the current ledger, line), and how much of it is synced.
    var journal: [(number: UInt64, line: String)] = []
    var journalSynced = 0
    var appenderWaiting: Int?
    var timerAt: Int64?
    var pending: [(at: Int64, order: Int, event: Event)] = []
    var order = 0
    var nextUID = 0
    let poisonRate: Double
    var crashes = 0
    /// Lines of the current ledger already checked by `checkSafe`.
    var checkedSafe = 0
    /// When each write in flight started (the simulation's own record, to check the controller).
    var writeStarted: [LedgerBatch.ID: Int64] = [:]

    enum Event {
        case write(LedgerBatch.ID, [String])
        case isolation(LedgerBatch.ID, [String])
        case spool(LedgerBatch.ID, [String], pastLimit: Bool)
        case deadLetter(LedgerBatch.ID, [String])
    }

    init(seed: UInt64) {
        self.seed = seed
        var random = SeededRandom(seed: seed)
        let configuration = WriteLedgerConfiguration(
            batchSize: 1 + Int(random.next() % 12), maxBatchBytes: 200 + Int(random.next() % 800),
            flushIntervalMilliseconds: 10 + Int64(random.next() % 200), concurrency: 1 + Int(random.next() % 3),
            maxConcurrency: 1 + Int(random.next() % 8), maxBufferedLines: 10 + Int(random.next() % 60),
            maxBufferedBytes: random.next() % 2 == 0 ? 300 + Int(random.next() % 1_500) : .max,
            spoolAfterMilliseconds: Int64(random.next() % 500),
            backoff: RetryBackoff(baseMilliseconds: 5, maxDelayMilliseconds: 200), hasSpool: random.next() % 8 != 0)
        self.configuration = configuration
        ledger = WriteLedger(configuration: configuration, seed: random.next())
        session = SimulatedBrokerSession(mode: SimulatedBrokerSession.Mode.allCases[Int(random.next() % 3)])
        poisonRate = random.next() % 3 == 0 ? 0.04 : 0
        peers = SimulatedPeers(
            apiV3: random.next() % 2 == 0, pDown: random.unit() * 0.5, p429: random.unit() * 0.1,
            tooLargeAbove: random.next() % 3 == 0 ? 2 + Int(random.next() % 6) : Int.max,
            pDiskFault: random.next() % 2 == 0 ? random.unit() * 0.3 : 0,
            spoolCapacityLines: 20 + Int(random.next() % 200),
            latencyMilliseconds: 1 + Int64(random.next() % 80), pSlowdown: random.next() % 2 == 0 ? random.unit() * 0.05 : 0)
        self.random = random
    }

    var faultsInjected: Int { peers.faultsInjected + crashes }

    // MARK: - Running

    mutating func run() {
        let totalLines = 10 + Int(random.next() % 70)
        // The healthy end (or the stop) comes at a random moment, often with writes in flight.
        let maxSteps = 20 + Int(random.next() % 600)
        var steps = 0
        while steps < maxSteps {
            steps += 1
            let canAppend = nextUID < totalLines && appenderWaiting == nil
            if canAppend && random.unit() < 0.4 {
                appendChunk()
            } else if random.unit() < 0.004 {
                crashAndRecover()
            } else if journalMode && random.unit() < 0.1 {
                // Group commit; a failed fsync leaves the new records unsynced.
                if peers.faultsOn && random.unit() < peers.pDiskFault {
                    peers.faultsInjected += 1
                } else {
                    journalSynced = journal.count
                    // Every line appended so far is synced, or gone from the journal because safe.
                    session.safe(upTo: UInt64(numbered.count))
                }
            } else if !deliverNext() && !canAppend {
                break
            }
        }
        // The end: faults stop (or InfluxDB stays down through a shutdown, the disk healthy).
        // Without a spool, lines still unwritten at the deadline have nowhere to go: such schedules
        // only end with a healthy InfluxDB and a drain that waits for it.
        let influxStaysDown = configuration.hasSpool && random.next() % 4 == 0
        peers.faultsOn = influxStaysDown
        peers.pDiskFault = 0
        if influxStaysDown { peers.pDown = 1 }
        if influxStaysDown || random.next() % 2 == 0 {
            shutDown()
        } else {
            runUntilIdle()
            checkEveryMessageAcknowledged()
        }
        checkFinal()
    }

    /// A round of the pipeline: messages of one database, one line each, a few of them rejected.
    mutating func appendChunk() {
        let database = "db\(random.next() % 3)"
        let count = 1 + Int(random.next() % 8)
        var messages: [[String]] = []
        for _ in 0..<count {
            if random.unit() < 0.1 {
                messages.append([])  // rejected: no line, acknowledged in its turn
                continue
            }
            let uid = nextUID
            nextUID += 1
            let poison = random.unit() < poisonRate
            let line = poison ? "m,db=\(database) bad=\(uid) \(uid)\n" : "m,db=\(database) v=\(uid)i \(uid)\n"
            messages.append([line])
        }
        deliver(database: database, messages)
    }

    /// Hands the lines of `messages` on, then tells the broker session what they wait for.
    mutating func deliver(database: String, _ messages: [[String]]) {
        let lines = messages.flatMap { $0 }
        accepted += lines
        if !lines.isEmpty { hand(database: database, lines: lines, bytes: lines.flatMap { Array($0.utf8) }) }
        session.delivered(messages, lastSequence: UInt64(numbered.count))
    }

    /// The journal gets the lines before the ledger does (as the pipeline does it).
    mutating func hand(database: String, lines: [String], bytes: [UInt8]) {
        for line in lines {
            numbered.append(line)
            databaseOf[line] = database
            if journalMode { journal.append((UInt64(numbered.count), line)) }
        }
        let (result, actions) = ledger.append(database: database, lines: bytes, lineCount: lines.count, now: now)
        if case .wait(let appender) = result { appenderWaiting = appender }
        perform(actions)
    }

    /// Delivers the earliest pending completion or the timer; false when there is nothing.
    mutating func deliverNext() -> Bool {
        let nextPending = pending.indices.min { (pending[$0].at, pending[$0].order) < (pending[$1].at, pending[$1].order) }
        if let timer = timerAt, nextPending.map({ timer <= pending[$0].at }) ?? true {
            now = max(now, timer)
            timerAt = nil
            perform(ledger.timerFired(now: now))
            return true
        }
        guard let index = nextPending else { return false }
        let (at, _, event) = pending.remove(at: index)
        now = max(now, at)
        switch event {
        case let .write(id, lines):
            let outcome = peers.write(lines, random: &random)
            let before = ledger.controller
            let startedAt = writeStarted.removeValue(forKey: id)
            perform(ledger.writeFinished(id, outcome: outcome, now: now))
            checkBackoff(before: before, startedAt: startedAt, outcome: outcome)
        case let .isolation(id, lines):
            let outcome = peers.write(lines, random: &random)
            perform(ledger.isolationWriteFinished(id, outcome: outcome, now: now))
        case let .spool(id, lines, pastLimit):
            let stored = peers.spoolWrite(lines, pastLimit: pastLimit, random: &random)
            perform(ledger.spoolFinished(id, stored: stored, now: now))
        case let .deadLetter(id, lines):
            let stored = peers.deadLetterWrite(lines, random: &random)
            perform(ledger.deadLetterFinished(id, stored: stored, now: now))
        }
        return true
    }

    mutating func schedule(_ event: Event, latency: Int64) {
        order += 1
        pending.append((now + latency, order, event))
    }

    static func lines(_ body: [UInt8]) -> [String] {
        String(decoding: body, as: UTF8.self).split(separator: "\n").map { $0 + "\n" }
    }

    mutating func perform(_ actions: [WriteLedgerAction]) {
        for action in actions {
            switch action {
            case .write(let batch):
                // While InfluxDB is down for good, writes end in timeouts: some are in flight at the deadline.
                let latency = peers.pDown >= 1 ? 100 + Int64(random.next() % 3_000) : peers.latency(random: &random)
                writeStarted[batch.id] = now
                schedule(.write(batch.id, Self.lines(batch.body)), latency: latency)
            case let .writeLines(id, _, body, _):
                schedule(.isolation(id, Self.lines(body)), latency: 1 + Int64(random.next() % 40))
            case let .spool(batch, pastLimit):
                schedule(.spool(batch.id, Self.lines(batch.body), pastLimit: pastLimit), latency: 1 + Int64(random.next() % 10))
            case let .deadLetter(id, _, _, _, lines):
                schedule(.deadLetter(id, lines.map { String(decoding: $0, as: UTF8.self) }), latency: 1 + Int64(random.next() % 10))
            case .armTimer(let at):
                timerAt = at
            case .linesSafe(let upTo):
                checkSafe(upTo: upTo)
                session.safe(upTo: upTo)
            case .wakeAppender(let id):
                if appenderWaiting == id { appenderWaiting = nil }
            case .report:
                break
            }
        }
        checkMemoryBound()
        checkConcurrency(startedWrites: actions.contains { if case .write = $0 { true } else { false } })
    }

    // MARK: - Crash and recovery

    /// The process dies at an action boundary: memory is gone, writes and spool writes in flight are
    /// torn (never stored); the spool, the dead-letter folder and the journal's synced part survive.
    mutating func crashAndRecover() {
        crashes += 1
        let survivors = journalMode ? journal[..<journalSynced].map(\.line) : []
        let recovered = Set(survivors)
        if session.acknowledgesWhenSafe {
            // Acknowledged means safe: the broker has forgotten these messages.
            for line in session.acknowledgedLines where !peers.holds(line) && !recovered.contains(line) {
                violations.append("\(session.mode): a crash lost a line of an acknowledged message: \(line)")
                break
            }
        } else {
            for line in numbered where !peers.holds(line) && !recovered.contains(line) { allowedLost.insert(line) }
        }
        let redelivered = session.crashed()
        pending.removeAll()
        writeStarted.removeAll()
        timerAt = nil
        appenderWaiting = nil
        numbered.removeAll()
        checkedSafe = 0
        journal.removeAll()
        journalSynced = 0
        ledger = WriteLedger(configuration: configuration, seed: random.next())
        // Recovery: the journal's lines go back to the writer, one chunk per run of one database.
        var index = 0
        while index < survivors.count {
            let database = databaseOf[survivors[index]]!
            var chunk: [String] = []
            while index < survivors.count, databaseOf[survivors[index]] == database, chunk.count < 8 {
                chunk.append(survivors[index])
                index += 1
            }
            // Recovery appends are never held back: the bound is the executor's to honour at start.
            hand(database: database, lines: chunk, bytes: chunk.flatMap { Array($0.utf8) })
            var waited = 0
            while appenderWaiting != nil, waited < 20_000, deliverNext() { waited += 1 }
        }
        journalSynced = journal.count
        session.safe(upTo: UInt64(numbered.count))
        // The broker delivers again what was not acknowledged, in order, in rounds of one database.
        var next = 0
        while next < redelivered.count {
            let database = redelivered[next].first.map { databaseOf[$0]! } ?? "db0"
            var round: [[String]] = []
            while next < redelivered.count, round.count < 8,
                  redelivered[next].first.map({ databaseOf[$0] == database }) ?? true {
                round.append(redelivered[next])
                next += 1
            }
            deliver(database: database, round)
            var waited = 0
            while appenderWaiting != nil, waited < 20_000, deliverNext() { waited += 1 }
        }
    }

    // MARK: - The end

    mutating func shutDown() {
        perform(ledger.stopRequested(now: now))
        // The pipeline empties the intake after the stop request: a few more chunks, never held back.
        for _ in 0..<Int(random.next() % 3) {
            // An appender still waiting for its whole-chunk spool write goes on once that is stored.
            var waited = 0
            while appenderWaiting != nil, waited < 1_000, deliverNext() { waited += 1 }
            if appenderWaiting != nil { violations.append("an appender still waits after the stop request"); break }
            appendChunk()
            if appenderWaiting != nil { violations.append("an append waited after the stop request") }
        }
        if !configuration.hasSpool {
            perform(ledger.drainStarted(now: now, deadline: .max))
        } else if random.next() % 5 == 0 {
            perform(ledger.deadlineReached(now: now)) // a second stop signal
        } else {
            perform(ledger.drainStarted(now: now, deadline: now + Int64(random.next() % 3_000)))
        }
        var steps = 0
        while !ledger.isDrained, steps < 20_000, deliverNext() { steps += 1 }
        if !ledger.isDrained {
            violations.append("shutdown did not drain: \(ledger.batches.count) batches (\(ledger.batches.values.map(\.state.name))), \(ledger.linesBuffered) buffered, timer \(timerAt.map(String.init) ?? "none")")
        }
        if ledger.linesLost > 0 { violations.append("shutdown lost \(ledger.linesLost) lines with a healthy disk") }
        checkEveryMessageAcknowledged()
    }

    mutating func runUntilIdle() {
        var steps = 0
        while appenderWaiting != nil || !ledger.batches.isEmpty || ledger.linesBuffered > 0 {
            steps += 1
            guard steps < 20_000, deliverNext() else {
                violations.append("no progress after faults stopped: \(ledger.batches.count) batches (\(ledger.batches.values.map(\.state.name))), \(ledger.linesBuffered) buffered, appender waiting \(appenderWaiting != nil)")
                return
            }
        }
    }

    // MARK: - Invariants

    mutating func checkSafe(upTo: UInt64) {
        guard upTo <= UInt64(numbered.count) else {
            return violations.append("linesSafe(upTo: \(upTo)) beyond the \(numbered.count) lines appended")
        }
        // Lines stay where they are once stored, so each check starts where the last one ended.
        defer { checkedSafe = max(checkedSafe, Int(upTo)) }
        for number in checkedSafe..<max(checkedSafe, Int(upTo)) where !peers.holds(numbered[number]) {
            return violations.append("line \(number + 1) reported safe but in neither InfluxDB, spool nor dead-letter: \(numbered[number])")
        }
        if journalMode { journal.removeAll { $0.number <= upTo }; journalSynced = min(journalSynced, journal.count) }
    }

    mutating func checkMemoryBound() {
        let inBatches = ledger.batches.values.filter { $0.waitingAppender == nil }.reduce(0) { $0 + $1.lineCount }
        let inMemory = inBatches + ledger.linesBuffered
        if inMemory != ledger.linesInMemory {
            violations.append("linesInMemory \(ledger.linesInMemory) but \(inMemory) lines in buffers and batches")
        }
        if ledger.phase == .running && inMemory > max(configuration.maxBufferedLines, 8) {
            violations.append("memory bound: \(inMemory) lines > \(configuration.maxBufferedLines)")
        }
        let bytes = ledger.batches.values.filter { $0.waitingAppender == nil }.reduce(0) { $0 + $1.body.count } + ledger.bytesBuffered
        if bytes != ledger.bytesInMemory {
            violations.append("bytesInMemory \(ledger.bytesInMemory) but \(bytes) bytes in buffers and batches")
        }
        // One chunk (at most 8 lines of under 40 bytes) always fits into empty memory.
        if ledger.phase == .running && bytes > max(configuration.maxBufferedBytes, 320) {
            violations.append("memory bound: \(bytes) bytes > \(configuration.maxBufferedBytes)")
        }
    }

    /// The controller's bounds hold, and no write starts beyond its limit.
    mutating func checkConcurrency(startedWrites: Bool) {
        let limit = ledger.writeConcurrency
        if limit < 1 || limit > configuration.maxConcurrency {
            violations.append("concurrency \(limit) outside 1...\(configuration.maxConcurrency)")
        }
        if startedWrites && ledger.writesInFlight > limit {
            violations.append("a write started with \(ledger.writesInFlight) in flight, limit \(limit)")
        }
    }

    /// A 429, 503 or timeout of a write started after the last decrease halves the limit.
    mutating func checkBackoff(before: ConcurrencyController, startedAt: Int64?, outcome: WriteOutcome) {
        guard ConcurrencyController.signal(of: outcome) == .overloaded, let startedAt else { return }
        if let last = before.lastDecreaseAt, startedAt < last { return }
        let expected = max(1, before.limit / 2)
        if ledger.writeConcurrency > expected {
            violations.append("\(outcome) left the concurrency at \(ledger.writeConcurrency) (was \(before.limit))")
        }
    }

    /// Once everything is drained the gate holds nothing back: a message never decided, or a safe
    /// mark that never reached it, would stall the broker's window for good.
    mutating func checkEveryMessageAcknowledged() {
        if journalMode { session.safe(upTo: UInt64(numbered.count)) }  // the last sync, at exit
        if session.acknowledgesWhenSafe && !session.unacknowledged.isEmpty && ledger.isDrained {
            violations.append("\(session.mode): \(session.unacknowledged.count) messages never acknowledged after the drain")
        }
    }

    mutating func checkFinal() {
        var missing = 0
        var example = ""
        for line in accepted where !allowedLost.contains(line) && !peers.holds(line) {
            missing += 1
            example = line
        }
        if missing > 0 { violations.append("\(missing) accepted lines lost, e.g. \(example)") }
        if let wrong = peers.deadLetter.first(where: { !SimulatedPeers.isPoison($0) }) {
            violations.append("dead-lettered a line InfluxDB did not refuse: \(wrong)")
        }
    }
}
