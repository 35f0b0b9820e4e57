import Foundation
import IngestCore
import XCTest

final class DeviceRecordTests: XCTestCase {
    func testCodableUsesSnakeCaseKeys() throws {
        let json = #"{"tenant_id":"t1","device_id":"d1","site_id":"s1","status":"ACTIVE","provision_token_hash":"ab"}"#
        let record = try JSONDecoder().decode(DeviceRecord.self, from: Data(json.utf8))
        XCTAssertEqual(record, DeviceRecord(tenantID: "t1", deviceID: "d1", siteID: "s1", status: "ACTIVE", provisionTokenHash: "ab"))
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? [String: String]
        XCTAssertEqual(Set(encoded?.keys ?? [:].keys), ["tenant_id", "device_id", "site_id", "status", "provision_token_hash"])
        let withoutHash = try JSONDecoder().decode(DeviceRecord.self, from: Data(#"{"tenant_id":"t","device_id":"d","site_id":"s","status":"X"}"#.utf8))
        XCTAssertNil(withoutHash.provisionTokenHash)
    }

    func testFlags() {
        func record(_ status: String, _ hash: String?) -> DeviceRecord {
            DeviceRecord(tenantID: "t", deviceID: "d", siteID: "s", status: status, provisionTokenHash: hash)
        }
        XCTAssertTrue(record("ACTIVE", nil).isActive)
        XCTAssertFalse(record("REVOKED", nil).isActive)
        XCTAssertFalse(record("active", nil).isActive)
        XCTAssertFalse(record("ACTIVE", nil).hasToken)
        XCTAssertFalse(record("ACTIVE", "").hasToken)
        XCTAssertTrue(record("ACTIVE", "ab").hasToken)
        XCTAssertEqual(record("ACTIVE", nil).deviceKey, DeviceKey(tenantID: "t", deviceID: "d"))
    }
}
