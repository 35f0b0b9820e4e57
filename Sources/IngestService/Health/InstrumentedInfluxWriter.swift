/// Wraps the InfluxDB client to record the write-latency and batch-size histograms of `/metrics`,
/// without touching the batch writer: it times each `write` and looks at what was sent.
/// Only writes InfluxDB acknowledged are recorded, so the histograms' counts equal `influx_batch_ok`.
public struct InstrumentedInfluxWriter<Wrapped: InfluxWriting>: InfluxWriting {
    private let wrapped: Wrapped
    private let exporter: MetricsExporter

    public init(wrapping wrapped: Wrapped, exporter: MetricsExporter) {
        self.wrapped = wrapped
        self.exporter = exporter
    }

    public func write(database: String, body: [UInt8], lineCount: Int) async -> InfluxWriteResult {
        let clock = ContinuousClock()
        let start = clock.now
        let result = await wrapped.write(database: database, body: body, lineCount: lineCount)
        if result == .written {
            exporter.writeDuration.record(start.duration(to: clock.now))
            exporter.batchLines.record(Double(lineCount))
            exporter.batchBytes.record(Double(body.count))
        }
        return result
    }
}
