/// Reads the `metrics` object for `EnvelopeDecoder`, keeping the worst limit violation seen
/// instead of throwing it, so the decoder can report problems in the contract's order.
struct MetricCollector {
    let limits: EnvelopeLimits
    var metrics: [Metric] = []
    var skipped = 0
    private var keyCount = 0
    private var tooMany = false
    private var tooLong = false
    private var invalid = false

    init(limits: EnvelopeLimits) {
        self.limits = limits
    }

    var problem: RejectReason? {
        if tooMany { return .tooManyMetrics }
        if tooLong { return .metricKeyTooLong }
        if invalid { return .metricKeyInvalid }
        return nil
    }

    /// Names that would collide with the tags or the `seq` field, or that InfluxDB reserves.
    static func isReserved(_ reader: JSONReader) -> Bool {
        switch (reader.lastStringCount, reader.lastStringFirstByte) {
        case (3, UInt8(ascii: "s")): return reader.lastStringEquals("seq")
        case (4, UInt8(ascii: "t")): return reader.lastStringEquals("time")
        case (7, UInt8(ascii: "s")): return reader.lastStringEquals("site_id")
        case (9, UInt8(ascii: "d")): return reader.lastStringEquals("device_id")
        case (9, UInt8(ascii: "t")): return reader.lastStringEquals("tenant_id")
        default: return false
        }
    }

    mutating func readMetrics(_ reader: inout JSONReader) throws(RejectReason) {
        try reader.expect(UInt8(ascii: "{"))
        if reader.consume(UInt8(ascii: "}")) { return }
        if metrics.capacity == 0 { metrics.reserveCapacity(8) }
        repeat {
            reader.skipWhitespace()
            try reader.readString()
            keyCount += 1
            var keep = true
            if keyCount > limits.maxMetricKeys {
                tooMany = true
                keep = false
            }
            if reader.lastStringCount > limits.maxMetricKeyBytes {
                tooLong = true
                keep = false
            }
            if !reader.lastStringIsRepresentableName() {
                invalid = true
                keep = false
            }
            let reserved = keep && Self.isReserved(reader)
            if reserved { keep = false }
            // The key must be copied before reading the value replaces the last string.
            let name: MetricName? = keep ? reader.lastMetricName() : nil
            try reader.expect(UInt8(ascii: ":"))
            let value: MetricValue?
            var counts = true
            switch try reader.peekKind() {
            case .null:
                try reader.readNull()
                value = nil
                counts = false
            case .bool:
                value = .boolean(try reader.readBool())
            case .number:
                let token = try reader.readNumber()
                if limits.integersAsIntegers, let integer = reader.int64(token) {
                    value = .integer(integer)
                } else {
                    value = .float(try reader.double(token))
                }
            case .string:
                try reader.readString()
                if keep {
                    let text = reader.lastString()
                    value = LineProtocolText.containsLineBreak(text) ? nil : .string(text)
                } else {
                    value = nil
                }
            case .object, .array:
                try reader.skipValue(depth: 3)
                value = nil
            }
            guard let name else {
                if reserved { skipped += 1 }
                continue
            }
            guard let value else {
                if counts { skipped += 1 }
                continue
            }
            if metrics.contains(where: { $0.name.isSameKey(as: name) }) { throw .badJSON }
            metrics.append(Metric(name: name, value: value))
        } while reader.consume(UInt8(ascii: ","))
        try reader.expect(UInt8(ascii: "}"))
    }
}
