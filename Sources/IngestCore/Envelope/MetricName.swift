/// A metric key as UTF-8 bytes.
///
/// Keys are only checked and copied into line protocol, so the decoder keeps their bytes instead
/// of building a String: validating and creating a String costs about 180 instructions per key,
/// and comparing two of them for the duplicate check is not free either. Keys of up to
/// `inlineCapacity` bytes (nearly all) live inline, without an allocation; longer ones in an array.
struct MetricName: Sendable {
    static let inlineCapacity = 24

    /// The first `count` bytes, zero-padded, so two inline names compare as three words.
    private var inline: (UInt64, UInt64, UInt64) = (0, 0, 0)
    /// The bytes of a name longer than `inlineCapacity`, else empty.
    private var spilled: [UInt8] = []
    let count: Int
    /// No byte ≥ 0x80: then the bytes alone decide equality as a String (see `isSameKey`).
    let isASCII: Bool

    init(_ bytes: UnsafeRawBufferPointer) {
        count = bytes.count
        if count <= Self.inlineCapacity {
            withUnsafeMutableBytes(of: &inline) { $0.copyMemory(from: bytes) }
            isASCII = (inline.0 | inline.1 | inline.2) & 0x8080_8080_8080_8080 == 0
        } else {
            spilled = Array(bytes)
            isASCII = spilled.allSatisfy { $0 < 0x80 }
        }
    }

    init(_ text: String) {
        var text = text
        self = text.withUTF8 { MetricName(UnsafeRawBufferPointer($0)) }
    }

    /// Runs `body` on the name's UTF-8 bytes (valid only during the call).
    @inline(__always)
    func withUTF8<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if count <= Self.inlineCapacity {
            return withUnsafeBytes(of: inline) { body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return spilled.withUnsafeBytes(body)
    }

    var string: String { withUTF8 { String(decoding: $0, as: UTF8.self) } }

    func hasSameBytes(as word: StaticString) -> Bool {
        count == word.utf8CodeUnitCount && withUTF8 { $0.hasSameBytes(as: word) }
    }

    /// The decoder's duplicate rule, unchanged from when keys were Strings: the same number of
    /// UTF-8 bytes and equal as Swift Strings (canonical equivalence, so `"\u{212B}x"` and
    /// `"A\u{30A}x"` collide). Equal bytes are equal Strings, and ASCII has no other spelling, so
    /// the String comparison is left for keys with non-ASCII bytes that differ.
    func isSameKey(as other: MetricName) -> Bool {
        guard count == other.count else { return false }
        if self == other { return true }
        if isASCII && other.isASCII { return false }
        return string == other.string
    }
}

extension MetricName: Equatable {
    /// Byte-wise equality.
    static func == (lhs: MetricName, rhs: MetricName) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.count <= inlineCapacity {
            return lhs.inline.0 == rhs.inline.0 && lhs.inline.1 == rhs.inline.1 && lhs.inline.2 == rhs.inline.2
        }
        return lhs.spilled == rhs.spilled
    }
}
