import IngestCore
import Logging

/// Every counter of the stats line at one moment. Keys are part of the contract (README "Stats
/// line"): log scrapers depend on them, so a key is never renamed or removed.
public struct StatsSnapshot: Sendable, Equatable {
    public var pipeline = PipelineCounters()
    public var influxBatchesOK = 0
    public var influxBatchesFailed = 0
    public var influxFlushes = 0
    public var influxBufferedLines = 0
    public var influxRetries = 0
    public var influxUp = true
    public var lastWriteError: String?
    public var spoolBatches = 0
    public var spoolBytes = 0
    public var spoolFull = false
    public var spoolReplayedLines = 0
    public var deadLetterLines = 0
    public var authCacheHits = 0
    public var authCacheMisses = 0
    public var authCacheSize = 0
    /// False while a database registry cannot be reached (always true for a file or no registry).
    public var registryUp = true
    /// How long the last registry lookup took, in milliseconds (waits and retries included).
    public var registryLookupMilliseconds = 0
    public var mqttConnected = false
    public var mqttReconnects = 0

    public init() {}

    /// The stats line's key=value pairs. `messagesPerSecond` is measured by the reporter between lines.
    public func metadata(messagesPerSecond: Double) -> Logger.Metadata {
        var fields: Logger.Metadata = [
            "received": "\(pipeline.received)",
            "enqueued": "\(pipeline.enqueued)",
            "dropped": "0",
            "rejected": "\(pipeline.rejected)",
            "skipped_fields": "\(pipeline.skippedFields)",
            "influx_batch_ok": "\(influxBatchesOK)",
            "influx_batch_err": "\(influxBatchesFailed)",
            "influx_flushes": "\(influxFlushes)",
            "influx_buffer": "\(influxBufferedLines)",
            "influx_up": influxUp ? "1" : "0",
            "retries": "\(influxRetries)",
            "spool_batches": "\(spoolBatches)",
            "spool_bytes": "\(spoolBytes)",
            "spool_full": spoolFull ? "1" : "0",
            "spool_replayed": "\(spoolReplayedLines)",
            "dead_letter_lines": "\(deadLetterLines)",
            "auth_cache_hits": "\(authCacheHits)",
            "auth_cache_misses": "\(authCacheMisses)",
            "auth_cache_size": "\(authCacheSize)",
            "mqtt_connected": mqttConnected ? "1" : "0",
            "registry_up": registryUp ? "1" : "0",
            "registry_lookups_waiting": "\(pipeline.registryLookupsWaiting)",
            "registry_messages_waiting": "\(pipeline.registryMessagesWaiting)",
            "registry_lookup_ms": "\(registryLookupMilliseconds)",
            "mqtt_reconnects": "\(mqttReconnects)",
            "msgs_per_sec": "\(Int(messagesPerSecond.rounded()))",
        ]
        if let lastWriteError { fields["last_write_error"] = "\(lastWriteError)" }
        for reason in RejectReason.allCases where pipeline.rejected(reason) > 0 {
            fields["rejected_\(reason.rawValue)"] = "\(pipeline.rejected(reason))"
        }
        return fields
    }
}
