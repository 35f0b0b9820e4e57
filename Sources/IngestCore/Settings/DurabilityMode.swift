/// What ingestd does with an accepted line before InfluxDB has it (DURABILITY).
public enum DurabilityMode: String, CaseIterable, Sendable {
    /// Lines wait in memory; a crash (not a stop) loses what was not yet written or spooled.
    case memory
    /// Every accepted line is also appended to a crash journal, fsynced every JOURNAL_SYNC_MS.
    case journal
}
