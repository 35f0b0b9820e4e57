/// A row of the `device_registry` table.
public struct DeviceRecord: Sendable, Hashable, Codable {
    public var tenantID: String
    public var deviceID: String
    public var siteID: String
    public var status: String
    /// SHA-256 hex of the device token; nil or empty means "not set".
    public var provisionTokenHash: String?

    public init(tenantID: String, deviceID: String, siteID: String, status: String, provisionTokenHash: String?) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.siteID = siteID
        self.status = status
        self.provisionTokenHash = provisionTokenHash
    }

    enum CodingKeys: String, CodingKey {
        case tenantID = "tenant_id"
        case deviceID = "device_id"
        case siteID = "site_id"
        case status
        case provisionTokenHash = "provision_token_hash"
    }

    public var isActive: Bool { status == "ACTIVE" }

    public var hasToken: Bool {
        guard let provisionTokenHash else { return false }
        return !provisionTokenHash.isEmpty
    }

    public var deviceKey: DeviceKey { DeviceKey(tenantID: tenantID, deviceID: deviceID) }
}
