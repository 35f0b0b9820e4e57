import XCTest
@testable import IngestCore

final class SettingsTests: XCTestCase {
    private func load(_ environment: [String: String]) throws -> Settings {
        try Settings(environment: environment, hostname: "box1", fileProblem: { _ in nil })
    }

    private func assertInvalid(_ environment: [String: String], names variable: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(environment), file: file, line: line) { error in
            guard let error = error as? SettingsError else { return XCTFail("unexpected \(error)", file: file, line: line) }
            XCTAssertEqual(error.variable, variable, file: file, line: line)
            for name in variable.split(separator: ",") {
                XCTAssertTrue(error.description.contains(name), error.description, file: file, line: line)
            }
        }
    }

    func testDefaultsMatchTheContract() throws {
        let settings = try load([:])
        XCTAssertEqual(settings.mqttHost, "localhost")
        XCTAssertEqual(settings.mqttPort, 1883)
        XCTAssertEqual(settings.mqttTopics, ["tenant/+/device/+/+"])
        XCTAssertEqual(settings.mqttQoS, 1)
        XCTAssertEqual(settings.mqttClientID, "ingestd-box1")
        XCTAssertFalse(settings.mqttCleanSession)
        XCTAssertEqual(settings.mqttProtocol, .v5)
        XCTAssertEqual(settings.influxURL, "http://localhost:8181")
        XCTAssertEqual(settings.influxAPI, .v3)
        XCTAssertTrue(settings.influxWriteEnabled)
        XCTAssertEqual(settings.influxDatabaseTemplate, "telemetry_{tenant_id}")
        XCTAssertEqual(settings.authCacheTTLSeconds, 60)
        XCTAssertEqual(settings.authCacheMaxSize, 10000)
        XCTAssertEqual(settings.authCacheNegativeTTLSeconds, 10)
        XCTAssertEqual(settings.influxBatchSize, 500)
        XCTAssertEqual(settings.influxMaxBatchBytes, 8_388_608)
        XCTAssertEqual(settings.influxMaxConcurrency, 64)
        XCTAssertEqual(settings.influxMaxBufferBytes, 67_108_864)
        XCTAssertFalse(settings.influxV3NoSync)
        XCTAssertEqual(settings.influxFlushIntervalMilliseconds, 1000)
        XCTAssertEqual(settings.influxConcurrency, 16)
        XCTAssertEqual(settings.influxTimeoutMilliseconds, 10000)
        XCTAssertEqual(settings.logStatsEverySeconds, 30)
        XCTAssertTrue(settings.requireToken)
        XCTAssertEqual(settings.maxPayloadBytes, 8192)
        XCTAssertEqual(settings.maxMetricKeys, 50)
        XCTAssertEqual(settings.messageTypes, ["telemetry", "heartbeat"])
        XCTAssertEqual(settings.rateLimitPerSecond, 5)
        XCTAssertEqual(settings.rateLimitBurst, 20)
        XCTAssertEqual(settings.registry, .file)
        XCTAssertEqual(settings.registryFile, "config/devices.json")
        XCTAssertEqual(settings.intakeCapacity, 10000)
        XCTAssertEqual(settings.shutdownTimeoutSeconds, 20)
        XCTAssertEqual(settings.logLevel, .info)
        XCTAssertEqual(settings.logFormat, .logfmt)
        XCTAssertEqual(settings.spoolDirectory, "/var/lib/ingestd/spool")
        XCTAssertEqual(settings.spoolAfterMilliseconds, 10000)
        XCTAssertEqual(settings.spoolMaxBytes, 1 << 30)
        XCTAssertEqual(settings.durability, .broker)
        XCTAssertEqual(settings.journalSyncMilliseconds, 50)
    }

    func testValuesAreReadAndTrimmed() throws {
        let settings = try load([
            "MQTT_PORT": " 1884 ", "MQTT_TOPIC": "a/+, b/#,", "MQTT_PROTOCOL": "3.1.1", "INFLUXDB_API": "V1",
            "REQUIRE_TOKEN": "false", "RATE_LIMIT_RPS": "0.5", "INFLUXDB_URL": "https://influx.example:8086/",
            "MQTT_CLIENT_ID": "fixed-id", "LOG_FORMAT": "json",
        ])
        XCTAssertEqual(settings.mqttPort, 1884)
        XCTAssertEqual(settings.mqttTopics, ["a/+", "b/#"])
        XCTAssertEqual(settings.mqttProtocol, .v311)
        XCTAssertEqual(settings.influxAPI, .v1)
        XCTAssertFalse(settings.requireToken)
        XCTAssertEqual(settings.rateLimitPerSecond, 0.5)
        XCTAssertEqual(settings.influxURL, "https://influx.example:8086")
        XCTAssertEqual(settings.mqttClientID, "fixed-id")
        XCTAssertEqual(settings.logFormat, .json)
    }

    func testAnEmptyValueMeansUnset() throws {
        XCTAssertEqual(try load(["MQTT_PORT": ""]).mqttPort, 1883)
    }

    func testBadValuesNameTheVariableTheValueAndWhatIsAllowed() {
        assertInvalid(["MQTT_PORT": "abc"], names: "MQTT_PORT")
        assertInvalid(["MQTT_PORT": "0"], names: "MQTT_PORT")
        assertInvalid(["MQTT_PORT": "65536"], names: "MQTT_PORT")
        assertInvalid(["MQTT_QOS": "3"], names: "MQTT_QOS")
        assertInvalid(["MQTT_PROTOCOL": "4"], names: "MQTT_PROTOCOL")
        assertInvalid(["INFLUXDB_API": "v4"], names: "INFLUXDB_API")
        assertInvalid(["INFLUXDB_URL": "localhost:8086"], names: "INFLUXDB_URL")
        assertInvalid(["INFLUXDB_URL": "http:///path"], names: "INFLUXDB_URL")
        assertInvalid(["REQUIRE_TOKEN": "maybe"], names: "REQUIRE_TOKEN")
        assertInvalid(["RATE_LIMIT_RPS": "fast"], names: "RATE_LIMIT_RPS")
        assertInvalid(["RATE_LIMIT_RPS": "-1"], names: "RATE_LIMIT_RPS")
        assertInvalid(["RATE_LIMIT_RPS": "nan"], names: "RATE_LIMIT_RPS")
        assertInvalid(["INFLUX_BATCH_SIZE": "0"], names: "INFLUX_BATCH_SIZE")
        assertInvalid(["MSG_TYPES": ",,"], names: "MSG_TYPES")
        assertInvalid(["MSG_TYPES": "telemetry,bad type"], names: "MSG_TYPES")
        assertInvalid(["INFLUXDB_DB_TEMPLATE": "bad name"], names: "INFLUXDB_DB_TEMPLATE")
        assertInvalid(["LOG_LEVEL": "loud"], names: "LOG_LEVEL")
        assertInvalid(["REGISTRY": "ldap"], names: "REGISTRY")
        assertInvalid(["SPOOL_MAX_BYTES": "1000"], names: "SPOOL_MAX_BYTES")
        assertInvalid(["SPOOL_AFTER_MS": "-1"], names: "SPOOL_AFTER_MS")
        assertInvalid(["DURABILITY": "disk"], names: "DURABILITY")
        assertInvalid(["JOURNAL_SYNC_MS": "0"], names: "JOURNAL_SYNC_MS")
        assertInvalid(["INFLUX_MAX_CONCURRENCY": "0"], names: "INFLUX_MAX_CONCURRENCY")
        assertInvalid(["INFLUX_MAX_BUFFER_BYTES": "1000"], names: "INFLUX_MAX_BUFFER_BYTES")
        assertInvalid(["INFLUX_V3_NO_SYNC": "sometimes"], names: "INFLUX_V3_NO_SYNC")
    }

    func testTheMessageQuotesTheValueAndTheAllowedRange() {
        XCTAssertThrowsError(try load(["MQTT_PORT": "abc"])) { error in
            XCTAssertEqual((error as? SettingsError)?.description,
                           "invalid setting MQTT_PORT=\"abc\": expected an integer from 1 to 65535")
        }
    }

    func testCombinationsThatCannotWork() {
        assertInvalid(["INFLUXDB_API": "v2"], names: "INFLUXDB_API,INFLUXDB_ORG")
        assertInvalid(["INFLUXDB_USERNAME": "u"], names: "INFLUXDB_USERNAME,INFLUXDB_PASSWORD")
        assertInvalid(["MQTT_PASSWORD": "p"], names: "MQTT_USERNAME,MQTT_PASSWORD")
        assertInvalid(["INFLUX_RETRY_BASE_MS": "5000", "INFLUX_RETRY_MAX_DELAY_MS": "100"],
                      names: "INFLUX_RETRY_BASE_MS,INFLUX_RETRY_MAX_DELAY_MS")
        assertInvalid(["INFLUX_CONCURRENCY": "8", "INFLUX_MAX_CONCURRENCY": "4"],
                      names: "INFLUX_CONCURRENCY,INFLUX_MAX_CONCURRENCY")
        assertInvalid(["INFLUX_MAX_BATCH_BYTES": "16777216", "INFLUX_MAX_BUFFER_BYTES": "8388608"],
                      names: "INFLUX_MAX_BATCH_BYTES,INFLUX_MAX_BUFFER_BYTES")
        assertInvalid(["INFLUXDB_API": "v1", "INFLUX_V3_NO_SYNC": "1"], names: "INFLUX_V3_NO_SYNC,INFLUXDB_API")
    }

    func testAnUnreadableRegistryFileIsRefusedOnlyWhenItIsUsed() throws {
        let missing: (String) -> String? = { _ in "no such file" }
        XCTAssertThrowsError(try Settings(environment: ["REGISTRY_FILE": "/nope.json"], hostname: "h", fileProblem: missing)) { error in
            XCTAssertEqual(error as? SettingsError, .unreadableFile(name: "REGISTRY_FILE", path: "/nope.json", reason: "no such file"))
        }
        XCTAssertNoThrow(try Settings(environment: ["REGISTRY": "none"], hostname: "h", fileProblem: missing))
    }

    func testReadableFileProblemLooksAtTheRealFile() {
        XCTAssertNil(Settings.readableFileProblem("/etc/hostname"))
        XCTAssertEqual(Settings.readableFileProblem("/definitely/not/here"), "no such file")
        XCTAssertEqual(Settings.readableFileProblem("/tmp"), "it is a directory")
    }

    func testSecretsAreNeverShownNotEvenInPart() throws {
        let settings = try load([
            "INFLUXDB_TOKEN": "tok-SECRET-123", "MQTT_USERNAME": "u", "MQTT_PASSWORD": "pw-SECRET",
            "INFLUXDB_USERNAME": "iu", "INFLUXDB_PASSWORD": "ipw-SECRET",
        ])
        let printed = settings.entries.map { "\($0.name)=\($0.displayValue)" }.joined(separator: "\n")
        XCTAssertFalse(printed.contains("SECRET"), printed)
        XCTAssertFalse(printed.contains("tok"), printed)
        let token = try XCTUnwrap(settings.entries.first { $0.name == "INFLUXDB_TOKEN" })
        XCTAssertTrue(token.isSecret)
        XCTAssertEqual(token.displayValue, "(set, redacted)")
    }

    func testEntriesListEveryVariableOnceAndMarkWhatCameFromTheEnvironment() throws {
        let settings = try load(["MQTT_PORT": "1999"])
        let names = settings.entries.map(\.name)
        XCTAssertEqual(names.count, Set(names).count)
        XCTAssertTrue(names.contains("AUTH_CACHE_MAX_SIZE"))
        XCTAssertEqual(settings.entries.first { $0.name == "MQTT_PORT" }?.isFromEnvironment, true)
        XCTAssertEqual(settings.entries.first { $0.name == "MQTT_HOST" }?.isFromEnvironment, false)
    }

    func testSessionExpiryDefaultsToNeverAndIsChecked() throws {
        XCTAssertEqual(try load([:]).mqttSessionExpirySeconds, 4_294_967_295)
        XCTAssertEqual(try load(["MQTT_SESSION_EXPIRY_SECONDS": "604800"]).mqttSessionExpirySeconds, 604_800)
        for bad in ["0", "-1", "4294967296", "week"] {
            assertInvalid(["MQTT_SESSION_EXPIRY_SECONDS": bad], names: "MQTT_SESSION_EXPIRY_SECONDS")
        }
        XCTAssertTrue(try load([:]).entries.contains { $0.name == "MQTT_SESSION_EXPIRY_SECONDS" })
    }

    /// libmosquitto hands QoS 2 over on PUBREL, after PUBREC: a restart between them loses the message.
    func testQoS2WithLibmosquittoIsRefused() throws {
        assertInvalid(["MQTT_QOS": "2", "MQTT_CLIENT": "libmosquitto"], names: "MQTT_QOS,MQTT_CLIENT")
        XCTAssertEqual(try load(["MQTT_QOS": "2"]).mqttQoS, 2)
        XCTAssertEqual(try load(["MQTT_QOS": "1", "MQTT_CLIENT": "libmosquitto"]).mqttQoS, 1)
    }

    /// libmosquitto acknowledges before ingestd sees a message: it cannot wait until it is safe.
    func testDurabilityThatAcknowledgesWhenSafeNeedsTheNativeClient() throws {
        assertInvalid(["DURABILITY": "journal", "MQTT_CLIENT": "libmosquitto"], names: "DURABILITY,MQTT_CLIENT")
        assertInvalid(["DURABILITY": "broker", "MQTT_CLIENT": "libmosquitto"], names: "DURABILITY,MQTT_CLIENT")
        XCTAssertEqual(try load(["DURABILITY": "memory", "MQTT_CLIENT": "libmosquitto"]).durability, .memory)
        XCTAssertEqual(try load(["DURABILITY": "Broker"]).durability, .broker)
    }

    /// Acknowledgements that wait until a message is safe want the widest window by default.
    func testTheReceiveWindowDefaultFollowsDurability() throws {
        XCTAssertEqual(try load([:]).mqttReceiveMaximum, 65535)
        XCTAssertEqual(try load(["DURABILITY": "memory"]).mqttReceiveMaximum, 1000)
        // The default is broker where it keeps its promise at speed, memory elsewhere.
        XCTAssertEqual(try load(["MQTT_CLIENT": "libmosquitto"]).durability, .memory)
        XCTAssertEqual(try load(["MQTT_CLIENT": "libmosquitto"]).mqttReceiveMaximum, 1000)
        XCTAssertEqual(try load(["MQTT_PROTOCOL": "3.1.1"]).durability, .memory)
        XCTAssertEqual(try load(["MQTT_PROTOCOL": "5"]).durability, .broker)
        XCTAssertEqual(try load(["DURABILITY": "journal"]).mqttReceiveMaximum, 65535)
        XCTAssertEqual(try load(["DURABILITY": "broker"]).mqttReceiveMaximum, 65535)
        XCTAssertEqual(try load(["DURABILITY": "broker", "MQTT_RECEIVE_MAXIMUM": "500"]).mqttReceiveMaximum, 500)
    }

    func testProductionSettingsHealthTLSAndSharedGroup() throws {
        let defaults = try load([:])
        XCTAssertNil(defaults.healthListen, "health endpoints are off by default")
        XCTAssertNil(defaults.mqttTLSCAFile)
        XCTAssertFalse(defaults.mqttTLSEnabled)
        XCTAssertFalse(defaults.mqttTLSInsecure)
        XCTAssertNil(defaults.influxTLSCAFile)
        XCTAssertFalse(defaults.influxTLSInsecure)
        XCTAssertNil(defaults.mqttSharedGroup)

        XCTAssertEqual(try load(["HEALTH_LISTEN": "127.0.0.1:9464"]).healthListen, .init(host: "127.0.0.1", port: 9464))
        XCTAssertEqual(try load(["HEALTH_LISTEN": ":9464"]).healthListen, .init(host: "0.0.0.0", port: 9464))
        XCTAssertEqual(try load(["HEALTH_LISTEN": "[::1]:9000"]).healthListen, .init(host: "::1", port: 9000))
        XCTAssertEqual(try load(["HEALTH_LISTEN": "[::1]:9000"]).healthListen?.description, "[::1]:9000")
        XCTAssertNil(try load(["HEALTH_LISTEN": "off"]).healthListen)
        for bad in ["9464", "host:", "host:0", "host:70000", "::1:9464", "[::1]9464", "a b:1"] {
            assertInvalid(["HEALTH_LISTEN": bad], names: "HEALTH_LISTEN")
        }

        let tls = try load(["MQTT_TLS_CA_FILE": "/ca.pem", "MQTT_TLS_CERT_FILE": "/c.pem", "MQTT_TLS_KEY_FILE": "/c.key",
                            "MQTT_TLS_INSECURE": "1", "INFLUX_TLS_CA_FILE": "/i.pem", "INFLUX_TLS_INSECURE": "yes",
                            "MQTT_SHARED_GROUP": "ingest"])
        XCTAssertTrue(tls.mqttTLSEnabled)
        XCTAssertEqual(tls.mqttTLSCAFile, "/ca.pem")
        XCTAssertEqual(tls.mqttTLSCertFile, "/c.pem")
        XCTAssertEqual(tls.mqttTLSKeyFile, "/c.key")
        XCTAssertTrue(tls.mqttTLSInsecure)
        XCTAssertEqual(tls.influxTLSCAFile, "/i.pem")
        XCTAssertTrue(tls.influxTLSInsecure)
        XCTAssertEqual(tls.mqttSharedGroup, "ingest")

        assertInvalid(["MQTT_TLS_CA_FILE": "/ca.pem", "MQTT_TLS_CERT_FILE": "/c.pem"], names: "MQTT_TLS_CERT_FILE,MQTT_TLS_KEY_FILE")
        // Without a CA file, TLS checks the broker against the system's trust store.
        let systemTrust = try load(["MQTT_TLS": "1"])
        XCTAssertTrue(systemTrust.mqttTLSEnabled)
        XCTAssertNil(systemTrust.mqttTLSCAFile)
        XCTAssertTrue(try load(["MQTT_TLS_CERT_FILE": "/c.pem", "MQTT_TLS_KEY_FILE": "/c.key"]).mqttTLSEnabled)
        assertInvalid(["MQTT_TLS_INSECURE": "1"], names: "MQTT_TLS_INSECURE,MQTT_TLS")
        assertInvalid(["MQTT_TLS_INSECURE": "maybe", "MQTT_TLS_CA_FILE": "/ca.pem"], names: "MQTT_TLS_INSECURE")
        assertInvalid(["INFLUX_TLS_INSECURE": "2"], names: "INFLUX_TLS_INSECURE")
        for bad in ["a/b", "a+", "#", "a b"] {
            assertInvalid(["MQTT_SHARED_GROUP": bad], names: "MQTT_SHARED_GROUP")
        }

        // Every file setting is checked readable at start.
        let missing: (String) -> String? = { $0 == "/missing.pem" ? "no such file" : nil }
        for name in ["MQTT_TLS_CA_FILE", "INFLUX_TLS_CA_FILE"] {
            XCTAssertThrowsError(try Settings(environment: ["REGISTRY": "none", name: "/missing.pem"], hostname: "h", fileProblem: missing)) {
                XCTAssertEqual($0 as? SettingsError, .unreadableFile(name: name, path: "/missing.pem", reason: "no such file"))
            }
        }
        for name in ["MQTT_TLS_CERT_FILE", "MQTT_TLS_KEY_FILE"] {
            var environment = ["REGISTRY": "none", "MQTT_TLS_CA_FILE": "/ca.pem", "MQTT_TLS_CERT_FILE": "/c.pem", "MQTT_TLS_KEY_FILE": "/c.key"]
            environment[name] = "/missing.pem"
            XCTAssertThrowsError(try Settings(environment: environment, hostname: "h", fileProblem: missing)) {
                XCTAssertEqual($0 as? SettingsError, .unreadableFile(name: name, path: "/missing.pem", reason: "no such file"))
            }
        }
        let names = Set(defaults.entries.map(\.name))
        for name in ["HEALTH_LISTEN", "MQTT_TLS", "MQTT_TLS_CA_FILE", "MQTT_TLS_CERT_FILE", "MQTT_TLS_KEY_FILE", "MQTT_TLS_INSECURE",
                     "INFLUX_TLS_CA_FILE", "INFLUX_TLS_INSECURE", "MQTT_SHARED_GROUP"] {
            XCTAssertTrue(names.contains(name), "check-config lists \(name)")
        }
    }

    func testRegistryPostgresAndQuarantineSettings() throws {
        let defaults = try load([:])
        XCTAssertEqual(defaults.pgHost, "localhost")
        XCTAssertEqual(defaults.pgPort, 5432)
        XCTAssertEqual(defaults.pgDatabase, "postgres")
        XCTAssertEqual(defaults.pgUser, "postgres")
        XCTAssertNil(defaults.pgPassword)
        XCTAssertEqual(defaults.pgSSLMode, .prefer)
        XCTAssertEqual(defaults.pgPoolSize, 4)
        XCTAssertFalse(defaults.registryCreateSchema)
        XCTAssertEqual(defaults.registryWaitSeconds, 30)
        XCTAssertNil(defaults.registryNotifyChannel)
        XCTAssertFalse(defaults.autoProvision)
        XCTAssertEqual(defaults.authCacheStaleSeconds, 3600)
        XCTAssertEqual(defaults.mode, .prod)
        XCTAssertTrue(defaults.storeRejects)
        XCTAssertEqual(defaults.quarantineFile, "quarantine/rejects.jsonl")
        XCTAssertEqual(defaults.quarantineMaxBytes, 100 << 20)
        XCTAssertFalse(defaults.rejectCountsToInflux)
        XCTAssertEqual(defaults.registryWaitMaxMessages, 10000)
        XCTAssertEqual(defaults.registryWaitMaxBytes, 16 << 20)

        let settings = try load([
            "REGISTRY": "postgres", "PG_HOST": "db", "PG_PORT": "6432", "PG_DB": "fleet", "PG_USER": "ingest",
            "PG_PASS": "pg-SECRET", "PG_SSLMODE": "require", "REGISTRY_NOTIFY_CHANNEL": "device_registry_changed",
            "MODE": "dev", "AUTO_PROVISION": "1", "REGISTRY_WAIT_SECONDS": "5",
            "REGISTRY_WAIT_MAX_MESSAGES": "1", "REGISTRY_WAIT_MAX_BYTES": "0",
        ])
        XCTAssertEqual(settings.registryWaitMaxMessages, 1)
        XCTAssertEqual(settings.registryWaitMaxBytes, 0)
        XCTAssertEqual(settings.registry, .postgres)
        XCTAssertEqual(settings.pgPort, 6432)
        XCTAssertEqual(settings.pgSSLMode, .require)
        XCTAssertEqual(settings.registryNotifyChannel, "device_registry_changed")
        XCTAssertEqual(settings.mode, .dev)
        XCTAssertTrue(settings.autoProvision)
        let printed = settings.entries.map { "\($0.name)=\($0.displayValue)" }.joined(separator: "\n")
        XCTAssertFalse(printed.contains("SECRET"), printed)
        XCTAssertTrue(printed.contains("PG_PASS=(set, redacted)"), printed)

        assertInvalid(["PG_SSLMODE": "allow"], names: "PG_SSLMODE")
        assertInvalid(["PG_PORT": "0"], names: "PG_PORT")
        assertInvalid(["MODE": "TEST"], names: "MODE")
        assertInvalid(["REGISTRY_NOTIFY_CHANNEL": "bad channel; DROP"], names: "REGISTRY_NOTIFY_CHANNEL")
        assertInvalid(["QUARANTINE_MAX_BYTES": "10"], names: "QUARANTINE_MAX_BYTES")
        assertInvalid(["REGISTRY_WAIT_SECONDS": "-1"], names: "REGISTRY_WAIT_SECONDS")
        assertInvalid(["REGISTRY_WAIT_MAX_MESSAGES": "0"], names: "REGISTRY_WAIT_MAX_MESSAGES")
        assertInvalid(["REGISTRY_WAIT_MAX_BYTES": "-1"], names: "REGISTRY_WAIT_MAX_BYTES")
    }
}
