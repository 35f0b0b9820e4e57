import IngestCore
import Logging
import Synchronization

/// Decides whether a validated message's device may write: registry record through a bounded LRU
/// cache with TTL, then the pure checks of `DeviceAuthorizer` (status, site, token).
///
/// The cache sits behind a mutex rather than inside an actor so that the common case, a cache hit,
/// costs one uncontended lock and no suspension on the per-message hot path. Only misses go async.
public final class AuthService: Sendable {
    private let cache: Mutex<LRUCache<DeviceKey, AuthCacheEntry>>
    private let coalescer: RegistryLookupCoalescer
    private let authorizer: DeviceAuthorizer
    private let configuration: AuthCacheConfiguration
    private let clock: any MonotonicClock
    private let logger: Logger
    public let registryKind: String

    public init(
        registry: any DeviceRegistry,
        configuration: AuthCacheConfiguration,
        requireToken: Bool,
        clock: any MonotonicClock,
        logger: Logger
    ) {
        self.cache = Mutex(LRUCache(capacity: configuration.maxSize))
        self.coalescer = RegistryLookupCoalescer(registry: registry)
        self.authorizer = DeviceAuthorizer(requireToken: requireToken)
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.registryKind = registry.kind
    }

    /// Throws the reason the message is refused; returns when its device may write.
    public func authorize(_ message: ValidatedMessage) async throws(RejectReason) {
        let key = message.address.deviceKey
        let entry: AuthCacheEntry
        if let cached = cache.withLock({ $0.get(key, now: clock.now()) }) {
            entry = cached
        } else {
            entry = try await fetch(key)
        }
        let verified = try authorizer.authorize(message, record: entry.record, verifiedToken: entry.verifiedToken)
        if let verified, verified != entry.verifiedToken {
            // Keep the entry's expiry: a verified token must not extend how long a record is trusted.
            cache.withLock { cache in
                guard let (current, expiresAt) = cache.peek(key), current.record == entry.record else { return }
                cache.put(key, AuthCacheEntry(record: current.record, verifiedToken: verified), expiresAt: expiresAt)
            }
        }
    }

    private func fetch(_ key: DeviceKey) async throws(RejectReason) -> AuthCacheEntry {
        switch await coalescer.lookup(key) {
        case let .success(record):
            let entry = AuthCacheEntry(record: record, verifiedToken: nil)
            let ttl = UInt64(record == nil ? configuration.negativeTTLSeconds : configuration.ttlSeconds) * 1_000_000_000
            cache.withLock { $0.put(key, entry, expiresAt: clock.now() &+ ttl) }
            return entry
        case let .failure(error):
            logger.warning("registry lookup failed", metadata: [
                "tenant_id": "\(key.tenantID)", "device_id": "\(key.deviceID)", "error": "\(error)",
            ])
            throw .registryUnavailable
        }
    }

    /// Forgets every cached record, e.g. after the registry file changed or on SIGHUP.
    public func clearCache() {
        cache.withLock { $0.removeAll() }
    }

    public var cacheStatistics: (hits: Int, misses: Int, size: Int, evictions: Int) {
        cache.withLock { cache in (Int(cache.hits), Int(cache.misses), cache.count, Int(cache.evictions)) }
    }

    /// How many registry queries the cache let through, for tests and the stats line.
    public var registryQueries: Int {
        get async { await coalescer.queries }
    }
}
