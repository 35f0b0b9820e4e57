import IngestCore
import XCTest

final class EnvelopeDecoderTests: XCTestCase {
    func testDesignExample() throws {
        let json = #"{"version":"1","ts":"2026-02-09T09:15:23.045Z","site_id":"s1","tenant_id":"t1","seq":42,"provision_token":"tok","metrics":{"temp_c":21.5,"door_open":false}}"#
        let envelope = try Fixtures.decode(json)
        XCTAssertEqual(envelope.version, "1")
        XCTAssertEqual(envelope.timestampNanos, 1_770_628_523_045_000_000)
        XCTAssertEqual(envelope.siteID, "s1")
        XCTAssertEqual(envelope.tenantID, "t1")
        XCTAssertEqual(envelope.seq, 42)
        XCTAssertEqual(envelope.provisionToken, "tok")
        XCTAssertEqual(envelope.metrics, [Metric(key: "temp_c", value: .float(21.5)), Metric(key: "door_open", value: .boolean(false))])
        XCTAssertEqual(envelope.skippedFields, 0)
    }

    func testUnsafeRawBufferEntryPoint() throws {
        let bytes = Array(#"{"seq":3}"#.utf8)
        let envelope = try bytes.withUnsafeBytes { raw in try Fixtures.decoder().decode(raw) }
        XCTAssertEqual(envelope.seq, 3)
    }

    /// Keys are matched on their decoded bytes (first byte and length pick the candidate), so an
    /// escaped spelling is the same key, and a near miss (same length and first byte) is not.
    func testKeysMatchedOnDecodedBytes() throws {
        let json = #"{"\u0073eq":7,"s\u0069te_id":"s1","\u0074s":"2026-02-09T09:15:23Z","metrics":{"\u0074ime":1,"\u0064evice_id":2,"tenant_ix":3,"sex":4,"temp":5}}"#
        let envelope = try Fixtures.decode(json)
        XCTAssertEqual(envelope.seq, 7)
        XCTAssertEqual(envelope.siteID, "s1")
        XCTAssertEqual(envelope.timestampNanos, 1_770_628_523_000_000_000)
        XCTAssertEqual(envelope.metrics.map(\.key), ["tenant_ix", "sex", "temp"])
        XCTAssertEqual(envelope.skippedFields, 2, "time and device_id are reserved")
        XCTAssertEqual(try Fixtures.decode(#"{"seq":1,"sites_id":"x","site_ix":"y"}"#).siteID, nil)
        XCTAssertThrowsError(try Fixtures.decode(#"{"seq":1,"s\u0065q":2}"#), "a repeated key, escaped or not")
    }

    // MARK: version

    func testAcceptedVersions() throws {
        for version in [#""1""#, "1", "1.0", "1e0", "null"] {
            XCTAssertEqual(try Fixtures.decode(#"{"seq":1,"version":\#(version)}"#).version, "1", version)
        }
        XCTAssertEqual(try Fixtures.decode(#"{"seq":1}"#).version, "1")
    }

    func testUnsupportedVersions() {
        for version in [#""2""#, "2", #""1.0""#, #""""#, "true", "[1]", "{}", "1.5", #"" 1""#] {
            assertRejects(.unsupportedEnvelopeVersion, version) { () throws(RejectReason) in
                try Fixtures.decode(#"{"seq":1,"version":\#(version)}"#)
            }
        }
    }

    // MARK: seq

    func testSeqForms() throws {
        XCTAssertEqual(try Fixtures.decode(#"{"seq":0}"#).seq, 0)
        XCTAssertEqual(try Fixtures.decode(#"{"seq":-5}"#).seq, -5)
        XCTAssertEqual(try Fixtures.decode(#"{"seq":9223372036854775807}"#).seq, .max)
        XCTAssertEqual(try Fixtures.decode(#"{"seq":"42"}"#).seq, 42)
    }

    func testMissingOrNullSeqDefaultsToZero() throws {
        XCTAssertEqual(try Fixtures.decode(#"{"site_id":"s1"}"#).seq, 0)
        XCTAssertEqual(try Fixtures.decode(#"{"site_id":"s1","seq":null}"#).seq, 0)
    }

    func testBadSeq() {
        for seq in ["1.5", "1.0", "1e3", "9223372036854775808", #""4x""#, #""042""#, #""""#, #"" 4""#, "true", "[1]", "{}"] {
            assertRejects(.badJSON, seq) { () throws(RejectReason) in try Fixtures.decode(#"{"seq":\#(seq)}"#) }
        }
    }

    // MARK: site, tenant, token

    func testSiteAndTenantAcceptStringsNumbersAndNull() throws {
        let numeric = try Fixtures.decode(#"{"seq":1,"site_id":12,"tenant_id":7}"#)
        XCTAssertEqual(numeric.siteID, "12")
        XCTAssertEqual(numeric.tenantID, "7")
        let null = try Fixtures.decode(#"{"seq":1,"site_id":null,"tenant_id":null}"#)
        XCTAssertNil(null.siteID)
        XCTAssertNil(null.tenantID)
    }

    func testWrongTypesForEnvelopeFieldsAreBadJSON() {
        for json in [#"{"seq":1,"site_id":true}"#, #"{"seq":1,"site_id":["s"]}"#, #"{"seq":1,"tenant_id":{}}"#,
                     #"{"seq":1,"provision_token":5}"#, #"{"seq":1,"metrics":[]}"#, #"{"seq":1,"metrics":"x"}"#] {
            assertRejects(.badJSON, json) { () throws(RejectReason) in try Fixtures.decode(json) }
        }
    }

    func testTokenAndMissingMetrics() throws {
        let envelope = try Fixtures.decode(#"{"seq":1,"provision_token":null,"metrics":null}"#)
        XCTAssertNil(envelope.provisionToken)
        XCTAssertEqual(envelope.metrics, [])
    }

    // MARK: ts

    func testTimestampForms() throws {
        XCTAssertNil(try Fixtures.decode(#"{"seq":1}"#).timestampNanos)
        XCTAssertNil(try Fixtures.decode(#"{"seq":1,"ts":null}"#).timestampNanos)
        XCTAssertEqual(try Fixtures.decode(#"{"seq":1,"ts":1770628523}"#).timestampNanos, 1_770_628_523_000_000_000)
        XCTAssertEqual(try Fixtures.decode(#"{"seq":1,"ts":"1770628523045"}"#).timestampNanos, 1_770_628_523_045_000_000)
        XCTAssertEqual(try Fixtures.decode(#"{"seq":1,"ts":1770628523.5}"#).timestampNanos, 1_770_628_523_500_000_000)
    }

    func testBadTimestampTypesAndValues() {
        for ts in ["true", "[]", "{}", #""""#, #""yesterday""#, "-1", #""2026-13-01T00:00:00Z""#] {
            assertRejects(.badTimestamp, ts) { () throws(RejectReason) in try Fixtures.decode(#"{"seq":1,"ts":\#(ts)}"#) }
        }
    }

    // MARK: metrics

    func testMetricValueTypes() throws {
        let envelope = try Fixtures.decode(Fixtures.envelope(metrics: #"{"f":1.25,"i":20,"b":true,"s":"on \"x\"","n":null}"#))
        XCTAssertEqual(envelope.metrics, [
            Metric(key: "f", value: .float(1.25)),
            Metric(key: "i", value: .float(20)),
            Metric(key: "b", value: .boolean(true)),
            Metric(key: "s", value: .string("on \"x\"")),
        ])
        XCTAssertEqual(envelope.skippedFields, 0, "null is dropped silently")
    }

    func testIntegersAsIntegers() throws {
        let limits = EnvelopeLimits(integersAsIntegers: true)
        let envelope = try Fixtures.decode(
            Fixtures.envelope(metrics: #"{"a":20,"b":-9223372036854775808,"c":9223372036854775808,"d":20.0,"e":2e1}"#),
            limits: limits
        )
        XCTAssertEqual(envelope.metrics.map(\.value), [
            .integer(20), .integer(.min), .float(9_223_372_036_854_775_808), .float(20), .float(20),
        ])
    }

    func testReservedNamesAndNestedValuesAreSkippedAndCounted() throws {
        let envelope = try Fixtures.decode(Fixtures.envelope(
            metrics: #"{"device_id":"x","site_id":"y","tenant_id":"z","seq":5,"time":1,"obj":{"a":1},"arr":[1],"ok":1,"nothing":null}"#
        ))
        XCTAssertEqual(envelope.metrics, [Metric(key: "ok", value: .float(1))])
        XCTAssertEqual(envelope.skippedFields, 7)
    }

    func testStringsWithLineBreaksAreSkippedAndCounted() throws {
        let envelope = try Fixtures.decode(Fixtures.envelope(metrics: #"{"a":"line1\nline2","b":"cr\r","c":"tab\tok"}"#))
        XCTAssertEqual(envelope.metrics, [Metric(key: "c", value: .string("tab\tok"))])
        XCTAssertEqual(envelope.skippedFields, 2)
    }

    func testEmptyMetricsObject() throws {
        XCTAssertEqual(try Fixtures.decode(Fixtures.envelope(metrics: "{}")).metrics, [])
    }

    private func metricsJSON(count: Int) -> String {
        "{" + (0..<count).map { #""m\#($0)":\#($0)"# }.joined(separator: ",") + "}"
    }

    func testMetricCountLimitIsInclusive() throws {
        XCTAssertEqual(try Fixtures.decode(Fixtures.envelope(metrics: metricsJSON(count: 50))).metrics.count, 50)
        assertRejects(.tooManyMetrics) { () throws(RejectReason) in
            try Fixtures.decode(Fixtures.envelope(metrics: metricsJSON(count: 51)))
        }
    }

    func testNullAndSkippedMetricsCountTowardTheLimit() {
        let json = "{" + (0..<51).map { #""m\#($0)":null"# }.joined(separator: ",") + "}"
        assertRejects(.tooManyMetrics) { () throws(RejectReason) in try Fixtures.decode(Fixtures.envelope(metrics: json)) }
    }

    func testMetricKeyLengthLimitIsInclusiveInUTF8Bytes() throws {
        let ascii128 = String(repeating: "k", count: 128)
        XCTAssertEqual(try Fixtures.decode(Fixtures.envelope(metrics: #"{"\#(ascii128)":1}"#)).metrics.first?.key, ascii128)
        assertRejects(.metricKeyTooLong) { () throws(RejectReason) in
            try Fixtures.decode(Fixtures.envelope(metrics: #"{"\#(ascii128)k":1}"#))
        }
        // 64 two-byte characters are 128 bytes; one more ASCII byte is 129.
        let twoByte = String(repeating: "é", count: 64)
        XCTAssertNoThrow(try Fixtures.decode(Fixtures.envelope(metrics: #"{"\#(twoByte)":1}"#)))
        assertRejects(.metricKeyTooLong) { () throws(RejectReason) in
            try Fixtures.decode(Fixtures.envelope(metrics: #"{"\#(twoByte)x":1}"#))
        }
        // Escapes count as the bytes they decode to: 128 × "\u0061" is 128 bytes.
        let escaped = String(repeating: #"\u0061"#, count: 128)
        XCTAssertNoThrow(try Fixtures.decode(Fixtures.envelope(metrics: #"{"\#(escaped)":1}"#)))
    }

    func testInvalidMetricKeys() {
        let keys = [#""#, #"a\nb"#, #"a\tb"#, #"\u0000"#, #"\u001f"#, #"\u007f"#, #"ends\\"#, #"a\\ b"#, #"a\\,b"#, #"a\\=b"#, #"a\\\"b"#]
        for key in keys {
            assertRejects(.metricKeyInvalid, key) { () throws(RejectReason) in
                try Fixtures.decode(Fixtures.envelope(metrics: #"{"\#(key)":1}"#))
            }
        }
    }

    func testInvalidReservedKeyIsStillInvalid() {
        assertRejects(.metricKeyTooLong) { () throws(RejectReason) in
            try Fixtures.decode(Fixtures.envelope(metrics: #"{"\#(String(repeating: "x", count: 129))":{"nested":1}}"#))
        }
    }

    func testValidKeysWithEscapableCharacters() throws {
        let envelope = try Fixtures.decode(Fixtures.envelope(metrics: #"{"a b":1,"c,d":2,"e=f":3,"g\\h":4,"\"q\"":5,"ü🚀":6}"#))
        XCTAssertEqual(envelope.metrics.map(\.key), ["a b", "c,d", "e=f", "g\\h", "\"q\"", "ü🚀"])
    }

    /// A metric key repeating one that will be written is BAD_JSON: the same bytes (escaped or
    /// not, short or longer than the inline storage of `MetricName`), or the same number of bytes
    /// and equal as Strings (Å as U+212B and as A + U+030A). Different lengths stay two keys.
    func testRepeatedMetricKeys() throws {
        let long = String(repeating: "k", count: 40)
        for metrics in [#"{"temp":1,"te\u006dp":2}"#, #"{"\#(long)":1,"a":2,"\#(long)":3}"#,
                        #"{"\u212Bx":1,"A\u030Ax":2}"#, #"{"\#(long)\u212B":1,"\#(long)A\u030A":2}"#] {
            assertRejects(.badJSON, metrics) { () throws(RejectReason) in try Fixtures.decode(Fixtures.envelope(metrics: metrics)) }
        }
        // U+212A KELVIN SIGN equals "K" as a String, but has three UTF-8 bytes.
        let kept = try Fixtures.decode(Fixtures.envelope(metrics: #"{"tempK":1,"temp\u212A":2,"\#(long)":3,"\#(long)x":4}"#))
        XCTAssertEqual(kept.metrics.map(\.key), ["tempK", "temp\u{212A}", long, long + "x"])
    }

    // MARK: order of reasons

    func testReasonsComeInContractOrderRegardlessOfPositionInDocument() {
        let tooMany = "{" + (0..<51).map { #""m\#($0)":1"# }.joined(separator: ",") + #","\#(String(repeating: "k", count: 129))":1,"":1}"#
        let everything = #"{"metrics":\#(tooMany),"ts":"garbage","version":"9","seq":1}"#
        assertRejects(.unsupportedEnvelopeVersion) { () throws(RejectReason) in try Fixtures.decode(everything) }
        let noVersion = #"{"metrics":\#(tooMany),"ts":"garbage","seq":1}"#
        assertRejects(.badTimestamp) { () throws(RejectReason) in try Fixtures.decode(noVersion) }
        let metricsOnly = #"{"metrics":\#(tooMany),"seq":1}"#
        assertRejects(.tooManyMetrics) { () throws(RejectReason) in try Fixtures.decode(metricsOnly) }
        let longAndInvalid = #"{"metrics":{"":1,"\#(String(repeating: "k", count: 129))":1},"seq":1}"#
        assertRejects(.metricKeyTooLong) { () throws(RejectReason) in try Fixtures.decode(longAndInvalid) }
        let syntaxLast = #"{"version":"9","ts":"garbage","seq":1,"x":}"#
        assertRejects(.badJSON) { () throws(RejectReason) in try Fixtures.decode(syntaxLast) }
    }
}
