import IngestCore

/// How to reach the `device_registry` table (PG_* and REGISTRY_* settings).
public struct PostgresRegistryConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var database: String
    public var user: String
    public var password: String?
    public var sslMode: PostgresSSLMode
    /// PEM CA file for `verify-ca`/`verify-full`; nil = the system's trust store.
    public var sslRootCertificate: String?
    /// Connections used for lookups (one more is opened for LISTEN when `notifyChannel` is set).
    public var poolSize: Int
    /// REGISTRY_CREATE_SCHEMA: run `CREATE TABLE IF NOT EXISTS device_registry …` once connected.
    public var createSchema: Bool
    /// REGISTRY_NOTIFY_CHANNEL: LISTEN on it; a payload `tenant_id/device_id` forgets that device.
    public var notifyChannel: String?
    /// Longest time one lookup may take (waiting for a connection included) before it counts as failed.
    public var queryTimeout: Duration
    /// Delays between health probes while the registry is down (doubling from `base` to `max`).
    public var reconnectBase: Duration
    public var reconnectMax: Duration

    public init(host: String, port: Int, database: String, user: String, password: String?,
                sslMode: PostgresSSLMode, sslRootCertificate: String? = nil, poolSize: Int = 4, createSchema: Bool = false, notifyChannel: String? = nil,
                queryTimeout: Duration = .seconds(5), reconnectBase: Duration = .milliseconds(250),
                reconnectMax: Duration = .seconds(10)) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.sslMode = sslMode
        self.sslRootCertificate = sslRootCertificate
        self.poolSize = poolSize
        self.createSchema = createSchema
        self.notifyChannel = notifyChannel
        self.queryTimeout = queryTimeout
        self.reconnectBase = reconnectBase
        self.reconnectMax = reconnectMax
    }
}
