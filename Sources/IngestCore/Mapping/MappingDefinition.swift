/// A rule file as written (README, "Mapping other devices"), before `MappingCompiler` checks it.
/// Decodable from any format (the daemon reads YAML; the tests also use JSON); unknown keys are
/// refused by name, so a typo is an error instead of a setting silently ignored.
public struct MappingDefinition: Decodable, Sendable {
    public var rules: [RuleDefinition]

    public init(rules: [RuleDefinition]) {
        self.rules = rules
    }

    public init(from decoder: any Decoder) throws {
        try DefinitionKeys.refuseUnknown(in: decoder, allowed: ["rules"])
        let container = try decoder.container(keyedBy: DefinitionKeys.self)
        rules = try container.decode([RuleDefinition].self, forKey: DefinitionKeys("rules"))
    }
}

public struct RuleDefinition: Decodable, Sendable {
    public var name: String
    public var topic: String
    public var payload: String?
    public var tenant: String?
    public var database: String?
    public var device: String?
    /// Whether the registry must know the device (README, "Mapping other devices"); nil is false.
    public var registry: Bool?
    public var measurement: String?
    public var tags: [String: String]?
    public var fields: [String: FieldDefinition]?
    public var flatten: FlattenDefinition?
    public var readings: String?
    public var time: TimeDefinition?
    public var value: ValueDefinition?
    public var onTypeError: String?

    static let keys = ["name", "topic", "payload", "tenant", "database", "device", "registry", "measurement", "tags", "fields",
                       "flatten", "readings", "time", "value", "on_type_error"]

    public init(name: String, topic: String, payload: String? = nil, tenant: String? = nil, database: String? = nil,
                device: String? = nil, registry: Bool? = nil, measurement: String? = nil, tags: [String: String]? = nil,
                fields: [String: FieldDefinition]? = nil, flatten: FlattenDefinition? = nil, readings: String? = nil,
                time: TimeDefinition? = nil, value: ValueDefinition? = nil, onTypeError: String? = nil) {
        self.name = name
        self.topic = topic
        self.payload = payload
        self.tenant = tenant
        self.database = database
        self.device = device
        self.registry = registry
        self.measurement = measurement
        self.tags = tags
        self.fields = fields
        self.flatten = flatten
        self.readings = readings
        self.time = time
        self.value = value
        self.onTypeError = onTypeError
    }

    public init(from decoder: any Decoder) throws {
        try DefinitionKeys.refuseUnknown(in: decoder, allowed: Self.keys)
        let c = try decoder.container(keyedBy: DefinitionKeys.self)
        func text(_ key: String) throws -> String? { try c.decodeIfPresent(String.self, forKey: DefinitionKeys(key)) }
        name = try c.decode(String.self, forKey: DefinitionKeys("name"))
        topic = try c.decode(String.self, forKey: DefinitionKeys("topic"))
        payload = try text("payload")
        tenant = try text("tenant")
        database = try text("database")
        device = try text("device")
        registry = try c.decodeIfPresent(Bool.self, forKey: DefinitionKeys("registry"))
        measurement = try text("measurement")
        tags = try c.decodeIfPresent([String: String].self, forKey: DefinitionKeys("tags"))
        fields = try c.decodeIfPresent([String: FieldDefinition].self, forKey: DefinitionKeys("fields"))
        flatten = try c.decodeIfPresent(FlattenDefinition.self, forKey: DefinitionKeys("flatten"))
        readings = try text("readings")
        time = try c.decodeIfPresent(TimeDefinition.self, forKey: DefinitionKeys("time"))
        value = try c.decodeIfPresent(ValueDefinition.self, forKey: DefinitionKeys("value"))
        onTypeError = try text("on_type_error")
    }
}

/// `temperature: float` (the pointer is `/temperature`) or `rssi: {pointer: /rx/0/rssi, type: integer}`.
public struct FieldDefinition: Decodable, Sendable {
    public var pointer: String?
    public var type: String

    public init(pointer: String? = nil, type: String) {
        self.pointer = pointer
        self.type = type
    }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let type = try? single.decode(String.self) {
            self.init(type: type)
            return
        }
        try DefinitionKeys.refuseUnknown(in: decoder, allowed: ["pointer", "type"])
        let c = try decoder.container(keyedBy: DefinitionKeys.self)
        self.init(pointer: try c.decodeIfPresent(String.self, forKey: DefinitionKeys("pointer")),
                  type: try c.decode(String.self, forKey: DefinitionKeys("type")))
    }
}

public struct FlattenDefinition: Decodable, Sendable {
    public var pointer: String
    public var separator: String?
    public var prefix: String?
    public var type: String?
    public var exclude: [String]?

    public init(pointer: String = "", separator: String? = nil, prefix: String? = nil, type: String? = nil,
                exclude: [String]? = nil) {
        self.pointer = pointer
        self.separator = separator
        self.prefix = prefix
        self.type = type
        self.exclude = exclude
    }

    public init(from decoder: any Decoder) throws {
        try DefinitionKeys.refuseUnknown(in: decoder, allowed: ["pointer", "separator", "prefix", "type", "exclude"])
        let c = try decoder.container(keyedBy: DefinitionKeys.self)
        pointer = try c.decodeIfPresent(String.self, forKey: DefinitionKeys("pointer")) ?? ""
        separator = try c.decodeIfPresent(String.self, forKey: DefinitionKeys("separator"))
        prefix = try c.decodeIfPresent(String.self, forKey: DefinitionKeys("prefix"))
        type = try c.decodeIfPresent(String.self, forKey: DefinitionKeys("type"))
        exclude = try c.decodeIfPresent([String].self, forKey: DefinitionKeys("exclude"))
    }
}

public struct TimeDefinition: Decodable, Sendable {
    public var pointer: String
    public var format: String?

    public init(pointer: String, format: String? = nil) {
        self.pointer = pointer
        self.format = format
    }

    public init(from decoder: any Decoder) throws {
        try DefinitionKeys.refuseUnknown(in: decoder, allowed: ["pointer", "format"])
        let c = try decoder.container(keyedBy: DefinitionKeys.self)
        pointer = try c.decode(String.self, forKey: DefinitionKeys("pointer"))
        format = try c.decodeIfPresent(String.self, forKey: DefinitionKeys("format"))
    }
}

public struct ValueDefinition: Decodable, Sendable {
    public var field: String
    public var type: String

    public init(field: String, type: String) {
        self.field = field
        self.type = type
    }

    public init(from decoder: any Decoder) throws {
        try DefinitionKeys.refuseUnknown(in: decoder, allowed: ["field", "type"])
        let c = try decoder.container(keyedBy: DefinitionKeys.self)
        field = try c.decode(String.self, forKey: DefinitionKeys("field"))
        type = try c.decode(String.self, forKey: DefinitionKeys("type"))
    }
}

/// Any key, so a definition can list the keys present and refuse the ones it does not know.
struct DefinitionKeys: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    static func refuseUnknown(in decoder: any Decoder, allowed: [String]) throws {
        let container = try decoder.container(keyedBy: DefinitionKeys.self)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            throw DefinitionKeyError(key: key.stringValue, allowed: allowed,
                                     codingPath: (decoder.codingPath + [key]).map(DefinitionKeyError.PathKey.init))
        }
    }
}

extension MappingDefinition {
    /// What ingestd does without MAPPING_FILE: the origin envelope on its own topics.
    public static let builtIn = MappingDefinition(rules: [
        RuleDefinition(name: "envelope", topic: "tenant/+/device/+/+", payload: "envelope"),
    ])
}

/// A key a rule file may not have, with where it is.
public struct DefinitionKeyError: Error, Sendable, CustomStringConvertible {
    public struct PathKey: CodingKey, Sendable {
        public var stringValue: String
        public var intValue: Int?

        init(_ key: any CodingKey) {
            stringValue = key.stringValue
            intValue = key.intValue
        }

        public init?(stringValue: String) { self.stringValue = stringValue }
        public init?(intValue: Int) {
            self.stringValue = "\(intValue)"
            self.intValue = intValue
        }
    }

    public var key: String
    public var allowed: [String]
    public var codingPath: [PathKey]

    public var description: String { "unknown key \"\(key)\" (allowed: \(allowed.joined(separator: ", ")))" }
}
