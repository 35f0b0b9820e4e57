/// Where device records come from (REGISTRY).
public enum RegistryKind: String, CaseIterable, Sendable {
    case file
    case none
    /// The `device_registry` table in PostgreSQL (PG_* settings).
    case postgres
}
