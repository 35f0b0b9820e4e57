/// Names the InfluxDB database (v3) or bucket (v2) of a tenant from a template such as
/// `telemetry_{tenant_id}`. A template without `{tenant_id}` sends every tenant to one database;
/// the tenant then goes into a `tenant_id` tag (`tenantAsTag`) so tenants stay apart.
public struct DatabaseNamer: Sendable {
    public static let placeholder = "{tenant_id}"
    public static let defaultTemplate = "telemetry_{tenant_id}"

    public let template: String
    public let tenantAsTag: Bool
    /// The template split at each placeholder.
    private let parts: [String]

    public init(template: String = DatabaseNamer.defaultTemplate) {
        self.template = template
        parts = template.split(separator: DatabaseNamer.placeholder, omittingEmptySubsequences: false).map(String.init)
        tenantAsTag = parts.count == 1
    }

    public func database(forTenant tenantID: String) -> String {
        if tenantAsTag { return template }
        return parts.joined(separator: tenantID)
    }
}
