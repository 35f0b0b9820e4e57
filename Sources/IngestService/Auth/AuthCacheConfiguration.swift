/// Sizes and lifetimes of the auth cache (AUTH_CACHE_* settings).
public struct AuthCacheConfiguration: Sendable {
    public var maxSize: Int
    public var ttlSeconds: Int
    public var negativeTTLSeconds: Int

    public init(maxSize: Int, ttlSeconds: Int, negativeTTLSeconds: Int) {
        self.maxSize = maxSize
        self.ttlSeconds = ttlSeconds
        self.negativeTTLSeconds = negativeTTLSeconds
    }
}
