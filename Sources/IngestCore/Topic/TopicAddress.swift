/// The parts of `tenant/{tenant_id}/device/{device_id}/{msg_type}`.
public struct TopicAddress: Hashable, Sendable {
    public let tenantID: String
    public let deviceID: String
    public let messageType: String

    public init(tenantID: String, deviceID: String, messageType: String) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.messageType = messageType
    }

    public var deviceKey: DeviceKey { DeviceKey(tenantID: tenantID, deviceID: deviceID) }
}
