import Dispatch
import Synchronization

/// A first-in first-out queue whose consumers are dedicated threads that block while it is empty.
/// Producers (async code on the cooperative pool) never block: `push` takes the lock briefly and
/// signals a semaphore.
final class BlockingQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var head = 0
        var closed = false
    }
    private let state = Mutex(State())
    /// Counts items plus, after `close()`, one wake-up per consumer.
    private let available = DispatchSemaphore(value: 0)

    /// Adds `element`; returns it back when the queue is closed (the caller must answer it).
    func push(_ element: Element) -> Element? {
        let accepted = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.items.append(element)
            return true
        }
        guard accepted else { return element }
        available.signal()
        return nil
    }

    /// Blocks the calling thread until an element is available; nil once the queue is closed and empty.
    func pop() -> Element? {
        while true {
            available.wait()
            let next = state.withLock { state -> (Element?, Bool) in
                if state.head < state.items.count {
                    let element = state.items[state.head]
                    state.head += 1
                    if state.head > 64, state.head * 2 > state.items.count {
                        state.items.removeFirst(state.head)
                        state.head = 0
                    }
                    return (element, false)
                }
                return (nil, state.closed)
            }
            if let element = next.0 { return element }
            if next.1 {
                available.signal() // let the next consumer see the close too
                return nil
            }
        }
    }

    /// Stops accepting; consumers finish what is queued, then `pop` returns nil.
    func close() {
        let wasOpen = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if wasOpen { available.signal() }
    }
}
