/// Lines of one database that a `CrashJournal` gives back after a crash.
public struct JournalBatch: Sendable, Equatable {
    public var database: String
    /// Newline-terminated line protocol.
    public var lines: [UInt8]
    public var lineCount: Int
    /// Their sequence numbers: in `CrashJournal.recovered`, numbers of the new journal, to be
    /// acknowledged like any appended line; from `CrashJournal.recover`, the numbers of the earlier run.
    public var sequences: ClosedRange<UInt64>

    public init(database: String, lines: [UInt8], lineCount: Int, sequences: ClosedRange<UInt64>) {
        self.database = database
        self.lines = lines
        self.lineCount = lineCount
        self.sequences = sequences
    }
}
