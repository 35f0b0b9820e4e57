import IngestCore

/// The MQTT side of a schedule (README "Durability modes"): every line is one message, and some
/// messages are rejected (no line). The broker forgets a message once it is acknowledged and delivers
/// every other one again after a crash. With `memory` a message is acknowledged once delivered; with
/// `journal` and `broker` only once the `AcknowledgementGate` releases it (the journal's synced mark,
/// the ledger's safe mark), in arrival order.
struct SimulatedBrokerSession {
    enum Mode: CaseIterable { case memory, journal, broker }

    let mode: Mode
    /// This process's gate and its messages not yet acknowledged (their lines; empty: rejected),
    /// numbered from `firstUnacknowledged`.
    private var gate = AcknowledgementGate()
    private(set) var unacknowledged: [[String]] = []
    private var firstUnacknowledged: UInt64 = 0
    private var nextNumber: UInt64 = 0
    /// Lines of the messages acknowledged by this process: a crash must not lose one of them.
    private(set) var acknowledgedLines: [String] = []
    private(set) var acknowledged = 0

    init(mode: Mode) { self.mode = mode }

    var acknowledgesWhenSafe: Bool { mode != .memory }

    /// `messages` were taken and their lines handed on in one round, numbered up to `lastSequence`.
    mutating func delivered(_ messages: [[String]], lastSequence: UInt64) {
        for lines in messages {
            unacknowledged.append(lines)
            let number = nextNumber
            nextNumber += 1
            if acknowledgesWhenSafe { gate.decide(number, lines.isEmpty ? .nothing : .safe(upTo: lastSequence)) }
        }
        acknowledge(upTo: acknowledgesWhenSafe ? gate.released : nextNumber)
    }

    /// Every line numbered up to `sequence` is safe (synced in the journal, or in InfluxDB, the spool
    /// or the dead-letter folder).
    mutating func safe(upTo sequence: UInt64) {
        guard acknowledgesWhenSafe, gate.safe(upTo: sequence) else { return }
        acknowledge(upTo: gate.released)
    }

    private mutating func acknowledge(upTo released: UInt64) {
        let count = Int(released - firstUnacknowledged)
        guard count > 0 else { return }
        for lines in unacknowledged.prefix(count) { acknowledgedLines += lines }
        unacknowledged.removeFirst(count)
        firstUnacknowledged = released
        acknowledged += count
    }

    /// The process died: returns what the broker delivers again, in order; the next process starts
    /// with a gate of its own.
    mutating func crashed() -> [[String]] {
        defer {
            gate = AcknowledgementGate()
            unacknowledged = []
            firstUnacknowledged = 0
            nextNumber = 0
            acknowledgedLines = []
        }
        return unacknowledged
    }
}
