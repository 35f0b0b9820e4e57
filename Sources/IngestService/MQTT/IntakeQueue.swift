#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The bounded hand-over between the MQTT client's network thread (producer: the native client or
/// libmosquitto) and the pipeline (one consumer task).
///
/// - `put(_:)` and `put(contentsOf:)` run on the MQTT thread and **block that thread** while the queue
///   is full; the native client acknowledges a message to the broker only after `put` took it. A blocked
///   network thread stops reading its socket, the TCP window closes, and the broker keeps the
///   messages of our persistent session: backpressure reaches the broker and nothing is dropped.
/// - `next(maxCount:)` is awaited by exactly one consumer task. It takes up to `maxCount` messages in
///   one go (chunks amortise the lock and the suspension) and suspends, without holding a thread,
///   while the queue is empty. After `close()` it returns what is left and then `nil`.
///
/// ## Design
/// All queue state (ring buffer, `closed`, the parked consumer's continuation, `producerWaiting`)
/// lives in one `Mutex`. The consumer parks by storing its continuation there; a producer that finds
/// a parked consumer stores its message and wakes it, once: the consumer takes whatever has
/// accumulated by the time its task runs. Under load the consumer is woken once per burst, not once
/// per message, and its chunks grow with the backlog.
///
/// A blocked producer cannot park on a `Mutex`, so it parks on a separate pthread mutex + condition
/// variable (`ProducerGate`). The rule that rules out a lost wakeup: a producer takes the gate lock
/// *before* it looks at the state and finds it full, sets `producerWaiting` inside that same state
/// critical section, and keeps the gate lock until `pthread_cond_wait` atomically releases it.
/// Whoever makes room (consumer) or closes the queue clears/reads that flag under the state mutex and
/// then broadcasts *while holding the gate lock*. That lock cannot be taken between the producer's
/// "full" check and its wait, so the broadcast either happens before the check (and the producer
/// sees the room) or reaches the producer while it waits. Spurious wakeups just loop. The fast path
/// (room available) never touches the gate.
public final class IntakeQueue: Sendable {
    /// Maximum number of messages held.
    public let capacity: Int
    private let state: Mutex<State>
    private let gate = ProducerGate()

    public init(capacity: Int = 10_000) {
        precondition(capacity > 0, "IntakeQueue capacity must be positive")
        self.capacity = capacity
        self.state = Mutex(State(capacity: capacity))
    }

    /// Messages currently held.
    public var count: Int { state.withLock { $0.buffer.count } }

    /// How many times `put` found the queue full and had to wait: backpressure reached the broker.
    public var producerWaits: Int { state.withLock { $0.producerWaits } }

    /// True once `close()` has been called.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Appends a message, blocking the calling thread while the queue is full.
    ///
    /// Call it from a thread of your own (the MQTT network thread), never from a task on Swift's
    /// cooperative pool. Returns `false` if the queue was closed, in which case the message was
    /// **not** taken.
    @discardableResult
    public func put(_ message: InboundMessage) -> Bool {
        switch tryPut(message, registerWaiter: false) {
        case .accepted: return true
        case .closed: return false
        case .full: break
        }
        state.withLock { $0.producerWaits += 1 }
        gate.lock()
        defer { gate.unlock() }
        while true {
            switch tryPut(message, registerWaiter: true) {
            case .accepted: return true
            case .closed: return false
            case .full: gate.wait()
            }
        }
    }

    /// Appends `messages` in order, blocking the calling thread while the queue is full, with one
    /// lock round and at most one consumer wake-up per run of messages that fits (`put(_:)` takes
    /// one per message). Same rules as `put(_:)`; returns how many were taken, which is less than
    /// `messages.count` only if the queue was closed (the rest, from that index on, were **not**
    /// taken).
    @discardableResult
    public func put(contentsOf messages: [InboundMessage]) -> Int {
        put(contentsOf: messages, checkingEvery: nil, whileWaiting: {})
    }

    /// `put(contentsOf:)` that, while it waits for room, calls `whileWaiting` about every
    /// `interval` (outside the queue's locks): the MQTT thread keeps its connection alive with
    /// PINGREQs while the intake is full (README "Delivery guarantees").
    @discardableResult
    public func put(contentsOf messages: [InboundMessage], checkingEvery interval: Duration?,
                    whileWaiting: () -> Void) -> Int {
        var taken = 0
        switch tryPut(messages, from: &taken, registerWaiter: false) {
        case .accepted, .closed: return taken
        case .full: break
        }
        state.withLock { $0.producerWaits += 1 }
        gate.lock()
        defer { gate.unlock() }
        while true {
            switch tryPut(messages, from: &taken, registerWaiter: true) {
            case .accepted, .closed: return taken
            case .full:
                guard let interval else {
                    gate.wait()
                    continue
                }
                if !gate.wait(timeoutNanos: UInt64(max(0, interval.seconds) * 1e9)) {
                    // Timed out: run the callback without holding the gate, so the consumer is never
                    // held up by it; the loop then looks at the state again before waiting.
                    gate.unlock()
                    whileWaiting()
                    gate.lock()
                }
            }
        }
    }

    /// Up to `maxCount` messages in arrival order, suspending while the queue is empty.
    ///
    /// Returns `nil` once the queue is closed and drained. Returns an empty array only if the calling
    /// task is cancelled while waiting (the caller should check for cancellation) or `wakeConsumer()`
    /// was called. Only one task may wait at a time.
    public func next(maxCount: Int) async -> [InboundMessage]? {
        precondition(maxCount > 0, "maxCount must be positive")
        while true {
            switch take(maxCount: maxCount) {
            case .items(let items): return items
            case .finished: return nil
            case .empty: break
            }
            if Task.isCancelled { return [] }
            await waitForMessages()
        }
    }

    /// Makes the consumer's waiting (or next) `next(maxCount:)` return, with an empty array if no
    /// message arrived, so it can attend to something else: the pipeline, to messages whose registry
    /// lookup ended (README "Slow or hung registry"). Wake-ups before the consumer returns merge.
    public func wakeConsumer() {
        let parked = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.wakeRequested = true
            defer { s.consumer = nil }
            return s.consumer
        }
        parked?.resume()
    }

    /// Parks the consumer until a message arrives, the queue closes, or the task is cancelled.
    private func waitForMessages() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = state.withLock { s -> Bool in
                    // Checked under the lock: a producer or `close()` either sees the stored
                    // continuation or we see their message / the flag. Same for the cancellation
                    // handler, which runs after the flag is set and takes the same lock.
                    if !s.buffer.isEmpty || s.closed || s.wakeRequested || Task.isCancelled { return false }
                    precondition(s.consumer == nil, "IntakeQueue supports exactly one consumer")
                    s.consumer = continuation
                    return true
                }
                if !parked { continuation.resume() }
            }
        } onCancel: {
            let parked = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.consumer = nil }
                return s.consumer
            }
            parked?.resume()
        }
    }

    /// Closes the queue: a parked consumer gets `nil` (the buffer is empty when it is parked), later
    /// `next` calls drain what is left and then return `nil`, blocked and later `put` calls return
    /// `false`. Idempotent.
    public func close() {
        let parked = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            s.producerWaiting = false
            defer { s.consumer = nil }
            return s.consumer
        }
        parked?.resume()
        gate.broadcast()
    }

    // MARK: - Internals

    private enum PutResult { case accepted, full, closed }
    private enum TakeResult { case items([InboundMessage]), empty, finished }

    private func tryPut(_ message: InboundMessage, registerWaiter: Bool) -> PutResult {
        let (result, consumer) = state.withLock { s -> (PutResult, CheckedContinuation<Void, Never>?) in
            if s.closed { return (.closed, nil) }
            if s.buffer.count < capacity {
                s.buffer.append(message)
                // Wake a parked consumer once; it takes everything that is there when it runs.
                defer { s.consumer = nil }
                return (.accepted, s.consumer)
            }
            if registerWaiter { s.producerWaiting = true }
            return (.full, nil)
        }
        consumer?.resume()
        return result
    }

    /// Appends what fits of `messages[taken...]`, advancing `taken`; `.accepted` once all are in.
    private func tryPut(_ messages: [InboundMessage], from taken: inout Int, registerWaiter: Bool) -> PutResult {
        let start = taken
        let (result, end, consumer) = state.withLock { s -> (PutResult, Int, CheckedContinuation<Void, Never>?) in
            if s.closed { return (.closed, start, nil) }
            let end = start + Swift.min(messages.count - start, capacity - s.buffer.count)
            for index in start..<end { s.buffer.append(messages[index]) }
            if end == messages.count {
                defer { s.consumer = nil }
                return (.accepted, end, s.consumer)
            }
            if registerWaiter { s.producerWaiting = true }
            // Something went in: wake a parked consumer now so it makes room.
            if end > start {
                defer { s.consumer = nil }
                return (.full, end, s.consumer)
            }
            return (.full, end, nil)
        }
        taken = end
        consumer?.resume()
        return result
    }

    private func take(maxCount: Int) -> TakeResult {
        let (result, wake) = state.withLock { s -> (TakeResult, Bool) in
            // Whatever this returns, the consumer attends to what it was woken for afterwards.
            let woken = s.wakeRequested
            s.wakeRequested = false
            if !s.buffer.isEmpty {
                let wake = s.producerWaiting
                s.producerWaiting = false
                return (.items(s.buffer.removeFirst(upTo: maxCount)), wake)
            }
            if s.closed { return (.finished, false) }
            return (woken ? .items([]) : .empty, false)
        }
        if wake { gate.broadcast() }
        return result
    }

    private struct State: ~Copyable {
        var buffer: RingBuffer
        var closed = false
        /// The one consumer, parked while the buffer is empty.
        var consumer: CheckedContinuation<Void, Never>?
        /// Set by a producer (holding the gate lock) that found the buffer full.
        var producerWaiting = false
        var producerWaits = 0
        /// Set by `wakeConsumer()`, cleared when the consumer takes.
        var wakeRequested = false

        init(capacity: Int) { buffer = RingBuffer(capacity: capacity) }
    }
}

/// Fixed-capacity FIFO of messages.
private struct RingBuffer {
    private var storage: [InboundMessage?]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) { storage = Array(repeating: nil, count: capacity) }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ message: InboundMessage) {
        precondition(count < storage.count, "ring buffer overflow")
        var index = head + count
        if index >= storage.count { index -= storage.count }
        storage[index] = message
        count += 1
    }

    mutating func removeFirst(upTo maxCount: Int) -> [InboundMessage] {
        let n = Swift.min(maxCount, count)
        var result: [InboundMessage] = []
        result.reserveCapacity(n)
        for _ in 0..<n {
            result.append(storage[head].take()!)
            head += 1
            if head == storage.count { head = 0 }
        }
        count -= n
        return result
    }
}

/// A pthread mutex + condition variable where blocked producers park. `@unchecked Sendable`: the
/// pthread objects are thread-safe by contract and live at stable heap addresses for the lifetime of
/// the object; the pointers themselves are never reassigned.
private final class ProducerGate: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        // Timed waits count on the monotonic clock, so a wall-clock jump neither cuts them short
        // nor stretches them.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        precondition(pthread_cond_init(condition, &attributes) == 0)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { precondition(pthread_mutex_lock(mutex) == 0) }
    func unlock() { precondition(pthread_mutex_unlock(mutex) == 0) }
    /// Caller holds the lock.
    func wait() { precondition(pthread_cond_wait(condition, mutex) == 0) }
    /// Caller holds the lock. False when `timeoutNanos` passed without a wakeup.
    func wait(timeoutNanos: UInt64) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = UInt64(now.tv_nsec) + timeoutNanos % 1_000_000_000
        var deadline = timespec(tv_sec: now.tv_sec + Int(timeoutNanos / 1_000_000_000) + Int(total / 1_000_000_000),
                                tv_nsec: Int(total % 1_000_000_000))
        let result = pthread_cond_timedwait(condition, mutex, &deadline)
        precondition(result == 0 || result == ETIMEDOUT)
        return result == 0
    }

    /// Wakes every parked producer. Takes the lock so the wakeup cannot fall between a producer's
    /// "full" check and its wait.
    func broadcast() {
        lock()
        pthread_cond_broadcast(condition)
        unlock()
    }
}
