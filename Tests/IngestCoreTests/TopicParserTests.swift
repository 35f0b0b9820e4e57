import IngestCore
import XCTest

final class TopicParserTests: XCTestCase {
    let parser = Fixtures.topicParser

    func testParsesTheFiveLevels() throws {
        let address = try parser.parse("tenant/t1/device/d-1/telemetry")
        XCTAssertEqual(address, TopicAddress(tenantID: "t1", deviceID: "d-1", messageType: "telemetry"))
        XCTAssertEqual(address.deviceKey, DeviceKey(tenantID: "t1", deviceID: "d-1"))
    }

    func testUnicodeAndEscapableCharactersInIdsAreFine() throws {
        let address = try parser.parse("tenant/mü nich/device/a,b=c\\d/heartbeat")
        XCTAssertEqual(address.tenantID, "mü nich")
        XCTAssertEqual(address.deviceID, "a,b=c\\d")
    }

    func testWrongLevelCount() {
        for topic in ["", "tenant", "tenant/t1/device/d1", "tenant/t1/device/d1/telemetry/extra", "/tenant/t1/device/d1/telemetry"] {
            assertRejects(.badTopicFormat, topic) { () throws(RejectReason) in try parser.parse(topic) }
        }
    }

    func testWrongLiteralWords() {
        for topic in ["tenants/t1/device/d1/telemetry", "tenant/t1/devices/d1/telemetry", "Tenant/t1/device/d1/telemetry", "x/t1/y/d1/telemetry"] {
            assertRejects(.badTopicFormat, topic) { () throws(RejectReason) in try parser.parse(topic) }
        }
    }

    func testEmptyIds() {
        for topic in ["tenant//device/d1/telemetry", "tenant/t1/device//telemetry", "tenant/t1/device/d1/"] {
            assertRejects(.badTopicFormat, topic) { () throws(RejectReason) in try parser.parse(topic) }
        }
    }

    func testIdsLineProtocolCannotCarry() {
        let topics = [
            "tenant/t1/device/d1\\/telemetry",  // device id ending in a backslash
            "tenant/t1\\/device/d1/telemetry",  // tenant id ending in a backslash
            "tenant/t1/device/a\\ b/telemetry",  // backslash before an escaped character
            "tenant/t1/device/a\\,b/telemetry",
            "tenant/t1/device/a\\=b/telemetry",
            "tenant/t1/device/a\\\"b/telemetry",
            "tenant/t1/device/d\n1/telemetry",  // control characters
            "tenant/t1/device/d\r1/telemetry",
            "tenant/t\u{7F}1/device/d1/telemetry",
        ]
        for topic in topics {
            assertRejects(.badTopicFormat, topic.debugDescription) { () throws(RejectReason) in try parser.parse(topic) }
        }
    }

    func testUnsupportedMessageType() {
        assertRejects(.unsupportedMsgType) { () throws(RejectReason) in try parser.parse("tenant/t1/device/d1/video") }
        assertRejects(.unsupportedMsgType) { () throws(RejectReason) in try parser.parse("tenant/t1/device/d1/Telemetry") }
        assertRejects(.unsupportedMsgType) { () throws(RejectReason) in
            try TopicParser(allowedMessageTypes: []).parse("tenant/t1/device/d1/telemetry")
        }
    }

    func testFormatIsCheckedBeforeMessageType() {
        assertRejects(.badTopicFormat) { () throws(RejectReason) in try parser.parse("tenant//device/d1/video") }
    }
}
