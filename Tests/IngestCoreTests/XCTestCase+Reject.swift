import IngestCore
import XCTest

extension XCTestCase {
    /// Fails unless `body` throws exactly `expected`.
    func assertRejects<T>(
        _ expected: RejectReason,
        _ message: @autoclosure () -> String = "",
        file: StaticString = #filePath,
        line: UInt = #line,
        _ body: () throws(RejectReason) -> T
    ) {
        do {
            let value = try body()
            XCTFail("expected \(expected.rawValue), got \(value) \(message())", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, message(), file: file, line: line)
        }
    }

    func assertAccepts<T>(
        _ message: @autoclosure () -> String = "",
        file: StaticString = #filePath,
        line: UInt = #line,
        _ body: () throws(RejectReason) -> T
    ) -> T? {
        do {
            return try body()
        } catch {
            XCTFail("unexpected \(error.rawValue) \(message())", file: file, line: line)
            return nil
        }
    }
}
