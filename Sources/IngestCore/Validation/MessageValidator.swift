/// Stage 1: every check that needs no registry, in the contract's order:
/// size → topic (+ message type) → rate limit → JSON envelope → tenant → site.
///
/// The rate limit comes before decoding so a flooding device costs a topic parse, not a JSON parse.
public struct MessageValidator: Sendable {
    public let maxPayloadBytes: Int
    public let topicParser: TopicParser
    public let decoder: EnvelopeDecoder

    public init(maxPayloadBytes: Int, topicParser: TopicParser, decoder: EnvelopeDecoder) {
        self.maxPayloadBytes = maxPayloadBytes
        self.topicParser = topicParser
        self.decoder = decoder
    }

    public func validate(
        topic: String,
        payload: UnsafeRawBufferPointer,
        rateLimiter: inout RateLimiter,
        now: UInt64
    ) throws(RejectReason) -> ValidatedMessage {
        // Inclusive limit on the raw bytes, as received.
        guard payload.count <= maxPayloadBytes else { throw .payloadTooLarge }
        let address = try topicParser.parse(topic)
        guard rateLimiter.allow(address.deviceKey, now: now) else { throw .rateLimited }
        let envelope = try decoder.decode(payload)
        if let payloadTenant = envelope.tenantID, payloadTenant != address.tenantID {
            throw .tenantMismatchTopicVsPayload
        }
        // A site id that cannot be written as a tag value (control characters, a trailing
        // backslash, a backslash before `,`, `=`, space or `"`) is as unusable as a missing one:
        // MISSING_SITE_ID names the offending field, where BAD_JSON would blame valid JSON.
        guard let siteID = envelope.siteID, LineProtocolText.isRepresentableName(siteID) else {
            throw .missingSiteID
        }
        return ValidatedMessage(address: address, envelope: envelope, siteID: siteID)
    }

    public func validate(
        topic: String,
        payload: [UInt8],
        rateLimiter: inout RateLimiter,
        now: UInt64
    ) throws(RejectReason) -> ValidatedMessage {
        try payload.withUnsafeBytes { raw in
            Result { () throws(RejectReason) -> ValidatedMessage in
                try validate(topic: topic, payload: raw, rateLimiter: &rateLimiter, now: now)
            }
        }.get()
    }
}
