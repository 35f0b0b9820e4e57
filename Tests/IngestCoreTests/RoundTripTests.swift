import IngestCore
import XCTest

/// Encode hostile names and values, read them back with an independent parser, compare.
final class RoundTripTests: XCTestCase {
    let hostileNames = [
        "plain", "with space", "comma,here", "equals=here", "all ,= three", "back\\slash", "\\leading",
        "mid\\dle\\x", "quote\"inside", "\"quoted\"", "ünïcödé", "emoji🚀", "日本語", "tab-free", "a=b,c d",
        "x\\y z", "#hash", "'single'", "trailing space ", " leading space", "i", "t", "true", "1",
    ]
    let hostileStrings = [
        "", "plain", "with \"quotes\"", "back\\slash", "ends with backslash\\", "\\\"", "\\\\", "\"", "a,b=c d",
        "emoji🚀", "tab\there", "NUL\u{0}byte", "unicode ünïcödé 日本語", " ", "i", "1i", "true",
    ]

    func testHostileNamesAndValuesDirect() throws {
        let encoder = LineProtocolEncoder(tenantAsTag: true)
        var generator = SplitMix64(seed: 1)
        for (index, name) in hostileNames.enumerated() {
            var metrics: [Metric] = [Metric(key: name, value: .float(Double(index) + 0.25))]
            for (offset, text) in hostileStrings.enumerated() {
                metrics.append(Metric(key: "\(name)#\(offset)", value: .string(text)))
            }
            metrics.append(Metric(key: "\(name)#int", value: .integer(Int64(bitPattern: generator.next()))))
            metrics.append(Metric(key: "\(name)#float", value: .float(Double(bitPattern: generator.next() & 0x7FEF_FFFF_FFFF_FFFF))))
            metrics.append(Metric(key: "\(name)#bool", value: .boolean(index % 2 == 0)))
            let message = Fixtures.message(
                type: "m " + name.replacingOccurrences(of: "\\", with: "/"),
                tenant: name, device: name, site: hostileNames[(index + 1) % hostileNames.count],
                seq: Int64(index), timestamp: 1_770_628_523_045_000_000 + Int64(index), metrics: metrics
            )
            var buffer: [UInt8] = []
            XCTAssertEqual(try encoder.append(message, receivedAtNanos: 0, to: &buffer), 0)
            let line = try LineProtocolTestParser.parse(buffer)
            assertLine(line, matches: message, tenantAsTag: true)
        }
    }

    func testHostileNamesThroughJSON() throws {
        for (index, name) in hostileNames.enumerated() {
            let metricsJSON = "{" + ([Fixtures.jsonString(name) + ":1.5"] + hostileStrings.enumerated().map {
                Fixtures.jsonString("\(name)#\($0.offset)") + ":" + Fixtures.jsonString($0.element)
            }).joined(separator: ",") + "}"
            let json = #"{"site_id":\#(Fixtures.jsonString(name)),"seq":\#(index),"ts":"2026-02-09T09:15:23.045Z","metrics":\#(metricsJSON)}"#
            let topicSafe = name.replacingOccurrences(of: "/", with: "_")
            let message = try Fixtures.validate(topic: "tenant/\(topicSafe)/device/\(topicSafe)/telemetry", json)
            var buffer: [UInt8] = []
            try LineProtocolEncoder().append(message, receivedAtNanos: 0, to: &buffer)
            let line = try LineProtocolTestParser.parse(buffer)
            assertLine(line, matches: message, tenantAsTag: false)
            XCTAssertEqual(line.tags["site_id"], name)
            XCTAssertEqual(line.field(name), .float(1.5))
            for (offset, text) in hostileStrings.enumerated() {
                XCTAssertEqual(line.field("\(name)#\(offset)"), .string(text), "\(name) \(offset)")
            }
        }
    }

    func testFloatsReadBackExactly() throws {
        var generator = SplitMix64(seed: 99)
        var metrics: [Metric] = []
        let specials: [Double] = [0, -0.0, 1e-05, 1e+20, 1e21, 1e-7, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                  .leastNormalMagnitude, 0.1, 1.0 / 3.0, 20, 123456789012345680, 2.5e-300]
        for (index, value) in specials.enumerated() { metrics.append(Metric(key: "s\(index)", value: .float(value))) }
        for index in 0..<500 {
            var value = Double(bitPattern: generator.next())
            if !value.isFinite { value = Double(index) }
            metrics.append(Metric(key: "r\(index)", value: .float(value)))
        }
        var buffer: [UInt8] = []
        try LineProtocolEncoder().append(Fixtures.message(metrics: metrics), receivedAtNanos: 0, to: &buffer)
        let line = try LineProtocolTestParser.parse(buffer)
        for metric in metrics {
            guard case .float(let expected) = metric.value, case .float(let actual)? = line.field(metric.key) else {
                XCTFail(metric.key)
                continue
            }
            XCTAssertEqual(actual.bitPattern, expected.bitPattern, "\(expected)")
        }
    }

    private func assertLine(_ line: LineProtocolTestParser.Line, matches message: ValidatedMessage, tenantAsTag: Bool,
                            file: StaticString = #filePath, lineNumber: UInt = #line) {
        XCTAssertEqual(line.measurement, message.address.messageType, file: file, line: lineNumber)
        var tags = ["device_id": message.address.deviceID, "site_id": message.siteID]
        if tenantAsTag { tags["tenant_id"] = message.address.tenantID }
        XCTAssertEqual(line.tags, tags, file: file, line: lineNumber)
        XCTAssertEqual(line.fields.first?.key, "seq", file: file, line: lineNumber)
        XCTAssertEqual(line.fields.first?.value, .integer(message.envelope.seq), file: file, line: lineNumber)
        let expected = message.envelope.metrics.map { metric -> (String, LineProtocolTestParser.FieldValue) in
            switch metric.value {
            case .float(let value): (metric.key, .float(value))
            case .integer(let value): (metric.key, .integer(value))
            case .boolean(let value): (metric.key, .boolean(value))
            case .string(let value): (metric.key, .string(value))
            }
        }
        XCTAssertEqual(line.fields.dropFirst().map(\.key), expected.map(\.0), file: file, line: lineNumber)
        XCTAssertEqual(line.fields.dropFirst().map(\.value), expected.map(\.1), file: file, line: lineNumber)
        XCTAssertEqual(line.timestamp, message.envelope.timestampNanos, file: file, line: lineNumber)
    }
}
