import Foundation
import XCTest
@testable import IngestService

final class MQTTReconnectBackoffTests: XCTestCase {
    func testDoublesFromMinimumToMaximumWithJitterAndResets() {
        var backoff = ReconnectBackoff(minimum: .seconds(1), maximum: .seconds(60))
        var bases: [Double] = []
        for n in 0..<12 {
            let base = min(60.0, pow(2.0, Double(n)))
            bases.append(base)
            let d = backoff.nextDelay().seconds
            XCTAssertGreaterThanOrEqual(d, max(1.0, base / 2) - 1e-9, "attempt \(n)")
            XCTAssertLessThanOrEqual(d, base + 1e-9, "attempt \(n)")
        }
        XCTAssertEqual(bases.last, 60)
        backoff.reset()
        XCTAssertEqual(backoff.nextDelay().seconds, 1, accuracy: 1e-9)
    }

    func testJitterSpreadsDelays() {
        var seen = Set<Int64>()
        for _ in 0..<20 {
            var backoff = ReconnectBackoff(minimum: .seconds(1), maximum: .seconds(60))
            for _ in 0..<6 { _ = backoff.nextDelay() }
            seen.insert(backoff.nextDelay().components.attoseconds)
        }
        XCTAssertGreaterThan(seen.count, 1)
    }
}
