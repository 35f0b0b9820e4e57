import IngestCore
import XCTest

/// Shared builders for the IngestCore tests.
enum Fixtures {
    static let messageTypes: Set<String> = ["telemetry", "heartbeat", "status"]
    static let topicParser = TopicParser(allowedMessageTypes: messageTypes)

    static func decoder(_ limits: EnvelopeLimits = EnvelopeLimits()) -> EnvelopeDecoder {
        EnvelopeDecoder(limits: limits)
    }

    static func validator(maxPayloadBytes: Int = 8192, limits: EnvelopeLimits = EnvelopeLimits()) -> MessageValidator {
        MessageValidator(maxPayloadBytes: maxPayloadBytes, topicParser: topicParser, decoder: decoder(limits))
    }

    static func decode(_ json: String, limits: EnvelopeLimits = EnvelopeLimits()) throws(RejectReason) -> Envelope {
        try decoder(limits).decode(Array(json.utf8))
    }

    static func validate(
        topic: String = "tenant/t1/device/d1/telemetry",
        _ json: String,
        limits: EnvelopeLimits = EnvelopeLimits()
    ) throws(RejectReason) -> ValidatedMessage {
        var limiter = RateLimiter(ratePerSecond: 0, burst: 0, maxDevices: 1)
        return try validator(limits: limits).validate(topic: topic, payload: Array(json.utf8), rateLimiter: &limiter, now: 0)
    }

    /// Validates and encodes, returning the line without its final newline.
    static func line(
        topic: String = "tenant/t1/device/d1/telemetry",
        _ json: String,
        limits: EnvelopeLimits = EnvelopeLimits(),
        tenantAsTag: Bool = false,
        receivedAt: Int64 = 1_000
    ) throws(RejectReason) -> String {
        let message = try validate(topic: topic, json, limits: limits)
        var buffer: [UInt8] = []
        _ = try LineProtocolEncoder(tenantAsTag: tenantAsTag).append(message, receivedAtNanos: receivedAt, to: &buffer)
        XCTAssertEqual(buffer.last, UInt8(ascii: "\n"))
        return String(decoding: buffer.dropLast(), as: UTF8.self)
    }

    /// A minimal valid envelope with `metrics` spliced in as raw JSON.
    static func envelope(metrics: String, extra: String = "") -> String {
        #"{"version":"1","site_id":"s1","seq":1\#(extra),"metrics":\#(metrics)}"#
    }

    static func message(
        type: String = "telemetry",
        tenant: String = "t1",
        device: String = "d1",
        site: String = "s1",
        seq: Int64 = 1,
        timestamp: Int64? = 5,
        metrics: [Metric] = []
    ) -> ValidatedMessage {
        ValidatedMessage(
            address: TopicAddress(tenantID: tenant, deviceID: device, messageType: type),
            envelope: Envelope(timestampNanos: timestamp, siteID: site, seq: seq, metrics: metrics),
            siteID: site
        )
    }

    /// `text` as a JSON string literal, escaping what JSON requires (and a few more, as `\u` escapes).
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
