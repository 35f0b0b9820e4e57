import Synchronization

/// Runs an operation that may never end (a query PostgreSQL does not answer: a locked table, a
/// network that swallows packets) against a deadline that holds: the caller gets `nil` at the
/// deadline whatever the operation does (README "Slow or hung registry").
///
/// A task group cannot do this: it waits for every child before it returns, and a query waiting for
/// its answer does not end when cancelled. So the operation runs in an unstructured task, is
/// cancelled at the deadline and left to end on its own (the server ends a hung statement at
/// `statement_timeout`). The timer is a second task, cancelled as soon as the operation ends, so no
/// sleeping task outlives a fast answer.
enum DeadlineRace {
    static func run<Value: Sendable>(
        until deadline: ContinuousClock.Instant, _ operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value? {
        let race = Race<Value>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value?, any Error>) in
                race.begin(continuation)
                let work = Task {
                    let result: Result<Value?, any Error>
                    do { result = .success(try await operation()) } catch { result = .failure(error) }
                    race.finish(result)
                }
                let timer = Task {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    if !Task.isCancelled { race.finish(.success(nil)) }
                }
                race.attach(work: work, timer: timer)
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }

    /// The continuation is resumed once, by whoever finishes first; the loser's task is cancelled.
    private final class Race<Value: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Value?, any Error>?
            var finished: Result<Value?, any Error>?
            var work: Task<Void, Never>?
            var timer: Task<Void, Never>?
        }
        private let state = Mutex(State())

        func begin(_ continuation: CheckedContinuation<Value?, any Error>) {
            // Cancellation may have won before the continuation existed.
            let early = state.withLock { state -> Result<Value?, any Error>? in
                if let finished = state.finished { return finished }
                state.continuation = continuation
                return nil
            }
            if let early { continuation.resume(with: early) }
        }

        func attach(work: Task<Void, Never>, timer: Task<Void, Never>) {
            let done = state.withLock { state -> Bool in
                state.work = work
                state.timer = timer
                return state.finished != nil
            }
            if done {
                work.cancel()
                timer.cancel()
            }
        }

        func finish(_ result: Result<Value?, any Error>) {
            let (continuation, work, timer) = state.withLock { state in
                guard state.finished == nil else {
                    return (CheckedContinuation<Value?, any Error>?.none, Task<Void, Never>?.none, Task<Void, Never>?.none)
                }
                state.finished = result
                defer { state.continuation = nil; state.work = nil; state.timer = nil }
                return (state.continuation, state.work, state.timer)
            }
            // The loser is cancelled before the caller resumes, so nothing the caller does next can
            // find it still uncancelled.
            work?.cancel()
            timer?.cancel()
            continuation?.resume(with: result)
        }
    }
}
