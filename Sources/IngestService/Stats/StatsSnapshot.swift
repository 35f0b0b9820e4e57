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
    /// Writes allowed in flight now, and lines in the last batch cut (README, "Throughput when InfluxDB is slow").
    public var influxConcurrency = 0
    public var influxLastBatchLines = 0
    public var lastWriteError: String?
    public var spoolBatches = 0
    public var spoolBytes = 0
    public var spoolFull = false
    public var spoolReplayedLines = 0
    public var deadLetterLines = 0
    /// Damaged spool segments and journal files set aside in `corrupt/`, and the lines they held.
    public var corruptFiles = 0
    public var corruptLines = 0
    public var authCacheHits = 0
    public var authCacheMisses = 0
    public var authCacheSize = 0
    /// False while a database registry cannot be reached (always true for a file or no registry).
    public var registryUp = true
    /// How long the last registry lookup took, in milliseconds (waits and retries included).
    public var registryLookupMilliseconds = 0
    public var mqttConnected = false
    public var mqttReconnects = 0
    /// PUBLISHes above the receive limit read past without being kept (README "MQTT clients").
    public var mqttOversized = 0
    /// Messages handed on whose acknowledgement waits until they are safe (README "Durability modes").
    public var mqttUnacknowledged = 0

    public init() {}

    /// What `/readyz` answers for these values (README "Running in production").
    public var readiness: ReadinessReport { readiness(registryUp: nil) }

    /// The same, with a database registry's state shown (it does not decide readiness).
    public func readiness(registryUp: Bool?) -> ReadinessReport {
        ReadinessReport(mqttConnected: mqttConnected, influxWritable: influxUp, spoolAccepting: !spoolFull,
                        registryUp: registryUp)
    }

    /// The stats line's key=value pairs: every ``StatsKey/all`` key, then `msgs_per_sec` (measured
    /// by the reporter between lines), `last_write_error` and `rejected_<REASON>` once they happened.
    public func metadata(messagesPerSecond: Double) -> Logger.Metadata {
        var fields: Logger.Metadata = [:]
        for key in StatsKey.all {
            fields[key.name] = "\(key.value(self))"
        }
        fields["msgs_per_sec"] = "\(Int(messagesPerSecond.rounded()))"
        if let lastWriteError { fields["last_write_error"] = "\(lastWriteError)" }
        for reason in RejectReason.allCases where pipeline.rejected(reason) > 0 {
            fields["rejected_\(reason.rawValue)"] = "\(pipeline.rejected(reason))"
        }
        return fields
    }
}
