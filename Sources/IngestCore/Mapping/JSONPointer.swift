/// An RFC 6901 JSON pointer (`/uplink_message/rx_metadata/0/rssi`), split into unescaped tokens
/// once (`~1` is `/`, `~0` is `~`). A token of digits also selects that element of an array.
public struct JSONPointer: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    let tokens: [Token]

    struct Token: Sendable, Equatable {
        var key: [UInt8]
        /// The array index a token of plain digits names.
        var index: Int?
    }

    public enum CompileError: Error, Equatable {
        case mustStartWithSlash
        case badEscape
    }

    /// `""` is the whole document.
    public init(_ text: String) throws(CompileError) {
        self.text = text
        guard !text.isEmpty else {
            tokens = []
            return
        }
        guard text.hasPrefix("/") else { throw .mustStartWithSlash }
        var result: [Token] = []
        for raw in text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst() {
            var key: [UInt8] = []
            var iterator = raw.makeIterator()
            while let byte = iterator.next() {
                if byte == UInt8(ascii: "~") {
                    switch iterator.next() {
                    case UInt8(ascii: "0"): key.append(UInt8(ascii: "~"))
                    case UInt8(ascii: "1"): key.append(UInt8(ascii: "/"))
                    default: throw .badEscape
                    }
                } else {
                    key.append(byte)
                }
            }
            var index: Int?
            if !key.isEmpty, key.count <= 9, key.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
               key.count == 1 || key[0] != UInt8(ascii: "0") {
                index = key.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            }
            result.append(Token(key: key, index: index))
        }
        tokens = result
    }

    public var description: String { text }
}
