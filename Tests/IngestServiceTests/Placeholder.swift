import XCTest
final class IngestServiceTestsPlaceholder: XCTestCase { func testBuilds() {} }
