import IngestCore

/// What the auth cache remembers about one device: its record (nil = unknown to the registry, a
/// negative entry) and the last token that was checked against the record's hash, so a device that
/// sends the same token on every message is hashed once, not once per message.
///
/// A class, immutable: every cache hit hands the entry out of the cache's lock, and copying a
/// reference is one retain where copying the record's six strings was six (and six releases).
final class AuthCacheEntry: Sendable {
    let record: DeviceRecord?
    let verifiedToken: String?
    /// Monotonic nanoseconds until which the entry may still be served, expired, while the registry
    /// is unavailable (its TTL plus AUTH_CACHE_STALE_SECONDS, counted from when it was fetched).
    let staleUntil: UInt64

    init(record: DeviceRecord?, verifiedToken: String?, staleUntil: UInt64 = 0) {
        self.record = record
        self.verifiedToken = verifiedToken
        self.staleUntil = staleUntil
    }

    /// The same entry with `token` remembered as verified.
    func verifying(_ token: String) -> AuthCacheEntry {
        AuthCacheEntry(record: record, verifiedToken: token, staleUntil: staleUntil)
    }
}
