import Synchronization

/// The line numbers of DURABILITY=broker: nothing is written locally, the numbers only let the batch
/// writer's low-water mark say which lines are safe, and the broker keeps every message until then.
/// A `Mutex` rather than an actor: the pipeline numbers a round's lines synchronously, once per
/// database, and the lock is held for an addition.
public final class MemoryLineSequencer: LineSequencer {
    private let next = Mutex<UInt64>(1)

    public init() {}

    public func sequence(database: String, lines: [UInt8], lineCount: Int) throws(SpoolError) -> ClosedRange<UInt64> {
        guard lineCount > 0 else { throw .invalidBatch(reason: "no lines for database \(database)") }
        return next.withLock { next in
            defer { next += UInt64(lineCount) }
            return next...(next + UInt64(lineCount) - 1)
        }
    }
}
