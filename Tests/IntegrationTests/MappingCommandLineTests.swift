import Foundation
import TestSupport
import XCTest

/// `ingestd map` and `ingestd check-config` with MAPPING_FILE.
final class MappingCommandLineTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUp() async throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() async throws {
        directory.remove()
    }

    private func run(_ arguments: [String], _ environment: [String: String] = [:]) async throws -> (code: Int32, output: String) {
        var env = environment
        env["REGISTRY"] = "none"
        return try await IngestdProcess.runToCompletion(arguments: arguments, environment: env)
    }

    private func payloadFile(_ text: String) throws -> String {
        let path = directory.file("payload-\(UUID().uuidString)")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testMapPrintsTheRuleAndTheLineProtocol() async throws {
        let payload = try payloadFile(#"{"temperature":"21.5","battery":100,"voltage":3015,"state":"ON"}"#)
        let result = try await run(["map", "--topic", "zigbee2mqtt/kitchen", "--payload", payload],
                                   ["MAPPING_FILE": MappingExamples.path("zigbee2mqtt.yaml")])
        XCTAssertEqual(result.code, 0, result.output)
        XCTAssertTrue(result.output.contains("rule: zigbee2mqtt"), result.output)
        XCTAssertTrue(result.output.contains("database: telemetry_home"), result.output)
        XCTAssertTrue(result.output.contains("zigbee,device=kitchen battery=100.0,state=true,temperature=21.5,voltage=3015i "), result.output)
    }

    func testMapPrintsTheRejectReason() async throws {
        let mapping = ["MAPPING_FILE": MappingExamples.path("zigbee2mqtt.yaml")]
        var result = try await run(["map", "--topic", "elsewhere/kitchen"], mapping)
        XCTAssertEqual(result.code, 1, result.output)
        XCTAssertTrue(result.output.contains("rejected: NO_MAPPING"), result.output)
        result = try await run(["map", "--topic", "zigbee2mqtt/kitchen", "--payload", try payloadFile("{not json")], mapping)
        XCTAssertEqual(result.code, 1, result.output)
        XCTAssertTrue(result.output.contains("rejected: BAD_JSON"), result.output)
    }

    func testMapWithoutAMappingFileUsesTheEnvelope() async throws {
        let payload = try payloadFile(#"{"ts":1770628523045,"site_id":"s1","seq":4,"metrics":{"temp_c":21.5}}"#)
        let result = try await run(["map", "--topic", "tenant/acme/device/d1/telemetry", "--payload", payload])
        XCTAssertEqual(result.code, 0, result.output)
        XCTAssertTrue(result.output.contains("rule: envelope (envelope)"), result.output)
        XCTAssertTrue(result.output.contains("telemetry,device_id=d1,site_id=s1 seq=4i,temp_c=21.5 1770628523045000000"), result.output)
    }

    func testCheckConfigPrintsTheCompiledRulesOfEveryExample() async throws {
        for name in ["zigbee2mqtt.yaml", "tasmota.yaml", "shelly.yaml", "ttn.yaml", "home-assistant.yaml"] {
            let result = try await run(["check-config"], ["MAPPING_FILE": MappingExamples.path(name)])
            XCTAssertEqual(result.code, 0, "\(name): \(result.output)")
            XCTAssertTrue(result.output.contains("mapping rules from"), result.output)
            XCTAssertTrue(result.output.contains("subscriptions (MQTT_TOPIC not set):"), result.output)
            XCTAssertTrue(result.output.contains("configuration ok"), result.output)
        }
    }

    func testCheckConfigNamesTheRuleAndTheFieldOfABadFileAndExits78() async throws {
        let path = directory.file("bad.yaml")
        try """
        rules:
          - name: good
            topic: a/{device}
            measurement: m
            fields: {t: float}
          - name: thermostats
            topic: b/{device}
            measurement: m
            fields:
              temperature: {pointer: /temp, type: double}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        var result = try await run(["check-config"], ["MAPPING_FILE": path])
        XCTAssertEqual(result.code, 78, result.output)
        XCTAssertTrue(result.output.contains(#"rule "thermostats", field "fields.temperature.type", unknown type "double""#), result.output)

        try "rules:\n  - name: typo\n    topic: a\n    measurment: m\n".write(toFile: path, atomically: true, encoding: .utf8)
        result = try await run(["check-config"], ["MAPPING_FILE": path])
        XCTAssertEqual(result.code, 78, result.output)
        XCTAssertTrue(result.output.contains(#"rule "typo", field "measurment", unknown key"#), result.output)

        result = try await run(["run"], ["MAPPING_FILE": path])
        XCTAssertEqual(result.code, 78, result.output)
        XCTAssertTrue(result.output.contains("MAPPING_FILE"), result.output)

        result = try await run(["check-config"], ["MAPPING_FILE": directory.file("missing.yaml")])
        XCTAssertEqual(result.code, 78, result.output)
        XCTAssertTrue(result.output.contains("MAPPING_FILE"), result.output)
    }
}
