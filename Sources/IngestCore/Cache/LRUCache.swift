/// A bounded least-recently-used cache with per-entry expiry.
///
/// Entries live in one array of slots linked into a doubly linked recency list by index, and a
/// dictionary maps keys to slots. Every operation is O(1); once the cache has been full, slots are
/// reused and nothing is allocated per operation. Times are monotonic nanoseconds supplied by the
/// caller (`now`), so the cache never reads a clock itself. An entry is expired when `now >= expiresAt`.
///
/// Everything is `@inlinable`/`@usableFromInline`: the cache is generic and its users live in other
/// modules (the auth cache in IngestService). Without that, a hit there runs unspecialized code that
/// copies slots through value witnesses and looks up generic metadata, several times slower.
public struct LRUCache<Key: Hashable, Value> {
    @usableFromInline
    struct Slot {
        @usableFromInline var key: Key?
        @usableFromInline var value: Value?
        @usableFromInline var expiresAt: UInt64
        @usableFromInline var previous: Int
        @usableFromInline var next: Int

        @usableFromInline
        init(key: Key?, value: Value?, expiresAt: UInt64, previous: Int, next: Int) {
            self.key = key
            self.value = value
            self.expiresAt = expiresAt
            self.previous = previous
            self.next = next
        }
    }

    public let capacity: Int
    @usableFromInline var slots: [Slot] = []
    @usableFromInline var slotOfKey: [Key: Int]
    @usableFromInline var freeSlots: [Int] = []
    /// Most recently used.
    @usableFromInline var head = -1
    /// Least recently used: the next to go.
    @usableFromInline var tail = -1

    /// Cumulative, not reset by `removeAll()`.
    @inlinable public var hits: UInt64 { hitCount }
    @inlinable public var misses: UInt64 { missCount }
    /// Entries pushed out because the cache was full (not expiries, not removals).
    @inlinable public var evictions: UInt64 { evictionCount }
    @usableFromInline var hitCount: UInt64 = 0
    @usableFromInline var missCount: UInt64 = 0
    @usableFromInline var evictionCount: UInt64 = 0

    @inlinable
    public init(capacity: Int) {
        precondition(capacity >= 1, "LRUCache capacity must be at least 1")
        self.capacity = capacity
        slotOfKey = Dictionary(minimumCapacity: capacity)
    }

    @inlinable public var count: Int { slotOfKey.count }
    @inlinable public var isEmpty: Bool { slotOfKey.isEmpty }

    /// The value if present and not expired; counts a hit or a miss. An expired entry is removed.
    @inlinable
    public mutating func get(_ key: Key, now: UInt64) -> Value? {
        guard let slot = slotOfKey[key] else {
            missCount += 1
            return nil
        }
        if now >= slots[slot].expiresAt {
            missCount += 1
            removeSlot(slot)
            return nil
        }
        hitCount += 1
        moveToFront(slot)
        return slots[slot].value
    }

    /// One lookup for callers that can use an expired value (stale serving): a fresh entry counts a
    /// hit and becomes the most recent; an expired one counts a miss and stays, for the caller to
    /// refresh or serve stale. Nil (a miss) when absent.
    @inlinable
    public mutating func lookup(_ key: Key, now: UInt64) -> (value: Value, isExpired: Bool)? {
        guard let slot = slotOfKey[key], let value = slots[slot].value else {
            missCount += 1
            return nil
        }
        if now >= slots[slot].expiresAt {
            missCount += 1
            return (value, true)
        }
        hitCount += 1
        moveToFront(slot)
        return (value, false)
    }

    /// The value even if expired, with its expiry, without touching recency or counters:
    /// during a registry outage a stale record is better than none.
    @inlinable
    public func peek(_ key: Key) -> (value: Value, expiresAt: UInt64)? {
        guard let slot = slotOfKey[key], let value = slots[slot].value else { return nil }
        return (value, slots[slot].expiresAt)
    }

    @inlinable
    public func contains(_ key: Key) -> Bool { slotOfKey[key] != nil }

    /// Inserts or replaces, making the entry the most recent; evicts the least recent when full.
    @inlinable
    public mutating func put(_ key: Key, _ value: Value, expiresAt: UInt64) {
        if let slot = slotOfKey[key] {
            slots[slot].value = value
            slots[slot].expiresAt = expiresAt
            moveToFront(slot)
            return
        }
        let slot = allocateSlot()
        slots[slot].key = key
        slots[slot].value = value
        slots[slot].expiresAt = expiresAt
        slotOfKey[key] = slot
        linkAtFront(slot)
    }

    /// Runs `body` on the entry for `key` in place, inserting `makeValue()` first when there is
    /// none (or it has expired). The entry becomes the most recent; counts a hit or a miss.
    @inlinable
    public mutating func withValue<Result>(
        forKey key: Key,
        now: UInt64,
        expiresAt: UInt64,
        default makeValue: () -> Value,
        _ body: (inout Value) -> Result
    ) -> Result {
        if let slot = slotOfKey[key], now < slots[slot].expiresAt {
            hitCount += 1
            moveToFront(slot)
            slots[slot].expiresAt = expiresAt
            return body(&slots[slot].value!)
        }
        missCount += 1
        put(key, makeValue(), expiresAt: expiresAt)
        return body(&slots[head].value!)
    }

    @inlinable
    @discardableResult
    public mutating func remove(_ key: Key) -> Value? {
        guard let slot = slotOfKey[key] else { return nil }
        let value = slots[slot].value
        removeSlot(slot)
        return value
    }

    /// Drops every entry (keeping the storage); the counters stay, they are cumulative.
    @inlinable
    public mutating func removeAll() {
        slotOfKey.removeAll(keepingCapacity: true)
        slots.removeAll(keepingCapacity: true)
        freeSlots.removeAll(keepingCapacity: true)
        head = -1
        tail = -1
    }

    /// Keys from most to least recently used (for diagnostics and tests; O(n)).
    @inlinable
    public var keysByRecency: [Key] {
        var keys: [Key] = []
        keys.reserveCapacity(count)
        var slot = head
        while slot >= 0 {
            if let key = slots[slot].key { keys.append(key) }
            slot = slots[slot].next
        }
        return keys
    }

    // MARK: list plumbing

    @inlinable
    mutating func allocateSlot() -> Int {
        if slotOfKey.count >= capacity {
            evictionCount += 1
            let victim = tail
            removeSlot(victim)
        }
        if let slot = freeSlots.popLast() { return slot }
        slots.append(Slot(key: nil, value: nil, expiresAt: 0, previous: -1, next: -1))
        return slots.count - 1
    }

    @inlinable
    mutating func removeSlot(_ slot: Int) {
        unlink(slot)
        if let key = slots[slot].key { slotOfKey[key] = nil }
        // Release key and value now rather than when the slot is reused.
        slots[slot].key = nil
        slots[slot].value = nil
        freeSlots.append(slot)
    }

    @inlinable
    mutating func unlink(_ slot: Int) {
        let previous = slots[slot].previous
        let next = slots[slot].next
        if previous >= 0 { slots[previous].next = next } else { head = next }
        if next >= 0 { slots[next].previous = previous } else { tail = previous }
        slots[slot].previous = -1
        slots[slot].next = -1
    }

    @inlinable
    mutating func linkAtFront(_ slot: Int) {
        slots[slot].previous = -1
        slots[slot].next = head
        if head >= 0 { slots[head].previous = slot }
        head = slot
        if tail < 0 { tail = slot }
    }

    @inlinable
    mutating func moveToFront(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        linkAtFront(slot)
    }
}

extension LRUCache: Sendable where Key: Sendable, Value: Sendable {}
extension LRUCache.Slot: Sendable where Key: Sendable, Value: Sendable {}
