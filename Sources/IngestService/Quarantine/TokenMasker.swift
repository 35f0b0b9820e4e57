/// Hides the value of every `"provision_token"` in a payload, JSON or not, before it is stored:
/// `"provision_token":"abc"` becomes `"provision_token":"***"`. Works on bytes so a broken or truncated
/// payload is masked too (an unterminated token is masked to the end).
enum TokenMasker {
    static let mask: [UInt8] = Array("***".utf8)
    private static let key: [UInt8] = Array("\"provision_token\"".utf8)

    static func masked(_ payload: [UInt8]) -> [UInt8] {
        guard payload.count >= key.count else { return payload }
        var output: [UInt8] = []
        output.reserveCapacity(payload.count)
        var index = 0
        while index < payload.count {
            guard matchesKey(payload, at: index) else {
                output.append(payload[index])
                index += 1
                continue
            }
            output.append(contentsOf: key)
            index += key.count
            // Copy white space and the colon, then mask the value.
            while index < payload.count, isSpace(payload[index]) || payload[index] == UInt8(ascii: ":") {
                output.append(payload[index])
                index += 1
            }
            guard index < payload.count else { break }
            if payload[index] == UInt8(ascii: "\"") {
                output.append(UInt8(ascii: "\""))
                index += 1
                while index < payload.count, payload[index] != UInt8(ascii: "\"") {
                    index += payload[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                output.append(contentsOf: mask)
                if index < payload.count {
                    output.append(UInt8(ascii: "\""))
                    index += 1
                }
            } else {
                // A number, literal or anything else: up to the next delimiter.
                while index < payload.count, !isDelimiter(payload[index]) { index += 1 }
                output.append(contentsOf: mask)
            }
        }
        return output
    }

    private static func matchesKey(_ payload: [UInt8], at index: Int) -> Bool {
        guard payload[index] == UInt8(ascii: "\""), index + key.count <= payload.count else { return false }
        for offset in 1..<key.count where payload[index + offset] != key[offset] { return false }
        return true
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func isDelimiter(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || isSpace(byte)
    }
}
