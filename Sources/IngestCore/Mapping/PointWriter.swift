/// Writes the points of one message for a non-envelope rule into `scratch.output`:
///
///     <measurement>[,<tag>=<value>…] <field>=<value>[,…] <ns>\n
///
/// one line per message, or per element of `readings`. Tags are written in key order (the
/// compiler sorted them) and left out when their value is absent or cannot be written (counted
/// with the skipped fields). A message that ends up with no field is `NO_FIELDS`.
struct PointWriter {
    let rule: MappingRule
    let limits: EnvelopeLimits
    /// INFLUXDB_DB_TEMPLATE has no `{tenant_id}` and the rule names no database: tenants share one
    /// database, told apart by a `tenant_id` tag (as for the envelope).
    let tenantTag: Bool
    private var skipped = 0

    init(rule: MappingRule, limits: EnvelopeLimits, tenantTag: Bool) {
        self.rule = rule
        self.limits = limits
        self.tenantTag = tenantTag
    }

    mutating func write(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, receivedAtNanos: Int64, scratch: inout MappingScratch
    ) throws(RejectReason) -> (lines: Int, skipped: Int) {
        switch rule.payload {
        case .envelope:
            preconditionFailure("the envelope rule is validated by MessageValidator")
        case .lineProtocol:
            let lines = try LineProtocolPassThrough.append(payload, receivedAtNanos: scratch.receiptTime(receivedAtNanos),
                                                           to: &scratch.output)
            return (lines, 0)
        case .value:
            scratch.resetSlots(count: rule.slotCount)
            scratch.strings.removeAll(keepingCapacity: true)
            try writeSeries(topic: topic, payload: payload, scratch: &scratch)
            try writeValue(topic: topic, payload: payload, scratch: &scratch)
            try appendLine(timestamp: scratch.receiptTime(receivedAtNanos), scratch: &scratch)
            return (1, skipped)
        case .json:
            return try writeJSON(topic: topic, payload: payload, receivedAtNanos: receivedAtNanos, scratch: &scratch)
        }
    }

    private mutating func writeJSON(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, receivedAtNanos: Int64, scratch: inout MappingScratch
    ) throws(RejectReason) -> (lines: Int, skipped: Int) {
        scratch.resetSlots(count: rule.slotCount)
        scratch.strings.removeAll(keepingCapacity: true)
        scratch.fields.removeAll(keepingCapacity: true)
        var walk = JSONMappingWalk(reader: JSONReader(bytes: payload), rule: rule, trie: rule.documentTrie, limits: limits)
        // A JSON rule maps an object; anything else is not what the rule says.
        guard try walk.reader.peekKind() == .object else { throw .badJSON }
        try walk.walk(node: 0, flattening: false, depth: 1, scratch: &scratch)
        walk.reader.skipWhitespace()
        guard walk.reader.isAtEnd else { throw .badJSON }
        skipped += walk.skipped
        try writeSeries(topic: topic, payload: payload, scratch: &scratch)

        guard rule.readings != nil else {
            var fieldCount = walk.fieldCount
            try writeFields(payload: payload, fieldCount: &fieldCount, scratch: &scratch)
            guard !scratch.fields.isEmpty else { throw .noFields }
            try appendLine(timestamp: try timestamp(payload: payload, scratch: scratch) ?? scratch.receiptTime(receivedAtNanos), scratch: &scratch)
            return (1, skipped)
        }
        // The document has been validated; a missing readings array has no points.
        guard let start = walk.readingsAt else { throw .noFields }
        var elements = JSONReader(bytes: payload)
        elements.index = start
        try elements.expect(UInt8(ascii: "["))
        var lines = 0
        if !elements.consume(UInt8(ascii: "]")) {
            repeat {
                scratch.resetSlots(count: rule.slotCount)
                scratch.fields.removeAll(keepingCapacity: true)
                var element = JSONMappingWalk(reader: elements, rule: rule, trie: rule.elementTrie, limits: limits)
                try element.walk(node: 0, flattening: false, depth: 2, scratch: &scratch)
                elements = element.reader
                skipped += element.skipped
                var fieldCount = element.fieldCount
                try writeFields(payload: payload, fieldCount: &fieldCount, scratch: &scratch)
                if scratch.fields.isEmpty {
                    // A reading with nothing to write: counted, the others still go.
                    skipped += 1
                    continue
                }
                try appendLine(timestamp: try timestamp(payload: payload, scratch: scratch) ?? scratch.receiptTime(receivedAtNanos), scratch: &scratch)
                lines += 1
            } while elements.consume(UInt8(ascii: ","))
            try elements.expect(UInt8(ascii: "]"))
        }
        guard lines > 0 else { throw .noFields }
        return (lines, skipped)
    }

    /// Measurement and tags, shared by every point of the message.
    private mutating func writeSeries(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, scratch: inout MappingScratch
    ) throws(RejectReason) {
        scratch.series.removeAll(keepingCapacity: true)
        scratch.name.removeAll(keepingCapacity: true)
        guard let measurement = rule.measurement, text(of: measurement, topic: topic, payload: payload, scratch: &scratch),
              scratch.name.withUnsafeBytes({ LineProtocolText.appendMeasurement($0, to: &scratch.series) })
        else {
            // An absent measurement, or one line protocol cannot carry, is a field of the wrong kind.
            throw .badJSON
        }
        var tenantWritten = !tenantTag
        for tag in rule.tags {
            if !tenantWritten && tag.key > "tenant_id" {
                writeTenantTag(topic: topic, scratch: &scratch)
                tenantWritten = true
            }
            scratch.name.removeAll(keepingCapacity: true)
            guard text(of: tag.source, topic: topic, payload: payload, scratch: &scratch) else { continue }
            let mark = scratch.series.count
            scratch.series.append(UInt8(ascii: ","))
            _ = LineProtocolText.appendName(tag.key, to: &scratch.series)
            scratch.series.append(UInt8(ascii: "="))
            guard scratch.name.withUnsafeBytes({ LineProtocolText.appendName($0, to: &scratch.series) }) else {
                scratch.series.removeSubrange(mark...)
                skipped += 1
                continue
            }
        }
        if !tenantWritten { writeTenantTag(topic: topic, scratch: &scratch) }
    }

    private func writeTenantTag(topic: UnsafeRawBufferPointer, scratch: inout MappingScratch) {
        scratch.name.removeAll(keepingCapacity: true)
        rule.tenant.render(topic: topic, captures: scratch.captures, to: &scratch.name)
        let mark = scratch.series.count
        scratch.series.append(literal: ",tenant_id=")
        if !scratch.name.withUnsafeBytes({ LineProtocolText.appendName($0, to: &scratch.series) }) {
            scratch.series.removeSubrange(mark...)
        }
    }

    /// The text of a template or a found scalar into `scratch.name`; false when there is none.
    private func text(
        of source: MappingRule.Source, topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
        scratch: inout MappingScratch
    ) -> Bool {
        switch source {
        case .template(let template):
            template.render(topic: topic, captures: scratch.captures, to: &scratch.name)
        case .pointer(_, let slot):
            let value = scratch.slots[slot]
            switch value.kind {
            case .absent, .null: return false
            case .boolean: scratch.name.append(literal: value.flag ? "true" : "false")
            case .number: scratch.name.append(bytes: UnsafeRawBufferPointer(rebasing: payload[value.start..<value.end]))
            case .string: scratch.name.append(contentsOf: scratch.strings[value.start..<value.end])
            }
        }
        return !scratch.name.isEmpty
    }

    /// The rule's explicit fields, from their slots.
    private mutating func writeFields(
        payload: UnsafeRawBufferPointer, fieldCount: inout Int, scratch: inout MappingScratch
    ) throws(RejectReason) {
        for field in rule.fields {
            let value = scratch.slots[field.slot]
            guard value.kind != .absent, value.kind != .null else { continue }
            let mark = scratch.fields.count
            scratch.fields.append(UInt8(ascii: ","))
            scratch.fields.append(contentsOf: field.escapedName)
            scratch.fields.append(UInt8(ascii: "="))
            switch FieldValueWriter.append(value, type: field.type, payload: payload, strings: scratch.strings, to: &scratch.fields) {
            case .written:
                fieldCount += 1
            case .nothing:
                scratch.fields.removeSubrange(mark...)
            case .notConvertible:
                scratch.fields.removeSubrange(mark...)
                if rule.onTypeError == .reject { throw .fieldTypeMismatch }
                skipped += 1
            }
        }
    }

    /// `payload: value`: the whole payload (surrounding whitespace and one pair of quotes
    /// removed) is the one field.
    private mutating func writeValue(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, scratch: inout MappingScratch
    ) throws(RejectReason) {
        guard let value = rule.value else { return }
        var start = 0
        var end = payload.count
        while start < end, payload[start] == 0x20 || payload[start] == 0x09 || payload[start] == 0x0A || payload[start] == 0x0D { start += 1 }
        while end > start, payload[end - 1] == 0x20 || payload[end - 1] == 0x09 || payload[end - 1] == 0x0A || payload[end - 1] == 0x0D { end -= 1 }
        if end - start >= 2, payload[start] == UInt8(ascii: "\""), payload[end - 1] == UInt8(ascii: "\"") {
            start += 1
            end -= 1
        }
        let text = UnsafeRawBufferPointer(rebasing: payload[start..<end])
        guard !text.isEmpty else { throw .noFields }
        // Text fields must be valid UTF-8; numbers and words are checked byte by byte below.
        if value.type == .string, String(validating: text, as: UTF8.self) == nil { throw .badJSON }
        scratch.name.removeAll(keepingCapacity: true)
        value.field.render(topic: topic, captures: scratch.captures, to: &scratch.name)
        scratch.fields.removeAll(keepingCapacity: true)
        scratch.fields.append(UInt8(ascii: ","))
        guard scratch.name != Array("time".utf8),
              scratch.name.withUnsafeBytes({ LineProtocolText.appendName($0, to: &scratch.fields) })
        else { throw .metricKeyInvalid }
        scratch.fields.append(UInt8(ascii: "="))
        switch FieldValueWriter.appendText(text, type: value.type, to: &scratch.fields) {
        case .written:
            break
        case .nothing, .notConvertible:
            // The only field: nothing would be left to write.
            throw rule.onTypeError == .reject ? .fieldTypeMismatch : .noFields
        }
    }

    private func timestamp(payload: UnsafeRawBufferPointer, scratch: MappingScratch) throws(RejectReason) -> Int64? {
        guard let timestamp = rule.timestamp else { return nil }
        let value = scratch.slots[timestamp.slot]
        switch value.kind {
        case .absent, .null:
            return nil
        case .boolean:
            throw .badTimestamp
        case .number:
            guard timestamp.format != .rfc3339 else { throw .badTimestamp }
            return try TimestampParser.epochNanos(number: UnsafeRawBufferPointer(rebasing: payload[value.start..<value.end]),
                                                  digitsBelowSecond: timestamp.format.digitsBelowSecond)
        case .string:
            let format = timestamp.format
            return try scratch.strings.withUnsafeBytes { all in
                Result { () throws(RejectReason) -> Int64 in
                    try Self.timestamp(text: UnsafeRawBufferPointer(rebasing: all[value.start..<value.end]), format: format)
                }
            }.get()
        }
    }

    private static func timestamp(text: UnsafeRawBufferPointer, format: TimestampFormat) throws(RejectReason) -> Int64 {
        switch format {
        case .auto:
            return try TimestampParser.parse(utf8: text)
        case .rfc3339:
            return try TimestampParser.dateTimeNanos(text)
        default:
            guard !text.isEmpty, let scanned = JSONReader.scanNumber(text, from: 0), scanned.end == text.count else {
                throw .badTimestamp
            }
            return try TimestampParser.epochNanos(number: text, digitsBelowSecond: format.digitsBelowSecond)
        }
    }

    private func appendLine(timestamp: Int64, scratch: inout MappingScratch) throws(RejectReason) {
        scratch.output.append(contentsOf: scratch.series)
        scratch.output.append(UInt8(ascii: " "))
        // Fields start with a comma each; the first one is dropped.
        scratch.output.append(contentsOf: scratch.fields[1...])
        scratch.output.append(UInt8(ascii: " "))
        LineProtocolText.appendDecimal(timestamp, to: &scratch.output)
        scratch.output.append(UInt8(ascii: "\n"))
    }
}
