import IngestCore
import XCTest

final class TokenHasherTests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(TokenHasher.sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(TokenHasher.sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // UTF-8 bytes of the token are hashed.
        XCTAssertEqual(TokenHasher.sha256Hex("é"), "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c")
    }

    func testConstantTimeEquals() {
        XCTAssertTrue(TokenHasher.constantTimeEquals(Array("abc".utf8), "abc".utf8))
        XCTAssertFalse(TokenHasher.constantTimeEquals(Array("abc".utf8), "abd".utf8))
        XCTAssertFalse(TokenHasher.constantTimeEquals(Array("abc".utf8), "ab".utf8))
        XCTAssertFalse(TokenHasher.constantTimeEquals([UInt8](), "a".utf8))
        XCTAssertTrue(TokenHasher.constantTimeEquals([UInt8](), [UInt8]()))
        XCTAssertFalse(TokenHasher.constantTimeEquals([0x00, 0x01], [0x01, 0x00]))
    }

    /// Contiguous operands (arrays, small and long native strings) take the byte loop, others the
    /// zip; both must give the same answer for every pair, including a difference in the last byte.
    func testConstantTimeEqualsContiguousAndNot() {
        let long = "token-" + String(repeating: "x", count: 40)
        let pairs: [(String, String)] = [
            ("token-d001", "token-d001"), ("token-d001", "token-d002"), ("token-d001", "Token-d001"),
            (long, long), (long, String(long.dropLast()) + "y"), (long, "token"), ("", ""), ("é", "é"), ("é", "e"),
        ]
        for (a, b) in pairs {
            let expected = Array(a.utf8) == Array(b.utf8)
            XCTAssertEqual(TokenHasher.constantTimeEquals(a.utf8, b.utf8), expected, "\(a) vs \(b)")
            XCTAssertEqual(TokenHasher.constantTimeEquals(Array(a.utf8), b.utf8), expected, "\(a) vs \(b)")
            // Not contiguous: the zip fallback.
            XCTAssertEqual(TokenHasher.constantTimeEquals(a.utf8.lazy.map { $0 }, b.utf8), expected, "\(a) vs \(b)")
            XCTAssertEqual(TokenHasher.constantTimeEquals(a.utf8, b.utf8.lazy.map { $0 }), expected, "\(a) vs \(b)")
        }
    }
}
