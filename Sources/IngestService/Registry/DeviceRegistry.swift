import IngestCore

/// Where device records come from. A lookup answers `nil` for a device the registry does not know;
/// it throws only when the registry cannot be asked at all, which is not the same thing: an unknown
/// device is refused, an unreachable registry makes the caller wait or refuse with REGISTRY_UNAVAILABLE.
public protocol DeviceRegistry: Sendable {
    /// A short name for logs, e.g. `file` or `postgres`.
    var kind: String { get }
    func lookup(_ key: DeviceKey) async throws(RegistryError) -> DeviceRecord?
    /// AUTO_PROVISION: records an unknown device as ACTIVE at `siteID` unless a record appeared
    /// meanwhile. Returns true when a record was inserted. Registries that cannot be written (the file)
    /// keep the default, which does nothing.
    func provisionIfUnknown(_ key: DeviceKey, siteID: String) async throws(RegistryError) -> Bool
    /// What the registry knows of its own health: true once it answered again after an outage (so
    /// waiting callers stop assuming it is down), false while down, nil when it does not watch itself.
    var isUp: Bool? { get }
    /// How many lookups of one batch (the cache misses of one pipeline round) run at once: 1 for a
    /// registry that answers from memory (one task runs them in turn), the connection pool's size for
    /// a database, nil for no bound (each on a task of its own).
    var maxConcurrentLookups: Int? { get }
}

extension DeviceRegistry {
    public func provisionIfUnknown(_ key: DeviceKey, siteID: String) async throws(RegistryError) -> Bool { false }
    public var isUp: Bool? { nil }
    public var maxConcurrentLookups: Int? { nil }
}
