import IngestCore
import XCTest

final class RejectReasonTests: XCTestCase {
    func testRawValuesAreTheContractStringsInDesignOrder() {
        let contract = """
        PAYLOAD_TOO_LARGE, BAD_TOPIC_FORMAT, BAD_JSON, UNSUPPORTED_ENVELOPE_VERSION, UNSUPPORTED_MSG_TYPE,
        RATE_LIMITED, TENANT_MISMATCH_TOPIC_VS_PAYLOAD, MISSING_SITE_ID, BAD_TIMESTAMP, TOO_MANY_METRICS,
        METRIC_KEY_TOO_LONG, METRIC_KEY_INVALID, UNREGISTERED_DEVICE, DEVICE_REVOKED,
        SITE_MISMATCH_REGISTRY_VS_PAYLOAD, TOKEN_NOT_SET_IN_REGISTRY, TOKEN_MISSING, TOKEN_INVALID,
        REGISTRY_UNAVAILABLE, NO_MAPPING, FIELD_TYPE_MISMATCH, NO_FIELDS
        """
        let names = contract.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == " " }).map(String.init)
        XCTAssertEqual(names.count, 22)
        XCTAssertEqual(RejectReason.allCases.map(\.rawValue), names)
    }

    func testRegistryUnavailableRawValue() {
        XCTAssertEqual(RejectReason.registryUnavailable.rawValue, "REGISTRY_UNAVAILABLE")
        XCTAssertEqual(RejectReason(rawValue: "REGISTRY_UNAVAILABLE"), .registryUnavailable)
    }
}
