/// Decodes the JSON envelope straight from the payload bytes.
///
/// The whole document is validated (RFC 8259, UTF-8, nesting up to 64 levels); syntax errors are
/// `BAD_JSON` at once. Semantic problems are collected during the single pass and reported
/// afterwards in the contract's order: `UNSUPPORTED_ENVELOPE_VERSION`, `BAD_TIMESTAMP`,
/// `TOO_MANY_METRICS`, `METRIC_KEY_TOO_LONG`, `METRIC_KEY_INVALID`.
///
/// Envelope fields:
/// - `version`: `"1"`, `1` or `1.0` (any number equal to 1); missing or null means `"1"`; anything
///   else is `UNSUPPORTED_ENVELOPE_VERSION`.
/// - `ts`: see `TimestampParser`; missing or null means "use the receipt time"; another type is `BAD_TIMESTAMP`.
/// - `seq`: a JSON integer in Int64 range, or a string holding one (`"42"`, strict JSON integer
///   syntax), because devices ported from the Python service sometimes send it quoted. Missing or
///   null means 0 (the contract's default); fractional, out of range or another type is `BAD_JSON`.
/// - `site_id`, `tenant_id`: string, number (kept as its literal text, `12` → `"12"`) or null.
/// - `provision_token`: string or null.
/// - `metrics`: object or null/missing (heartbeats).
/// Any other type for these fields, a repeated envelope key, and a metric key repeating a metric
/// that would be written, is `BAD_JSON`:
/// the payload is ambiguous and guessing would write wrong data. Unknown top-level keys are ignored.
///
/// Metrics: every key counts toward `maxMetricKeys`; keys are checked for length (UTF-8 bytes)
/// and representability (non-empty, no control characters, no backslash line protocol cannot
/// carry). Numbers become float fields (integer fields with `integersAsIntegers` when the literal
/// is an integer that fits Int64); a number beyond Double's range (`1e400`) is `BAD_JSON`.
/// Booleans and strings are kept; `null` is dropped silently. Nested objects/arrays, metrics named
/// `device_id`, `site_id`, `tenant_id`, `seq` or `time`, and strings containing a line break (line
/// protocol cannot carry one, even quoted) are left out and counted in `skippedFields`.
public struct EnvelopeDecoder: Sendable {
    public let limits: EnvelopeLimits

    public init(limits: EnvelopeLimits = EnvelopeLimits()) {
        self.limits = limits
    }

    public func decode(_ payload: [UInt8]) throws(RejectReason) -> Envelope {
        try payload.withUnsafeBytes { raw in
            Result { () throws(RejectReason) -> Envelope in try decode(raw) }
        }.get()
    }

    private enum Field {
        case version, ts, siteID, tenantID, seq, provisionToken, metrics, other

        var bit: UInt8 {
            switch self {
            case .version: 1
            case .ts: 2
            case .siteID: 4
            case .tenantID: 8
            case .seq: 16
            case .provisionToken: 32
            case .metrics: 64
            case .other: 0
            }
        }
    }

    public func decode(_ payload: UnsafeRawBufferPointer) throws(RejectReason) -> Envelope {
        var reader = JSONReader(bytes: payload)
        try reader.expect(UInt8(ascii: "{"))

        var versionSupported = true
        var timestampValid = true
        var timestampNanos: Int64?
        var siteID: String?
        var tenantID: String?
        var seq: Int64?
        var provisionToken: String?
        var collector = MetricCollector(limits: limits)
        var seen: UInt8 = 0

        if !reader.consume(UInt8(ascii: "}")) {
            repeat {
                reader.skipWhitespace()
                try reader.readString()
                let field = Self.field(of: reader)
                if field.bit != 0 {
                    guard seen & field.bit == 0 else { throw .badJSON }
                    seen |= field.bit
                }
                try reader.expect(UInt8(ascii: ":"))
                switch field {
                case .version:
                    versionSupported = try Self.readVersion(&reader)
                case .ts:
                    switch try reader.peekKind() {
                    case .null:
                        try reader.readNull()
                    case .string:
                        try reader.readString()
                        do {
                            timestampNanos = try reader.withLastString { raw throws(RejectReason) in
                                try TimestampParser.parse(utf8: raw)
                            }
                        } catch {
                            timestampValid = false
                        }
                    case .number:
                        let token = try reader.readNumber()
                        do {
                            timestampNanos = try TimestampParser.epochNanos(number: reader.slice(token))
                        } catch {
                            timestampValid = false
                        }
                    default:
                        try reader.skipValue(depth: 2)
                        timestampValid = false
                    }
                case .siteID:
                    siteID = try Self.readText(&reader)
                case .tenantID:
                    tenantID = try Self.readText(&reader)
                case .seq:
                    seq = try Self.readSeq(&reader)
                case .provisionToken:
                    switch try reader.peekKind() {
                    case .null: try reader.readNull()
                    case .string:
                        try reader.readString()
                        provisionToken = reader.lastString()
                    default: throw .badJSON
                    }
                case .metrics:
                    switch try reader.peekKind() {
                    case .null: try reader.readNull()
                    case .object: try collector.readMetrics(&reader)
                    default: throw .badJSON
                    }
                case .other:
                    try reader.skipValue(depth: 2)
                }
            } while reader.consume(UInt8(ascii: ","))
            try reader.expect(UInt8(ascii: "}"))
        }
        reader.skipWhitespace()
        guard reader.isAtEnd else { throw .badJSON }
        guard versionSupported else { throw .unsupportedEnvelopeVersion }
        guard timestampValid else { throw .badTimestamp }
        if let problem = collector.problem { throw problem }
        return Envelope(
            version: "1",
            timestampNanos: timestampNanos,
            siteID: siteID,
            tenantID: tenantID,
            seq: seq ?? 0,
            provisionToken: provisionToken,
            metrics: collector.metrics,
            skippedFields: collector.skipped
        )
    }

    private static func field(of reader: JSONReader) -> Field {
        // Length and first byte leave at most one candidate: one comparison per key.
        switch (reader.lastStringCount, reader.lastStringFirstByte) {
        case (2, UInt8(ascii: "t")) where reader.lastStringEquals("ts"): .ts
        case (3, UInt8(ascii: "s")) where reader.lastStringEquals("seq"): .seq
        case (7, UInt8(ascii: "v")) where reader.lastStringEquals("version"): .version
        case (7, UInt8(ascii: "s")) where reader.lastStringEquals("site_id"): .siteID
        case (7, UInt8(ascii: "m")) where reader.lastStringEquals("metrics"): .metrics
        case (9, UInt8(ascii: "t")) where reader.lastStringEquals("tenant_id"): .tenantID
        case (15, UInt8(ascii: "p")) where reader.lastStringEquals("provision_token"): .provisionToken
        default: .other
        }
    }

    private static func readVersion(_ reader: inout JSONReader) throws(RejectReason) -> Bool {
        switch try reader.peekKind() {
        case .null:
            try reader.readNull()
            return true
        case .string:
            try reader.readString()
            return reader.lastStringEquals("1")
        case .number:
            let token = try reader.readNumber()
            return try reader.double(token) == 1
        default:
            try reader.skipValue(depth: 2)
            return false
        }
    }

    /// String, number (its literal text) or null.
    private static func readText(_ reader: inout JSONReader) throws(RejectReason) -> String? {
        switch try reader.peekKind() {
        case .null:
            try reader.readNull()
            return nil
        case .string:
            try reader.readString()
            return reader.lastString()
        case .number:
            return reader.numberText(try reader.readNumber())
        default:
            throw .badJSON
        }
    }

    private static func readSeq(_ reader: inout JSONReader) throws(RejectReason) -> Int64? {
        switch try reader.peekKind() {
        case .null:
            try reader.readNull()
            return nil
        case .number:
            guard let value = reader.int64(try reader.readNumber()) else { throw .badJSON }
            return value
        case .string:
            try reader.readString()
            let value = try reader.withLastString { raw -> Int64? in
                guard let scanned = JSONReader.scanNumber(raw, from: 0),
                      scanned.end == raw.count, scanned.isInteger
                else { return nil }
                return JSONReader.parseInt64(raw)
            }
            guard let value else { throw .badJSON }
            return value
        default:
            throw .badJSON
        }
    }
}
