import Crypto

/// Token hashing and comparison for device authentication.
public enum TokenHasher {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lower-case hex SHA-256 of the token's UTF-8 bytes, the form `provision_token_hash` stores.
    public static func sha256Hex(_ token: String) -> String {
        let digest = SHA256.hash(data: Array(token.utf8))
        var hex = [UInt8]()
        hex.reserveCapacity(64)
        for byte in digest {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// Compares without stopping at the first difference, so the time taken does not tell an
    /// attacker how many leading bytes were right. Lengths are not secret (hashes have a fixed one).
    public static func constantTimeEquals<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        // Arrays and native strings' UTF-8 are contiguous: compare the bytes directly. Zipping two
        // `String.UTF8View`s costs over a hundred instructions per byte, on every message's token.
        if let equal = a.withContiguousStorageIfAvailable({ left in
            b.withContiguousStorageIfAvailable { right in accumulatedDifference(left, right) == 0 }
        }), let equal {
            return equal
        }
        var difference: UInt8 = 0
        for (left, right) in zip(a, b) {
            difference |= left ^ right
        }
        return difference == 0
    }

    /// OR of the XORs of two buffers of the same length: zero exactly when they are equal.
    private static func accumulatedDifference(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> UInt8 {
        var difference: UInt8 = 0
        for index in 0..<a.count {
            difference |= a[index] ^ b[index]
        }
        return difference
    }

    /// ASCII lower-casing for hex digests stored in upper case.
    static func lowercasedASCII(_ text: String) -> [UInt8] {
        text.utf8.map { byte in
            byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
        }
    }
}
