@testable import IngestService
import XCTest

final class SpoolSegmentTests: XCTestCase {
    private let body = Array("telemetry,device_id=d1,site_id=s1 seq=42i,temp_c=21.5 1770628523045000000\nheartbeat,device_id=d1,site_id=s1 seq=43i 1770628524000000000\n".utf8)

    private func sample() throws -> SpoolSegment {
        try SpoolSegment(database: "telemetry_t1", lineCount: 2, body: body)
    }

    func testCRC32CCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([]), 0)
    }

    func testRoundTrip() throws {
        let segment = try sample()
        let bytes = segment.encode()
        XCTAssertEqual(bytes.count, segment.encodedSize)
        XCTAssertEqual(Array(bytes[0..<4]), Array("ISPL".utf8))
        let decoded = try SpoolSegment.decode(bytes)
        XCTAssertEqual(decoded, segment)
        XCTAssertEqual(decoded.database, "telemetry_t1")
        XCTAssertEqual(decoded.lineCount, 2)
        XCTAssertEqual(decoded.body, body)
    }

    func testMissingFinalNewlineIsAdded() throws {
        let segment = try SpoolSegment(database: "db", lineCount: 1, body: Array("m f=1i 1".utf8))
        XCTAssertEqual(segment.body, Array("m f=1i 1\n".utf8))
        XCTAssertEqual(try SpoolSegment.decode(segment.encode()).body, segment.body)
    }

    func testInvalidBatchesAreRefused() {
        XCTAssertThrowsError(try SpoolSegment(database: "", lineCount: 1, body: body))
        XCTAssertThrowsError(try SpoolSegment(database: "db", lineCount: 1, body: []))
        XCTAssertThrowsError(try SpoolSegment(database: "db", lineCount: 0, body: body))
        XCTAssertThrowsError(try SpoolSegment(
            database: String(repeating: "x", count: 70_000), lineCount: 1, body: body))
    }

    /// Every prefix of a valid segment is a torn write and must be reported as one.
    func testEveryTruncationIsDetectedAsTorn() throws {
        let bytes = try sample().encode()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try SpoolSegment.decode(Array(bytes[0..<length])), "length \(length)") { error in
                guard case let .torn(expected, actual) = error as? SpoolError else {
                    return XCTFail("length \(length): expected .torn, got \(error)")
                }
                XCTAssertEqual(actual, length)
                XCTAssertGreaterThan(expected, length)
            }
        }
    }

    func testTrailingBytesAreALengthMismatch() throws {
        let bytes = try sample().encode()
        XCTAssertThrowsError(try SpoolSegment.decode(bytes + [0x0A])) { error in
            XCTAssertEqual(error as? SpoolError, .lengthMismatch(declaredBytes: bytes.count, actualBytes: bytes.count + 1))
        }
    }

    /// Flipping any single byte must be detected, and by the check that owns that field.
    func testEveryFlippedByteIsDetected() throws {
        let bytes = try sample().encode()
        for offset in 0..<bytes.count {
            var damaged = bytes
            damaged[offset] ^= 0xFF
            XCTAssertThrowsError(try SpoolSegment.decode(damaged), "offset \(offset)") { error in
                guard let error = error as? SpoolError else { return XCTFail("not a SpoolError: \(error)") }
                switch (offset, error) {
                case (0..<4, .badMagic): break
                case (4..<6, .unsupportedVersion(_, supported: 1)): break
                case (6..<8, .torn), (6..<8, .lengthMismatch): break  // name length
                case (12..<16, .torn), (12..<16, .lengthMismatch): break  // body length
                case (8..<12, .checksumMismatch), (16..., .checksumMismatch): break
                default: XCTFail("offset \(offset): unexpected \(error)")
                }
            }
        }
    }

    func testErrorDescriptionsReadWell() {
        XCTAssertEqual(SpoolError.torn(expectedBytes: 120, actualBytes: 57).description,
                       "torn record: expected 120 bytes, found 57")
        XCTAssertEqual(SpoolError.full(currentBytes: 10, maxBytes: 20).description, "spool full: 10 of 20 bytes used")
        XCTAssertEqual(SpoolError.io(operation: "open", path: "/x", errno: 2).description,
                       "open /x failed: No such file or directory (errno 2)")
        XCTAssertEqual(SpoolError.alreadyLocked(path: "/s/.lock", pid: 42).description,
                       "another ingestd (pid 42) holds the lock /s/.lock")
    }
}
