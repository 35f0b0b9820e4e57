import IngestCore
import Prometheus
import Synchronization

/// `/metrics` in the Prometheus text format: every key of ``StatsKey/all`` (taken from the same
/// `StatsSnapshot` the stats reporter logs, so both always agree) plus histograms of write latency
/// and batch size, recorded by ``InstrumentedInfluxWriter``, of registry lookup latency, and `ingestd_build_info{version=…} 1`.
///
/// Names (README "Metrics"): a counter key `k` becomes `ingestd_k_total`, a gauge key `ingestd_k`;
/// `rejected_<REASON>` becomes `ingestd_rejected_reason_total{reason="<REASON>"}` (every reason,
/// zeros included, so rates work from the first scrape). `msgs_per_sec` is left out: it is
/// `rate(ingestd_received_total[…])`.
public final class MetricsExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// One series per ``StatsKey/all`` entry, in its order.
    private let series: [(key: StatsKey, metric: Series)]
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

    /// A stats key's Prometheus series: counters are reset and set to the snapshot's value on every
    /// scrape (the snapshot is cumulative already), gauges are set.
    private enum Series: Sendable {
        case counter(Counter)
        case gauge(Gauge)
    }

    public init(version: String = IngestdVersion.current) {
        let registry = self.registry
        series = StatsKey.all.map { key -> (key: StatsKey, metric: Series) in
            switch key.kind {
            case .counter:
                return (key, .counter(registry.makeCounter(descriptor: MetricsExporter.name(key.name, unit: "total", help: key.help))))
            case .gauge:
                return (key, .gauge(registry.makeGauge(descriptor: MetricsExporter.name(key.name, unit: "", help: key.help))))
            }
        }
        registry.makeGauge(descriptor: Self.name("build_info", unit: "", help: "always 1; the version is in the label"),
                           labels: [("version", version)]).set(Int64(1))
        var reasons: [RejectReason: Counter] = [:]
        for reason in RejectReason.allCases {
            reasons[reason] = registry.makeCounter(
                descriptor: Self.name("rejected_reason", unit: "total", help: "refused messages by reason (stats line keys rejected_<REASON>)"),
                labels: [("reason", reason.rawValue)])
        }
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
        renderLock.withLock { _ in
            for (key, metric) in series {
                let value = Int64(key.value(snapshot))
                switch metric {
                case .counter(let counter):
                    counter.reset()
                    counter.increment(by: value)
                case .gauge(let gauge):
                    gauge.set(value)
                }
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
}
