@testable import IngestCore
import XCTest

/// `FloatText` must write exactly `Double.description`, fast path or not: line protocol output is
/// compared byte for byte elsewhere, and InfluxDB reads these floats back.
final class FloatTextTests: XCTestCase {
    /// Checks one value; returns whether the fast path wrote it.
    @discardableResult
    private func check(_ value: Double, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        var fast: [UInt8] = [UInt8(ascii: "x")]
        let tookFastPath = FloatText.appendShortDecimal(value, to: &fast)
        var full: [UInt8] = [UInt8(ascii: "x")]
        FloatText.append(value, to: &full)
        let expected = "x" + value.description
        XCTAssertEqual(String(decoding: full, as: UTF8.self), expected, "bit pattern \(value.bitPattern)", file: file, line: line)
        if tookFastPath {
            XCTAssertEqual(fast, full, "fast path of \(value.description)", file: file, line: line)
        } else {
            XCTAssertEqual(fast, [UInt8(ascii: "x")], "a refused fast path writes nothing", file: file, line: line)
        }
        return tookFastPath
    }

    func testEdgeCases() {
        let values: [Double] = [
            0, -0.0, 1, -1, 0.1, 0.2, 0.3, 0.1 + 0.2, 1.0 / 3, 2.0 / 3, 21.5, -21.5, 20, 3.127, 4.199, 69.99,
            0.001, 0.001.nextDown, 0.001.nextUp, 0.0001, 0.0001.nextDown, 0.00099, 1e-5, 0.999, 0.9999999999999999,
            1e15, 1e15.nextDown, 1e15.nextUp, 999_999_999_999_999, 99_999_999_999_999.9, 123_456_789_012_345.6,
            1_234_567_890_123_456.7, 9_007_199_254_740_992, 9_007_199_254_740_992.0.nextUp, 1e16, 1e17, 1e22, 1e23,
            .pi, -.pi, .ulpOfOne, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
            -.greatestFiniteMagnitude, .infinity, -.infinity, .nan, 0.5, 0.25, 0.125, 1.0 / 1024, 1e14 + 0.5,
            4_503_599_627_370_496.5, 0.0015, 0.00123456789012345, 12_345.678_901_234_567,
        ]
        for value in values { check(value) }
        XCTAssertTrue(check(21.5))
        XCTAssertTrue(check(-0.001))
        XCTAssertTrue(check(999_999_999_999_999))
        XCTAssertFalse(check(1e15.nextDown), "999999999999999.9 has 16 digits")
        XCTAssertFalse(check(1e15), "1e15 is past the fast path")
        XCTAssertFalse(check(0.1 + 0.2), "17 significant digits: description's job")
        XCTAssertFalse(check(0.0001))
    }

    /// Short decimals as devices send them, in every magnitude, and their neighbouring Doubles
    /// (which mostly need 16-17 digits and so test where the fast path stops).
    func testRandomShortDecimals() {
        var generator = SplitMix64(seed: 0x5EED_F10A7)
        let powersOfTen = (0...18).map { Double("1e\($0)")! }
        var fast = 0
        for _ in 0..<200_000 {
            let digits = Int(generator.next() % 17) + 1
            var limit: UInt64 = 1
            for _ in 0..<digits { limit *= 10 }
            let mantissa = generator.next() % limit
            let decimals = Int(generator.next() % 19)
            // The Double nearest mantissa / 10^decimals (one correctly rounded division while the
            // mantissa is exact, i.e. below 2^53), as parsing a payload's "12.34" gives it.
            var value = Double(mantissa) / powersOfTen[decimals]
            if generator.next() % 2 == 0 { value = -value }
            let tookFastPath = check(value)
            if tookFastPath { fast += 1 }
            // Up to 15 significant digits in the fast path's range must not fall back: that is the
            // whole point of it (and a test that only ever saw the fallback would prove nothing).
            if mantissa < 1_000_000_000_000_000, value.magnitude >= 0.001, value.magnitude < 1e15 {
                XCTAssertTrue(tookFastPath, "\(mantissa)e-\(decimals)")
            }
            check(value.nextUp)
            check(value.nextDown)
        }
        XCTAssertGreaterThan(fast, 50_000)
    }

    /// Any Double at all (random bit patterns), mostly the fallback.
    func testRandomBitPatterns() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<200_000 {
            check(Double(bitPattern: generator.next()))
        }
        // Random significands in the fast path's range: exercises its refusals too.
        for _ in 0..<200_000 {
            let exponent = Int(generator.next() % 60) - 10  // 2^-10 ... 2^49
            let significand = 1 + Double(generator.next() >> 11) / Double(1 << 53)
            check(Double(sign: .plus, exponent: exponent, significand: significand))
        }
    }

    func testEncoderUsesTheSameText() throws {
        let message = ValidatedMessage(
            address: TopicAddress(tenantID: "t", deviceID: "d", messageType: "telemetry"),
            envelope: Envelope(timestampNanos: 1, seq: 1, metrics: [
                Metric(key: "a", value: .float(21.5)), Metric(key: "b", value: .float(0.1 + 0.2)),
                Metric(key: "c", value: .float(-1e-5)), Metric(key: "d", value: .float(20)),
            ]),
            siteID: "s")
        var buffer: [UInt8] = []
        try LineProtocolEncoder().append(message, receivedAtNanos: 0, to: &buffer)
        XCTAssertEqual(String(decoding: buffer, as: UTF8.self),
                       "telemetry,device_id=d,site_id=s seq=1i,a=21.5,b=0.30000000000000004,c=-1e-05,d=20.0 1\n")
    }
}
