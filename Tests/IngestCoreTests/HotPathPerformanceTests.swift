import IngestCore
import XCTest

/// Reports the cost of decode → validate → line protocol for the DESIGN example. No assertion on
/// time (debug builds and a shared machine make that flaky); run with `-c release` to judge the
/// ≲ 2 µs/message goal.
final class HotPathPerformanceTests: XCTestCase {
    func testHotPathCostPerMessage() throws {
        let payload = Array(#"{"version":"1","ts":"2026-02-09T09:15:23.045Z","site_id":"s1","tenant_id":"t1","seq":42,"provision_token":"tok","metrics":{"temp_c":21.5,"door_open":false,"rssi":-67,"battery_v":3.71,"state":"ok"}}"#.utf8)
        let validator = Fixtures.validator()
        let encoder = LineProtocolEncoder()
        var limiter = RateLimiter(ratePerSecond: 1e9, burst: 1_000_000, maxDevices: 10)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        let iterations = 20_000
        let clock = SystemMonotonicClock()
        let start = clock.now()
        try payload.withUnsafeBytes { raw in
            for index in 0..<iterations {
                let message = try validator.validate(topic: "tenant/t1/device/d1/telemetry", payload: raw, rateLimiter: &limiter, now: UInt64(index))
                try encoder.append(message, receivedAtNanos: 0, to: &buffer)
                if buffer.count > 1 << 19 { buffer.removeAll(keepingCapacity: true) }
            }
        }
        let perMessage = Double(clock.now() - start) / Double(iterations)
        print("hot path: \(Int(perMessage)) ns/message")
        XCTAssertGreaterThan(perMessage, 0)
    }
}
