import IngestCore

/// What the auth cache remembers about one device: its record (nil = unknown to the registry, a
/// negative entry) and the last token that was checked against the record's hash, so a device that
/// sends the same token on every message is hashed once, not once per message.
struct AuthCacheEntry: Sendable {
    var record: DeviceRecord?
    var verifiedToken: String?
}
