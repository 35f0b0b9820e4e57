import Synchronization

/// Who answers for each device of a batch of registry lookups (`AuthService.startLookups`): the
/// lookup itself, or the batch's deadline (README "Slow or hung registry"). Each device is answered
/// exactly once, by whichever comes first; at the deadline every device still unanswered is claimed
/// at once and the batch's work is cancelled.
///
/// A mutex, not an actor: the lookups and the deadline's timer claim from tasks of their own, and a
/// claim is a few instructions that must not wait for anyone's turn.
final class LookupBatchRace: Sendable {
    private struct State {
        var answered: [Bool]
        var expired = false
        var work: Task<Void, Never>?
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(answered: Array(repeating: false, count: count)))
    }

    /// True once the deadline answered for every device still waiting: a later answer changes nothing.
    var hasExpired: Bool { state.withLock { $0.expired } }

    /// True for the first claim of device `index` only: its claimer gives the answer.
    func claim(_ index: Int) -> Bool {
        state.withLock { state in
            guard !state.answered[index] else { return false }
            state.answered[index] = true
            return true
        }
    }

    /// The task running the lookups, cancelled at the deadline (at once if that passed already).
    func attach(work: Task<Void, Never>) {
        let expired = state.withLock { state -> Bool in
            state.work = work
            return state.expired
        }
        if expired { work.cancel() }
    }

    /// The deadline passed: claims every device not answered yet and returns their indices, oldest
    /// first. The lookups still running are cancelled before the caller answers for them, so nothing it
    /// does next finds them running uncancelled.
    func expire() -> [Int] {
        let (unanswered, work) = state.withLock { state -> ([Int], Task<Void, Never>?) in
            state.expired = true
            var unanswered: [Int] = []
            for index in state.answered.indices where !state.answered[index] {
                state.answered[index] = true
                unanswered.append(index)
            }
            defer { state.work = nil }
            return (unanswered, state.work)
        }
        work?.cancel()
        return unanswered
    }
}
