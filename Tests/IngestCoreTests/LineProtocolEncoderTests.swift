import IngestCore
import XCTest

final class LineProtocolEncoderTests: XCTestCase {
    private func encode(_ message: ValidatedMessage, tenantAsTag: Bool = false, receivedAt: Int64 = 99) throws(RejectReason) -> String {
        var buffer: [UInt8] = []
        _ = try LineProtocolEncoder(tenantAsTag: tenantAsTag).append(message, receivedAtNanos: receivedAt, to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    func testDesignExampleByteForByte() throws {
        let telemetry = #"{"version":"1","ts":"2026-02-09T09:15:23.045Z","site_id":"s1","tenant_id":"t1","seq":42,"provision_token":"tok","metrics":{"temp_c":21.5,"door_open":false}}"#
        let heartbeat = #"{"version":"1","ts":"2026-02-09T09:15:24Z","site_id":"s1","seq":43}"#
        var buffer: [UInt8] = []
        let encoder = LineProtocolEncoder(tenantAsTag: false)
        for (type, json) in [("telemetry", telemetry), ("heartbeat", heartbeat)] {
            let message = try Fixtures.validate(topic: "tenant/t1/device/d1/\(type)", json)
            XCTAssertEqual(try encoder.append(message, receivedAtNanos: 0, to: &buffer), 0)
        }
        XCTAssertEqual(
            buffer,
            Array("""
            telemetry,device_id=d1,site_id=s1 seq=42i,temp_c=21.5,door_open=false 1770628523045000000
            heartbeat,device_id=d1,site_id=s1 seq=43i 1770628524000000000

            """.utf8)
        )
    }

    func testReceiptTimeWhenNoTimestamp() throws {
        XCTAssertEqual(try encode(Fixtures.message(timestamp: nil), receivedAt: 1234), "telemetry,device_id=d1,site_id=s1 seq=1i 1234\n")
    }

    func testTenantTagSortedLast() throws {
        XCTAssertEqual(try encode(Fixtures.message(tenant: "acme"), tenantAsTag: true), "telemetry,device_id=d1,site_id=s1,tenant_id=acme seq=1i 5\n")
    }

    func testEmptyTagValuesAreOmitted() throws {
        XCTAssertEqual(try encode(Fixtures.message(tenant: "", site: ""), tenantAsTag: true), "telemetry,device_id=d1 seq=1i 5\n")
    }

    func testValueFormats() throws {
        let metrics = [
            Metric(key: "f", value: .float(21.5)), Metric(key: "whole", value: .float(20)),
            Metric(key: "small", value: .float(1e-05)), Metric(key: "big", value: .float(1e20)),
            Metric(key: "neg", value: .float(-0.1)), Metric(key: "i", value: .integer(-42)),
            Metric(key: "imax", value: .integer(.min)), Metric(key: "t", value: .boolean(true)),
            Metric(key: "s", value: .string("a \"quoted\" \\ back\\slash, = ok")),
        ]
        XCTAssertEqual(
            try encode(Fixtures.message(seq: -7, metrics: metrics)),
            #"telemetry,device_id=d1,site_id=s1 seq=-7i,f=21.5,whole=20.0,small=1e-05,big=1e+20,neg=-0.1,i=-42i,imax=-9223372036854775808i,t=true,s="a \"quoted\" \\ back\\slash, = ok" 5"# + "\n"
        )
    }

    func testEscapingOfNamesAndTags() throws {
        let message = Fixtures.message(
            type: "my meas,ure=x", device: "d 1,=x\\y", site: "sité 🚀",
            metrics: [Metric(key: "a b,c=d\\e", value: .float(1))]
        )
        XCTAssertEqual(
            try encode(message),
            #"my\ meas\,ure=x,device_id=d\ 1\,\=x\y,site_id=sité\ 🚀 seq=1i,a\ b\,c\=d\e=1.0 5"# + "\n"
        )
    }

    func testUnrepresentableNamesAreRefusedAndBufferRestored() {
        let cases: [(ValidatedMessage, RejectReason)] = [
            (Fixtures.message(device: "ends\\"), .badTopicFormat),
            (Fixtures.message(device: "a\\ b"), .badTopicFormat),
            (Fixtures.message(device: "new\nline"), .badTopicFormat),
            (Fixtures.message(type: "bad\\"), .badTopicFormat),
            (Fixtures.message(site: "ends\\"), .missingSiteID),
            (Fixtures.message(site: "a\\=b"), .missingSiteID),
            (Fixtures.message(site: "cr\r"), .missingSiteID),
            (Fixtures.message(metrics: [Metric(key: "ok", value: .float(1)), Metric(key: "k\\", value: .float(1))]), .metricKeyInvalid),
            (Fixtures.message(metrics: [Metric(key: "", value: .float(1))]), .metricKeyInvalid),
            (Fixtures.message(metrics: [Metric(key: "a\u{1}", value: .float(1))]), .metricKeyInvalid),
        ]
        for (message, reason) in cases {
            var buffer = Array("previous line\n".utf8)
            assertRejects(reason, "\(message.address) \(message.siteID)") { () throws(RejectReason) in
                try LineProtocolEncoder(tenantAsTag: false).append(message, receivedAtNanos: 0, to: &buffer)
            }
            XCTAssertEqual(buffer, Array("previous line\n".utf8))
        }
        var buffer: [UInt8] = []
        assertRejects(.badTopicFormat) { () throws(RejectReason) in
            try LineProtocolEncoder(tenantAsTag: true).append(Fixtures.message(tenant: "t\\"), receivedAtNanos: 0, to: &buffer)
        }
    }

    func testEncoderSkipsWhatCannotBeWrittenAndCounts() throws {
        var message = Fixtures.message(metrics: [
            Metric(key: "seq", value: .float(1)), Metric(key: "time", value: .float(1)),
            Metric(key: "device_id", value: .string("x")), Metric(key: "nan", value: .float(.nan)),
            Metric(key: "inf", value: .float(-.infinity)), Metric(key: "nl", value: .string("a\nb")),
            Metric(key: "kept", value: .boolean(false)),
        ])
        message.envelope.skippedFields = 2
        var buffer: [UInt8] = []
        let skipped = try LineProtocolEncoder().append(message, receivedAtNanos: 0, to: &buffer)
        XCTAssertEqual(skipped, 8)
        XCTAssertEqual(String(decoding: buffer, as: UTF8.self), "telemetry,device_id=d1,site_id=s1 seq=1i,kept=false 5\n")
    }

    func testSkippedFieldsFromDecoderAreReturned() throws {
        let message = try Fixtures.validate(Fixtures.envelope(metrics: #"{"a":{"x":1},"seq":3,"b":[],"c":1}"#))
        var buffer: [UInt8] = []
        XCTAssertEqual(try LineProtocolEncoder().append(message, receivedAtNanos: 0, to: &buffer), 3)
    }

    func testIntegerFieldsWithMetricsIntegers() throws {
        let line = try Fixtures.line(Fixtures.envelope(metrics: #"{"n":20,"big":18446744073709551616,"f":2.5}"#), limits: EnvelopeLimits(integersAsIntegers: true))
        XCTAssertEqual(line, "telemetry,device_id=d1,site_id=s1 seq=1i,n=20i,big=1.8446744073709552e+19,f=2.5 1000")
        let floats = try Fixtures.line(Fixtures.envelope(metrics: #"{"n":20}"#))
        XCTAssertEqual(floats, "telemetry,device_id=d1,site_id=s1 seq=1i,n=20.0 1000")
    }

    func testAppendsToExistingBufferAndReusesIt() throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        let encoder = LineProtocolEncoder()
        for seq in 0..<10 {
            try encoder.append(Fixtures.message(seq: Int64(seq)), receivedAtNanos: 0, to: &buffer)
        }
        let lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, 10)
        XCTAssertEqual(lines[9], "telemetry,device_id=d1,site_id=s1 seq=9i 5")
    }
}
