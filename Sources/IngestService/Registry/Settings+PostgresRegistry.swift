import IngestCore

extension Settings {
    /// PG_* and REGISTRY_* settings for `PostgresDeviceRegistry`.
    public var postgresRegistryConfiguration: PostgresRegistryConfiguration {
        PostgresRegistryConfiguration(
            host: pgHost, port: pgPort, database: pgDatabase, user: pgUser, password: pgPassword,
            sslMode: pgSSLMode, sslRootCertificate: pgSSLRootCert, poolSize: pgPoolSize, createSchema: registryCreateSchema,
            notifyChannel: registryNotifyChannel,
            // One query never outlasts a message's wait for the registry (README "Slow or hung registry").
            queryTimeout: .seconds(registryWaitSeconds > 0 ? min(5, registryWaitSeconds) : 5))
    }
}
