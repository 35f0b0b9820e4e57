/// Stage 2, after the registry lookup: is this device allowed to write this message?
///
/// Order: unregistered → revoked → site mismatch → (when tokens are required) token not set in
/// the registry → token missing from the payload → token wrong.
public struct DeviceAuthorizer: Sendable {
    public let requireToken: Bool

    public init(requireToken: Bool) {
        self.requireToken = requireToken
    }

    /// A mapped message of a `registry: true` rule (README, "Mapping other devices"): the device
    /// must be registered and ACTIVE. Its payload carries no site or provision token, so those are
    /// the envelope's checks only.
    public func authorizeDevice(record: DeviceRecord?) throws(RejectReason) {
        guard let record else { throw .unregisteredDevice }
        guard record.isActive else { throw .deviceRevoked }
    }

    /// Returns the payload token when it was checked and is good, so the caller can cache it next
    /// to the record and pass it back as `verifiedToken`: a message carrying the same token then
    /// skips the SHA-256 (still compared in constant time). The caller must forget `verifiedToken`
    /// whenever the record (and so its hash) changes. Returns nil when tokens are not required.
    public func authorize(
        _ message: ValidatedMessage,
        record: DeviceRecord?,
        verifiedToken: String?
    ) throws(RejectReason) -> String? {
        guard let record else { throw .unregisteredDevice }
        guard record.isActive else { throw .deviceRevoked }
        guard record.siteID == message.siteID else { throw .siteMismatchRegistryVsPayload }
        guard requireToken else { return nil }
        guard let storedHash = record.provisionTokenHash, !storedHash.isEmpty else {
            throw .tokenNotSetInRegistry
        }
        guard let token = message.envelope.provisionToken, !token.isEmpty else { throw .tokenMissing }
        if let verifiedToken {
            if TokenHasher.constantTimeEquals(token.utf8, verifiedToken.utf8) { return token }
        }
        let computed = TokenHasher.sha256Hex(token)
        guard TokenHasher.constantTimeEquals(computed.utf8, TokenHasher.lowercasedASCII(storedHash)) else {
            throw .tokenInvalid
        }
        return token
    }
}
