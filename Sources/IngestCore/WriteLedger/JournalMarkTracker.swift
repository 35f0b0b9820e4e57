/// Translates the write ledger's low-water mark (its own line numbers, in append order) into the
/// crash journal's (the sequence numbers the journal gave the same lines), so the journal is trimmed
/// exactly as far as lines are safe (README, "Delivery guarantees").
///
/// The two numberings need not run in the same order: lines the journal recovered from an earlier run
/// carry low sequence numbers but may reach the writer after new ones. So the journal mark is one less
/// than the smallest sequence number of any append not yet wholly safe (the highest number seen once
/// all are). Appends leave in append order (the ledger's mark only grows), so the smallest is kept
/// with a monotonic queue: an append whose first sequence number is not below a later append's can
/// never be the smallest again and is dropped at once. Each append is pushed and popped at most once.
public struct JournalMarkTracker: Sendable {
    struct Entry: Sendable {
        /// The ledger's number of the append's last line.
        let lastLine: UInt64
        let firstSequence: UInt64
    }

    /// First sequence numbers increasing from `head` on; the ledger's last lines increasing too.
    private var queue: [Entry] = []
    private var head = 0
    private var highestSequence: UInt64?
    /// Lines the journal recovered from an earlier run and has not handed to the writer yet: the mark
    /// stays below them until they are recorded (new lines may overtake them on the way).
    private var awaited: [ClosedRange<UInt64>]
    public private(set) var acknowledged: UInt64 = 0

    public init(awaiting recovered: [ClosedRange<UInt64>] = []) {
        awaited = recovered
    }

    /// An append of `lineCount` lines whose first ledger number is `firstLine` carries journal
    /// `sequences`. Appends are recorded in the ledger's order.
    public mutating func record(firstLine: UInt64, lineCount: Int, sequences: ClosedRange<UInt64>) {
        precondition(lineCount > 0, "an append has at least one line")
        let entry = Entry(lastLine: firstLine + UInt64(lineCount) - 1, firstSequence: sequences.lowerBound)
        precondition(head == queue.count || queue[queue.count - 1].lastLine < entry.lastLine,
                     "appends are recorded in ledger order")
        while queue.count > head, queue[queue.count - 1].firstSequence >= entry.firstSequence { queue.removeLast() }
        queue.append(entry)
        highestSequence = max(highestSequence ?? 0, sequences.upperBound)
        if let index = awaited.firstIndex(of: sequences) { awaited.remove(at: index) }
    }

    /// Every ledger line up to `safeLine` is safe: the new journal mark, when it moved.
    public mutating func linesSafe(upTo safeLine: UInt64) -> UInt64? {
        while head < queue.count, queue[head].lastLine <= safeLine { head += 1 }
        if head > 64 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        guard let highest = highestSequence else { return nil }
        var lowestUnsafe = head < queue.count ? queue[head].firstSequence : highest &+ 1
        for range in awaited { lowestUnsafe = min(lowestUnsafe, range.lowerBound) }
        guard lowestUnsafe > 0, lowestUnsafe - 1 > acknowledged else { return nil }
        let mark = lowestUnsafe - 1
        acknowledged = mark
        return mark
    }
}
