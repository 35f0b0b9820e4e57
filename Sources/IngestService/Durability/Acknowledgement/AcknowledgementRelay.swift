#if canImport(Glibc)
import Glibc
#endif
import IngestCore
import Synchronization

/// Carries the `AcknowledgementGate` between the threads that feed it and the MQTT thread that sends
/// what it releases (DURABILITY=journal or broker, native client; README "Delivery guarantees").
///
/// - The pipeline task decides each message (`decide`): rejected, or safe once its round's lines are.
/// - The batch writer's low-water mark (broker; it is a `SafeSequenceObserver`) and the crash
///   journal's completed syncs (journal) move the safe mark (`acknowledge(upTo:)`).
/// - The MQTT thread reads `released` (an atomic, no lock) every turn and polls `wakeDescriptor`,
///   which becomes readable when `released` grew, so an acknowledgement leaves as soon as it may
///   without the MQTT thread spinning.
///
/// A `Mutex` around the pure gate, not an actor: the MQTT thread is not on the cooperative pool and
/// must not wait for it, and every critical section is a few comparisons. The wake pipe is written
/// at most once until the MQTT thread drains it (`wakePending`), so a busy writer costs no syscalls.
public final class AcknowledgementRelay: SafeSequenceObserver, Sendable {
    private let gate = Mutex(AcknowledgementGate())
    private let releasedCount = Atomic<UInt64>(0)
    private let wakePending = Atomic<Bool>(false)
    /// A non-blocking pipe: the MQTT thread polls `wakeDescriptor` (its read end).
    public let wakeDescriptor: Int32
    private let wakeWriteDescriptor: Int32

    public init() {
        var descriptors: [Int32] = [-1, -1]
        precondition(pipe(&descriptors) == 0, "pipe() failed: \(errno)")
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        wakeDescriptor = descriptors[0]
        wakeWriteDescriptor = descriptors[1]
    }

    deinit {
        close(wakeDescriptor)
        close(wakeWriteDescriptor)
    }

    /// How many messages, counted from the first one handed to the intake, may be acknowledged.
    public var released: UInt64 { releasedCount.load(ordering: .acquiring) }

    /// Every line up to `sequence` is safe.
    public func acknowledge(upTo sequence: UInt64) {
        update { $0.safe(upTo: sequence) }
    }

    /// The messages numbered `numbers` need `requirement` (see `AcknowledgementGate`).
    public func decide(_ numbers: [UInt64], _ requirement: AcknowledgementGate.Requirement) {
        guard !numbers.isEmpty else { return }
        update { $0.decide(numbers, requirement) }
    }

    /// The safe mark and the messages decided but held back, for the logs at shutdown.
    public var state: (safeMark: UInt64, released: UInt64, waiting: Int) {
        gate.withLock { ($0.safeMark, $0.released, $0.waiting) }
    }

    /// The MQTT thread woke on `wakeDescriptor`: empties the pipe so the next release wakes it again.
    public func drainWake() {
        wakePending.store(false, ordering: .sequentiallyConsistent)
        var scratch = [UInt8](repeating: 0, count: 64)
        while read(wakeDescriptor, &scratch, scratch.count) > 0 {}
    }

    private func update(_ change: (inout AcknowledgementGate) -> Bool) {
        let released: UInt64? = gate.withLock { gate in change(&gate) ? gate.released : nil }
        guard let released else { return }
        // Under concurrent updates a smaller count may be stored after a larger one: keep the larger.
        var current = releasedCount.load(ordering: .relaxed)
        while current < released {
            let (exchanged, original) = releasedCount.compareExchange(
                expected: current, desired: released, ordering: .acquiringAndReleasing)
            if exchanged { break }
            current = original
        }
        if !wakePending.exchange(true, ordering: .sequentiallyConsistent) {
            var byte: UInt8 = 1
            _ = write(wakeWriteDescriptor, &byte, 1)
        }
    }
}
