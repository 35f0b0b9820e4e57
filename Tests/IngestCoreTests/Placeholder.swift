import XCTest
final class IngestCoreTestsPlaceholder: XCTestCase { func testBuilds() {} }
