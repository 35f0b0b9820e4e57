/// Writes a found value as a line-protocol field value of a pinned type (see `FieldType`), or says
/// it cannot be converted. A nil type is `flatten`'s default: numbers float, booleans, strings.
enum FieldValueWriter {
    enum Outcome {
        case written
        /// JSON null or no value: nothing to write, nothing to count.
        case nothing
        case notConvertible
    }

    static func append(
        _ value: SlotValue, type: FieldType?, payload: UnsafeRawBufferPointer, strings: [UInt8], to buffer: inout [UInt8]
    ) -> Outcome {
        switch value.kind {
        case .absent, .null:
            return .nothing
        case .boolean:
            switch type {
            case .boolean?, nil: buffer.append(literal: value.flag ? "true" : "false")
            case .string?: buffer.append(literal: value.flag ? "\"true\"" : "\"false\"")
            case .float?, .integer?: return .notConvertible
            }
            return .written
        case .number:
            return appendNumber(UnsafeRawBufferPointer(rebasing: payload[value.start..<value.end]), isInteger: value.flag,
                                type: type ?? .float, to: &buffer)
        case .string:
            return strings.withUnsafeBytes { all in
                appendText(UnsafeRawBufferPointer(rebasing: all[value.start..<value.end]), type: type ?? .string, to: &buffer)
            }
        }
    }

    /// A JSON number literal (checked by the reader).
    static func appendNumber(_ literal: UnsafeRawBufferPointer, isInteger: Bool, type: FieldType, to buffer: inout [UInt8]) -> Outcome {
        switch type {
        case .float:
            guard let double = double(literal) else { return .notConvertible }
            FloatText.append(double, to: &buffer)
        case .integer:
            guard let integer = integer(literal, isInteger: isInteger) else { return .notConvertible }
            LineProtocolText.appendDecimal(integer, to: &buffer)
            buffer.append(UInt8(ascii: "i"))
        case .boolean:
            guard let double = double(literal), double == 0 || double == 1 else { return .notConvertible }
            buffer.append(literal: double == 1 ? "true" : "false")
        case .string:
            buffer.append(UInt8(ascii: "\""))
            buffer.append(bytes: literal)
            buffer.append(UInt8(ascii: "\""))
        }
        return .written
    }

    /// Decoded string bytes (valid UTF-8: the reader checked them).
    static func appendText(_ text: UnsafeRawBufferPointer, type: FieldType, to buffer: inout [UInt8]) -> Outcome {
        switch type {
        case .string:
            for byte in text where byte == 0x0A || byte == 0x0D { return .notConvertible }
            LineProtocolText.appendQuoted(text, to: &buffer)
            return .written
        case .float, .integer:
            guard let scanned = JSONReader.scanNumber(text, from: 0), scanned.end == text.count else { return .notConvertible }
            return appendNumber(text, isInteger: scanned.isInteger, type: type, to: &buffer)
        case .boolean:
            guard let flag = boolean(text) else { return .notConvertible }
            buffer.append(literal: flag ? "true" : "false")
            return .written
        }
    }

    static func double(_ literal: UnsafeRawBufferPointer) -> Double? {
        if let fast = JSONReader.fastDouble(literal) { return fast }
        guard let value = Double(String(decoding: literal, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }

    /// An integral value in Int64 range: `42`, `-7`, `42.0`, `4.2e1`.
    static func integer(_ literal: UnsafeRawBufferPointer, isInteger: Bool) -> Int64? {
        if isInteger { return JSONReader.parseInt64(literal) }
        guard let value = double(literal), value == value.rounded(.towardZero),
              value >= -9.223_372_036_854_775e18, value < 9.223_372_036_854_775e18
        else { return nil }
        return Int64(value)
    }

    /// `true`/`false`, `on`/`off`, `yes`/`no`, any case (Tasmota and Zigbee2MQTT send `ON`/`OFF`).
    static func boolean(_ text: UnsafeRawBufferPointer) -> Bool? {
        guard text.count >= 2, text.count <= 5 else { return nil }
        var lowered = (UInt64(0))
        for (position, byte) in text.enumerated() {
            let lower = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
            lowered |= UInt64(lower) << (8 * UInt64(position))
        }
        switch lowered {
        case word("true"), word("on"), word("yes"): return true
        case word("false"), word("off"), word("no"): return false
        default: return nil
        }
    }

    private static func word(_ text: StaticString) -> UInt64 {
        var value: UInt64 = 0
        for position in 0..<text.utf8CodeUnitCount {
            value |= UInt64(text.utf8Start[position]) << (8 * UInt64(position))
        }
        return value
    }
}
