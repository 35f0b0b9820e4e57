import Synchronization

/// The latest published `PipelineCounters`, read by the stats task and health endpoints.
public final class PipelineMetrics: Sendable {
    private let counters = Mutex(PipelineCounters())

    public init() {}

    func publish(_ snapshot: PipelineCounters) {
        counters.withLock { $0 = snapshot }
    }

    public var snapshot: PipelineCounters { counters.withLock { $0 } }
}
