import IngestCore
import XCTest

final class MessageValidatorTests: XCTestCase {
    let topic = "tenant/t1/device/d1/telemetry"
    let good = #"{"site_id":"s1","seq":1}"#

    private func validate(
        topic: String? = nil,
        _ payload: [UInt8],
        maxPayloadBytes: Int = 8192,
        limiter: inout RateLimiter,
        now: UInt64 = 0
    ) throws(RejectReason) -> ValidatedMessage {
        try Fixtures.validator(maxPayloadBytes: maxPayloadBytes)
            .validate(topic: topic ?? self.topic, payload: payload, rateLimiter: &limiter, now: now)
    }

    private func validate(topic: String? = nil, _ json: String, maxPayloadBytes: Int = 8192) throws(RejectReason) -> ValidatedMessage {
        var limiter = RateLimiter(ratePerSecond: 0, burst: 0, maxDevices: 1)
        return try validate(topic: topic, Array(json.utf8), maxPayloadBytes: maxPayloadBytes, limiter: &limiter)
    }

    func testAcceptsAndCarriesSite() throws {
        let message = try validate(good)
        XCTAssertEqual(message.siteID, "s1")
        XCTAssertEqual(message.address.messageType, "telemetry")
        XCTAssertEqual(message.envelope.seq, 1)
    }

    func testUnsafeRawBufferEntryPoint() throws {
        var limiter = RateLimiter(ratePerSecond: 0, burst: 0, maxDevices: 1)
        let bytes = Array(good.utf8)
        let message = try bytes.withUnsafeBytes { raw in
            try Fixtures.validator().validate(topic: topic, payload: raw, rateLimiter: &limiter, now: 0)
        }
        XCTAssertEqual(message.siteID, "s1")
    }

    func testPayloadSizeLimitIsInclusiveOnRawBytes() throws {
        // Pad with whitespace (valid JSON) to exactly the limit.
        let limit = 100
        let padded = good + String(repeating: " ", count: limit - good.utf8.count)
        XCTAssertEqual(padded.utf8.count, limit)
        XCTAssertNoThrow(try validate(padded, maxPayloadBytes: limit))
        assertRejects(.payloadTooLarge) { () throws(RejectReason) in try validate(padded + " ", maxPayloadBytes: limit) }
        // Multi-byte characters count as bytes.
        let accented = #"{"site_id":"é","seq":1}"#
        XCTAssertNoThrow(try validate(accented, maxPayloadBytes: accented.utf8.count))
        assertRejects(.payloadTooLarge) { () throws(RejectReason) in try validate(accented, maxPayloadBytes: accented.count) }
    }

    func testSizeIsCheckedFirst() {
        assertRejects(.payloadTooLarge) { () throws(RejectReason) in try validate(topic: "bad", "{{{{", maxPayloadBytes: 3) }
    }

    func testTopicBeforeRateAndJSON() {
        var limiter = RateLimiter(ratePerSecond: 1, burst: 1, maxDevices: 10)
        _ = try? validate(Array(good.utf8), limiter: &limiter)
        assertRejects(.badTopicFormat) { () throws(RejectReason) in try validate(topic: "tenant/t1/device/d1", Array("{".utf8), limiter: &limiter) }
        assertRejects(.unsupportedMsgType) { () throws(RejectReason) in try validate(topic: "tenant/t1/device/d1/x", Array("{".utf8), limiter: &limiter) }
    }

    func testRateLimitBeforeJSON() {
        var limiter = RateLimiter(ratePerSecond: 1, burst: 2, maxDevices: 10)
        XCTAssertNoThrow(try validate(Array(good.utf8), limiter: &limiter))
        assertRejects(.badJSON) { () throws(RejectReason) in try validate(Array("{".utf8), limiter: &limiter) }
        assertRejects(.rateLimited) { () throws(RejectReason) in try validate(Array("{".utf8), limiter: &limiter) }
        assertRejects(.rateLimited) { () throws(RejectReason) in try validate(Array(good.utf8), limiter: &limiter) }
        // Another device has its own bucket; one second later this one has a token again.
        XCTAssertNoThrow(try validate(topic: "tenant/t1/device/d2/telemetry", Array(good.utf8), limiter: &limiter))
        XCTAssertNoThrow(try validate(Array(good.utf8), limiter: &limiter, now: 1_000_000_000))
    }

    func testEnvelopeReasonsPropagate() {
        assertRejects(.badJSON) { () throws(RejectReason) in try validate("not json") }
        assertRejects(.unsupportedEnvelopeVersion) { () throws(RejectReason) in try validate(#"{"version":"2","site_id":"s1","seq":1}"#) }
        assertRejects(.badTimestamp) { () throws(RejectReason) in try validate(#"{"ts":"x","site_id":"s1","seq":1}"#) }
        assertRejects(.tooManyMetrics) { () throws(RejectReason) in
            try validate(Fixtures.envelope(metrics: "{" + (0...50).map { #""k\#($0)":1"# }.joined(separator: ",") + "}"))
        }
        assertRejects(.metricKeyTooLong) { () throws(RejectReason) in
            try validate(Fixtures.envelope(metrics: #"{"\#(String(repeating: "k", count: 129))":1}"#))
        }
        assertRejects(.metricKeyInvalid) { () throws(RejectReason) in try validate(Fixtures.envelope(metrics: #"{"":1}"#)) }
    }

    func testTenantMismatch() throws {
        XCTAssertNoThrow(try validate(#"{"tenant_id":"t1","site_id":"s1","seq":1}"#))
        XCTAssertNoThrow(try validate(#"{"tenant_id":null,"site_id":"s1","seq":1}"#))
        assertRejects(.tenantMismatchTopicVsPayload) { () throws(RejectReason) in try validate(#"{"tenant_id":"t2","site_id":"s1","seq":1}"#) }
        assertRejects(.tenantMismatchTopicVsPayload) { () throws(RejectReason) in try validate(#"{"tenant_id":"","site_id":"s1","seq":1}"#) }
        assertRejects(.tenantMismatchTopicVsPayload) { () throws(RejectReason) in try validate(#"{"tenant_id":"T1","site_id":"s1","seq":1}"#) }
        // Tenant is checked before the site.
        assertRejects(.tenantMismatchTopicVsPayload) { () throws(RejectReason) in try validate(#"{"tenant_id":"t2","seq":1}"#) }
        let numeric = try validate(topic: "tenant/42/device/d1/telemetry", #"{"tenant_id":42,"site_id":"s1","seq":1}"#)
        XCTAssertEqual(numeric.address.tenantID, "42")
    }

    func testMissingSite() throws {
        assertRejects(.missingSiteID) { () throws(RejectReason) in try validate(#"{"seq":1}"#) }
        assertRejects(.missingSiteID) { () throws(RejectReason) in try validate(#"{"site_id":null,"seq":1}"#) }
        assertRejects(.missingSiteID) { () throws(RejectReason) in try validate(#"{"site_id":"","seq":1}"#) }
        XCTAssertEqual(try validate(#"{"site_id":12,"seq":1}"#).siteID, "12")
    }

    func testSiteLineProtocolCannotCarryIsMissingSite() {
        for site in [#"s1\\"#, #"a\\ b"#, #"a\\,b"#, #"a\\=b"#, #"a\\\"b"#, #"a\nb"#, #"a\u0000"#] {
            assertRejects(.missingSiteID, site) { () throws(RejectReason) in try validate(#"{"site_id":"\#(site)","seq":1}"#) }
        }
        XCTAssertNoThrow(try validate(#"{"site_id":"a\\b c,d=e","seq":1}"#))
    }
}
