import IngestCore

extension Settings {
    /// MODE, STORE_REJECTS, QUARANTINE_*, REJECT_COUNTS_TO_INFLUX: a file only in MODE=DEV with
    /// STORE_REJECTS=1; MODE=PROD never stores a payload.
    public var quarantineConfiguration: QuarantineConfiguration {
        QuarantineConfiguration(
            filePath: mode == .dev && storeRejects ? quarantineFile : nil,
            maxFileBytes: quarantineMaxBytes, maxPayloadBytes: maxPayloadBytes,
            countsToInflux: rejectCountsToInflux, databaseNamer: DatabaseNamer(template: influxDatabaseTemplate))
    }
}
