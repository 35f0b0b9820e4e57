import IngestCore
import XCTest

final class TimestampParserTests: XCTestCase {
    /// 2026-02-09T09:15:23Z
    let base: Int64 = 1_770_628_523_000_000_000

    private func parse(_ text: String) throws(RejectReason) -> Int64 { try TimestampParser.parse(text) }

    private func assertBad(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertRejects(.badTimestamp, text.debugDescription, file: file, line: line) { () throws(RejectReason) in
            try TimestampParser.parse(text)
        }
    }

    func testZulu() throws {
        XCTAssertEqual(try parse("2026-02-09T09:15:23Z"), base)
        XCTAssertEqual(try parse("2026-02-09t09:15:23z"), base)
        XCTAssertEqual(try parse("1970-01-01T00:00:00Z"), 0)
    }

    func testFractionOfOneToNineDigits() throws {
        let expected: [Int64] = [
            500_000_000, 450_000_000, 45_000_000, 45_600_000, 45_670_000,
            45_678_000, 45_678_900, 45_678_910, 45_678_912,
        ]
        let fractions = ["5", "45", "045", "0456", "04567", "045678", "0456789", "04567891", "045678912"]
        for (fraction, nanos) in zip(fractions, expected) {
            XCTAssertEqual(try parse("2026-02-09T09:15:23.\(fraction)Z"), base + nanos, fraction)
        }
        assertBad("2026-02-09T09:15:23.0456789123Z")
        assertBad("2026-02-09T09:15:23.Z")
    }

    func testOffsets() throws {
        XCTAssertEqual(try parse("2026-02-09T10:15:23+01:00"), base)
        XCTAssertEqual(try parse("2026-02-09T10:15:23+0100"), base)
        XCTAssertEqual(try parse("2026-02-09T03:45:23-05:30"), base)
        XCTAssertEqual(try parse("2026-02-09T03:45:23.045-0530"), base + 45_000_000)
        XCTAssertEqual(try parse("2026-02-09T09:15:23+00:00"), base)
        XCTAssertEqual(try parse("2026-02-09T09:15:23-00:00"), base)
        for bad in ["+1", "+01", "+01:0", "+24:00", "+01:60", "+01:00:00", "Z+01:00", "UTC", " Z"] {
            assertBad("2026-02-09T09:15:23\(bad)")
        }
    }

    func testNaiveIsUTCAndSpaceSeparator() throws {
        XCTAssertEqual(try parse("2026-02-09T09:15:23"), base)
        XCTAssertEqual(try parse("2026-02-09 09:15:23"), base)
        XCTAssertEqual(try parse("2026-02-09 09:15:23.045"), base + 45_000_000)
        XCTAssertEqual(try parse("2026-02-09 09:15:23.045+00:00"), base + 45_000_000)
    }

    func testCalendar() throws {
        XCTAssertEqual(try parse("2024-02-29T00:00:00Z"), 1_709_164_800_000_000_000)
        XCTAssertEqual(try parse("2000-02-29T00:00:00Z"), 951_782_400_000_000_000)
        XCTAssertEqual(try parse("2026-12-31T23:59:59Z"), 1_798_761_599_000_000_000)
        assertBad("2026-02-29T00:00:00Z")
        assertBad("1900-02-29T00:00:00Z")
        assertBad("2026-04-31T00:00:00Z")
        assertBad("2026-00-10T00:00:00Z")
        assertBad("2026-01-00T00:00:00Z")
        assertBad("2026-01-01T24:00:00Z")
        assertBad("2026-01-01T23:60:00Z")
        assertBad("2026-12-31T23:59:60Z")
        XCTAssertEqual(TimestampParser.daysFromCivil(year: 1970, month: 1, day: 1), 0)
        XCTAssertEqual(TimestampParser.daysFromCivil(year: 1969, month: 12, day: 31), -1)
    }

    func testRange() throws {
        XCTAssertEqual(try parse("2262-04-11T23:47:16.854775807Z"), .max)
        assertBad("2262-04-11T23:47:16.854775808Z")
        assertBad("9999-12-31T23:59:59Z")
        assertBad("1969-12-31T23:59:59Z")
        assertBad("1970-01-01T00:30:00+01:00")
    }

    func testGarbage() {
        for text in ["", " ", "now", "2026-02-09", "2026-02-09T09:15", "2026-02-09T09:15:23ZZ", "26-02-09T09:15:23Z",
                     "2026/02/09 09:15:23", "2026-2-9T9:15:23Z", "2026-02-09T09:15:23 ", " 2026-02-09T09:15:23",
                     "2026-02-09_09:15:23", "２０２６-02-09T09:15:23Z", "1770628523x", "0x1", "1e"] {
            assertBad(text)
        }
    }

    // MARK: epoch numbers

    func testEpochUnitsByMagnitudeAsStrings() throws {
        XCTAssertEqual(try parse("1770628523"), base)
        XCTAssertEqual(try parse("1770628523045"), base + 45_000_000)
        XCTAssertEqual(try parse("1770628523045678"), base + 45_678_000)
        XCTAssertEqual(try parse("1770628523045678912"), base + 45_678_912)
        XCTAssertEqual(try parse("1770628523.045"), base + 45_000_000)
        XCTAssertEqual(try parse("1.770628523045e9"), base + 45_000_000)
        XCTAssertEqual(try parse("1770628523045.5"), base + 45_500_000)
    }

    func testEpochUnitsByMagnitudeAsJSONNumbers() throws {
        XCTAssertEqual(try TimestampParser.parseEpoch("1770628523"), base)
        XCTAssertEqual(try TimestampParser.parseEpoch("1770628523045"), base + 45_000_000)
        XCTAssertEqual(try TimestampParser.parseEpoch("1770628523045678"), base + 45_678_000)
        XCTAssertEqual(try TimestampParser.parseEpoch("1770628523045678912"), base + 45_678_912)
        XCTAssertEqual(try TimestampParser.parseEpoch("1770628523.123456789"), base + 123_456_789)
        XCTAssertEqual(try TimestampParser.parseEpoch("1770628523.1234567899"), base + 123_456_789, "below 1 ns is truncated")
        assertRejects(.badTimestamp) { () throws(RejectReason) in try TimestampParser.parseEpoch("17x") }
    }

    func testEpochThresholds() throws {
        // Below 1e11: seconds (only up to 9223372036.854775807 fits Int64 nanoseconds, year 2262).
        XCTAssertEqual(try parse("0"), 0)
        XCTAssertEqual(try parse("1"), 1_000_000_000)
        XCTAssertEqual(try parse("9223372036.854775807"), .max)
        assertBad("9223372037")
        assertBad("99999999999")
        // 1e11 up to below 1e14: milliseconds (1973-03-03 to 2262).
        XCTAssertEqual(try parse("100000000000"), 100_000_000_000 * 1_000_000)
        XCTAssertEqual(try parse("9223372036854"), 9_223_372_036_854 * 1_000_000)
        assertBad("99999999999999")
        // 1e14 up to below 1e17: microseconds.
        XCTAssertEqual(try parse("100000000000000"), 100_000_000_000_000 * 1_000)
        XCTAssertEqual(try parse("9223372036854775"), 9_223_372_036_854_775 * 1_000)
        assertBad("99999999999999999")
        // 1e17 and above: nanoseconds.
        XCTAssertEqual(try parse("100000000000000000"), 100_000_000_000_000_000)
        XCTAssertEqual(try parse("9223372036854775807"), .max)
    }

    func testEpochOutOfRangeAndNegative() {
        assertBad("9223372036854775808")
        assertBad("10000000000000000000")
        assertBad("1e30")
        assertBad("-1")
        assertBad("-1770628523")
        assertBad("-0.5")
        XCTAssertEqual(try parse("-0"), 0)
        XCTAssertEqual(try parse("0.0000000001"), 0, "sub-nanosecond epoch truncates to 0")
    }
}
