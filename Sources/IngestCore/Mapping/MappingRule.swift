/// One compiled mapping rule (README, "Mapping other devices"): which topics it takes and how a
/// payload becomes points. Built once by `MappingCompiler` from a rule file; values and indexes
/// only, so mapping a message allocates no parse tree.
public struct MappingRule: Sendable {
    public enum PayloadFormat: String, Sendable, CaseIterable {
        /// A JSON document: measurement, tags, fields, readings and time from pointers.
        case json
        /// The payload is one value (`21.5`, `ON`): Tasmota and Shelly per-metric topics.
        case value
        /// InfluxDB line protocol, checked and passed through.
        case lineProtocol = "line-protocol"
        /// The origin JSON envelope (README, "Device messages"), with its own checks and registry.
        case envelope
    }

    public enum TypeErrorPolicy: String, Sendable, CaseIterable {
        case skip, reject
    }

    /// Where a tag value or the measurement comes from.
    public enum Source: Sendable {
        case template(ValueTemplate)
        case pointer(JSONPointer, slot: Int)
    }

    public struct Tag: Sendable {
        public var key: String
        public var source: Source
    }

    public struct Field: Sendable {
        public var name: String
        /// The name escaped for line protocol, checked at compile time.
        var escapedName: [UInt8]
        public var pointer: JSONPointer
        var slot: Int
        public var type: FieldType
    }

    public struct Flatten: Sendable {
        public var pointer: JSONPointer
        public var separator: String
        public var prefix: String
        /// nil: numbers become floats, booleans booleans, strings strings.
        public var type: FieldType?
        public var exclude: [JSONPointer]
        var separatorBytes: [UInt8]
        var prefixBytes: [UInt8]
    }

    public struct Timestamp: Sendable {
        public var pointer: JSONPointer
        var slot: Int
        public var format: TimestampFormat
    }

    /// `payload: value`: the field the payload becomes.
    public struct Value: Sendable {
        public var field: ValueTemplate
        public var type: FieldType
    }

    public var name: String
    public var filter: TopicFilter
    public var payload: PayloadFormat
    public var tenant: ValueTemplate
    public var database: ValueTemplate?
    public var device: ValueTemplate?
    /// The device, (tenant, device) rendered from the topic, must be in the registry and ACTIVE
    /// (README, "Mapping other devices"); compiled only with a `device`.
    public var registry: Bool
    public var measurement: Source?
    /// Sorted by key, the order InfluxDB wants.
    public var tags: [Tag]
    public var fields: [Field]
    public var flatten: Flatten?
    public var readings: JSONPointer?
    public var timestamp: Timestamp?
    public var value: Value?
    public var onTypeError: TypeErrorPolicy
    /// Pointers of the document (tags, measurement; fields and time when there are no readings).
    var documentTrie = PointerTrie()
    /// Pointers inside each element of `readings`.
    var elementTrie = PointerTrie()
    var slotCount = 0
}
