import IngestCore

/// What happens to refused messages besides the per-reason counters of the stats line.
public struct QuarantineConfiguration: Sendable {
    /// QUARANTINE_FILE when MODE=DEV and STORE_REJECTS=1, else nil (no file; MODE=PROD never stores payloads).
    public var filePath: String?
    /// QUARANTINE_MAX_BYTES: the file is renamed to `<file>.1` (replacing an older one) when it would grow past this.
    public var maxFileBytes: Int
    /// MAX_PAYLOAD_BYTES: longest payload kept in a record.
    public var maxPayloadBytes: Int
    /// REJECT_COUNTS_TO_INFLUX: a point `ingest_rejects,reason=…,tenant_id=… count=Ni` per tenant,
    /// reason and minute, in the tenant's database.
    public var countsToInflux: Bool
    public var databaseNamer: DatabaseNamer
    /// Events waiting for the quarantine task; beyond this, events are counted as dropped (the counters
    /// of the stats line are kept by the pipeline and never lost).
    public var queueCapacity: Int

    public init(filePath: String?, maxFileBytes: Int, maxPayloadBytes: Int, countsToInflux: Bool,
                databaseNamer: DatabaseNamer = DatabaseNamer(), queueCapacity: Int = 50_000) {
        self.filePath = filePath
        self.maxFileBytes = maxFileBytes
        self.maxPayloadBytes = maxPayloadBytes
        self.countsToInflux = countsToInflux
        self.databaseNamer = databaseNamer
        self.queueCapacity = queueCapacity
    }

    /// True when anything beyond counting is on.
    public var isActive: Bool { filePath != nil || countsToInflux }
}
