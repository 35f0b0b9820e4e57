import Foundation
import TestSupport
import XCTest

/// The binary's command-line contract: exit codes and what it prints.
final class CommandLineTests: XCTestCase {
    private func run(_ arguments: [String], _ environment: [String: String] = [:]) async throws -> (code: Int32, output: String) {
        var env = environment
        if env["REGISTRY"] == nil && env["REGISTRY_FILE"] == nil { env["REGISTRY"] = "none" }
        return try await IngestdProcess.runToCompletion(arguments: arguments, environment: env)
    }

    func testABadSettingStopsStartUpWithOneLineAndExit78() async throws {
        let result = try await run(["run"], ["MQTT_PORT": "abc"])
        XCTAssertEqual(result.code, 78)
        let lines = result.output.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.output)
        XCTAssertTrue(result.output.contains(#"MQTT_PORT=\"abc\""#), result.output)
        XCTAssertTrue(result.output.contains("expected an integer from 1 to 65535"), result.output)
    }

    func testAMissingRegistryFileIsABadSetting() async throws {
        let result = try await run(["run"], ["REGISTRY_FILE": "/nonexistent/devices.json"])
        XCTAssertEqual(result.code, 78)
        XCTAssertTrue(result.output.contains("REGISTRY_FILE"), result.output)
        XCTAssertTrue(result.output.contains("no such file"), result.output)
    }

    func testAMalformedRegistryFileIsABadSetting() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("devices.json")
        try #"[{"tenant_id":"t","device_id":"d"}]"#.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await run(["run"], ["REGISTRY_FILE": path])
        XCTAssertEqual(result.code, 78)
        XCTAssertTrue(result.output.contains("site_id"), result.output)
    }

    func testCheckConfigPrintsEffectiveSettingsWithSecretsRedacted() async throws {
        let result = try await run(["check-config"], [
            "INFLUXDB_TOKEN": "super-secret-token", "MQTT_USERNAME": "u", "MQTT_PASSWORD": "hunter2", "MQTT_PORT": "1999",
        ])
        XCTAssertEqual(result.code, 0, result.output)
        XCTAssertTrue(result.output.contains("MQTT_PORT"), result.output)
        XCTAssertTrue(result.output.contains("1999"), result.output)
        XCTAssertTrue(result.output.contains("INFLUX_BATCH_SIZE"), result.output)
        XCTAssertFalse(result.output.contains("super-secret"), result.output)
        XCTAssertFalse(result.output.contains("hunter2"), result.output)
        XCTAssertTrue(result.output.contains("configuration ok"), result.output)
    }

    func testCheckConfigRefusesABadValue() async throws {
        let result = try await run(["check-config"], ["INFLUXDB_API": "v9"])
        XCTAssertEqual(result.code, 78)
        XCTAssertTrue(result.output.contains("INFLUXDB_API"), result.output)
    }

    func testHashTokenPrintsTheSHA256Hex() async throws {
        let result = try await run(["hash-token", "abc"])
        XCTAssertEqual(result.code, 0)
        XCTAssertEqual(result.output.trimmingCharacters(in: .whitespacesAndNewlines),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testUsageErrorsExit64() async throws {
        let result = try await run(["no-such-command"])
        XCTAssertEqual(result.code, 64, result.output)
    }

    func testVersion() async throws {
        let result = try await run(["--version"])
        XCTAssertEqual(result.code, 0)
        XCTAssertFalse(result.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }
}
