import Foundation

/// Every setting ingestd reads from its environment, checked and typed once at start.
///
/// Names and defaults are part of the contract (README "Settings"): the names of the
/// service ingestd replaces are kept so its compose files keep working.
public struct Settings: Sendable {
    // MQTT
    public var mqttHost: String
    public var mqttPort: Int
    public var mqttTopics: [String]
    public var mqttQoS: Int
    public var mqttClientID: String
    public var mqttCleanSession: Bool
    public var mqttProtocol: MQTTProtocolVersion
    public var mqttClient: MQTTClientKind
    public var mqttUsername: String?
    public var mqttPassword: String?
    public var mqttKeepAliveSeconds: Int
    public var mqttReceiveMaximum: Int
    /// MQTT 5 Session Expiry Interval of the persistent session; 4294967295 = never.
    public var mqttSessionExpirySeconds: Int
    public var heartbeatTimeoutSeconds: Int
    public var intakeCapacity: Int

    // InfluxDB
    public var influxURL: String
    public var influxToken: String?
    public var influxAPI: InfluxAPIVersion
    public var influxOrg: String?
    public var influxUsername: String?
    public var influxPassword: String?
    public var influxWriteEnabled: Bool
    public var influxCreateDatabase: Bool
    public var influxDatabaseTemplate: String
    public var influxBatchSize: Int
    public var influxMaxBatchBytes: Int
    public var influxFlushIntervalMilliseconds: Int
    public var influxConcurrency: Int
    /// `INFLUX_MAX_CONCURRENCY`: the most writes in flight the adaptive controller may allow.
    public var influxMaxConcurrency: Int
    public var influxTimeoutMilliseconds: Int
    public var influxGzip: Bool
    public var influxRetryBaseMilliseconds: Int
    public var influxRetryMaxDelayMilliseconds: Int
    public var influxMaxBufferLines: Int
    /// `INFLUX_MAX_BUFFER_BYTES`: the memory bound in bytes, next to the line bound.
    public var influxMaxBufferBytes: Int
    /// `INFLUX_V3_NO_SYNC`: v3 writes with `no_sync=true` (acknowledged before InfluxDB's WAL flush).
    public var influxV3NoSync: Bool

    // Validation
    public var maxPayloadBytes: Int
    public var maxMetricKeys: Int
    public var messageTypes: [String]
    public var metricsIntegers: Bool
    public var rateLimitPerSecond: Double
    public var rateLimitBurst: Int
    public var requireToken: Bool
    /// `MAPPING_FILE`: rules for payloads other than the envelope (README, "Mapping other devices"); nil = the envelope only.
    public var mappingFile: String?

    // Registry and auth cache
    public var registry: RegistryKind
    public var registryFile: String
    public var authCacheTTLSeconds: Int
    public var authCacheMaxSize: Int
    public var authCacheNegativeTTLSeconds: Int

    // Durability
    public var spoolDirectory: String
    public var spoolAfterMilliseconds: Int
    public var spoolMaxBytes: Int
    public var durability: DurabilityMode
    public var journalSyncMilliseconds: Int

    // Lifecycle and logs
    public var shutdownTimeoutSeconds: Int
    public var logStatsEverySeconds: Int
    public var logLevel: LogLevelName
    public var logFormat: LogFormat

    // Production: health, TLS, scale-out
    /// `HEALTH_LISTEN`: where /healthz, /readyz and /metrics are served; nil (default) = off.
    public var healthListen: ListenAddress?
    public var mqttTLSCAFile: String?
    public var mqttTLSCertFile: String?
    public var mqttTLSKeyFile: String?
    public var mqttTLSInsecure: Bool
    /// `MQTT_TLS=1`: TLS to the broker even without any MQTT_TLS_* file (the system's trust store).
    public var mqttTLS: Bool
    public var influxTLSCAFile: String?
    public var influxTLSInsecure: Bool
    public var mqttSharedGroup: String?
    // Registry (PostgreSQL) and quarantine
    public var pgHost: String
    public var pgPort: Int
    public var pgDatabase: String
    public var pgUser: String
    public var pgPassword: String?
    public var pgSSLMode: PostgresSSLMode
    /// PG_SSLROOTCERT: the CA file `verify-ca`/`verify-full` trust (nil = the system's CA bundle).
    public var pgSSLRootCert: String?
    public var pgPoolSize: Int
    public var registryCreateSchema: Bool
    public var registryWaitSeconds: Int
    public var registryWaitMaxMessages: Int
    public var registryWaitMaxBytes: Int
    public var registryNotifyChannel: String?
    public var autoProvision: Bool
    public var authCacheStaleSeconds: Int
    public var mode: RunMode
    public var storeRejects: Bool
    public var quarantineFile: String
    public var quarantineMaxBytes: Int
    public var rejectCountsToInflux: Bool

    /// What was read, in order, secrets redacted: the body of `ingestd check-config`.
    public var entries: [SettingEntry]

    /// Reads and checks every setting. `hostname` makes the default client id; `fileProblem` says why a
    /// file cannot be read (nil when it can) and `readSecret` reads a secret's file (`<NAME>_FILE`,
    /// systemd credentials), both injectable so tests need no files.
    public init(
        environment: [String: String],
        hostname: String,
        fileProblem: (String) -> String? = Settings.readableFileProblem,
        readSecret: (String) -> SecretFileRead = SecretFileRead.fromDisk
    ) throws(SettingsError) {
        var env = EnvironmentReader(environment)

        mqttHost = env.string("MQTT_HOST", default: "localhost")
        mqttPort = try env.integer("MQTT_PORT", default: 1883, range: 1...65535)
        mqttTopics = try env.list("MQTT_TOPIC", default: ["tenant/+/device/+/+"])
        mqttQoS = try env.integer("MQTT_QOS", default: 1, range: 0...2)
        mqttClientID = env.string("MQTT_CLIENT_ID", default: "ingestd-\(hostname)")
        mqttCleanSession = try env.flag("MQTT_CLEAN_SESSION", default: false)
        mqttProtocol = try env.choice("MQTT_PROTOCOL", default: .v5)
        mqttClient = try env.choice("MQTT_CLIENT", default: .native)
        mqttUsername = env.optionalString("MQTT_USERNAME")
        mqttPassword = try env.secret("MQTT_PASSWORD", read: readSecret)
        mqttKeepAliveSeconds = try env.integer("MQTT_KEEPALIVE_SECONDS", default: 60, range: 5...65535)
        // With DURABILITY=journal/broker an acknowledgement waits until its message is safe, so the
        // window bounds the rate (README "Delivery guarantees"): the widest one by default. A bad
        // DURABILITY is reported where it is read.
        let defaultDurability = DurabilityMode.defaultMode(client: mqttClient, protocol: mqttProtocol)
        let acknowledgesWhenSafe = (DurabilityMode.allCases
            .first { $0.rawValue == env.raw("DURABILITY")?.lowercased() } ?? defaultDurability).acknowledgesWhenSafe
        mqttReceiveMaximum = try env.integer("MQTT_RECEIVE_MAXIMUM", default: acknowledgesWhenSafe ? 65535 : 1000,
                                             range: 1...65535)
        mqttSessionExpirySeconds = try env.integer("MQTT_SESSION_EXPIRY_SECONDS", default: Int(UInt32.max),
                                                   range: 1...Int(UInt32.max))
        heartbeatTimeoutSeconds = try env.integer("HEARTBEAT_TIMEOUT_SECONDS", default: 300, range: 0...86400)
        intakeCapacity = try env.integer("INTAKE_CAPACITY", default: 10000, range: 1...10_000_000)

        influxURL = try env.httpURL("INFLUXDB_URL", default: "http://localhost:8181")
        influxToken = try env.secret("INFLUXDB_TOKEN", read: readSecret)
        influxAPI = try env.choice("INFLUXDB_API", default: .v3)
        influxOrg = env.optionalString("INFLUXDB_ORG")
        influxUsername = env.optionalString("INFLUXDB_USERNAME")
        influxPassword = try env.secret("INFLUXDB_PASSWORD", read: readSecret)
        influxWriteEnabled = try env.flag("INFLUXDB_WRITE_ENABLED", default: true)
        influxCreateDatabase = try env.flag("INFLUXDB_CREATE_DATABASE", default: true)
        influxDatabaseTemplate = env.string("INFLUXDB_DB_TEMPLATE", default: "telemetry_{tenant_id}")
        influxBatchSize = try env.integer("INFLUX_BATCH_SIZE", default: 500, range: 1...1_000_000)
        influxMaxBatchBytes = try env.integer("INFLUX_MAX_BATCH_BYTES", default: 8 << 20, range: 1024...(256 << 20))
        influxFlushIntervalMilliseconds = try env.integer("INFLUX_FLUSH_INTERVAL_MS", default: 1000, range: 1...3_600_000)
        influxConcurrency = try env.integer("INFLUX_CONCURRENCY", default: 16, range: 1...1024)
        influxMaxConcurrency = try env.integer("INFLUX_MAX_CONCURRENCY", default: 64, range: 1...1024)
        influxTimeoutMilliseconds = try env.integer("INFLUX_TIMEOUT_MS", default: 10000, range: 100...600_000)
        influxGzip = try env.flag("INFLUX_GZIP", default: false)
        influxRetryBaseMilliseconds = try env.integer("INFLUX_RETRY_BASE_MS", default: 250, range: 1...600_000)
        influxRetryMaxDelayMilliseconds = try env.integer("INFLUX_RETRY_MAX_DELAY_MS", default: 30000, range: 1...3_600_000)
        influxMaxBufferLines = try env.integer("INFLUX_MAX_BUFFER_LINES", default: 1_000_000, range: 1...100_000_000)
        influxMaxBufferBytes = try env.integer("INFLUX_MAX_BUFFER_BYTES", default: 64 << 20, range: (1 << 20)...(64 << 30))
        influxV3NoSync = try env.flag("INFLUX_V3_NO_SYNC", default: false)

        maxPayloadBytes = try env.integer("MAX_PAYLOAD_BYTES", default: 8192, range: 1...(16 << 20))
        maxMetricKeys = try env.integer("MAX_METRIC_KEYS", default: 50, range: 1...10_000)
        messageTypes = try env.list("MSG_TYPES", default: ["telemetry", "heartbeat"])
        metricsIntegers = try env.flag("METRICS_INTEGERS", default: false)
        rateLimitPerSecond = try env.decimal("RATE_LIMIT_RPS", default: 5, range: 0...1_000_000)
        rateLimitBurst = try env.integer("RATE_LIMIT_BURST", default: 20, range: 1...1_000_000)
        requireToken = try env.flag("REQUIRE_TOKEN", default: true)
        mappingFile = env.optionalString("MAPPING_FILE")

        registry = try env.choice("REGISTRY", default: .file)
        registryFile = env.string("REGISTRY_FILE", default: "config/devices.json")
        authCacheTTLSeconds = try env.integer("AUTH_CACHE_TTL_SECONDS", default: 60, range: 0...86400 * 30)
        authCacheMaxSize = try env.integer("AUTH_CACHE_MAX_SIZE", default: 10000, range: 1...10_000_000)
        authCacheNegativeTTLSeconds = try env.integer("AUTH_CACHE_NEGATIVE_TTL_SECONDS", default: 10, range: 0...86400)

        spoolDirectory = env.string("SPOOL_DIR", default: "/var/lib/ingestd/spool")
        spoolAfterMilliseconds = try env.integer("SPOOL_AFTER_MS", default: 10000, range: 0...86_400_000)
        spoolMaxBytes = try env.integer("SPOOL_MAX_BYTES", default: 1 << 30, range: (1 << 20)...(1 << 50))
        durability = try env.choice("DURABILITY", default: defaultDurability)
        journalSyncMilliseconds = try env.integer("JOURNAL_SYNC_MS", default: 50, range: 1...60_000)

        shutdownTimeoutSeconds = try env.integer("SHUTDOWN_TIMEOUT_SECONDS", default: 20, range: 0...3600)
        logStatsEverySeconds = try env.integer("LOG_STATS_EVERY_SECONDS", default: 30, range: 0...86400)
        logLevel = try env.choice("LOG_LEVEL", default: .info)
        logFormat = try env.choice("LOG_FORMAT", default: .logfmt)

        // Production: health, TLS, scale-out
        if let listen = env.optionalString("HEALTH_LISTEN") {
            healthListen = try ListenAddress(parsing: listen, variable: "HEALTH_LISTEN")
        } else {
            healthListen = nil
        }
        mqttTLS = try env.flag("MQTT_TLS", default: false)
        mqttTLSCAFile = env.optionalString("MQTT_TLS_CA_FILE")
        mqttTLSCertFile = env.optionalString("MQTT_TLS_CERT_FILE")
        mqttTLSKeyFile = env.optionalString("MQTT_TLS_KEY_FILE")
        mqttTLSInsecure = try env.flag("MQTT_TLS_INSECURE", default: false)
        influxTLSCAFile = env.optionalString("INFLUX_TLS_CA_FILE")
        influxTLSInsecure = try env.flag("INFLUX_TLS_INSECURE", default: false)
        mqttSharedGroup = env.optionalString("MQTT_SHARED_GROUP")
        try Settings.checkProductionSettings(
            mqttTLS: (mqttTLS, mqttTLSCAFile, mqttTLSCertFile, mqttTLSKeyFile, mqttTLSInsecure),
            influxTLSCAFile: influxTLSCAFile, mqttSharedGroup: mqttSharedGroup, fileProblem: fileProblem)
        // Registry (PostgreSQL) and quarantine
        pgHost = env.string("PG_HOST", default: "localhost")
        pgPort = try env.integer("PG_PORT", default: 5432, range: 1...65535)
        pgDatabase = env.string("PG_DB", default: "postgres")
        pgUser = env.string("PG_USER", default: "postgres")
        pgPassword = try env.secret("PG_PASS", read: readSecret)
        pgSSLMode = try env.choice("PG_SSLMODE", default: .prefer)
        pgSSLRootCert = env.optionalString("PG_SSLROOTCERT")
        if let path = pgSSLRootCert {
            // libpq quietly verifies with `require` when a root certificate is present; say it instead.
            guard pgSSLMode.verifiesCertificate else {
                throw .conflict(names: ["PG_SSLROOTCERT", "PG_SSLMODE"], reason: "a root certificate is only used with PG_SSLMODE=verify-ca or verify-full")
            }
            if let problem = fileProblem(path) { throw .unreadableFile(name: "PG_SSLROOTCERT", path: path, reason: problem) }
        }
        pgPoolSize = try env.integer("PG_POOL_SIZE", default: 4, range: 1...100)
        registryCreateSchema = try env.flag("REGISTRY_CREATE_SCHEMA", default: false)
        registryWaitSeconds = try env.integer("REGISTRY_WAIT_SECONDS", default: 30, range: 0...3600)
        registryWaitMaxMessages = try env.integer("REGISTRY_WAIT_MAX_MESSAGES", default: 10000, range: 1...10_000_000)
        registryWaitMaxBytes = try env.integer("REGISTRY_WAIT_MAX_BYTES", default: 16 << 20, range: 0...(1 << 40))
        registryNotifyChannel = env.optionalString("REGISTRY_NOTIFY_CHANNEL")
        autoProvision = try env.flag("AUTO_PROVISION", default: false)
        authCacheStaleSeconds = try env.integer("AUTH_CACHE_STALE_SECONDS", default: 3600, range: 0...86400 * 30)
        mode = try env.choice("MODE", default: .prod)
        storeRejects = try env.flag("STORE_REJECTS", default: true)
        quarantineFile = env.string("QUARANTINE_FILE", default: "quarantine/rejects.jsonl")
        quarantineMaxBytes = try env.integer("QUARANTINE_MAX_BYTES", default: 100 << 20, range: 4096...(1 << 40))
        rejectCountsToInflux = try env.flag("REJECT_COUNTS_TO_INFLUX", default: false)
        if let channel = registryNotifyChannel, !Settings.isSQLIdentifier(channel) {
            throw .invalidValue(name: "REGISTRY_NOTIFY_CHANNEL", value: channel,
                                allowed: "a PostgreSQL identifier: a letter or '_', then letters, digits or '_' (at most 63)")
        }

        entries = env.entries

        try checkCombinations(fileProblem: fileProblem)
    }

    private func checkCombinations(fileProblem: (String) -> String?) throws(SettingsError) {
        for type in messageTypes where !Settings.isPlainName(type) {
            throw .invalidValue(name: "MSG_TYPES", value: messageTypes.joined(separator: ","),
                                allowed: "names of letters, digits, '_', '-' and '.' separated by commas")
        }
        if !influxDatabaseTemplate.contains("{tenant_id}"), !Settings.isPlainName(influxDatabaseTemplate) {
            throw .invalidValue(name: "INFLUXDB_DB_TEMPLATE", value: influxDatabaseTemplate,
                                allowed: "a database name, optionally with {tenant_id}, e.g. telemetry_{tenant_id}")
        }
        if influxAPI == .v2, influxOrg == nil {
            throw .conflict(names: ["INFLUXDB_API", "INFLUXDB_ORG"], reason: "the v2 API needs INFLUXDB_ORG")
        }
        if mqttClient == .libmosquitto, mqttQoS == 2 {
            // libmosquitto hands a QoS 2 message over only on PUBREL, after its PUBREC went out: a
            // message between the two is lost across a restart (README "MQTT clients").
            throw .conflict(names: ["MQTT_QOS", "MQTT_CLIENT"],
                            reason: "QoS 2 with libmosquitto can lose a message across a restart; use MQTT_CLIENT=native or MQTT_QOS=1")
        }
        if mqttClient == .libmosquitto, durability.acknowledgesWhenSafe {
            // libmosquitto sends PUBACK/PUBREC before ingestd sees the message, so it cannot wait until
            // the message is safe (README "Delivery guarantees").
            throw .conflict(names: ["DURABILITY", "MQTT_CLIENT"],
                            reason: "DURABILITY=\(durability.rawValue) acknowledges a message only once it is safe, which libmosquitto cannot do (it acknowledges before ingestd sees the message); use MQTT_CLIENT=native or DURABILITY=memory")
        }
        if (influxUsername == nil) != (influxPassword == nil) {
            throw .conflict(names: ["INFLUXDB_USERNAME", "INFLUXDB_PASSWORD"], reason: "set both or neither")
        }
        if influxRetryMaxDelayMilliseconds < influxRetryBaseMilliseconds {
            throw .conflict(names: ["INFLUX_RETRY_BASE_MS", "INFLUX_RETRY_MAX_DELAY_MS"],
                            reason: "the maximum delay must not be smaller than the base delay")
        }
        if influxMaxConcurrency < influxConcurrency {
            throw .conflict(names: ["INFLUX_CONCURRENCY", "INFLUX_MAX_CONCURRENCY"],
                            reason: "the starting concurrency (\(influxConcurrency)) is above the maximum (\(influxMaxConcurrency))")
        }
        if influxMaxBufferBytes < influxMaxBatchBytes {
            throw .conflict(names: ["INFLUX_MAX_BATCH_BYTES", "INFLUX_MAX_BUFFER_BYTES"],
                            reason: "one batch (\(influxMaxBatchBytes) bytes) must fit into the memory bound (\(influxMaxBufferBytes) bytes)")
        }
        if influxV3NoSync, influxAPI != .v3 {
            throw .conflict(names: ["INFLUX_V3_NO_SYNC", "INFLUXDB_API"], reason: "no_sync exists only in the v3 API")
        }
        if mqttPassword != nil, mqttUsername == nil {
            throw .conflict(names: ["MQTT_USERNAME", "MQTT_PASSWORD"], reason: "a password needs a user name")
        }
        if registry == .file, let problem = fileProblem(registryFile) {
            throw .unreadableFile(name: "REGISTRY_FILE", path: registryFile, reason: problem)
        }
        if let mappingFile, let problem = fileProblem(mappingFile) {
            throw .unreadableFile(name: "MAPPING_FILE", path: mappingFile, reason: problem)
        }
    }

    /// MQTT TLS is on with `MQTT_TLS=1` or when any MQTT_TLS_* file is set (no silent fallback to
    /// plain text). Without MQTT_TLS_CA_FILE the broker's certificate is checked against the system's
    /// trust store.
    public var mqttTLSEnabled: Bool { mqttTLS || mqttTLSCAFile != nil || mqttTLSCertFile != nil || mqttTLSKeyFile != nil }

    /// Static because it runs inside `init`, before every stored property is set.
    private static func checkProductionSettings(
        mqttTLS: (on: Bool, caFile: String?, certFile: String?, keyFile: String?, insecure: Bool),
        influxTLSCAFile: String?, mqttSharedGroup: String?, fileProblem: (String) -> String?
    ) throws(SettingsError) {
        let (mqttTLSOn, mqttTLSCAFile, mqttTLSCertFile, mqttTLSKeyFile, mqttTLSInsecure) = mqttTLS
        let mqttTLSEnabled = mqttTLSOn || mqttTLSCAFile != nil || mqttTLSCertFile != nil || mqttTLSKeyFile != nil
        let files: [(String, String?)] = [
            ("MQTT_TLS_CA_FILE", mqttTLSCAFile), ("MQTT_TLS_CERT_FILE", mqttTLSCertFile),
            ("MQTT_TLS_KEY_FILE", mqttTLSKeyFile), ("INFLUX_TLS_CA_FILE", influxTLSCAFile),
        ]
        for case let (name, path?) in files {
            if let problem = fileProblem(path) { throw .unreadableFile(name: name, path: path, reason: problem) }
        }
        if (mqttTLSCertFile == nil) != (mqttTLSKeyFile == nil) {
            throw .conflict(names: ["MQTT_TLS_CERT_FILE", "MQTT_TLS_KEY_FILE"], reason: "a client certificate needs its key: set both or neither")
        }
        if mqttTLSInsecure, !mqttTLSEnabled {
            throw .conflict(names: ["MQTT_TLS_INSECURE", "MQTT_TLS"], reason: "MQTT_TLS_INSECURE only applies with TLS (set MQTT_TLS=1 or MQTT_TLS_CA_FILE)")
        }
        if let group = mqttSharedGroup, !Settings.isPlainName(group) {
            throw .invalidValue(name: "MQTT_SHARED_GROUP", value: group,
                                allowed: "a group name of letters, digits, '_', '-' and '.' (no '/', '+' or '#')")
        }
    }

    /// A `host:port` to listen on (`HEALTH_LISTEN`); `[::1]:9464` for IPv6, `:9464` for every address.
    public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// nil for `off`, `0`, `false`, `no` (the endpoints stay off).
        public init?(parsing text: String, variable: String) throws(SettingsError) {
            if ["off", "0", "false", "no"].contains(text.lowercased()) { return nil }
            let allowed = "host:port (e.g. 127.0.0.1:9464, [::1]:9464, :9464 for every address) or off"
            var hostPart: Substring
            let portPart: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                    throw .invalidValue(name: variable, value: text, allowed: allowed)
                }
                hostPart = text[text.index(after: text.startIndex)..<close]
                portPart = text[text.index(close, offsetBy: 2)...]
            } else {
                guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                    throw .invalidValue(name: variable, value: text, allowed: allowed)
                }
                hostPart = text[..<colon]
                portPart = text[text.index(after: colon)...]
            }
            if hostPart.isEmpty { hostPart = "0.0.0.0" }
            guard let port = Int(portPart), (1...65535).contains(port), !hostPart.contains(" ") else {
                throw .invalidValue(name: variable, value: text, allowed: allowed)
            }
            self.host = String(hostPart)
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// Letters, digits, `_`, `-`, `.`: safe in a database name and a measurement.
    static func isPlainName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D || byte == 0x2E
        }
    }

    /// Nil when `path` is a readable regular file, else a short reason.
    public static func readableFileProblem(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "no such file" }
        if isDirectory.boolValue { return "it is a directory" }
        return FileManager.default.isReadableFile(atPath: path) ? nil : "permission denied"
    }
}
