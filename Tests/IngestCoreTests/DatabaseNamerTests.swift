import IngestCore
import XCTest

final class DatabaseNamerTests: XCTestCase {
    func testDefaultTemplate() {
        let namer = DatabaseNamer()
        XCTAssertEqual(namer.template, "telemetry_{tenant_id}")
        XCTAssertFalse(namer.tenantAsTag)
        XCTAssertEqual(namer.database(forTenant: "acme"), "telemetry_acme")
    }

    func testCustomTemplates() {
        XCTAssertEqual(DatabaseNamer(template: "{tenant_id}").database(forTenant: "t1"), "t1")
        XCTAssertEqual(DatabaseNamer(template: "db_{tenant_id}_raw").database(forTenant: "t1"), "db_t1_raw")
        XCTAssertEqual(DatabaseNamer(template: "{tenant_id}-{tenant_id}").database(forTenant: "x"), "x-x")
    }

    func testTemplateWithoutPlaceholderPutsTenantInATag() {
        let namer = DatabaseNamer(template: "telemetry")
        XCTAssertTrue(namer.tenantAsTag)
        XCTAssertEqual(namer.database(forTenant: "acme"), "telemetry")
        XCTAssertTrue(DatabaseNamer(template: "telemetry_{tenant}").tenantAsTag)
    }
}
