/// An independent reader of one line of line protocol, following the InfluxDB 1.x parser
/// (`models/points.go`, `pkg/escape`): a backslash makes the scanner skip the next byte; tag keys
/// and values unescape `\,` `\=` `\ `; field keys unescape those and `\"`; measurements `\,` `\ `;
/// string values `\"` and `\\`. Any other backslash stays. Stricter than InfluxDB where the encoder
/// should never go: empty tag values, unsorted tags, a missing timestamp are errors.
struct LineProtocolTestParser {
    enum FieldValue: Equatable {
        case float(Double)
        case integer(Int64)
        case boolean(Bool)
        case string(String)
    }

    struct Line: Equatable {
        var measurement: String
        var tags: [String: String]
        var tagOrder: [String]
        var fields: [(key: String, value: FieldValue)]
        var timestamp: Int64

        static func == (a: Line, b: Line) -> Bool {
            a.measurement == b.measurement && a.tags == b.tags && a.tagOrder == b.tagOrder
                && a.fields.map(\.key) == b.fields.map(\.key) && a.fields.map(\.value) == b.fields.map(\.value)
                && a.timestamp == b.timestamp
        }

        func field(_ key: String) -> FieldValue? { fields.first { $0.key == key }?.value }
    }

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    private let bytes: [UInt8]
    private var index = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses exactly one line that must end with `\n`.
    static func parse(_ text: [UInt8]) throws -> Line {
        guard text.last == UInt8(ascii: "\n"), text.firstIndex(of: UInt8(ascii: "\n")) == text.count - 1 else {
            throw ParseError(description: "not exactly one newline-terminated line")
        }
        var parser = LineProtocolTestParser(Array(text.dropLast()))
        return try parser.line()
    }

    static func parse(_ text: String) throws -> Line { try parse(Array(text.utf8)) }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Raw bytes up to (not including) an unescaped stop byte.
    private mutating func scan(until stops: Set<UInt8>) -> [UInt8] {
        let start = index
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if stops.contains(bytes[index]) { break }
            index += 1
        }
        index = min(index, bytes.count)
        return Array(bytes[start..<index])
    }

    private static func unescape(_ raw: [UInt8], _ escapable: Set<UInt8>) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "\\"), i + 1 < raw.count, escapable.contains(raw[i + 1]) {
                out.append(raw[i + 1])
                i += 2
            } else {
                out.append(raw[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let comma = UInt8(ascii: ","), space = UInt8(ascii: " "), equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

    private mutating func line() throws -> Line {
        let measurementRaw = scan(until: [Self.comma, Self.space])
        guard !measurementRaw.isEmpty else { throw ParseError(description: "empty measurement") }
        let measurement = Self.unescape(measurementRaw, [Self.comma, Self.space])
        var tags: [String: String] = [:]
        var tagOrder: [String] = []
        while current == Self.comma {
            index += 1
            let keyRaw = scan(until: [Self.equals, Self.comma, Self.space])
            guard current == Self.equals, !keyRaw.isEmpty else { throw ParseError(description: "tag without key or =") }
            index += 1
            let valueRaw = scan(until: [Self.comma, Self.space, Self.equals])
            guard !valueRaw.isEmpty else { throw ParseError(description: "empty tag value") }
            guard current != Self.equals else { throw ParseError(description: "unescaped = in tag value") }
            let key = Self.unescape(keyRaw, [Self.comma, Self.space, Self.equals])
            guard tags[key] == nil else { throw ParseError(description: "duplicate tag") }
            if let last = tagOrder.last, !(Array(last.utf8).lexicographicallyPrecedes(Array(key.utf8))) {
                throw ParseError(description: "tags not sorted")
            }
            tags[key] = Self.unescape(valueRaw, [Self.comma, Self.space, Self.equals])
            tagOrder.append(key)
        }
        guard current == Self.space else { throw ParseError(description: "no space before fields") }
        index += 1
        var fields: [(key: String, value: FieldValue)] = []
        repeat {
            if !fields.isEmpty { index += 1 }
            let keyRaw = scan(until: [Self.equals, Self.comma, Self.space])
            guard current == Self.equals, !keyRaw.isEmpty else { throw ParseError(description: "field without key or =") }
            index += 1
            let key = Self.unescape(keyRaw, [Self.comma, Self.space, Self.equals, Self.quote])
            fields.append((key, try fieldValue()))
        } while current == Self.comma
        guard current == Self.space else { throw ParseError(description: "no space before timestamp") }
        index += 1
        let stampText = String(decoding: bytes[index...], as: UTF8.self)
        guard let timestamp = Int64(stampText) else { throw ParseError(description: "bad timestamp \(stampText)") }
        return Line(measurement: measurement, tags: tags, tagOrder: tagOrder, fields: fields, timestamp: timestamp)
    }

    private mutating func fieldValue() throws -> FieldValue {
        if current == Self.quote {
            index += 1
            var out: [UInt8] = []
            while true {
                guard let byte = current else { throw ParseError(description: "unterminated string") }
                if byte == Self.backslash, index + 1 < bytes.count,
                   bytes[index + 1] == Self.quote || bytes[index + 1] == Self.backslash {
                    out.append(bytes[index + 1])
                    index += 2
                    continue
                }
                if byte == Self.quote {
                    index += 1
                    break
                }
                if byte == UInt8(ascii: "\n") { throw ParseError(description: "newline in string") }
                out.append(byte)
                index += 1
            }
            return .string(String(decoding: out, as: UTF8.self))
        }
        let raw = String(decoding: scan(until: [Self.comma, Self.space]), as: UTF8.self)
        switch raw {
        case "t", "T", "true", "True", "TRUE": return .boolean(true)
        case "f", "F", "false", "False", "FALSE": return .boolean(false)
        default: break
        }
        if raw.hasSuffix("i") {
            guard let value = Int64(raw.dropLast()) else { throw ParseError(description: "bad integer \(raw)") }
            return .integer(value)
        }
        // Go's strconv.ParseFloat grammar as the 1.x scanner lets it through: digits, '.', exponent.
        let allowed = Set("0123456789.eE+-")
        guard !raw.isEmpty, raw.allSatisfy({ allowed.contains($0) }), let value = Double(raw), value.isFinite else {
            throw ParseError(description: "bad float \(raw)")
        }
        return .float(value)
    }
}
