/// Numbers the lines the pipeline hands to the writer, one number per line, increasing across
/// databases, so the writer's low-water mark (`SafeSequenceObserver`) can say which lines are safe.
/// `CrashJournal` (DURABILITY=journal) numbers them as it keeps them; `MemoryLineSequencer`
/// (DURABILITY=broker) only numbers them.
public protocol LineSequencer: Sendable {
    /// `lines` holds `lineCount` newline-terminated lines of line protocol for `database`.
    func sequence(database: String, lines: [UInt8], lineCount: Int) throws(SpoolError) -> ClosedRange<UInt64>
}

extension CrashJournal: LineSequencer {
    public func sequence(database: String, lines: [UInt8], lineCount: Int) throws(SpoolError) -> ClosedRange<UInt64> {
        try append(database: database, lines: lines)
    }
}
