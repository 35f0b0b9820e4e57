/// Numbers: the grammar check, and the conversions of a number's literal bytes to Int64 and Double.
extension JSONReader {
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    mutating func readNumber() throws(RejectReason) -> NumberToken {
        skipWhitespace()
        let start = index
        guard let end = JSONReader.scanNumber(bytes, from: index) else { throw .badJSON }
        index = end.end
        return NumberToken(start: start, end: end.end, isInteger: end.isInteger)
    }

    /// Grammar check of a JSON number starting at `from`; returns where it ends.
    static func scanNumber(_ bytes: UnsafeRawBufferPointer, from: Int) -> (end: Int, isInteger: Bool)? {
        var index = from
        @inline(__always) func isDigit(_ at: Int) -> Bool {
            at < bytes.count && bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9")
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard isDigit(index) else { return nil }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            // Leading zeros are not JSON.
            if isDigit(index) { return nil }
        } else {
            while isDigit(index) { index += 1 }
        }
        var isInteger = true
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(index) else { return nil }
            while isDigit(index) { index += 1 }
            isInteger = false
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                index += 1
            }
            guard isDigit(index) else { return nil }
            while isDigit(index) { index += 1 }
            isInteger = false
        }
        return (index, isInteger)
    }

    func slice(_ token: NumberToken) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end])
    }

    func numberText(_ token: NumberToken) -> String {
        String(decoding: slice(token), as: UTF8.self)
    }

    /// The integer value of an integer literal, nil when it does not fit Int64.
    func int64(_ token: NumberToken) -> Int64? {
        guard token.isInteger else { return nil }
        return JSONReader.parseInt64(slice(token))
    }

    static func parseInt64(_ text: UnsafeRawBufferPointer) -> Int64? {
        var index = 0
        let negative = !text.isEmpty && text[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        guard index < text.count else { return nil }
        // Accumulate negatively so Int64.min fits.
        var value: Int64 = 0
        while index < text.count {
            let byte = text[index]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.subtractingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return nil }
            value = next
            index += 1
        }
        if negative { return value }
        return value == Int64.min ? nil : -value
    }

    /// The nearest Double; a literal beyond Double's range is `BAD_JSON` (it cannot be stored,
    /// and writing `inf` would break the line).
    func double(_ token: NumberToken) throws(RejectReason) -> Double {
        if let fast = JSONReader.fastDouble(slice(token)) { return fast }
        guard let value = Double(numberText(token)), value.isFinite else { throw .badJSON }
        return value
    }

    static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Clinger's fast path: with at most 15 significant digits and a power of ten up to 10^22 both
    /// operands are exact doubles, so one multiplication or division rounds correctly. Anything
    /// else goes to the standard library's parser.
    static func fastDouble(_ text: UnsafeRawBufferPointer) -> Double? {
        var index = 0
        var negative = false
        if text[0] == UInt8(ascii: "-") {
            negative = true
            index = 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
            mantissa = mantissa &* 10 &+ UInt64(text[index] - UInt8(ascii: "0"))
            if mantissa != 0 { digits += 1 }
            index += 1
        }
        if index < text.count && text[index] == UInt8(ascii: ".") {
            index += 1
            while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
                mantissa = mantissa &* 10 &+ UInt64(text[index] - UInt8(ascii: "0"))
                if mantissa != 0 { digits += 1 }
                exponent -= 1
                index += 1
            }
        }
        if index < text.count {
            // Explicit exponents are rare in telemetry; leave them to the slow path.
            return nil
        }
        guard digits <= 15, exponent >= -22 else { return nil }
        var value = Double(mantissa)
        if exponent < 0 { value /= exactPowersOfTen[-exponent] }
        return negative ? -value : value
    }
}
