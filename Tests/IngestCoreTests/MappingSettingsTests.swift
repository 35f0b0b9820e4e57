import IngestCore
import XCTest

final class MappingSettingsTests: XCTestCase {
    func testMappingFileIsOptionalAndMustBeReadable() throws {
        let defaults = try Settings(environment: ["REGISTRY": "none"], hostname: "h", fileProblem: { _ in nil })
        XCTAssertNil(defaults.mappingFile)
        XCTAssertTrue(defaults.entries.contains { $0.name == "MAPPING_FILE" && $0.displayValue == "(not set)" })
        let set = try Settings(environment: ["REGISTRY": "none", "MAPPING_FILE": "/etc/m.yaml"], hostname: "h", fileProblem: { _ in nil })
        XCTAssertEqual(set.mappingFile, "/etc/m.yaml")
        XCTAssertThrowsError(try Settings(environment: ["REGISTRY": "none", "MAPPING_FILE": "/m.yaml"], hostname: "h",
                                          fileProblem: { $0 == "/m.yaml" ? "no such file" : nil })) {
            XCTAssertEqual($0 as? SettingsError, .unreadableFile(name: "MAPPING_FILE", path: "/m.yaml", reason: "no such file"))
        }
    }
}
