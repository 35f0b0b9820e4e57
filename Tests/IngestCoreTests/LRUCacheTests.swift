import IngestCore
import XCTest

final class LRUCacheTests: XCTestCase {
    let forever = UInt64.max

    func testGetPutAndCounters() {
        var cache = LRUCache<String, Int>(capacity: 3)
        XCTAssertNil(cache.get("a", now: 0))
        cache.put("a", 1, expiresAt: forever)
        XCTAssertEqual(cache.get("a", now: 0), 1)
        XCTAssertEqual(cache.count, 1)
        XCTAssertEqual(cache.hits, 1)
        XCTAssertEqual(cache.misses, 1)
        XCTAssertEqual(cache.evictions, 0)
    }

    func testEvictsLeastRecentlyUsed() {
        var cache = LRUCache<String, Int>(capacity: 3)
        cache.put("a", 1, expiresAt: forever)
        cache.put("b", 2, expiresAt: forever)
        cache.put("c", 3, expiresAt: forever)
        XCTAssertEqual(cache.keysByRecency, ["c", "b", "a"])
        _ = cache.get("a", now: 0)  // a becomes most recent; b is now the oldest
        XCTAssertEqual(cache.keysByRecency, ["a", "c", "b"])
        cache.put("d", 4, expiresAt: forever)
        XCTAssertEqual(cache.keysByRecency, ["d", "a", "c"])
        XCTAssertNil(cache.peek("b"))
        XCTAssertEqual(cache.evictions, 1)
        cache.put("c", 30, expiresAt: forever)  // replacing refreshes recency, no eviction
        XCTAssertEqual(cache.keysByRecency, ["c", "d", "a"])
        XCTAssertEqual(cache.count, 3)
        XCTAssertEqual(cache.evictions, 1)
        cache.put("e", 5, expiresAt: forever)
        XCTAssertEqual(cache.keysByRecency, ["e", "c", "d"])
        XCTAssertEqual(cache.evictions, 2)
        XCTAssertEqual(cache.get("c", now: 0), 30)
    }

    func testPeekDoesNotChangeRecencyOrCounters() {
        var cache = LRUCache<String, Int>(capacity: 2)
        cache.put("a", 1, expiresAt: 10)
        cache.put("b", 2, expiresAt: 20)
        XCTAssertEqual(cache.peek("a")?.value, 1)
        XCTAssertEqual(cache.peek("a")?.expiresAt, 10)
        XCTAssertEqual(cache.hits + cache.misses, 0)
        cache.put("c", 3, expiresAt: 30)
        XCTAssertNil(cache.peek("a"), "peek must not have refreshed a")
    }

    func testExpiry() {
        var cache = LRUCache<String, Int>(capacity: 2)
        cache.put("a", 1, expiresAt: 100)
        XCTAssertEqual(cache.get("a", now: 99), 1)
        // Stale entries stay visible to peek until a get sees them expired.
        XCTAssertEqual(cache.peek("a")?.value, 1)
        XCTAssertNil(cache.get("a", now: 100), "expires when now reaches expiresAt")
        XCTAssertEqual(cache.misses, 1)
        XCTAssertNil(cache.peek("a"), "an expired get removes the entry")
        XCTAssertEqual(cache.count, 0)
    }

    func testStalePeekDuringOutage() {
        var cache = LRUCache<String, String>(capacity: 2)
        cache.put("dev", "record", expiresAt: 1_000)
        let stale = cache.peek("dev")
        XCTAssertEqual(stale?.value, "record")
        XCTAssertLessThan(stale?.expiresAt ?? .max, 5_000, "caller can tell it is stale at now = 5000")
    }

    func testRemoveAndReuseOfSlots() {
        var cache = LRUCache<Int, Int>(capacity: 3)
        for i in 0..<3 { cache.put(i, i, expiresAt: forever) }
        XCTAssertEqual(cache.remove(1), 1)
        XCTAssertNil(cache.remove(1))
        XCTAssertEqual(cache.keysByRecency, [2, 0])
        cache.put(7, 7, expiresAt: forever)
        XCTAssertEqual(cache.keysByRecency, [7, 2, 0])
        XCTAssertEqual(cache.evictions, 0)
        XCTAssertEqual(cache.remove(0), 0)  // tail
        XCTAssertEqual(cache.remove(7), 7)  // head
        XCTAssertEqual(cache.keysByRecency, [2])
        XCTAssertEqual(cache.remove(2), 2)
        XCTAssertTrue(cache.isEmpty)
        cache.put(9, 9, expiresAt: forever)
        XCTAssertEqual(cache.keysByRecency, [9])
    }

    func testRemoveAllKeepsCounters() {
        var cache = LRUCache<Int, Int>(capacity: 2)
        cache.put(1, 1, expiresAt: forever)
        _ = cache.get(1, now: 0)
        _ = cache.get(2, now: 0)
        cache.removeAll()
        XCTAssertEqual(cache.count, 0)
        XCTAssertNil(cache.peek(1))
        XCTAssertEqual(cache.keysByRecency, [])
        XCTAssertEqual(cache.hits, 1)
        XCTAssertEqual(cache.misses, 1)
        cache.put(3, 3, expiresAt: forever)
        XCTAssertEqual(cache.get(3, now: 0), 3)
    }

    func testWithValueMutatesInPlaceAndInserts() {
        var cache = LRUCache<String, Int>(capacity: 2)
        let first = cache.withValue(forKey: "a", now: 0, expiresAt: forever, default: { 10 }) { value -> Int in
            value += 1
            return value
        }
        XCTAssertEqual(first, 11)
        let second = cache.withValue(forKey: "a", now: 0, expiresAt: forever, default: { 100 }) { value -> Int in
            value += 1
            return value
        }
        XCTAssertEqual(second, 12)
        XCTAssertEqual(cache.misses, 1)
        XCTAssertEqual(cache.hits, 1)
        cache.put("b", 0, expiresAt: forever)
        cache.withValue(forKey: "c", now: 0, expiresAt: forever, default: { 0 }) { _ in () }
        XCTAssertEqual(cache.keysByRecency, ["c", "b"])
        // An expired entry is replaced by a fresh default.
        cache.put("x", 5, expiresAt: 10)
        let fresh = cache.withValue(forKey: "x", now: 10, expiresAt: forever, default: { 0 }) { $0 }
        XCTAssertEqual(fresh, 0)
    }

    func testCapacityOneAndManyOperations() {
        var cache = LRUCache<Int, Int>(capacity: 1)
        for i in 0..<1_000 {
            cache.put(i, i, expiresAt: forever)
            XCTAssertEqual(cache.count, 1)
        }
        XCTAssertEqual(cache.keysByRecency, [999])
        XCTAssertEqual(cache.evictions, 999)
    }

    func testRandomOperationsAgainstAReferenceModel() {
        var generator = SplitMix64(seed: 7)
        var cache = LRUCache<Int, Int>(capacity: 8)
        var model: [(key: Int, value: Int)] = []  // most recent first
        for step in 0..<20_000 {
            let key = Int(generator.next() % 16)
            switch generator.next() % 3 {
            case 0:
                model.removeAll { $0.key == key }
                model.insert((key, step), at: 0)
                if model.count > 8 { model.removeLast() }
                cache.put(key, step, expiresAt: forever)
            case 1:
                let expected = model.firstIndex { $0.key == key }.map { model.remove(at: $0) }
                if let expected { model.insert(expected, at: 0) }
                XCTAssertEqual(cache.get(key, now: 0), expected?.value)
            default:
                let expected = model.firstIndex { $0.key == key }.map { model.remove(at: $0) }
                XCTAssertEqual(cache.remove(key), expected?.value)
            }
            XCTAssertEqual(cache.keysByRecency, model.map(\.key))
        }
    }

    func testIsSendableWhenContentsAre() {
        let cache = LRUCache<String, Int>(capacity: 1)
        let sendable: any Sendable = cache
        XCTAssertNotNil(sendable)
    }

    func testLookupServesExpiredEntriesWithoutDroppingThem() {
        var cache = LRUCache<String, Int>(capacity: 2)
        cache.put("a", 1, expiresAt: 10)
        cache.put("b", 2, expiresAt: 100)
        XCTAssertEqual(cache.lookup("a", now: 5)?.value, 1)
        XCTAssertEqual(cache.lookup("a", now: 5)?.isExpired, false)
        XCTAssertEqual(cache.hits, 2)
        let stale = cache.lookup("a", now: 10)
        XCTAssertEqual(stale?.value, 1)
        XCTAssertEqual(stale?.isExpired, true)
        XCTAssertEqual(cache.misses, 1)
        XCTAssertEqual(cache.count, 2, "an expired entry stays for stale serving")
        XCTAssertNil(cache.lookup("zzz", now: 10))
        XCTAssertEqual(cache.misses, 2)
        // A stale lookup does not refresh recency: after a fresh hit on "b", "a" is the least recent
        // and leaves when "c" arrives.
        _ = cache.lookup("b", now: 50)
        cache.put("c", 3, expiresAt: 100)
        XCTAssertNil(cache.peek("a"))
        XCTAssertNotNil(cache.peek("b"))
    }
}
