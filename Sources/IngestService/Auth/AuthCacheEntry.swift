import IngestCore

/// What the auth cache remembers about one device: its record (nil = unknown to the registry, a
/// negative entry) and the last token that was checked against the record's hash, so a device that
/// sends the same token on every message is hashed once, not once per message.
struct AuthCacheEntry: Sendable {
    var record: DeviceRecord?
    var verifiedToken: String?
    /// Monotonic nanoseconds until which the entry may still be served, expired, while the registry
    /// is unavailable (its TTL plus AUTH_CACHE_STALE_SECONDS, counted from when it was fetched).
    var staleUntil: UInt64 = 0
}
