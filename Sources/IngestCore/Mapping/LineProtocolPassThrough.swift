/// `payload: line-protocol`: lines written by the device itself, checked before they are passed
/// on, so one bad line cannot make InfluxDB refuse a whole batch of other devices' points.
///
/// Each non-empty line (a `#` line is a comment and dropped) must be valid UTF-8 without control
/// characters, have a measurement (and tags) and a field set separated by an unescaped space
/// outside quotes, every field `key=value` with a value that is a number, `Ni`/`Nu`, a boolean
/// or a quoted string, and optionally a timestamp of digits. A line without a timestamp gets the
/// receipt time (every point carries one; README, "Delivery guarantees"); the lines of one payload
/// share it, as a batch written by the device would. Anything else rejects
/// the whole message as `BAD_JSON` (the payload is not what the rule says).
enum LineProtocolPassThrough {
    static func append(_ payload: UnsafeRawBufferPointer, receivedAtNanos: Int64, to buffer: inout [UInt8]) throws(RejectReason) -> Int {
        guard String(validating: payload, as: UTF8.self) != nil else { throw .badJSON }
        let mark = buffer.count
        var lines = 0
        var start = 0
        while start < payload.count {
            var end = start
            while end < payload.count && payload[end] != 0x0A { end += 1 }
            var line = UnsafeRawBufferPointer(rebasing: payload[start..<end])
            if let last = line.last, last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
            start = end + 1
            if line.isEmpty || line[0] == UInt8(ascii: "#") { continue }
            guard let hasTimestamp = check(line) else {
                buffer.removeSubrange(mark...)
                throw .badJSON
            }
            buffer.append(bytes: line)
            if !hasTimestamp {
                buffer.append(UInt8(ascii: " "))
                LineProtocolText.appendDecimal(receivedAtNanos, to: &buffer)
            }
            buffer.append(UInt8(ascii: "\n"))
            lines += 1
        }
        guard lines > 0 else { throw .noFields }
        return lines
    }

    /// nil when the line is not line protocol; else whether it ends in a timestamp.
    static func check(_ line: UnsafeRawBufferPointer) -> Bool? {
        var index = 0
        // Measurement and tags: up to the first unescaped space.
        var sawByte = false
        while index < line.count {
            let byte = line[index]
            if LineProtocolText.isControl(byte) { return nil }
            if byte == UInt8(ascii: "\\") {
                index += 2
                sawByte = true
                continue
            }
            if byte == UInt8(ascii: " ") { break }
            if !sawByte && byte == UInt8(ascii: ",") { return nil }
            sawByte = true
            index += 1
        }
        guard sawByte, index < line.count else { return nil }
        index += 1
        // Fields: key=value[,key=value…] up to an unescaped space outside quotes.
        var fields = 0
        while true {
            let keyStart = index
            while index < line.count && line[index] != UInt8(ascii: "=") {
                let byte = line[index]
                if LineProtocolText.isControl(byte) || byte == UInt8(ascii: " ") || byte == UInt8(ascii: ",") { return nil }
                index += byte == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < line.count, index > keyStart else { return nil }
            index += 1
            guard index < line.count else { return nil }
            if line[index] == UInt8(ascii: "\"") {
                index += 1
                while index < line.count && line[index] != UInt8(ascii: "\"") {
                    if LineProtocolText.isControl(line[index]) { return nil }
                    index += line[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard index < line.count else { return nil }
                index += 1
            } else {
                let valueStart = index
                while index < line.count && line[index] != UInt8(ascii: ",") && line[index] != UInt8(ascii: " ") { index += 1 }
                guard isFieldValue(UnsafeRawBufferPointer(rebasing: line[valueStart..<index])) else { return nil }
            }
            fields += 1
            if index < line.count && line[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            break
        }
        guard fields > 0 else { return nil }
        if index == line.count { return false }
        // One space, then the timestamp: digits, maybe a minus.
        index += 1
        let stamp = UnsafeRawBufferPointer(rebasing: line[index...])
        guard !stamp.isEmpty, JSONReader.parseInt64(stamp) != nil else { return nil }
        return true
    }

    private static func isFieldValue(_ text: UnsafeRawBufferPointer) -> Bool {
        guard let first = text.first else { return false }
        switch first {
        case UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"):
            let word = String(decoding: text, as: UTF8.self)
            return ["t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"].contains(word)
        default:
            if let last = text.last, last == UInt8(ascii: "i") || last == UInt8(ascii: "u") {
                return JSONReader.parseInt64(UnsafeRawBufferPointer(rebasing: text.dropLast())) != nil
            }
            let digits = text.first == UInt8(ascii: "+") ? UnsafeRawBufferPointer(rebasing: text.dropFirst()) : text
            guard !digits.isEmpty else { return false }
            // Line protocol floats also allow `1.` and `.5`; InfluxDB parses them with strconv.
            var sawDigit = false
            for byte in digits {
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
                case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"): break
                default: return false
                }
            }
            return sawDigit
        }
    }
}
