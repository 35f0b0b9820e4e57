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
}
