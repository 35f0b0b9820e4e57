/// Parses `tenant/{tenant_id}/device/{device_id}/{msg_type}`.
///
/// Ids end up as tag values (device_id, tenant_id) or in the measurement name (msg_type), so an id
/// that line protocol cannot carry (control characters, a backslash at the end or before a
/// character that needs escaping) is refused here as `BAD_TOPIC_FORMAT` instead of being
/// mangled later. The message type must be one of `allowedMessageTypes` (an empty set allows none).
public struct TopicParser: Sendable {
    public let allowedMessageTypes: Set<String>
    /// The same names with their UTF-8, searched by bytes: a topic's type is then matched without
    /// building and hashing a String, and the address shares the configured one. A handful of
    /// names (MESSAGE_TYPES), so a linear search.
    private let allowedTypeBytes: [(name: String, utf8: [UInt8])]

    public init(allowedMessageTypes: Set<String>) {
        self.allowedMessageTypes = allowedMessageTypes
        allowedTypeBytes = allowedMessageTypes.sorted().map { ($0, Array($0.utf8)) }
    }

    public func parse(_ topic: String) throws(RejectReason) -> TopicAddress {
        var topic = topic
        return try topic.withUTF8 { bytes in
            Result { () throws(RejectReason) -> TopicAddress in try parse(utf8: bytes) }
        }.get()
    }

    func parse(utf8 bytes: UnsafeBufferPointer<UInt8>) throws(RejectReason) -> TopicAddress {
        // Five levels: find the four separators; a fifth one means too many levels.
        var cuts = (0, 0, 0, 0)
        var found = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "/") {
                switch found {
                case 0: cuts.0 = index
                case 1: cuts.1 = index
                case 2: cuts.2 = index
                case 3: cuts.3 = index
                default: throw .badTopicFormat
                }
                found += 1
            }
            index += 1
        }
        guard found == 4 else { throw .badTopicFormat }
        let tenantWord = UnsafeBufferPointer(rebasing: bytes[0..<cuts.0])
        let tenant = UnsafeBufferPointer(rebasing: bytes[(cuts.0 + 1)..<cuts.1])
        let deviceWord = UnsafeBufferPointer(rebasing: bytes[(cuts.1 + 1)..<cuts.2])
        let device = UnsafeBufferPointer(rebasing: bytes[(cuts.2 + 1)..<cuts.3])
        let type = UnsafeBufferPointer(rebasing: bytes[(cuts.3 + 1)..<bytes.count])
        guard UnsafeRawBufferPointer(tenantWord).hasSameBytes(as: "tenant"),
              UnsafeRawBufferPointer(deviceWord).hasSameBytes(as: "device")
        else { throw .badTopicFormat }
        guard LineProtocolText.isRepresentableName(tenant),
              LineProtocolText.isRepresentableName(device),
              LineProtocolText.isRepresentableName(type)
        else { throw .badTopicFormat }
        guard let messageType = allowedType(UnsafeRawBufferPointer(type)) else { throw .unsupportedMsgType }
        return TopicAddress(
            tenantID: String(decoding: tenant, as: UTF8.self),
            deviceID: String(decoding: device, as: UTF8.self),
            messageType: messageType
        )
    }

    private func allowedType(_ bytes: UnsafeRawBufferPointer) -> String? {
        for (name, utf8) in allowedTypeBytes where utf8.withUnsafeBytes({ bytes.hasSameBytes(as: $0) }) {
            return name
        }
        return nil
    }
}
