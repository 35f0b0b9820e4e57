@testable import IngestCore
import XCTest

/// `registry: true` on a mapping rule (README, "Mapping other devices"): compiled only with a device,
/// printed by check-config, and the (tenant, device) the pipeline asks the registry for handed back.
final class MappingRegistryRuleTests: XCTestCase {
    private func rules(_ body: String, payload: String = #""measurement":"m","fields":{"t":"float"}"#) -> String {
        #"{"rules":[{"name":"r1","topic":"v3/{app}/devices/{dev}/up",\#(payload),\#(body)}]}"#
    }

    func testRegistryWithoutADeviceIsAnErrorNamingTheRuleAndTheDeviceField() {
        for payload in [#""measurement":"m","fields":{"t":"float"}"#, #""payload":"line-protocol""#,
                        #""payload":"value","measurement":"m","value":{"field":"v","type":"float"}"#] {
            let error = MappingFixture.error(rules(#""registry":true"#, payload: payload))
            XCTAssertEqual(error?.rule, "r1", payload)
            XCTAssertEqual(error?.field, "device", payload)
            XCTAssertTrue(error?.message.contains("registry: true needs the device") == true, "\(String(describing: error))")
        }
    }

    func testTheEnvelopeTakesNoRegistrySetting() {
        let error = MappingFixture.error(#"{"rules":[{"name":"r1","topic":"tenant/+/device/+/+","payload":"envelope","registry":true}]}"#)
        XCTAssertEqual(error?.rule, "r1")
        XCTAssertEqual(error?.field, "registry")
        XCTAssertTrue(error?.message.contains("not used with payload: envelope") == true, "\(String(describing: error))")
    }

    func testRegistryIsOffUnlessTheRuleSaysSo() throws {
        for body in [#""device":"{dev}""#, #""device":"{dev}","registry":false"#] {
            let rule = try MappingFixture.rules(rules(body)).rules[0]
            XCTAssertFalse(rule.registry, body)
            XCTAssertTrue(rule.description.contains("  registry: not checked"), rule.description)
        }
    }

    func testCheckConfigPrintsTheRegistryKey() throws {
        let rule = try MappingFixture.rules(rules(#""tenant":"lora_{app}","device":"{dev}","registry":true"#)).rules[0]
        XCTAssertTrue(rule.registry)
        XCTAssertTrue(rule.description.contains(
            #"  registry: tenant_id "lora_{app}", device_id "{dev}" must be registered and ACTIVE (no site or token check)"#),
            rule.description)
    }

    /// The key is the rule's tenant (default: its name) and device, rendered from the topic, whether or
    /// not the rate limit is on; a rule without `registry: true` hands back none.
    func testMappingHandsBackTheDeviceToCheck() throws {
        let checked = try MappingFixture.rules(rules(#""tenant":"lora_{app}","device":"{dev}","registry":true"#))
        let mapped = try XCTUnwrap(assertAccepts { () throws(RejectReason) in
            try MappingFixture.map(checked, topic: "v3/farm/devices/probe-7/up", payload: #"{"t":3}"#)
        })
        XCTAssertEqual(mapped?.registryDevice, DeviceKey(tenantID: "lora_farm", deviceID: "probe-7"))
        XCTAssertEqual(mapped?.lines, ["m t=3.0 7"])

        let defaultTenant = try MappingFixture.rules(rules(#""device":"{app}-{dev}","registry":true"#))
        XCTAssertEqual(try MappingFixture.map(defaultTenant, topic: "v3/farm/devices/probe-7/up", payload: #"{"t":3}"#)?.registryDevice,
                       DeviceKey(tenantID: "r1", deviceID: "farm-probe-7"))

        let unchecked = try MappingFixture.rules(rules(#""device":"{dev}""#))
        XCTAssertNil(try MappingFixture.map(unchecked, topic: "v3/farm/devices/probe-7/up", payload: #"{"t":3}"#)?.registryDevice)
    }

    /// Line-protocol rules take the registry too.
    func testLineProtocolRulesNameTheirDevice() throws {
        let set = try MappingFixture.rules(rules(#""device":"{dev}","registry":true"#, payload: #""payload":"line-protocol""#))
        XCTAssertEqual(try MappingFixture.map(set, topic: "v3/a/devices/d/up", payload: "cpu load=1 5")?.registryDevice,
                       DeviceKey(tenantID: "r1", deviceID: "d"))
    }
}
