/// Identity of a device across the system: rate-limit buckets, registry and auth caches.
public struct DeviceKey: Hashable, Sendable {
    public let tenantID: String
    public let deviceID: String

    public init(tenantID: String, deviceID: String) {
        self.tenantID = tenantID
        self.deviceID = deviceID
    }
}
