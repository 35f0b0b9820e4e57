import XCTest
@testable import IngestCore

/// Secrets from the variable, `<NAME>_FILE` or `$CREDENTIALS_DIRECTORY/<NAME>` (README "Secrets"),
/// with the files given as a dictionary: the parser does no file I/O of its own.
final class SecretSettingsTests: XCTestCase {
    private static let secrets = ["INFLUXDB_TOKEN", "INFLUXDB_PASSWORD", "MQTT_PASSWORD", "PG_PASS"]

    private func load(_ environment: [String: String], files: [String: String] = [:]) throws(SettingsError) -> Settings {
        var environment = environment
        // The passwords need their user names, or the settings conflict for another reason.
        environment["MQTT_USERNAME"] = "mu"
        let influxPassword = environment.keys.contains { $0.hasPrefix("INFLUXDB_PASSWORD") }
            || (environment["CREDENTIALS_DIRECTORY"] != nil && files.keys.contains { $0.hasSuffix("/INFLUXDB_PASSWORD") })
        if influxPassword { environment["INFLUXDB_USERNAME"] = "iu" }
        return try Settings(environment: environment, hostname: "h", fileProblem: { _ in nil }, readSecret: { path in
            if path.hasPrefix("/unreadable") { return .unreadable(reason: "permission denied") }
            return files[path].map { .contents($0) } ?? .missing
        })
    }

    private func value(_ name: String, in settings: Settings) -> String? {
        switch name {
        case "INFLUXDB_TOKEN": settings.influxToken
        case "INFLUXDB_PASSWORD": settings.influxPassword
        case "MQTT_PASSWORD": settings.mqttPassword
        default: settings.pgPassword
        }
    }

    private func error(_ body: () throws(SettingsError) -> Settings) -> SettingsError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    func testEachSecretComesFromItsVariableItsFileOrItsCredential() throws {
        for name in Self.secrets {
            XCTAssertEqual(value(name, in: try load([name: "plain-\(name)"])), "plain-\(name)")

            let fromFile = try load([name + "_FILE": "/run/secrets/x"], files: ["/run/secrets/x": "from-file\n"])
            XCTAssertEqual(value(name, in: fromFile), "from-file", "the trailing newline is dropped")
            XCTAssertEqual(fromFile.entries.first { $0.name == name }?.displayValue, "(set from \(name)_FILE, redacted)")

            let fromCredential = try load(["CREDENTIALS_DIRECTORY": "/run/credentials/ingestd.service"],
                                          files: ["/run/credentials/ingestd.service/\(name)": "cred"])
            XCTAssertEqual(value(name, in: fromCredential), "cred")
            let entry = try XCTUnwrap(fromCredential.entries.first { $0.name == name })
            XCTAssertEqual(entry.displayValue, "(set from $CREDENTIALS_DIRECTORY/\(name), redacted)")
            XCTAssertTrue(entry.isFromEnvironment)
        }
    }

    func testACredentialsDirectoryWithoutTheSecretLeavesItUnset() throws {
        let settings = try load(["CREDENTIALS_DIRECTORY": "/run/credentials/x"])
        XCTAssertNil(settings.influxToken)
        XCTAssertEqual(settings.entries.first { $0.name == "INFLUXDB_TOKEN" }?.displayValue, "(not set)")
    }

    func testASecretGivenTwiceIsAConfigurationError() {
        let files = ["/s": "a", "/c/PG_PASS": "b"]
        let twice: [[String: String]] = [
            ["PG_PASS": "x", "PG_PASS_FILE": "/s"],
            ["PG_PASS": "x", "CREDENTIALS_DIRECTORY": "/c"],
            ["PG_PASS_FILE": "/s", "CREDENTIALS_DIRECTORY": "/c"],
        ]
        for environment in twice {
            let failure = error { () throws(SettingsError) in try load(environment, files: files) }
            guard case .conflict(let names, let reason)? = failure else { return XCTFail("\(environment): \(String(describing: failure))") }
            XCTAssertEqual(names.count, 2, "\(names)")
            XCTAssertTrue(reason.contains("PG_PASS"), reason)
            XCTAssertFalse(failure!.description.contains("\n"), "one line")
            XCTAssertFalse(failure!.description.contains("\"x\"") || failure!.description.contains(": a") , "the secret is never shown")
        }
        let all = error { () throws(SettingsError) in
            try load(["PG_PASS": "x", "PG_PASS_FILE": "/s", "CREDENTIALS_DIRECTORY": "/c"], files: files)
        }
        XCTAssertEqual(all?.variable, "PG_PASS,PG_PASS_FILE,$CREDENTIALS_DIRECTORY/PG_PASS")
    }

    func testAMissingUnreadableOrEmptySecretFileIsAConfigurationError() {
        XCTAssertEqual(error { () throws(SettingsError) in try load(["INFLUXDB_TOKEN_FILE": "/nope"]) },
                       .unreadableFile(name: "INFLUXDB_TOKEN_FILE", path: "/nope", reason: "no such file"))
        XCTAssertEqual(error { () throws(SettingsError) in try load(["INFLUXDB_TOKEN_FILE": "/unreadable"]) },
                       .unreadableFile(name: "INFLUXDB_TOKEN_FILE", path: "/unreadable", reason: "permission denied"))
        XCTAssertEqual(error { () throws(SettingsError) in try load(["INFLUXDB_TOKEN_FILE": "/empty"], files: ["/empty": " \n"]) },
                       .unreadableFile(name: "INFLUXDB_TOKEN_FILE", path: "/empty", reason: "the file is empty"))
        XCTAssertEqual(error { () throws(SettingsError) in try load(["CREDENTIALS_DIRECTORY": "/unreadable"]) }?.variable,
                       "$CREDENTIALS_DIRECTORY/MQTT_PASSWORD", "the first secret read")
    }
}
