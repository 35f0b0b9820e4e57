/// One numeric key of the stats line and its `/metrics` series (README "Stats line"). The stats line
/// and the metrics exporter both walk ``StatsKey/all``, so a key added there appears in both, with
/// the same value, and the test comparing the two cannot be fooled by a second copy of the list.
public struct StatsKey: Sendable {
    /// How `/metrics` exports the key: a counter (`ingestd_<name>_total`, cumulative since start)
    /// or a gauge (`ingestd_<name>`, a value now).
    public enum Kind: Sendable, Equatable {
        case counter
        case gauge
    }

    public let name: String
    public let kind: Kind
    public let help: String
    public let value: @Sendable (StatsSnapshot) -> Int

    public init(_ name: String, _ kind: Kind, _ help: String, _ value: @escaping @Sendable (StatsSnapshot) -> Int) {
        self.name = name
        self.kind = kind
        self.help = help
        self.value = value
    }

    /// Every numeric key, in the stats line's order. Adding a key is one line here (and the field
    /// in ``StatsSnapshot`` it reads). Not in this list, on purpose: `msgs_per_sec` (measured by the
    /// reporter between lines; in Prometheus it is `rate(ingestd_received_total[…])`),
    /// `last_write_error` (text), `final`, and `rejected_<REASON>` (one key per reason seen; in
    /// `/metrics` the labelled counter `ingestd_rejected_reason_total{reason=…}`).
    public static let all: [StatsKey] = [
        StatsKey("received", .counter, "messages taken from MQTT, accepted or not") { $0.pipeline.received },
        StatsKey("enqueued", .counter, "accepted messages handed to the writer") { $0.pipeline.enqueued },
        StatsKey("dropped", .counter, "always 0; kept for scrapers of the service ingestd replaces") { _ in 0 },
        StatsKey("rejected", .counter, "refused messages, all reasons") { $0.pipeline.rejected },
        StatsKey("skipped_fields", .counter, "metrics left out of a point") { $0.pipeline.skippedFields },
        StatsKey("influx_batch_ok", .counter, "batches InfluxDB accepted") { $0.influxBatchesOK },
        StatsKey("influx_batch_err", .counter, "write attempts that failed") { $0.influxBatchesFailed },
        StatsKey("influx_flushes", .counter, "batches taken from the buffers for writing") { $0.influxFlushes },
        StatsKey("influx_buffer", .gauge, "lines in memory not yet acknowledged by InfluxDB") { $0.influxBufferedLines },
        StatsKey("influx_up", .gauge, "1 when the last write to InfluxDB succeeded") { $0.influxUp ? 1 : 0 },
        StatsKey("influx_concurrency", .gauge, "writes to InfluxDB allowed in flight now (adaptive)") { $0.influxConcurrency },
        StatsKey("influx_last_batch_lines", .gauge, "lines in the last batch cut for InfluxDB") { $0.influxLastBatchLines },
        StatsKey("retries", .counter, "write attempts after a failure") { $0.influxRetries },
        StatsKey("spool_batches", .gauge, "segments in the disk spool") { $0.spoolBatches },
        StatsKey("spool_bytes", .gauge, "bytes in the disk spool") { $0.spoolBytes },
        StatsKey("spool_full", .gauge, "1 while the spool refuses segments for lack of room") { $0.spoolFull ? 1 : 0 },
        StatsKey("spool_replayed", .counter, "lines replayed from the spool into InfluxDB") { $0.spoolReplayedLines },
        StatsKey("dead_letter_lines", .counter, "lines InfluxDB refused for good (dead-letter folder)") { $0.deadLetterLines },
        StatsKey("corrupt_files", .counter, "damaged spool segments and journal files set aside in corrupt/") { $0.corruptFiles },
        StatsKey("corrupt_lines", .counter, "lines in the damaged files set aside in corrupt/") { $0.corruptLines },
        StatsKey("auth_cache_hits", .counter, "registry cache hits") { $0.authCacheHits },
        StatsKey("auth_cache_misses", .counter, "registry cache misses") { $0.authCacheMisses },
        StatsKey("auth_cache_size", .gauge, "devices in the registry cache") { $0.authCacheSize },
        StatsKey("mqtt_connected", .gauge, "1 while connected to the broker") { $0.mqttConnected ? 1 : 0 },
        StatsKey("registry_up", .gauge, "0 while a database registry cannot be reached") { $0.registryUp ? 1 : 0 },
        StatsKey("registry_lookups_waiting", .gauge, "devices whose registry lookup is under way") { $0.pipeline.registryLookupsWaiting },
        StatsKey("registry_messages_waiting", .gauge, "messages waiting for their device's registry lookup") { $0.pipeline.registryMessagesWaiting },
        StatsKey("registry_lookup_ms", .gauge, "how long the last registry lookup took, in milliseconds") { $0.registryLookupMilliseconds },
        StatsKey("mqtt_reconnects", .counter, "reconnections to the broker") { $0.mqttReconnects },
        StatsKey("mqtt_oversized", .counter, "messages above the native client's packet limit read past without being kept") { $0.mqttOversized },
        StatsKey("mqtt_unacknowledged", .gauge, "messages taken whose acknowledgement waits until they are safe (DURABILITY=journal/broker)") { $0.mqttUnacknowledged },
        StatsKey("ready", .gauge, "1 when /readyz answers 200") { $0.readiness.isReady ? 1 : 0 },
    ]
}
