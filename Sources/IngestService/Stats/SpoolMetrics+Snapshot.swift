import Synchronization

extension SpoolMetrics {
    /// Copies the spool's counters into a stats snapshot.
    func fill(_ snapshot: inout StatsSnapshot) {
        snapshot.spoolBatches = segments.load(ordering: .relaxed)
        snapshot.spoolBytes = bytes.load(ordering: .relaxed)
        snapshot.spoolFull = full.load(ordering: .relaxed) == 1
        snapshot.spoolReplayedLines = replayedLines.load(ordering: .relaxed)
        snapshot.deadLetterLines = deadLetterLines.load(ordering: .relaxed)
        snapshot.corruptFiles = corruptFiles.load(ordering: .relaxed)
        snapshot.corruptLines = corruptLines.load(ordering: .relaxed)
    }
}
