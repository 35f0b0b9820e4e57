import IngestCore
import XCTest
@testable import IngestService

final class InfluxOutcomeTests: XCTestCase {
    func testClassification() {
        XCTAssertEqual(InfluxWriteResult.classify(status: 204, body: "", retryAfterSeconds: nil), .written)
        XCTAssertEqual(InfluxWriteResult.classify(status: 200, body: "", retryAfterSeconds: nil), .written)
        for status in [401, 403, 404, 408, 429, 500, 502, 503, 504] {
            guard case .retryable(let failure) = InfluxWriteResult.classify(status: status, body: "x", retryAfterSeconds: 2) else {
                return XCTFail("\(status) should be retryable")
            }
            XCTAssertEqual(failure, .status(code: status, body: "x", retryAfterSeconds: 2))
        }
        for status in [400, 413, 422] {
            guard case .rejected = InfluxWriteResult.classify(status: status, body: "partial write", retryAfterSeconds: nil) else {
                return XCTFail("\(status) should be rejected")
            }
        }
    }

    func testBackoffStaysWithinTheExponentialCeiling() {
        let backoff = RetryBackoff(baseMilliseconds: 250, maxDelayMilliseconds: 30_000)
        XCTAssertEqual(backoff.ceilingMilliseconds(attempt: 1), 250)
        XCTAssertEqual(backoff.ceilingMilliseconds(attempt: 2), 500)
        XCTAssertEqual(backoff.ceilingMilliseconds(attempt: 8), 30_000)
        XCTAssertEqual(backoff.ceilingMilliseconds(attempt: 1000), 30_000)
        for attempt in 1...40 {
            for _ in 0..<50 {
                let delay = backoff.delayMilliseconds(attempt: attempt, retryAfterSeconds: nil)
                XCTAssertGreaterThanOrEqual(delay, 0)
                XCTAssertLessThanOrEqual(delay, backoff.ceilingMilliseconds(attempt: attempt))
            }
        }
        XCTAssertEqual(backoff.delayMilliseconds(attempt: 3, retryAfterSeconds: nil, unit: 0), 0)
        XCTAssertEqual(backoff.delayMilliseconds(attempt: 3, retryAfterSeconds: nil, unit: 1), 1000)
        XCTAssertEqual(backoff.delayMilliseconds(attempt: 3, retryAfterSeconds: nil, unit: 0.5), 500)
    }

    func testBackoffHonoursRetryAfterUpToTheMaximum() {
        let backoff = RetryBackoff(baseMilliseconds: 250, maxDelayMilliseconds: 30_000)
        XCTAssertEqual(backoff.delayMilliseconds(attempt: 1, retryAfterSeconds: 5, unit: 0), 5000)
        XCTAssertEqual(backoff.delayMilliseconds(attempt: 1, retryAfterSeconds: 0.5, unit: 1), 500)
        XCTAssertEqual(backoff.delayMilliseconds(attempt: 10, retryAfterSeconds: 1, unit: 1), 30_000)
        XCTAssertEqual(backoff.delayMilliseconds(attempt: 1, retryAfterSeconds: 3600, unit: 0), 30_000)
    }

    func testRetryAfterParsing() {
        XCTAssertEqual(HTTPResponse.parseRetryAfter("7"), 7)
        XCTAssertEqual(HTTPResponse.parseRetryAfter(" 0 "), 0)
        let now = Date(timeIntervalSince1970: 1_770_628_523)
        XCTAssertEqual(HTTPResponse.parseRetryAfter("Mon, 09 Feb 2026 09:15:33 GMT", now: now)!, 10, accuracy: 0.001)
        XCTAssertNil(HTTPResponse.parseRetryAfter("soon"))
        XCTAssertEqual(HTTPResponse(status: 503, headers: ["retry-after": "3"]).retryAfterSeconds(), 3)
    }

    func testGzipProducesAGzipStream() throws {
        let input = [UInt8](String(repeating: "telemetry,device_id=d1 v=1 1770628523045000000\n", count: 200).utf8)
        let compressed = try Gzip.compress(input)
        XCTAssertEqual(Array(compressed.prefix(2)), [0x1f, 0x8b])
        XCTAssertLessThan(compressed.count, input.count / 4)
        XCTAssertEqual(Array(try Gzip.compress([]).prefix(2)), [0x1f, 0x8b])
    }
}
