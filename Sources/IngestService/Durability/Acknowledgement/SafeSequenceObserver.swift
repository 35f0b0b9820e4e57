/// Hears the batch writer's low-water mark: every line numbered up to and including `sequence` is
/// safe (in InfluxDB, the disk spool or the dead-letter folder). The crash journal trims itself to it;
/// the `AcknowledgementRelay` releases MQTT acknowledgements with it (README "Delivery guarantees").
public protocol SafeSequenceObserver: Sendable {
    func acknowledge(upTo sequence: UInt64)
    /// Numbers given out before the writer started that it has not been handed yet (the crash
    /// journal's recovered lines): the mark must not pass them before they are appended and safe.
    var awaitedSequences: [ClosedRange<UInt64>] { get }
}

extension SafeSequenceObserver {
    public var awaitedSequences: [ClosedRange<UInt64>] { [] }
}

extension CrashJournal: SafeSequenceObserver {
    public var awaitedSequences: [ClosedRange<UInt64>] { recovered.map(\.sequences) }
}

/// Several observers of one mark (DURABILITY=journal: the journal and the acknowledgement relay).
public struct SafeSequenceObservers: SafeSequenceObserver {
    public let observers: [any SafeSequenceObserver]

    public init(_ observers: [any SafeSequenceObserver]) {
        self.observers = observers
    }

    public func acknowledge(upTo sequence: UInt64) {
        for observer in observers { observer.acknowledge(upTo: sequence) }
    }

    public var awaitedSequences: [ClosedRange<UInt64>] { observers.flatMap(\.awaitedSequences) }
}
