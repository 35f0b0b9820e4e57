import IngestCore

/// The simulated InfluxDB and disk the ledger's executor talks to, with the faults a schedule turns on.
struct SimulatedPeers {
    /// Lines InfluxDB stored.
    var influx: Set<String> = []
    /// Lines in spool segments (a segment is stored whole or not at all).
    var spool: Set<String> = []
    var spoolLines = 0
    /// Lines set aside in the dead-letter folder.
    var deadLetter: Set<String> = []
    /// Faults on (the first part of a schedule) or off (the end: InfluxDB and the disk healthy).
    var faultsOn = true
    var faultsInjected = 0

    // The schedule's fault mix, drawn from its seed.
    var apiV3: Bool
    var pDown: Double       // transport error / 5xx / timeout / 401
    var p429: Double
    var tooLargeAbove: Int  // 413 for bodies of more lines than this (Int.max: never)
    var pDiskFault: Double  // ENOSPC or a failed fsync
    var spoolCapacityLines: Int
    /// Write latency: around this, ten times more during a slowdown (which starts and ends at random).
    var latencyMilliseconds: Int64
    var pSlowdown: Double
    var slowedDown = false

    mutating func latency(random: inout SeededRandom) -> Int64 {
        if random.unit() < pSlowdown { slowedDown.toggle() }
        let base = slowedDown && faultsOn ? latencyMilliseconds * 10 : latencyMilliseconds
        return base / 2 + 1 + Int64(random.next() % UInt64(base))
    }

    func holds(_ line: String) -> Bool { influx.contains(line) || spool.contains(line) || deadLetter.contains(line) }

    static func isPoison(_ line: String) -> Bool { line.contains("bad=") }

    /// InfluxDB's answer to a write of `lines`; stores what it accepts.
    mutating func write(_ lines: [String], random: inout SeededRandom) -> WriteOutcome {
        if faultsOn {
            let roll = random.unit()
            if roll < pDown {
                faultsInjected += 1
                switch random.next() % 4 {
                case 0: return .retryable(status: nil, retryAfterSeconds: nil, message: "connection refused")
                case 1: return .retryable(status: 503, retryAfterSeconds: nil, message: "unavailable")
                case 2: return .retryable(status: nil, retryAfterSeconds: nil, message: "timeout")
                default: return .retryable(status: 401, retryAfterSeconds: nil, message: "unauthorized")
                }
            }
            if roll < pDown + p429 {
                faultsInjected += 1
                return .retryable(status: 429, retryAfterSeconds: Double(random.next() % 3), message: "too many requests")
            }
        }
        if lines.count > tooLargeAbove {
            faultsInjected += 1
            return .refused(status: 413, message: "request too large", refusedLines: nil)
        }
        let poison = lines.indices.filter { Self.isPoison(lines[$0]) }
        if poison.isEmpty {
            influx.formUnion(lines)
            return .written
        }
        faultsInjected += 1
        if apiV3 {
            for line in lines where !Self.isPoison(line) { influx.insert(line) }
            return .refused(status: 400, message: "partial write",
                            refusedLines: poison.map { .init(lineNumber: $0 + 1, message: "invalid field") })
        }
        return .refused(status: 400, message: "unable to parse", refusedLines: nil)
    }

    /// A spool segment: stored whole, or not at all (full, ENOSPC, failed fsync).
    mutating func spoolWrite(_ lines: [String], pastLimit: Bool, random: inout SeededRandom) -> Bool {
        if faultsOn && random.unit() < pDiskFault {
            faultsInjected += 1
            return false
        }
        if !pastLimit && spoolLines + lines.count > spoolCapacityLines { return false }
        spool.formUnion(lines)
        spoolLines += lines.count
        return true
    }

    mutating func deadLetterWrite(_ lines: [String], random: inout SeededRandom) -> Bool {
        if faultsOn && random.unit() < pDiskFault {
            faultsInjected += 1
            return false
        }
        deadLetter.formUnion(lines)
        return true
    }
}
