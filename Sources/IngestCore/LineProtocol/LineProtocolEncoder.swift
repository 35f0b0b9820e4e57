/// Writes one validated message as one line of InfluxDB line protocol:
///
///     <msg_type>,device_id=<d>,site_id=<s>[,tenant_id=<t>] seq=<n>i[,<metric>=<value>…] <ns>\n
///
/// Tags are sorted by key (the order InfluxDB wants) and omitted when empty; `seq` is always the
/// first field, metrics follow in payload order. Floats use Swift's shortest round-trip form
/// (`21.5`, `20.0`, `1e-05`, `1e+20`), which the InfluxDB parsers read back to the same Double;
/// integers get the `i` suffix; strings are quoted with `"` and `\` escaped. The timestamp is the
/// envelope's, else the receipt time, in nanoseconds.
///
/// `ValidatedMessage` can be built by hand, so the encoder re-checks what stage 1 guarantees, in
/// the same pass that writes: an unrepresentable measurement or id is `BAD_TOPIC_FORMAT`, site id
/// `MISSING_SITE_ID`, metric key `METRIC_KEY_INVALID`; the buffer is then left as it was.
/// Metrics named like a tag, `seq` or `time`, strings with line breaks and non-finite floats are
/// skipped and counted.
public struct LineProtocolEncoder: Sendable {
    public let tenantAsTag: Bool

    public init(tenantAsTag: Bool = false) {
        self.tenantAsTag = tenantAsTag
    }

    /// Appends exactly one line ending in `\n`; returns the number of skipped fields
    /// (the envelope's `skippedFields` plus any the encoder itself had to leave out).
    @discardableResult
    public func append(
        _ message: ValidatedMessage,
        receivedAtNanos: Int64,
        to buffer: inout [UInt8]
    ) throws(RejectReason) -> Int {
        let start = buffer.count
        do {
            return try write(message, receivedAtNanos: receivedAtNanos, to: &buffer)
        } catch {
            buffer.removeSubrange(start...)
            throw error
        }
    }

    private func write(
        _ message: ValidatedMessage,
        receivedAtNanos: Int64,
        to buffer: inout [UInt8]
    ) throws(RejectReason) -> Int {
        let address = message.address
        guard LineProtocolText.appendMeasurement(address.messageType, to: &buffer) else { throw .badTopicFormat }
        try appendTag("device_id", address.deviceID, orThrow: .badTopicFormat, to: &buffer)
        try appendTag("site_id", message.siteID, orThrow: .missingSiteID, to: &buffer)
        if tenantAsTag {
            try appendTag("tenant_id", address.tenantID, orThrow: .badTopicFormat, to: &buffer)
        }
        let envelope = message.envelope
        buffer.append(literal: " seq=")
        LineProtocolText.appendDecimal(envelope.seq, to: &buffer)
        buffer.append(UInt8(ascii: "i"))
        var skipped = envelope.skippedFields
        let metrics = envelope.metrics
        // Through the subscript, not `for metric in`: that copies each Metric, and copying and
        // destroying one costs more than writing a float field.
        for index in metrics.indices {
            if Self.isReserved(metrics[index].name) {
                skipped += 1
                continue
            }
            switch metrics[index].value {
            case .float(let value) where !value.isFinite:
                skipped += 1
                continue
            case .string(let text) where LineProtocolText.containsLineBreak(text):
                skipped += 1
                continue
            default:
                break
            }
            buffer.append(UInt8(ascii: ","))
            guard LineProtocolText.appendName(metrics[index].name, to: &buffer) else { throw .metricKeyInvalid }
            buffer.append(UInt8(ascii: "="))
            switch metrics[index].value {
            case .float(let value):
                FloatText.append(value, to: &buffer)
            case .integer(let value):
                LineProtocolText.appendDecimal(value, to: &buffer)
                buffer.append(UInt8(ascii: "i"))
            case .boolean(let value):
                buffer.append(literal: value ? "true" : "false")
            case .string(let text):
                LineProtocolText.appendQuoted(text, to: &buffer)
            }
        }
        buffer.append(UInt8(ascii: " "))
        LineProtocolText.appendDecimal(envelope.timestampNanos ?? receivedAtNanos, to: &buffer)
        buffer.append(UInt8(ascii: "\n"))
        return skipped
    }

    private func appendTag(
        _ key: StaticString,
        _ value: String,
        orThrow reason: RejectReason,
        to buffer: inout [UInt8]
    ) throws(RejectReason) {
        // InfluxDB has no empty tag values: an absent tag is the way to say "none".
        guard !value.isEmpty else { return }
        buffer.append(UInt8(ascii: ","))
        buffer.append(literal: key)
        buffer.append(UInt8(ascii: "="))
        guard LineProtocolText.appendName(value, to: &buffer) else { throw reason }
    }

    /// By bytes: no other spelling of these ASCII names has as many UTF-8 bytes, so this agrees
    /// with comparing Strings of the same length.
    static func isReserved(_ name: MetricName) -> Bool {
        // By length first: most keys are none of these lengths.
        switch name.count {
        case 3: name.hasSameBytes(as: "seq")
        case 4: name.hasSameBytes(as: "time")
        case 7: name.hasSameBytes(as: "site_id")
        case 9: name.hasSameBytes(as: "device_id") || name.hasSameBytes(as: "tenant_id")
        default: false
        }
    }
}
