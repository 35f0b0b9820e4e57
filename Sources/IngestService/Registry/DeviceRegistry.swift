import IngestCore

/// Where device records come from. A lookup answers `nil` for a device the registry does not know;
/// it throws only when the registry cannot be asked at all, which is not the same thing: an unknown
/// device is refused, an unreachable registry makes the caller wait or refuse with REGISTRY_UNAVAILABLE.
public protocol DeviceRegistry: Sendable {
    /// A short name for logs, e.g. `file` or `postgres`.
    var kind: String { get }
    func lookup(_ key: DeviceKey) async throws(RegistryError) -> DeviceRecord?
}
