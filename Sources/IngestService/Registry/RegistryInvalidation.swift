import IngestCore

/// What a registry tells the auth cache to forget: one device (a NOTIFY naming it) or everything
/// (a NOTIFY that names nothing readable, or notifications that may have been missed while the
/// listening connection was down).
public enum RegistryInvalidation: Sendable, Equatable {
    case device(DeviceKey)
    case all

    /// Reads a notification payload `tenant_id/device_id`; anything else invalidates everything.
    public init(notificationPayload payload: String) {
        guard let slash = payload.firstIndex(of: "/") else { self = .all; return }
        let tenant = payload[..<slash]
        let device = payload[payload.index(after: slash)...]
        guard !tenant.isEmpty, !device.isEmpty, !device.contains("/") else { self = .all; return }
        self = .device(DeviceKey(tenantID: String(tenant), deviceID: String(device)))
    }
}
