import IngestCore

/// The pipeline's counters as plain values. The pipeline task owns one copy and publishes it once
/// per chunk, so counting costs no atomic operation or lock per message.
public struct PipelineCounters: Sendable, Equatable {
    public var received = 0
    public var enqueued = 0
    public var skippedFields = 0
    /// Gauges, not counters: messages waiting for their device's registry lookup, and those lookups.
    public var registryMessagesWaiting = 0
    public var registryLookupsWaiting = 0
    public private(set) var rejectedByReason = [Int](repeating: 0, count: RejectReason.allCases.count)

    public init() {}

    public var rejected: Int { rejectedByReason.reduce(0, +) }

    public mutating func reject(_ reason: RejectReason) {
        rejectedByReason[Self.index[reason]!] += 1
    }

    public func rejected(_ reason: RejectReason) -> Int {
        rejectedByReason[Self.index[reason]!]
    }

    private static let index: [RejectReason: Int] = Dictionary(
        uniqueKeysWithValues: RejectReason.allCases.enumerated().map { ($1, $0) })
}
