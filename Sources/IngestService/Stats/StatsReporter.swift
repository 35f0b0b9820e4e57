import IngestCore
import Logging
import AsyncAlgorithms
import ServiceLifecycle

/// Logs one `msg=stats` line every `LOG_STATS_EVERY_SECONDS`, and a last one when ingestd stops, so
/// the final counters of a run are always in the log.
public final class StatsReporter: Service {
    private let interval: Duration?
    private let collect: @Sendable () -> StatsSnapshot
    private let clock: any MonotonicClock
    private let logger: Logger

    /// `everySeconds` 0 turns the periodic line off; the final line is still written.
    public init(everySeconds: Int, clock: any MonotonicClock, logger: Logger, collect: @escaping @Sendable () -> StatsSnapshot) {
        self.interval = everySeconds > 0 ? .seconds(everySeconds) : nil
        self.collect = collect
        self.clock = clock
        self.logger = logger
    }

    public func run() async {
        var last = (received: 0, at: clock.now())
        if let interval {
            let ticks = AsyncTimerSequence.repeating(every: interval, clock: .continuous).cancelOnGracefulShutdown()
            for await _ in ticks {
                last = emit(since: last)
            }
        } else {
            try? await gracefulShutdown()
        }
        _ = emit(since: last, final: true)
    }

    private func emit(since last: (received: Int, at: UInt64), final: Bool = false) -> (received: Int, at: UInt64) {
        let snapshot = collect()
        let now = clock.now()
        let seconds = Double(now &- last.at) / 1e9
        let rate = seconds > 0 ? Double(snapshot.pipeline.received - last.received) / seconds : 0
        var metadata = snapshot.metadata(messagesPerSecond: rate)
        if final { metadata["final"] = "1" }
        logger.info("stats", metadata: metadata)
        return (snapshot.pipeline.received, now)
    }
}
