import IngestCore
import Synchronization

/// Where registry lookups, each on a task of its own, leave their answers for the pipeline's task,
/// and how they wake it: through the intake (`IntakeQueue.wakeConsumer()`) while the pipeline waits
/// for messages, or directly while it waits for an answer (its waiting room is full, or it drains).
///
/// A mutex, not an actor: posting is a few instructions and must not need the pipeline's attention.
final class LookupAnswers: Sendable {
    typealias Answer = (key: DeviceKey, result: Result<AuthCacheEntry, RejectReason>)

    private struct State {
        var answers: [Answer] = []
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let intake: IntakeQueue

    init(intake: IntakeQueue) {
        self.intake = intake
    }

    func post(_ key: DeviceKey, _ result: Result<AuthCacheEntry, RejectReason>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.answers.append((key, result))
            defer { state.waiter = nil }
            return state.waiter
        }
        if let waiter { waiter.resume() } else { intake.wakeConsumer() }
    }

    /// Every answer posted so far, oldest first.
    func takeAll() -> [Answer] {
        state.withLock { state in
            defer { state.answers = [] }
            return state.answers
        }
    }

    /// Returns once at least one answer is there. Lookups end within REGISTRY_WAIT_SECONDS, so this
    /// wait is bounded without a timer of its own. One waiter at a time (the pipeline's task).
    func waitForAnswer() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if !state.answers.isEmpty { return true }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
