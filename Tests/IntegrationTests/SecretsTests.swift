import Foundation
import TestSupport
import XCTest

/// Secrets from `<NAME>_FILE` and systemd credentials on the built binary (README "Secrets"): real
/// files, `check-config`'s redacted display, exit 78 for a secret given twice, and the token read
/// from `$CREDENTIALS_DIRECTORY` reaching InfluxDB's `Authorization` header.
final class SecretsTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUp() async throws {
        directory = try TemporaryDirectory(prefix: "secrets")
        try FileManager.default.createDirectory(atPath: directory.file("credentials"), withIntermediateDirectories: true)
        try "file-token-123\n".write(toFile: directory.file("token"), atomically: true, encoding: .utf8)
        try "cred-pass-456".write(toFile: directory.file("credentials/PG_PASS"), atomically: true, encoding: .utf8)
        try "cred-token-789\n".write(toFile: directory.file("credentials/INFLUXDB_TOKEN"), atomically: true, encoding: .utf8)
    }

    override func tearDown() async throws {
        directory.remove()
    }

    private func checkConfig(_ environment: [String: String]) async throws -> (code: Int32, output: String) {
        try await IngestdProcess.runToCompletion(arguments: ["check-config"], environment: environment.merging(["REGISTRY": "none"]) { a, _ in a })
    }

    func testCheckConfigReadsFilesAndCredentialsAndShowsOnlyWhereFrom() async throws {
        let fromFile = try await checkConfig(["INFLUXDB_TOKEN_FILE": directory.file("token")])
        XCTAssertEqual(fromFile.code, 0, fromFile.output)
        XCTAssertTrue(fromFile.output.contains("(set from INFLUXDB_TOKEN_FILE, redacted)"), fromFile.output)
        XCTAssertFalse(fromFile.output.contains("file-token"), fromFile.output)

        let onlyPG = directory.file("only-pg")
        try FileManager.default.createDirectory(atPath: onlyPG, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: directory.file("credentials/PG_PASS"), toPath: onlyPG + "/PG_PASS")
        let fromCredential = try await checkConfig(["CREDENTIALS_DIRECTORY": onlyPG])
        XCTAssertEqual(fromCredential.code, 0, fromCredential.output)
        XCTAssertTrue(fromCredential.output.contains("(set from $CREDENTIALS_DIRECTORY/PG_PASS, redacted)"), fromCredential.output)
        XCTAssertFalse(fromCredential.output.contains("cred-pass"), fromCredential.output)
    }

    func testASecretGivenTwiceOrAMissingFileStopsWithOneLineAndExit78() async throws {
        let twice = try await checkConfig(["INFLUXDB_TOKEN": "plain-token", "INFLUXDB_TOKEN_FILE": directory.file("token")])
        XCTAssertEqual(twice.code, 78, twice.output)
        XCTAssertEqual(twice.output.split(separator: "\n").count, 1, twice.output)
        XCTAssertTrue(twice.output.contains("INFLUXDB_TOKEN, INFLUXDB_TOKEN_FILE"), twice.output)
        XCTAssertFalse(twice.output.contains("plain-token") || twice.output.contains("file-token"), twice.output)

        let fileAndCredential = try await checkConfig(["INFLUXDB_TOKEN_FILE": directory.file("token"),
                                                       "CREDENTIALS_DIRECTORY": directory.file("credentials")])
        XCTAssertEqual(fileAndCredential.code, 78, fileAndCredential.output)
        XCTAssertTrue(fileAndCredential.output.contains("$CREDENTIALS_DIRECTORY/INFLUXDB_TOKEN"), fileAndCredential.output)

        let missing = try await checkConfig(["PG_PASS_FILE": directory.file("nope")])
        XCTAssertEqual(missing.code, 78, missing.output)
        XCTAssertTrue(missing.output.contains("PG_PASS_FILE"), missing.output)
        XCTAssertTrue(missing.output.contains("no such file"), missing.output)
    }

    /// The daemon sends the token it read from the credential, trailing newline dropped.
    func testTheTokenFromACredentialReachesInfluxDB() async throws {
        let broker = try await MosquittoServer.start()
        let fake = try await FakeInflux.start()
        var fleet = Fleet()
        fleet.add("d1")
        try fleet.write(to: directory.file("devices.json"))
        let process = try IngestdProcess(environment: [
            "MQTT_HOST": broker.host, "MQTT_PORT": "\(broker.port)", "MQTT_CLIENT_ID": "secrets",
            "INFLUXDB_URL": fake.baseURL, "INFLUXDB_API": "v3", "CREDENTIALS_DIRECTORY": directory.file("credentials"),
            "REGISTRY_FILE": directory.file("devices.json"), "SPOOL_DIR": directory.file("spool"),
            "INFLUX_FLUSH_INTERVAL_MS": "200", "LOG_STATS_EVERY_SECONDS": "1",
        ], logPath: directory.file("ingestd.log"))
        do {
            try await eventually("subscribed", timeout: 60) { process.process.log().contains("msg=\"mqtt subscribed\"") }
            try await broker.publish(topic: Fleet.topic("d1"), payload: Fleet.telemetry("d1", seq: 1))
            try await eventually("one write", timeout: 60) { try await fake.requests().isEmpty == false }
            let request = try await fake.requests()[0]
            XCTAssertEqual(request.headers["authorization"], "Bearer cred-token-789")
            XCTAssertFalse(process.process.log().contains("cred-token"), "never in a log line")
        } catch {
            print(process.process.log())
            await process.process.stop()
            await fake.stop()
            await broker.remove()
            throw error
        }
        process.process.signal(SIGTERM)
        let code = try await process.process.waitForExit(timeout: 60)
        XCTAssertEqual(code, 0)
        await fake.stop()
        await broker.remove()
    }
}
