/// When each MQTT message may be acknowledged to the broker, with `DURABILITY=journal` or `broker`
/// (README "Delivery guarantees"): a pure value, no I/O, no clock.
///
/// Messages are numbered 0, 1, 2, … in the order the MQTT client handed them to the intake, which is
/// the order the pipeline takes them in. For each the pipeline decides what it needs before it may be
/// acknowledged: nothing (it was rejected, a final and counted decision) or that every line numbered
/// up to some sequence is safe (its lines, and those of the round they were handed on with, got
/// sequence numbers from the crash journal or the in-memory sequencer). Decisions arrive out of
/// arrival order: a message waiting for its device's registry lookup is decided after later ones.
///
/// The safe mark comes from the other side: every line numbered up to it is safe (fsynced in the
/// crash journal, or in InfluxDB, the spool or the dead-letter folder). It only grows.
///
/// MQTT requires acknowledgements in the order the PUBLISHes arrived (MQTT-4.6.0-2/3), so the gate
/// releases only the longest prefix, in arrival order, of messages that are decided and satisfied:
/// `released` is how many messages from the start may be acknowledged. An undecided or unsafe message
/// holds back every later one.
///
/// Amortized O(1) per message; the storage is reused.
public struct AcknowledgementGate: Sendable {
    /// What a message waits for before its acknowledgement may leave.
    public enum Requirement: Sendable, Equatable {
        /// Nothing: rejected (final and counted), or it left no line to keep.
        case nothing
        /// Every line numbered up to and including `sequence` is safe.
        case safe(upTo: UInt64)
    }

    /// How many messages, counted from the first, may be acknowledged.
    public private(set) var released: UInt64 = 0
    /// Every line numbered up to and including this is safe.
    public private(set) var safeMark: UInt64 = 0

    /// The decisions of messages `released`, `released + 1`, …, from `head` on; nil while undecided.
    private var slots: [Requirement?] = []
    private var head = 0

    public init() {}

    /// Messages decided or known to exist (a later one was decided) and not yet released.
    public var waiting: Int { slots.count - head }

    /// Message `number` needs `requirement`. Returns whether `released` grew. Deciding a message
    /// twice, or one already released, is a bug in the caller and traps.
    @discardableResult
    public mutating func decide(_ number: UInt64, _ requirement: Requirement) -> Bool {
        precondition(number >= released, "message \(number) decided after it was released (released: \(released))")
        let index = head + Int(number - released)
        if index >= slots.count {
            slots.append(contentsOf: repeatElement(nil, count: index - slots.count + 1))
        }
        precondition(slots[index] == nil, "message \(number) decided twice")
        slots[index] = requirement
        return index == head ? advance() : false
    }

    /// Every message in `numbers` needs `requirement`. Returns whether `released` grew.
    @discardableResult
    public mutating func decide(_ numbers: some Sequence<UInt64>, _ requirement: Requirement) -> Bool {
        var grew = false
        for number in numbers where decide(number, requirement) { grew = true }
        return grew
    }

    /// Every line numbered up to and including `sequence` is safe. A lower mark than before changes
    /// nothing (the reports of two sources may cross). Returns whether `released` grew.
    @discardableResult
    public mutating func safe(upTo sequence: UInt64) -> Bool {
        guard sequence > safeMark else { return false }
        safeMark = sequence
        return advance()
    }

    private mutating func advance() -> Bool {
        let start = head
        while head < slots.count, let requirement = slots[head] {
            if case .safe(let sequence) = requirement, sequence > safeMark { break }
            head += 1
        }
        let moved = head - start
        released += UInt64(moved)
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 4096 && head * 2 >= slots.count {
            slots.removeFirst(head)
            head = 0
        }
        return moved > 0
    }
}
