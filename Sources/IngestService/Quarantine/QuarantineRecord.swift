import Foundation

/// One line of the quarantine file (JSON Lines). Keys are part of the contract (README).
struct QuarantineRecord: Encodable {
    var time: String
    var topic: String
    var tenantID: String?
    var deviceID: String?
    var reason: String
    /// The payload, tokens masked, cut at MAX_PAYLOAD_BYTES, as UTF-8 text (invalid bytes replaced).
    var payload: String?
    var payloadBytes: Int?
    var payloadTruncated: Bool?

    enum CodingKeys: String, CodingKey {
        case time, topic, reason, payload
        case tenantID = "tenant_id"
        case deviceID = "device_id"
        case payloadBytes = "payload_bytes"
        case payloadTruncated = "payload_truncated"
    }
}
