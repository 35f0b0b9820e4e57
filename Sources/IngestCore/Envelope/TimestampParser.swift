/// Turns the envelope's `ts` into nanoseconds since the Unix epoch (UTC).
///
/// Accepted forms:
/// - RFC 3339 / ISO 8601 date-times: `YYYY-MM-DD`, then `T`, `t` or a space, `hh:mm:ss`, an
///   optional fraction of 1–9 digits, and an optional offset `Z`/`z`, `±hh:mm` or `±hhmm`. Without
///   an offset the time is taken as UTC. Seconds are required; leap second `60` is refused.
/// - Epoch numbers, as a JSON number or as a string holding a JSON number (`1770628523`,
///   `"1770628523045"`, `1770628523.045`, `1.77e9`). The unit is told apart by magnitude:
///   `v < 1e11` seconds, `v < 1e14` milliseconds, `v < 1e17` microseconds, otherwise nanoseconds.
///   So a millisecond timestamp before 1973-03-03 would be read as seconds, which no real device
///   clock produces. Because the result is Int64 nanoseconds (up to year 2262), each unit's usable
///   range ends at ~9.22e9 s, 9.22e12 ms, 9.22e15 µs, 9.22e18 ns; values between that and the next
///   threshold are out of range, not reinterpreted. Digits finer than a nanosecond are truncated; the
///   decimal text is used directly, so no precision is lost to floating point.
///
/// The result must lie in `0...Int64.max` nanoseconds (1970-01-01 to 2262-04-11T23:47:16.854775807Z):
/// anything earlier (a negative epoch, a date before 1970), later, or unparseable is `BAD_TIMESTAMP`.
public enum TimestampParser {
    public static func parse(_ text: String) throws(RejectReason) -> Int64 {
        var copy = text
        return try copy.withUTF8 { bytes in
            Result { () throws(RejectReason) -> Int64 in try parse(utf8: UnsafeRawBufferPointer(bytes)) }
        }.get()
    }

    /// A string `ts`: an epoch number in text, or a date-time.
    public static func parse(utf8 text: UnsafeRawBufferPointer) throws(RejectReason) -> Int64 {
        guard !text.isEmpty else { throw .badTimestamp }
        if let scanned = JSONReader.scanNumber(text, from: 0), scanned.end == text.count {
            return try epochNanos(number: text)
        }
        return try dateTimeNanos(text)
    }

    /// A numeric `ts`: the JSON number's literal text.
    public static func parseEpoch(_ literal: String) throws(RejectReason) -> Int64 {
        var copy = literal
        return try copy.withUTF8 { bytes in
            Result { () throws(RejectReason) -> Int64 in
                let raw = UnsafeRawBufferPointer(bytes)
                guard let scanned = JSONReader.scanNumber(raw, from: 0), scanned.end == raw.count else {
                    throw .badTimestamp
                }
                return try epochNanos(number: raw)
            }
        }.get()
    }

    /// `number` must already match the JSON number grammar. `digitsBelowSecond` forces the unit
    /// (9 = seconds, 6 = milliseconds, 3 = microseconds, 0 = nanoseconds; a mapping rule's `format`);
    /// nil tells it apart by magnitude.
    static func epochNanos(number text: UnsafeRawBufferPointer, digitsBelowSecond: Int? = nil) throws(RejectReason) -> Int64 {
        var index = 0
        var negative = false
        if text[0] == UInt8(ascii: "-") {
            negative = true
            index = 1
        }
        // value = 0.d1 d2 d3 … × 10^pointPosition, with d1 the first non-zero digit.
        // Only the first 19 significant digits are kept: more can only matter below a nanosecond,
        // or for values that overflow anyway.
        var kept: UInt64 = 0
        var keptCount = 0
        var pointPosition = 0
        var seenNonZero = false
        var inFraction = false
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: ".") {
                inFraction = true
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                let digit = byte - UInt8(ascii: "0")
                if !seenNonZero && digit == 0 {
                    if inFraction { pointPosition -= 1 }
                } else {
                    seenNonZero = true
                    if !inFraction { pointPosition += 1 }
                    if keptCount < 19 {
                        kept = kept * 10 + UInt64(digit)
                        keptCount += 1
                    }
                }
            } else {
                break  // exponent
            }
            index += 1
        }
        if index < text.count {
            index += 1  // e or E
            var exponentNegative = false
            if text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") {
                exponentNegative = text[index] == UInt8(ascii: "-")
                index += 1
            }
            var exponent = 0
            while index < text.count {
                // Clamp: anything this large is out of range either way.
                exponent = min(exponent * 10 + Int(text[index] - UInt8(ascii: "0")), 10_000)
                index += 1
            }
            pointPosition += exponentNegative ? -exponent : exponent
        }
        guard seenNonZero else { return 0 }
        guard !negative else { throw .badTimestamp }
        var scale: Int
        switch pointPosition {
        case ...11: scale = 9  // seconds
        case ...14: scale = 6  // milliseconds
        case ...17: scale = 3  // microseconds
        default: scale = 0     // nanoseconds
        }
        if let digitsBelowSecond { scale = digitsBelowSecond }
        let integerDigits = pointPosition + scale
        if integerDigits <= 0 { return 0 }
        guard integerDigits <= 19 else { throw .badTimestamp }
        var nanos = kept
        if integerDigits < keptCount {
            for _ in 0..<(keptCount - integerDigits) { nanos /= 10 }
        } else {
            for _ in 0..<(integerDigits - keptCount) {
                let (next, overflow) = nanos.multipliedReportingOverflow(by: 10)
                guard !overflow else { throw .badTimestamp }
                nanos = next
            }
        }
        guard nanos <= UInt64(Int64.max) else { throw .badTimestamp }
        return Int64(nanos)
    }

    static func dateTimeNanos(_ text: UnsafeRawBufferPointer) throws(RejectReason) -> Int64 {
        var index = 0
        func digits(_ count: Int) throws(RejectReason) -> Int {
            guard text.count - index >= count else { throw .badTimestamp }
            var value = 0
            for _ in 0..<count {
                let byte = text[index]
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { throw .badTimestamp }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                index += 1
            }
            return value
        }
        func literal(_ allowed: UInt8, or alternative: UInt8 = 0, or third: UInt8 = 0) throws(RejectReason) {
            guard index < text.count else { throw .badTimestamp }
            let byte = text[index]
            guard byte == allowed || (byte != 0 && (byte == alternative || byte == third)) else {
                throw .badTimestamp
            }
            index += 1
        }
        let year = try digits(4)
        try literal(UInt8(ascii: "-"))
        let month = try digits(2)
        try literal(UInt8(ascii: "-"))
        let day = try digits(2)
        try literal(UInt8(ascii: "T"), or: UInt8(ascii: "t"), or: UInt8(ascii: " "))
        let hour = try digits(2)
        try literal(UInt8(ascii: ":"))
        let minute = try digits(2)
        try literal(UInt8(ascii: ":"))
        let second = try digits(2)
        var fractionNanos = 0
        if index < text.count && text[index] == UInt8(ascii: ".") {
            index += 1
            var count = 0
            while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
                guard count < 9 else { throw .badTimestamp }
                fractionNanos = fractionNanos * 10 + Int(text[index] - UInt8(ascii: "0"))
                count += 1
                index += 1
            }
            guard count > 0 else { throw .badTimestamp }
            for _ in count..<9 { fractionNanos *= 10 }
        }
        var offsetSeconds = 0
        if index < text.count {
            switch text[index] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                index += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign = text[index] == UInt8(ascii: "-") ? -1 : 1
                index += 1
                let offsetHours = try digits(2)
                if index < text.count && text[index] == UInt8(ascii: ":") { index += 1 }
                let offsetMinutes = try digits(2)
                guard offsetHours <= 23, offsetMinutes <= 59 else { throw .badTimestamp }
                offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
            default:
                throw .badTimestamp
            }
        }
        guard index == text.count else { throw .badTimestamp }
        guard (1...12).contains(month),
              day >= 1, day <= daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 59
        else { throw .badTimestamp }
        let days = daysFromCivil(year: year, month: month, day: day)
        // Years are at most 9999, so this cannot overflow Int (64-bit); the range check below does the rest.
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        guard seconds >= 0 else { throw .badTimestamp }
        let (scaled, overflow1) = Int64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflow2) = scaled.addingReportingOverflow(Int64(fractionNanos))
        guard !overflow1, !overflow2 else { throw .badTimestamp }
        return total
    }

    static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
