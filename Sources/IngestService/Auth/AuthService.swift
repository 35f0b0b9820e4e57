import IngestCore
import Logging
import Synchronization

/// Decides whether a validated message's device may write: registry record through a bounded LRU
/// cache with TTL, then the pure checks of `DeviceAuthorizer` (status, site, token).
///
/// The cache sits behind a mutex rather than inside an actor so that the common case, a cache hit,
/// costs one uncontended lock and no suspension on the per-message hot path (`authorizeCached`).
/// Only misses go async (`resolve`), and each ends within REGISTRY_WAIT_SECONDS.
///
/// Registry outages: an expired record is kept and served (stale) for up to `staleSeconds` past its
/// TTL while the registry cannot be asked; during an outage those devices ask again at most once per
/// retry interval, all of them together, so a down registry is not hammered. A miss without a usable
/// record waits, retrying with backoff, up to `registryWaitSeconds`, then the message is refused as
/// REGISTRY_UNAVAILABLE. Once one such wait has run out, later misses of the same outage are refused
/// after at most one attempt instead of each waiting again: a long outage must not stall the
/// pipeline for every new device in turn.
public final class AuthService: Sendable {
    private let cache: Mutex<LRUCache<DeviceKey, AuthCacheEntry>>
    private let coalescer: RegistryLookupCoalescer
    private let registry: any DeviceRegistry
    private let authorizer: DeviceAuthorizer
    private let configuration: AuthCacheConfiguration
    private let clock: any MonotonicClock
    private let logger: Logger
    private let outage = Mutex<Outage?>(nil)
    private let lastLookupMilliseconds = Atomic<Int>(0)
    private let lookupDurationObserver: (@Sendable (Duration) -> Void)?
    public let registryKind: String

    /// The registry could not be asked: since when, when stale devices may ask again, and whether a
    /// waiting miss already ran out of time.
    private struct Outage {
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
        /// The registry must be asked: hand `lookup` to `resolve(_:)`, off the hot path.
        case needsLookup(PendingLookup)
    }

    /// A registry lookup the cache could not spare, with what `resolve(_:)` needs to end it in time.
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
    /// registry on a cache miss: the pipeline uses `authorizeCached(_:)` and `resolve(_:)` instead, so
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

    /// Asks the registry, retrying with backoff while it is unavailable, and ends within
    /// REGISTRY_WAIT_SECONDS whatever the registry does (README "Slow or hung registry"): the record,
    /// else the stale record, else REGISTRY_UNAVAILABLE.
    func resolve(_ pending: PendingLookup) async -> Result<AuthCacheEntry, RejectReason> {
        let started = ContinuousClock.now
        defer { recordLookup(ContinuousClock.now - started) }
        let key = pending.key
        let waitLimit = Duration.milliseconds(Int64(configuration.registryWaitSeconds * 1000))
        let deadline = started + (pending.mayWait ? waitLimit : .zero)
        // REGISTRY_WAIT_SECONDS=0 leaves one attempt to the registry's own query timeout.
        let hardDeadline: ContinuousClock.Instant? = waitLimit > .zero ? started + waitLimit : nil
        var delay = Duration.milliseconds(configuration.retryBaseMilliseconds)
        while true {
            let provisionSite = configuration.autoProvision ? pending.siteID : nil
            let coalescer = self.coalescer
            let answer: Result<RegistryLookupCoalescer.Outcome, RegistryError>
            if let hardDeadline {
                let raced = try? await DeadlineRace.run(until: hardDeadline) {
                    await coalescer.lookup(key, provisionSite: provisionSite)
                }
                answer = raced ?? .failure(.unavailable(reason: "no answer within \(waitLimit) (REGISTRY_WAIT_SECONDS)"))
            } else {
                answer = await coalescer.lookup(key, provisionSite: provisionSite)
            }
            switch answer {
            case let .success(outcome):
                endOutage()
                let now = clock.now()
                let ttl = UInt64(outcome.record == nil ? configuration.negativeTTLSeconds : configuration.ttlSeconds) * 1_000_000_000
                let entry = AuthCacheEntry(
                    record: outcome.record, verifiedToken: nil,
                    staleUntil: now &+ ttl &+ UInt64(configuration.staleSeconds) * 1_000_000_000)
                // A device just provisioned is not remembered as unknown: its next message finds it.
                if outcome.provisioned {
                    cache.withLock { _ = $0.remove(key) }
                } else {
                    cache.withLock { $0.put(key, entry, expiresAt: now &+ ttl) }
                }
                return .success(entry)
            case let .failure(error):
                beginOutage()
                if let stale = pending.stale { return .success(stale) }
                let now = ContinuousClock.now
                if now >= deadline || hardDeadline.map({ now >= $0 }) == true {
                    if pending.mayWait { outage.withLock { $0?.waitExhausted = true } }
                    return .failure(refuse(key, "\(error)"))
                }
                try? await Task.sleep(for: min(delay, now.duration(to: deadline)))
                delay = min(delay * 2, .milliseconds(configuration.retryMaxMilliseconds))
            }
        }
    }

    private func recordLookup(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        lastLookupMilliseconds.store(Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000), ordering: .relaxed)
        lookupDurationObserver?(duration)
    }

    private func refuse(_ key: DeviceKey, _ error: String) -> RejectReason {
        logger.warning("registry lookup failed, message refused", metadata: [
            "tenant_id": "\(key.tenantID)", "device_id": "\(key.deviceID)", "reason": "REGISTRY_UNAVAILABLE", "error": "\(error)",
        ])
        return .registryUnavailable
    }

    private func beginOutage() {
        let now = clock.now()
        let base = UInt64(configuration.retryBaseMilliseconds) * 1_000_000
        outage.withLock { outage in
            if outage == nil { outage = Outage(nextRetryAt: now &+ base, retryDelay: base) }
        }
    }

    private func endOutage() {
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
