import Foundation
import TestSupport
import XCTest

/// The deployment files, checked with the tools that judge them without a Docker engine or a
/// running systemd: the Compose Specification's JSON schema (python `jsonschema`), and
/// `systemd-analyze verify` for the unit. The Dockerfile is checked for what the issue asks.
final class DeployTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private func path(_ relative: String) -> String { Self.root.appendingPathComponent(relative).path }
    private func read(_ relative: String) throws -> String { try String(contentsOfFile: path(relative), encoding: .utf8) }

    /// Runs a shell command line; returns its exit code and output (stdout and stderr).
    private func shell(_ command: String) async throws -> (code: Int32, output: String) {
        let directory = try TemporaryDirectory(prefix: "deploy-test")
        defer { directory.remove() }
        let child = try ChildProcess(name: "sh", executable: "/bin/sh", arguments: ["-c", command], logPath: directory.file("out.log"))
        let code = try await child.waitForExit(timeout: 120)
        return (code, child.log())
    }

    func testComposeFileValidatesAgainstTheComposeSpecification() async throws {
        let schema = ProcessInfo.processInfo.environment["COMPOSE_SPEC_SCHEMA"] ?? path("../shared/schemas/compose-spec.json")
        XCTAssertTrue(FileManager.default.fileExists(atPath: schema), "the Compose Specification schema at \(schema)")
        let script = #"""
        import json, sys
        try:
            import yaml, jsonschema
        except ImportError as e:
            sys.exit("python3 needs PyYAML and jsonschema (scripts/install-deps.sh): %s" % e)
        schema = json.load(open(sys.argv[2]))
        jsonschema.Draft7Validator.check_schema(schema)
        doc = yaml.safe_load(open(sys.argv[1]))
        errors = list(jsonschema.Draft7Validator(schema).iter_errors(doc))
        for e in errors:
            print("compose: /%s: %s" % ("/".join(map(str, e.absolute_path)), e.message))
        print("compose: %d services, %d errors" % (len(doc.get("services", {})), len(errors)))
        sys.exit(1 if errors else 0)
        """#
        let result = try await shell("python3 -c '\(script.replacingOccurrences(of: "'", with: "'\\''"))' '\(path("compose/docker-compose.yml"))' '\(schema)'")
        XCTAssertEqual(result.code, 0, result.output)
        XCTAssertTrue(result.output.contains("0 errors"), result.output)
    }

    func testComposeHasWhatTheIssueAsks() throws {
        let compose = try read("compose/docker-compose.yml")
        for needle in ["mosquitto:", "influxdb:", "postgres:", "ingestd:", "simulator:", "profiles: [\"demo\"]",
                       "env_file:", "../config/ingestd.env", "restart: unless-stopped", "stop_grace_period: 45s",
                       "condition: service_healthy", "memory:", "cpus:", "ingestd-spool:/var/lib/ingestd",
                       "dockerfile: deploy/Dockerfile", "../config/registry.sql", "../config/mosquitto.conf",
                       "influxdb:3-core", "--admin-token-file"] {
            XCTAssertTrue(compose.contains(needle), "compose file has \(needle)")
        }
        // stop_grace_period (45 s) is longer than the drain (SHUTDOWN_TIMEOUT_SECONDS in the env file).
        let env = try read("config/ingestd.env")
        let drain = env.split(separator: "\n").first { $0.hasPrefix("SHUTDOWN_TIMEOUT_SECONDS=") }.flatMap { Int($0.split(separator: "=")[1]) }
        XCTAssertNotNil(drain)
        XCTAssertLessThan(drain ?? 99, 45)
    }

    /// Every `${VAR:-default}` of the compose file is documented, with its default, in config/ingestd.env.
    func testEveryComposeVariableIsDocumentedInTheEnvFile() throws {
        let compose = try read("compose/docker-compose.yml")
        let env = try read("config/ingestd.env")
        let pattern = try NSRegularExpression(pattern: #"\$\{([A-Z0-9_]+):-([^}]*)\}"#)
        let matches = pattern.matches(in: compose, range: NSRange(compose.startIndex..., in: compose))
        XCTAssertFalse(matches.isEmpty)
        for match in matches {
            let name = String(compose[Range(match.range(at: 1), in: compose)!])
            let value = String(compose[Range(match.range(at: 2), in: compose)!])
            XCTAssertTrue(env.contains("\(name)=\(value)"), "config/ingestd.env documents \(name)=\(value)")
        }
        // No bare ${VAR} without a default: `docker compose up` must work without a .env file.
        XCTAssertNil(compose.range(of: #"(?<!\$)\$\{[A-Z0-9_]+\}"#, options: .regularExpression))
    }

    func testSystemdAnalyzeVerifyAcceptsTheUnit() async throws {
        guard let analyze = ExecutableLocator.find("systemd-analyze") else {
            throw XCTSkip("systemd-analyze is not installed (Debian package systemd)")
        }
        guard let binary = IngestdProcess.binaryPath() else { return XCTFail("the ingestd binary is not built") }
        // `verify` checks that ExecStart= exists: point it at the built binary, change nothing else.
        let directory = try TemporaryDirectory(prefix: "unit")
        defer { directory.remove() }
        let unit = try read("deploy/systemd/ingestd.service")
        XCTAssertTrue(unit.contains("ExecStart=/usr/local/bin/ingestd run"))
        try unit.replacingOccurrences(of: "ExecStart=/usr/local/bin/ingestd", with: "ExecStart=\(binary)")
            .write(toFile: directory.file("ingestd.service"), atomically: true, encoding: .utf8)
        let result = try await shell("'\(analyze)' verify '\(directory.file("ingestd.service"))' 2>&1")
        XCTAssertEqual(result.code, 0, result.output)
        // Unknown keys and bad values are only warnings (exit 0): any output is a finding.
        XCTAssertEqual(result.output.trimmingCharacters(in: .whitespacesAndNewlines), "", result.output)

        for line in ["Type=notify", "EnvironmentFile=/etc/ingestd/ingestd.env", "DynamicUser=yes", "StateDirectory=ingestd",
                     "Restart=on-failure", "WatchdogSec=30s", "TimeoutStopSec=45s", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                     "MemoryMax="] {
            XCTAssertTrue(unit.contains(line), "the unit has \(line)")
        }
    }

    func testSystemdAnalyzeWouldCatchAMistake() async throws {
        guard let analyze = ExecutableLocator.find("systemd-analyze") else { throw XCTSkip("systemd-analyze is not installed") }
        let directory = try TemporaryDirectory(prefix: "unit")
        defer { directory.remove() }
        try "[Service]\nType=notify\nExecStart=/bin/true\nWatchdogSecc=30s\n".write(toFile: directory.file("bad.service"), atomically: true, encoding: .utf8)
        let result = try await shell("'\(analyze)' verify '\(directory.file("bad.service"))' 2>&1")
        XCTAssertTrue(result.output.contains("WatchdogSecc"), "the check above is meaningful: \(result.output)")
    }

    func testDockerfileHasWhatTheIssueAsks() throws {
        let dockerfile = try read("deploy/Dockerfile")
        for needle in ["FROM swift:6.3", "AS build", "--static-swift-stdlib", "-c release", "FROM debian:bookworm-slim",
                       "libmosquitto1", "libcurl4", "ca-certificates", "USER ingestd", "VOLUME [\"/var/lib/ingestd\"]",
                       "HEALTHCHECK", "CMD [\"ingestd\", \"healthcheck\"]", "STOPSIGNAL SIGTERM"] {
            XCTAssertTrue(dockerfile.contains(needle), "Dockerfile has \(needle)")
        }
        let ignore = try read(".dockerignore")
        XCTAssertTrue(ignore.contains(".build"))
        XCTAssertTrue(ignore.contains(".git"))
        // Every file the Dockerfile copies exists in the build context and is not ignored.
        for source in ["Package.swift", "Sources", "Tests", "config/devices.json", "VERSION", "scripts/version.sh", "Plugins"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path(source)), source)
            XCTAssertFalse(ignore.split(separator: "\n").contains { $0 == source }, "\(source) is not in .dockerignore")
        }
    }

    func testRegistrySQLAndDevicesJSONHoldTheSameTwoDevices() throws {
        let sql = try read("config/registry.sql")
        let data = try Data(contentsOf: URL(fileURLWithPath: path("config/devices.json")))
        let devices = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[String: String]])
        XCTAssertEqual(devices.count, 2)
        for device in devices {
            XCTAssertTrue(sql.contains("'\(device["device_id"]!)'"))
            XCTAssertTrue(sql.contains(device["provision_token_hash"]!))
        }
        XCTAssertTrue(sql.contains("CREATE TABLE IF NOT EXISTS device_registry"))
    }

    /// The alert rules pass `promtool check rules` and their unit tests (`promtool test rules`).
    func testPromtoolChecksAndUnitTestsTheAlertRules() async throws {
        guard let promtool = ExecutableLocator.find("promtool") else {
            return XCTFail("promtool is not installed (Debian package prometheus; scripts/install-deps.sh installs it)")
        }
        let rules = path("deploy/prometheus/ingestd-alerts.yml")
        let check = try await shell("'\(promtool)' check rules '\(rules)' 2>&1")
        XCTAssertEqual(check.code, 0, check.output)
        XCTAssertTrue(check.output.contains("SUCCESS: 8 rules found"), check.output)
        let unit = try await shell("cd '\(path("deploy/prometheus"))' && '\(promtool)' test rules ingestd-alerts.test.yml 2>&1")
        XCTAssertEqual(unit.code, 0, unit.output)
        XCTAssertTrue(unit.output.contains("SUCCESS"), unit.output)
        let config = try await shell("'\(promtool)' check config '\(path("deploy/prometheus/prometheus.yml"))' 2>&1")
        XCTAssertEqual(config.code, 0, config.output)

        // Every alert the rules file defines has a test that expects it to fire.
        let tests = try read("deploy/prometheus/ingestd-alerts.test.yml")
        for line in try read("deploy/prometheus/ingestd-alerts.yml").split(separator: "\n") where line.contains("- alert: ") {
            let name = line.split(separator: " ").last.map(String.init) ?? ""
            XCTAssertTrue(tests.contains("alertname: \(name)\n        exp_alerts:\n          - exp_labels"), "a firing test for \(name)")
        }
    }

    /// The compose stack keeps its secrets in files, publishes its ports on loopback by default, and
    /// gives ingestd a stable MQTT client id; the dashboard is provisioned with its data source.
    func testComposeUsesSecretsLoopbackPortsAndAStableClientID() async throws {
        let script = """
            import json, sys, yaml
            print(json.dumps(yaml.safe_load(open(sys.argv[1]))))
            """
        let result = try await shell("python3 -c '\(script)' '\(path("compose/docker-compose.yml"))'")
        XCTAssertEqual(result.code, 0, result.output)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let services = try XCTUnwrap(doc["services"] as? [String: [String: Any]])
        for (name, service) in services {
            for port in (service["ports"] as? [String]) ?? [] {
                XCTAssertTrue(port.hasPrefix("${PUBLISH_ADDRESS:-127.0.0.1}:") || port.hasPrefix("127.0.0.1:"),
                              "\(name) publishes \(port) on loopback by default")
            }
            let environment = (service["environment"] as? [String: Any]) ?? [:]
            for secret in ["INFLUXDB_TOKEN", "PG_PASS", "POSTGRES_PASSWORD", "INFLUXDB3_AUTH_TOKEN", "MQTT_PASSWORD"] {
                XCTAssertNil(environment[secret], "\(name) gets \(secret) as a file, not in its environment")
            }
        }
        let ingestd = try XCTUnwrap(services["ingestd"])
        let environment = try XCTUnwrap(ingestd["environment"] as? [String: String])
        XCTAssertEqual(environment["INFLUXDB_TOKEN_FILE"], "/run/secrets/influxdb_token")
        XCTAssertEqual(environment["PG_PASS_FILE"], "/run/secrets/pg_pass")
        XCTAssertEqual(environment["MQTT_CLIENT_ID"], "${INGESTD_MQTT_CLIENT_ID:-ingestd-compose}")
        XCTAssertEqual(services["postgres"]?["environment"].flatMap { $0 as? [String: String] }?["POSTGRES_PASSWORD_FILE"], "/run/secrets/pg_pass")
        let secrets = try XCTUnwrap(doc["secrets"] as? [String: [String: String]])
        for (name, secret) in secrets {
            // The default file of each secret exists (demo values), relative to the compose file.
            let file = try XCTUnwrap(secret["file"]?.split(separator: "-").last.map(String.init)?.dropLast())
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("compose/" + file)), "\(name): compose/\(file)")
        }

        // Grafana: the provisioned data source's uid is the one every panel names.
        let datasource = try read("deploy/grafana/provisioning/datasources/prometheus.yml")
        XCTAssertTrue(datasource.contains("uid: prometheus"))
        let dashboard = try read("deploy/grafana/ingestd.json")
        XCTAssertFalse(dashboard.contains("\"uid\": \"${"), "no unresolved data source")
        let grafana = try XCTUnwrap(services["grafana"])
        XCTAssertTrue(((grafana["volumes"] as? [String]) ?? []).contains("../deploy/grafana/ingestd.json:/var/lib/grafana/dashboards/ingestd.json:ro"))
    }
}
