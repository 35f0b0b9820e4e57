/// Sizes and lifetimes of the auth cache (AUTH_CACHE_* settings) and how a miss behaves while the
/// registry cannot be asked (REGISTRY_WAIT_SECONDS, AUTO_PROVISION).
public struct AuthCacheConfiguration: Sendable {
    public var maxSize: Int
    public var ttlSeconds: Int
    public var negativeTTLSeconds: Int
    /// How long past its TTL a record is still served while the registry is unavailable.
    public var staleSeconds: Int
    /// How long a miss waits (retrying with backoff) for an unavailable registry before the message is
    /// refused as REGISTRY_UNAVAILABLE.
    public var registryWaitSeconds: Double
    /// Unknown devices are inserted as ACTIVE with the message's site (their first message is still refused).
    public var autoProvision: Bool
    /// First delay between retries of a waiting miss (doubles up to `retryMaxMilliseconds`); also how
    /// often a stale record's device asks the registry again during an outage.
    public var retryBaseMilliseconds: Int
    public var retryMaxMilliseconds: Int

    public init(maxSize: Int, ttlSeconds: Int, negativeTTLSeconds: Int, staleSeconds: Int = 0,
                registryWaitSeconds: Double = 0, autoProvision: Bool = false,
                retryBaseMilliseconds: Int = 100, retryMaxMilliseconds: Int = 2000) {
        self.maxSize = maxSize
        self.ttlSeconds = ttlSeconds
        self.negativeTTLSeconds = negativeTTLSeconds
        self.staleSeconds = staleSeconds
        self.registryWaitSeconds = registryWaitSeconds
        self.autoProvision = autoProvision
        self.retryBaseMilliseconds = retryBaseMilliseconds
        self.retryMaxMilliseconds = retryMaxMilliseconds
    }
}
