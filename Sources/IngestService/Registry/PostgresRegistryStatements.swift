import PostgresNIO

/// The prepared statements of the PostgreSQL registry. Each is prepared once per connection by
/// postgres-nio and then only executed, so a lookup is one round trip.
enum PostgresRegistryStatements {
    struct Lookup: PostgresPreparedStatement {
        static let name = "ingestd_device_lookup"
        static let sql = """
            SELECT site_id, status, provision_token_hash FROM device_registry WHERE tenant_id = $1 AND device_id = $2
            """
        typealias Row = (String, String, String?)
        var tenantID: String
        var deviceID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(tenantID)
            bindings.append(deviceID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    struct Provision: PostgresPreparedStatement {
        static let name = "ingestd_device_provision"
        static let sql = """
            INSERT INTO device_registry (tenant_id, device_id, site_id, status) VALUES ($1, $2, $3, 'ACTIVE') \
            ON CONFLICT DO NOTHING RETURNING device_id
            """
        typealias Row = String
        var tenantID: String
        var deviceID: String
        var siteID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(tenantID)
            bindings.append(deviceID)
            bindings.append(siteID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(String.self) }
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
