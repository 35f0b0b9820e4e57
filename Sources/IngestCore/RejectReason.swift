/// Why a message was not accepted. The raw values are part of the public contract (README "Reject
/// reasons": counters `rejected_<REASON>` and quarantine records use them), so they never change.
public enum RejectReason: String, Error, CaseIterable, Sendable {
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case badTopicFormat = "BAD_TOPIC_FORMAT"
    case badJSON = "BAD_JSON"
    case unsupportedEnvelopeVersion = "UNSUPPORTED_ENVELOPE_VERSION"
    case unsupportedMsgType = "UNSUPPORTED_MSG_TYPE"
    case rateLimited = "RATE_LIMITED"
    case tenantMismatchTopicVsPayload = "TENANT_MISMATCH_TOPIC_VS_PAYLOAD"
    case missingSiteID = "MISSING_SITE_ID"
    case badTimestamp = "BAD_TIMESTAMP"
    case tooManyMetrics = "TOO_MANY_METRICS"
    case metricKeyTooLong = "METRIC_KEY_TOO_LONG"
    case metricKeyInvalid = "METRIC_KEY_INVALID"
    case unregisteredDevice = "UNREGISTERED_DEVICE"
    case deviceRevoked = "DEVICE_REVOKED"
    case siteMismatchRegistryVsPayload = "SITE_MISMATCH_REGISTRY_VS_PAYLOAD"
    case tokenNotSetInRegistry = "TOKEN_NOT_SET_IN_REGISTRY"
    case tokenMissing = "TOKEN_MISSING"
    case tokenInvalid = "TOKEN_INVALID"
    // Produced by the service when the registry cannot be asked and no cached record exists.
    case registryUnavailable = "REGISTRY_UNAVAILABLE"
    // Mapping rules (MAPPING_FILE; README, "Mapping other devices").
    case noMapping = "NO_MAPPING"
    case fieldTypeMismatch = "FIELD_TYPE_MISMATCH"
    case noFields = "NO_FIELDS"
}
