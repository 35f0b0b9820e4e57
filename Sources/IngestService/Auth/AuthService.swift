import IngestCore
import Logging
import Synchronization

/// Decides whether a validated message's device may write: registry record through a bounded LRU
/// cache with TTL, then the pure checks of `DeviceAuthorizer` (status, site, token).
///
/// The cache sits behind a mutex rather than inside an actor so that the common case, a cache hit,
/// costs one uncontended lock and no suspension on the per-message hot path (`authorizeCached`).
/// Only misses go async (`startLookups`, `resolve`), and each ends within REGISTRY_WAIT_SECONDS.
///
/// Registry outages: an expired record is kept and served (stale) for up to `staleSeconds` past its
/// TTL while the registry cannot be asked; during an outage those devices ask again at most once per
/// retry interval, all of them together, so a down registry is not hammered. A miss without a usable
/// record waits, retrying with backoff, up to `registryWaitSeconds`, then the message is refused as
/// REGISTRY_UNAVAILABLE. Once one such wait has run out, later misses of the same outage are refused
/// after at most one attempt instead of each waiting again: a long outage must not stall the
/// pipeline for every new device in turn.
public final class AuthService: Sendable {
    // Internal, not private: the lookups (`AuthService+Lookups.swift`) share them.
    let cache: Mutex<LRUCache<DeviceKey, AuthCacheEntry>>
    let coalescer: RegistryLookupCoalescer
    let registry: any DeviceRegistry
    private let authorizer: DeviceAuthorizer
    let configuration: AuthCacheConfiguration
    let clock: any MonotonicClock
    private let logger: Logger
    let outage = Mutex<Outage?>(nil)
    private let lastLookupMilliseconds = Atomic<Int>(0)
    private let lookupDurationObserver: (@Sendable (Duration) -> Void)?
    public let registryKind: String

    /// The registry could not be asked: since when, when stale devices may ask again, and whether a
    /// waiting miss already ran out of time.
    struct Outage {
        var nextRetryAt: UInt64
        var retryDelay: UInt64
        var waitExhausted = false
    }

    private enum CacheLookup {
        case fresh(AuthCacheEntry)
        case expired(AuthCacheEntry)
        case miss
    }

    public init(
        registry: any DeviceRegistry,
        configuration: AuthCacheConfiguration,
        requireToken: Bool,
        clock: any MonotonicClock,
        logger: Logger,
        lookupDurationObserver: (@Sendable (Duration) -> Void)? = nil
    ) {
        self.lookupDurationObserver = lookupDurationObserver
        self.cache = Mutex(LRUCache(capacity: configuration.maxSize))
        self.coalescer = RegistryLookupCoalescer(registry: registry)
        self.registry = registry
        self.authorizer = DeviceAuthorizer(requireToken: requireToken)
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.registryKind = registry.kind
    }

    /// What the cache alone can say about a message's device, without waiting.
    public enum CachedAuthorization: Sendable {
        /// The device may write (fresh record, or a stale one while the registry is known to be down).
        case authorized
        /// The registry must be asked: hand `lookup` to `startLookups(_:answer:)` or `resolve(_:)`, off the hot path.
        case needsLookup(PendingLookup)
    }

    /// A registry lookup the cache could not spare, with what a lookup needs to end it in time.
    public struct PendingLookup: Sendable {
        public let key: DeviceKey
        let stale: AuthCacheEntry?
        /// False when the answer may not wait for the registry (a stale record to fall back on, or a
        /// wait of this outage already ran out): one attempt, then the fallback.
        let mayWait: Bool
        /// The payload's site, for AUTO_PROVISION; nil for a mapped message, which is never provisioned.
        let siteID: String?
    }

    /// Throws the reason the message is refused; returns when its device may write. Waits for the
    /// registry on a cache miss: the pipeline uses `authorizeCached(_:)` and `startLookups(_:answer:)` instead, so
    /// one device's lookup never holds up another device's messages.
    public func authorize(_ message: ValidatedMessage) async throws(RejectReason) {
        switch try authorizeCached(message) {
        case .authorized: return
        case let .needsLookup(pending): try authorize(message, entry: await resolve(pending).get())
        }
    }

    /// The hot path: one lock and one hash lookup for a cached device, no suspension. Throws the
    /// reason a cached record refuses the message.
    public func authorizeCached(_ message: ValidatedMessage) throws(RejectReason) -> CachedAuthorization {
        switch try cachedRecord(message.address.deviceKey, siteID: message.siteID) {
        case let .check(entry):
            try authorize(message, entry: entry)
            return .authorized
        case let .needsLookup(pending):
            return .needsLookup(pending)
        }
    }

    /// `authorizeCached` for a mapped message of a `registry: true` rule (README, "Mapping other
    /// devices"): the device must be registered and ACTIVE; it has no site or token to check, and no
    /// site to auto-provision it with.
    public func authorizeCached(device key: DeviceKey) throws(RejectReason) -> CachedAuthorization {
        switch try cachedRecord(key, siteID: nil) {
        case let .check(entry):
            try authorizeDevice(entry: entry)
            return .authorized
        case let .needsLookup(pending):
            return .needsLookup(pending)
        }
    }

    /// What the cache says about a device before any message is checked against it.
    private enum CachedRecord {
        /// Check the message against this entry: fresh, or stale while the registry is known to be down.
        case check(AuthCacheEntry)
        case needsLookup(PendingLookup)
    }

    /// One lock and one hash lookup for a cached device; throws REGISTRY_UNAVAILABLE when the
    /// registry is known to be down and there is nothing to fall back on.
    @inline(__always)
    private func cachedRecord(_ key: DeviceKey, siteID: String?) throws(RejectReason) -> CachedRecord {
        let now = clock.now()
        // One hash lookup under the lock on the hot path; an expired entry stays for stale serving.
        let lookup = cache.withLock { cache -> CacheLookup in
            guard let (value, isExpired) = cache.lookup(key, now: now) else { return .miss }
            return isExpired ? .expired(value) : .fresh(value)
        }
        let stale: AuthCacheEntry?
        switch lookup {
        case let .fresh(cached): return .check(cached)
        case let .expired(expired): stale = expired
        case .miss: stale = nil
        }
        let usableStale = stale.flatMap { now < $0.staleUntil ? $0 : nil }
        // The registry saw itself recover (its own probe): stop treating it as down.
        if registry.isUp == true { endOutage() }
        let (inOutage, exhausted) = outage.withLock { ($0 != nil, $0?.waitExhausted ?? false) }
        if inOutage, usableStale != nil || exhausted {
            // The registry is known to be down: ask only when the shared retry is due, and never while
            // the registry's own probe says it is still down (a query would only hang until its timeout).
            if registry.isUp == false || !claimRetry() {
                guard let usableStale else { throw refuse(key, "registry unavailable (still down)") }
                return .check(usableStale)
            }
        }
        return .needsLookup(PendingLookup(
            key: key, stale: usableStale, mayWait: usableStale == nil && !exhausted, siteID: siteID))
    }

    /// Checks a mapped message's device against `entry`: registered and ACTIVE.
    func authorizeDevice(entry: AuthCacheEntry) throws(RejectReason) {
        try authorizer.authorizeDevice(record: entry.record)
    }

    /// Checks `message` against `entry` (status, site, token) and remembers a verified token.
    func authorize(_ message: ValidatedMessage, entry: AuthCacheEntry) throws(RejectReason) {
        let verified = try authorizer.authorize(message, record: entry.record, verifiedToken: entry.verifiedToken)
        if let verified, verified != entry.verifiedToken {
            let key = message.address.deviceKey
            // Keep the entry's expiry: a verified token must not extend how long a record is trusted.
            cache.withLock { cache in
                guard let (current, expiresAt) = cache.peek(key), current.record == entry.record else { return }
                cache.put(key, current.verifying(verified), expiresAt: expiresAt)
            }
        }
    }

    func recordLookup(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        lastLookupMilliseconds.store(Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000), ordering: .relaxed)
        lookupDurationObserver?(duration)
    }

    func refuse(_ key: DeviceKey, _ error: String) -> RejectReason {
        logger.warning("registry lookup failed, message refused", metadata: [
            "tenant_id": "\(key.tenantID)", "device_id": "\(key.deviceID)", "reason": "REGISTRY_UNAVAILABLE", "error": "\(error)",
        ])
        return .registryUnavailable
    }

    func beginOutage() {
        let now = clock.now()
        let base = UInt64(configuration.retryBaseMilliseconds) * 1_000_000
        outage.withLock { outage in
            if outage == nil { outage = Outage(nextRetryAt: now &+ base, retryDelay: base) }
        }
    }

    func endOutage() {
        outage.withLock { $0 = nil }
    }

    /// True for the one caller that may ask the registry now during an outage; pushes the next retry
    /// out with backoff.
    private func claimRetry() -> Bool {
        let now = clock.now()
        let maxDelay = UInt64(configuration.retryMaxMilliseconds) * 1_000_000
        return outage.withLock { outage in
            guard var current = outage else { return true }
            guard now >= current.nextRetryAt else { return false }
            current.retryDelay = min(current.retryDelay * 2, maxDelay)
            current.nextRetryAt = now &+ current.retryDelay
            outage = current
            return true
        }
    }

    /// Forgets every cached record, e.g. after the registry file changed or on SIGHUP.
    public func clearCache() {
        cache.withLock { $0.removeAll() }
    }

    /// Forgets what the registry told us (a NOTIFY for one device, or everything).
    public func invalidate(_ invalidation: RegistryInvalidation) {
        switch invalidation {
        case let .device(key): cache.withLock { _ = $0.remove(key) }
        case .all: clearCache()
        }
    }

    /// How long the last registry lookup took (waits and retries included), in milliseconds.
    public var lastLookupDuration: Int { lastLookupMilliseconds.load(ordering: .relaxed) }

    /// True while the registry is known to be unavailable.
    public var registryUnavailable: Bool { outage.withLock { $0 != nil } }

    public var cacheStatistics: (hits: Int, misses: Int, size: Int, evictions: Int) {
        cache.withLock { cache in (Int(cache.hits), Int(cache.misses), cache.count, Int(cache.evictions)) }
    }

    /// How many registry queries the cache let through, for tests and the stats line.
    public var registryQueries: Int {
        get async { await coalescer.queries }
    }
}
