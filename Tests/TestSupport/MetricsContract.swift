/// Compares a stats line with a `/metrics` scrape key for key, both ways (README "Metrics"): every
/// numeric stats key has its series (`ingestd_<key>_total` for a counter, `ingestd_<key>` for a
/// gauge) with the same value, every counter or gauge series has its stats key, and
/// `rejected_<REASON>` matches `ingestd_rejected_reason_total{reason="<REASON>"}`. Built from what
/// the two outputs contain, never from the exporter's own list, so a key missing on either side
/// shows up.
public enum MetricsContract {
    /// Stats line fields that are not metrics: the log line's own fields, the rate measured between
    /// lines (`rate(ingestd_received_total[…])` in Prometheus), text, and the last line's marker.
    public static let statsOnly: Set<String> = ["ts", "level", "msg", "msgs_per_sec", "last_write_error", "final"]
    /// Series that are not stats keys: the per-reason counter (compared with `rejected_<REASON>`
    /// below) and the build's version.
    public static let metricsOnly: Set<String> = ["rejected_reason", "build_info"]

    /// The differences, one readable line each; empty when the two agree.
    public static func mismatches(stats: [String: String], metrics: PrometheusText.Parsed) -> [String] {
        var problems: [String] = []
        var statsKeys: [String: String] = [:]
        var statsReasons: [String: String] = [:]
        for (key, value) in stats where !statsOnly.contains(key) {
            if key.hasPrefix("rejected_") {
                statsReasons[String(key.dropFirst("rejected_".count))] = value
            } else {
                statsKeys[key] = value
            }
        }
        var series: [String: String] = [:]  // key → sample name
        for (family, type) in metrics.families where family.hasPrefix("ingestd_") {
            let key = String(family.dropFirst("ingestd_".count))
            guard !metricsOnly.contains(key) else { continue }
            switch type {
            case "counter": series[key] = family + "_total"
            case "gauge": series[key] = family
            default: continue  // histograms: /metrics only, by design
            }
        }
        for key in statsKeys.keys.sorted() where series[key] == nil {
            problems.append("\(key): in the stats line, not in /metrics")
        }
        for key in series.keys.sorted() where statsKeys[key] == nil {
            problems.append("\(key): in /metrics (\(series[key]!)), not in the stats line")
        }
        for (key, sample) in series.sorted(by: { $0.key < $1.key }) {
            guard let text = statsKeys[key] else { continue }
            let value = metrics.samples[sample]
            if value != Double(text) {
                problems.append("\(key): stats \(text), metrics \(value.map { "\($0)" } ?? "-")")
            }
        }
        for (sample, value) in metrics.samples where sample.hasPrefix("ingestd_rejected_reason_total{reason=\"") {
            let reason = String(sample.dropFirst("ingestd_rejected_reason_total{reason=\"".count).dropLast(2))
            let text = statsReasons[reason] ?? "0"
            if Double(text) != value { problems.append("rejected_\(reason): stats \(text), metrics \(value)") }
            statsReasons[reason] = nil
        }
        for reason in statsReasons.keys.sorted() {
            problems.append("rejected_\(reason): in the stats line, no ingestd_rejected_reason_total{reason=\"\(reason)\"}")
        }
        return problems
    }
}
