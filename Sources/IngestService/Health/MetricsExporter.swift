import IngestCore
import Logging
import Prometheus
import Synchronization

/// `/metrics` in the Prometheus text format: the counters of the stats line (taken from the same
/// `StatsSnapshot` the stats reporter logs, so both always agree) plus histograms of write latency
/// and batch size, recorded by ``InstrumentedInfluxWriter``, and of registry lookup latency.
///
/// Names: a stats key `k` becomes `ingestd_k_total` for a counter and `ingestd_k` for a gauge;
/// `rejected_<REASON>` becomes `ingestd_rejected_reason_total{reason="<REASON>"}` (every reason,
/// zeros included, so rates work from the first scrape). `msgs_per_sec` is left out: it is
/// `rate(ingestd_received_total[…])`.
public final class MetricsExporter: Sendable {
    /// The stats keys exported as counters (cumulative since start).
    public static let counterKeys = [
        "received", "enqueued", "dropped", "rejected", "skipped_fields", "influx_batch_ok", "influx_batch_err",
        "influx_flushes", "retries", "auth_cache_hits", "auth_cache_misses", "mqtt_reconnects",
    ]
    /// The stats keys exported as gauges.
    public static let gaugeKeys = [
        "influx_buffer", "influx_up", "spool_batches", "auth_cache_size", "mqtt_connected",
        "registry_up", "registry_lookups_waiting", "registry_messages_waiting", "registry_lookup_ms",
    ]

    private let registry = PrometheusCollectorRegistry()
    private let counters: [String: Counter]
    private let gauges: [String: Gauge]
    private let reasons: [RejectReason: Counter]
    /// Duration of successful writes to InfluxDB (the same writes as `influx_batch_ok`).
    let writeDuration: DurationHistogram
    /// Lines per successfully written batch.
    let batchLines: ValueHistogram
    /// Bytes (uncompressed) per successfully written batch.
    let batchBytes: ValueHistogram
    /// Duration of registry lookups (cache misses), waits and retries included.
    let registryLookupDuration: DurationHistogram
    /// Serialises "copy the snapshot into the registry, then render" so concurrent scrapes never
    /// see each other's half-copied values.
    private let renderLock = Mutex(())

    public init() {
        var counters: [String: Counter] = [:]
        for key in Self.counterKeys {
            counters[key] = registry.makeCounter(descriptor: Self.name(key, unit: "total", help: "stats line key \(key)"))
        }
        var gauges: [String: Gauge] = [:]
        for key in Self.gaugeKeys {
            gauges[key] = registry.makeGauge(descriptor: Self.name(key, unit: "", help: "stats line key \(key)"))
        }
        var reasons: [RejectReason: Counter] = [:]
        for reason in RejectReason.allCases {
            reasons[reason] = registry.makeCounter(
                descriptor: Self.name("rejected_reason", unit: "total", help: "refused messages by reason (stats line keys rejected_<REASON>)"),
                labels: [("reason", reason.rawValue)])
        }
        self.counters = counters
        self.gauges = gauges
        self.reasons = reasons
        writeDuration = registry.makeDurationHistogram(
            descriptor: Self.name("influx_write_duration", unit: "seconds", help: "duration of successful InfluxDB writes"),
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                      .seconds(2), .seconds(5), .seconds(10)])
        batchLines = registry.makeValueHistogram(
            descriptor: Self.name("influx_batch", unit: "lines", help: "lines per batch written to InfluxDB"),
            buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000])
        batchBytes = registry.makeValueHistogram(
            descriptor: Self.name("influx_batch", unit: "bytes", help: "uncompressed bytes per batch written to InfluxDB"),
            buckets: [1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304, 16_777_216])
        registryLookupDuration = registry.makeDurationHistogram(
            descriptor: Self.name("registry_lookup_duration", unit: "seconds",
                                  help: "duration of registry lookups (auth cache misses), waits and retries included"),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60)])
    }

    /// Records one registry lookup's duration (`AuthService`'s lookup observer).
    public func recordRegistryLookup(_ duration: Duration) {
        registryLookupDuration.record(duration)
    }

    /// The whole exposition for one scrape, counters taken from `snapshot`.
    public func render(_ snapshot: StatsSnapshot) -> String {
        let fields = snapshot.metadata(messagesPerSecond: 0)
        return renderLock.withLock { _ in
            for (key, counter) in counters {
                counter.reset()
                counter.increment(by: Int64(Self.number(fields[key])))
            }
            for (key, gauge) in gauges {
                gauge.set(Int64(Self.number(fields[key])))
            }
            for (reason, counter) in reasons {
                counter.reset()
                counter.increment(by: Int64(snapshot.pipeline.rejected(reason)))
            }
            return registry.emitToString()
        }
    }

    private static func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ingestd", metricName: metric, unitName: unit, helpText: help)
    }

    private static func number(_ value: Logger.MetadataValue?) -> Int {
        guard case .string(let text)? = value else { return 0 }
        return Int(text) ?? 0
    }
}
