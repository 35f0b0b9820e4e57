import Foundation
import IngestCore
import Logging
import ServiceLifecycle
import Synchronization

/// Takes refused messages off the pipeline (`record` only yields to a stream) and, on a task of its own,
/// writes them to the quarantine file (MODE=DEV with STORE_REJECTS=1) and counts them per tenant,
/// reason and minute for InfluxDB (REJECT_COUNTS_TO_INFLUX=1).
///
/// Listed before the pipeline in the service group, so it stops after the pipeline has drained: then
/// it writes what is left, hands the current minute's counts to the writer and returns.
public final class QuarantineService: RejectRecording, Service {
    public let configuration: QuarantineConfiguration
    private let sink: (any LineSink)?
    private let logger: Logger
    private let pending: Mutex<[RejectEvent]>
    /// Wakes the quarantine task: a reject arrived, or a second passed (minute counts).
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let droppedEvents = Atomic<Int>(0)
    private let writtenRecords = Atomic<Int>(0)
    private let wallClock: @Sendable () -> Int64

    /// `sink` receives the reject-count points (the batch writer); nil when counts are not written.
    /// `wallClock` is nanoseconds since the Unix epoch (injectable for tests).
    public init(configuration: QuarantineConfiguration, sink: (any LineSink)?, logger: Logger,
                wallClock: @escaping @Sendable () -> Int64 = { SystemWallClock().nanosecondsSinceEpoch() }) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        self.wallClock = wallClock
        pending = Mutex([])
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var storesPayloads: Bool { configuration.filePath != nil }

    /// Events the quarantine could not keep up with (the stats line's per-reason counters still have them).
    public var dropped: Int { droppedEvents.load(ordering: .relaxed) }
    /// Records written to the quarantine file.
    public var written: Int { writtenRecords.load(ordering: .relaxed) }

    public func record(topic: String, payload: [UInt8]?, reason: RejectReason, receivedAtNanos: Int64) {
        let event = RejectEvent(topic: topic, payload: storesPayloads ? payload : nil, reason: reason, receivedAtNanos: receivedAtNanos)
        let accepted = pending.withLock { pending -> Bool in
            guard pending.count < configuration.queueCapacity else { return false }
            pending.append(event)
            return true
        }
        if accepted { wake.yield() } else { droppedEvents.add(1, ordering: .relaxed) }
    }

    public func run() async {
        let file = configuration.filePath.map { QuarantineFileWriter(path: $0, maxBytes: configuration.maxFileBytes) }
        var aggregator = RejectCountAggregator(databaseNamer: configuration.databaseNamer)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var fileFailing = false
        let wake = self.wake
        let ticker: Task<Void, Never>? = configuration.countsToInflux ? Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                wake.yield()
            }
        } : nil

        func process() async {
            let batch = pending.withLock { pending -> [RejectEvent] in
                defer { pending.removeAll(keepingCapacity: true) }
                return pending
            }
            if let file, !batch.isEmpty {
                do {
                    try file.append(batch.map { record(for: $0, formatter: formatter) })
                    writtenRecords.add(batch.count, ordering: .relaxed)
                    if fileFailing { logger.notice("quarantine file writable again", metadata: ["path": "\(file.path)"]) }
                    fileFailing = false
                } catch {
                    if !fileFailing {
                        logger.error("cannot write the quarantine file", metadata: ["path": "\(file.path)", "error": "\(error)"])
                    }
                    fileFailing = true
                }
            }
            if configuration.countsToInflux {
                for event in batch { aggregator.add(tenant: event.topicIDs.tenant, reason: event.reason, atNanos: event.receivedAtNanos) }
                await flush(&aggregator, now: wallClock(), everything: false)
            }
        }

        await withGracefulShutdownHandler {
            for await _ in wakeups { await process() }
        } onGracefulShutdown: {
            wake.finish()
        }
        ticker?.cancel()
        // The pipeline has stopped before us: keep what it refused last, and the current minute's counts.
        await process()
        await flush(&aggregator, now: wallClock(), everything: true)
    }

    private func flush(_ aggregator: inout RejectCountAggregator, now: Int64, everything: Bool) async {
        guard let sink, !aggregator.isEmpty else { return }
        for (database, points) in aggregator.take(before: now, everything: everything) {
            await sink.append(database: database, lines: points.lines, lineCount: points.count)
        }
    }

    private func record(for event: RejectEvent, formatter: ISO8601DateFormatter) -> QuarantineRecord {
        let ids = event.topicIDs
        var record = QuarantineRecord(
            time: formatter.string(from: Date(timeIntervalSince1970: Double(event.receivedAtNanos) / 1_000_000_000)),
            topic: event.topic, tenantID: ids.tenant, deviceID: ids.device, reason: event.reason.rawValue)
        if let payload = event.payload {
            let masked = TokenMasker.masked(payload)
            let kept = masked.count > configuration.maxPayloadBytes ? Array(masked.prefix(configuration.maxPayloadBytes)) : masked
            record.payload = String(decoding: kept, as: UTF8.self)
            record.payloadBytes = payload.count
            record.payloadTruncated = kept.count < masked.count ? true : nil
        }
        return record
    }
}
