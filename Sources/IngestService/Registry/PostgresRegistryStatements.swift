import PostgresNIO

/// The queries of the PostgreSQL registry. Lookups are parameterized queries, not named prepared
/// statements: postgres-nio remembers a failed preparation per connection and fails every later
/// execution of that statement on it, so one lookup cancelled while the table was locked
/// (statement_timeout) would break that connection's lookups for good. An unnamed statement costs the
/// server a parse per lookup and still one round trip, and only cache misses reach it.
enum PostgresRegistryStatements {
    typealias LookupRow = (String, String, String?)

    static func lookup(tenantID: String, deviceID: String) -> PostgresQuery {
        "SELECT site_id, status, provision_token_hash FROM device_registry WHERE tenant_id = \(tenantID) AND device_id = \(deviceID)"
    }

    static func provision(tenantID: String, deviceID: String, siteID: String) -> PostgresQuery {
        """
        INSERT INTO device_registry (tenant_id, device_id, site_id, status) VALUES (\(tenantID), \(deviceID), \(siteID), 'ACTIVE') \
        ON CONFLICT DO NOTHING RETURNING device_id
        """
    }

    /// The health probe: reads nothing, but needs the table to be readable, as a lookup does.
    static let probe: PostgresQuery = "SELECT 1 FROM device_registry LIMIT 0"

    /// REGISTRY_CREATE_SCHEMA=1 only: the table of the service ingestd replaces, unchanged.
    static let createTable: PostgresQuery = """
        CREATE TABLE IF NOT EXISTS device_registry (
            tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, site_id TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'ACTIVE', provisioned_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            provision_token_hash TEXT NULL, device_pubkey TEXT NULL, fw_version TEXT NULL,
            metadata JSONB NOT NULL DEFAULT '{}'::jsonb, PRIMARY KEY (tenant_id, device_id))
        """
}
