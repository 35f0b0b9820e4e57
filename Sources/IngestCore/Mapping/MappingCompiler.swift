/// Checks a `MappingDefinition` and compiles it into a `MappingRuleSet`: topic filters, templates
/// bound to capture indexes, pointers merged into per-rule trees with value slots, names escaped
/// for line protocol. Every error names the rule and the setting.
public struct MappingCompiler: Sendable {
    public var databaseNamer: DatabaseNamer
    public var limits: EnvelopeLimits

    public init(databaseNamer: DatabaseNamer = DatabaseNamer(), limits: EnvelopeLimits = EnvelopeLimits()) {
        self.databaseNamer = databaseNamer
        self.limits = limits
    }

    public func compile(_ definition: MappingDefinition) throws(MappingError) -> MappingRuleSet {
        guard !definition.rules.isEmpty else {
            throw MappingError(rule: "", field: "rules", message: "the file has no rules")
        }
        var rules: [MappingRule] = []
        var names: Set<String> = []
        for (position, rule) in definition.rules.enumerated() {
            let label = rule.name.isEmpty ? "rules[\(position)]" : rule.name
            guard !rule.name.isEmpty else { throw MappingError(rule: label, field: "name", message: "must not be empty") }
            guard names.insert(rule.name).inserted else {
                throw MappingError(rule: label, field: "name", message: "another rule has this name")
            }
            rules.append(try compile(rule))
        }
        return MappingRuleSet(rules: rules, limits: limits, databaseNamer: databaseNamer)
    }

    func compile(_ definition: RuleDefinition) throws(MappingError) -> MappingRule {
        let name = definition.name
        func fail(_ field: String, _ message: String) -> MappingError {
            MappingError(rule: name, field: field, message: message)
        }
        let filter: TopicFilter
        do { filter = try TopicFilter(definition.topic) } catch {
            throw fail("topic", "not a topic filter: \(error) (levels, `{name}` captures a level, `+` any level, `#` the rest)")
        }
        func template(_ field: String, _ text: String) throws(MappingError) -> ValueTemplate {
            do { return try ValueTemplate(text, captureNames: filter.captureNames) } catch {
                switch error {
                case .unknownPlaceholder(let placeholder):
                    throw fail(field, "{\(placeholder)} is not a capture of the topic (\(filter.captureNames.map { "{\($0)}" }.joined(separator: ", ")))")
                case .unclosedBrace:
                    throw fail(field, "a { without its }")
                }
            }
        }
        func pointer(_ field: String, _ text: String) throws(MappingError) -> JSONPointer {
            do { return try JSONPointer(text) } catch {
                throw fail(field, "not a JSON pointer (RFC 6901: \"\" or /key/key…, ~0 for ~ and ~1 for /): \(text)")
            }
        }
        func fieldType(_ field: String, _ text: String) throws(MappingError) -> FieldType {
            guard let type = FieldType(rawValue: text) else {
                throw fail(field, "unknown type \"\(text)\" (\(FieldType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return type
        }
        func checkName(_ field: String, _ text: String) throws(MappingError) {
            guard LineProtocolText.isRepresentableName(text) else {
                throw fail(field, "\"\(text)\" cannot be written in line protocol (empty, a control character or a trailing backslash)")
            }
        }

        let payload: MappingRule.PayloadFormat
        if let text = definition.payload {
            guard let format = MappingRule.PayloadFormat(rawValue: text) else {
                throw fail("payload", "unknown payload \"\(text)\" (\(MappingRule.PayloadFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            payload = format
        } else {
            payload = .json
        }
        var onTypeError = MappingRule.TypeErrorPolicy.skip
        if let text = definition.onTypeError {
            guard let policy = MappingRule.TypeErrorPolicy(rawValue: text) else {
                throw fail("on_type_error", "must be skip or reject, not \"\(text)\"")
            }
            onTypeError = policy
        }

        var rule = MappingRule(
            name: name, filter: filter, payload: payload, tenant: try template("tenant", definition.tenant ?? name),
            database: nil, device: nil, registry: false, measurement: nil, tags: [], fields: [], flatten: nil, readings: nil,
            timestamp: nil, value: nil, onTypeError: onTypeError)
        if let text = definition.database { rule.database = try template("database", text) }
        if let text = definition.device { rule.device = try template("device", text) }
        if definition.registry == true, payload != .envelope {
            guard rule.device != nil else {
                throw fail("device", "registry: true needs the device the registry is asked for (a template of the topic's captures, e.g. \"{device}\")")
            }
            rule.registry = true
        }

        // Settings each payload format takes; anything else is a mistake worth naming.
        let jsonOnly: [(String, Bool)] = [
            ("tags", definition.tags != nil), ("fields", definition.fields != nil), ("flatten", definition.flatten != nil),
            ("readings", definition.readings != nil), ("time", definition.time != nil),
        ]
        switch payload {
        case .envelope:
            for (field, present) in jsonOnly + [("measurement", definition.measurement != nil), ("value", definition.value != nil),
                                                ("database", definition.database != nil), ("tenant", definition.tenant != nil),
                                                ("device", definition.device != nil), ("registry", definition.registry != nil)]
            where present {
                throw fail(field, "not used with payload: envelope (the envelope has its own; README, \"Device messages\")")
            }
            return rule
        case .lineProtocol:
            for (field, present) in jsonOnly + [("measurement", definition.measurement != nil), ("value", definition.value != nil)]
            where present {
                throw fail(field, "not used with payload: line-protocol (the lines carry their own)")
            }
            return rule
        case .value:
            for (field, present) in jsonOnly where present && field != "tags" {
                throw fail(field, "not used with payload: value (the payload is one value)")
            }
            guard let value = definition.value else { throw fail("value", "payload: value needs value: {field, type}") }
            let fieldName = try template("value.field", value.field)
            if let constant = fieldName.constant { try checkName("value.field", String(decoding: constant, as: UTF8.self)) }
            rule.value = MappingRule.Value(field: fieldName, type: try fieldType("value.type", value.type))
        case .json:
            if definition.value != nil { throw fail("value", "only used with payload: value") }
        }

        var nextSlot = 0
        guard let measurement = definition.measurement else { throw fail("measurement", "required") }
        rule.measurement = try source("measurement", measurement, trie: &rule.documentTrie, nextSlot: &nextSlot,
                                      template: template, pointer: pointer)
        if case .template(let t) = rule.measurement, let constant = t.constant {
            try checkName("measurement", String(decoding: constant, as: UTF8.self))
        }
        for (key, text) in (definition.tags ?? [:]).sorted(by: { $0.key < $1.key }) {
            try checkName("tags.\(key)", key)
            guard key != "time" else { throw fail("tags.time", "time is not a tag name InfluxDB allows") }
            if databaseNamer.tenantAsTag && definition.database == nil && key == "tenant_id" {
                throw fail("tags.tenant_id", "the tenant_id tag is added from tenant (INFLUXDB_DB_TEMPLATE has no {tenant_id})")
            }
            rule.tags.append(MappingRule.Tag(
                key: key, source: try source("tags.\(key)", text, trie: &rule.documentTrie, nextSlot: &nextSlot,
                                            template: template, pointer: pointer)))
        }
        if payload == .value {
            let pointers = [("measurement", definition.measurement ?? "")] + (definition.tags ?? [:]).map { ("tags.\($0.key)", $0.value) }
            for (field, text) in pointers where text.hasPrefix("/") {
                throw fail(field, "payload: value has no JSON to point into; use a template of the topic's captures")
            }
            rule.slotCount = nextSlot
            return rule
        }

        if let text = definition.readings {
            let readings = try pointer("readings", text)
            guard !readings.tokens.isEmpty else { throw fail("readings", "must point into the document, not be it") }
            rule.readings = readings
            rule.documentTrie.markReadings(readings)
        }
        let hasReadings = rule.readings != nil
        for (fieldName, field) in (definition.fields ?? [:]).sorted(by: { $0.key < $1.key }) {
            try checkName("fields.\(fieldName)", fieldName)
            guard fieldName != "time" else { throw fail("fields.time", "time is not a field name InfluxDB allows") }
            let target = try pointer("fields.\(fieldName).pointer", field.pointer ?? "/" + Self.escapeToken(fieldName))
            let type = try fieldType("fields.\(fieldName).type", field.type)
            let slot = hasReadings ? rule.elementTrie.slot(for: target, nextSlot: &nextSlot)
                : rule.documentTrie.slot(for: target, nextSlot: &nextSlot)
            var escaped: [UInt8] = []
            _ = LineProtocolText.appendName(fieldName, to: &escaped)
            rule.fields.append(MappingRule.Field(name: fieldName, escapedName: escaped, pointer: target, slot: slot, type: type))
        }
        if let flatten = definition.flatten {
            let root = try pointer("flatten.pointer", flatten.pointer)
            var excluded: [JSONPointer] = []
            for (position, text) in (flatten.exclude ?? []).enumerated() {
                excluded.append(try pointer("flatten.exclude[\(position)]", text))
            }
            let separator = flatten.separator ?? "_"
            let prefix = flatten.prefix ?? ""
            guard !separator.isEmpty else { throw fail("flatten.separator", "must not be empty") }
            rule.flatten = MappingRule.Flatten(
                pointer: root, separator: separator, prefix: prefix,
                type: try flatten.type.map { (text: String) throws(MappingError) -> FieldType in try fieldType("flatten.type", text) },
                exclude: excluded, separatorBytes: Array(separator.utf8), prefixBytes: Array(prefix.utf8))
            if hasReadings {
                rule.elementTrie.markFlatten(root)
                for pointer in excluded { rule.elementTrie.markExcluded(pointer) }
            } else {
                rule.documentTrie.markFlatten(root)
                for pointer in excluded { rule.documentTrie.markExcluded(pointer) }
            }
        }
        guard !rule.fields.isEmpty || rule.flatten != nil else {
            throw fail("fields", "a json rule needs fields, flatten or both")
        }
        if let time = definition.time {
            let target = try pointer("time.pointer", time.pointer)
            var format = TimestampFormat.auto
            if let text = time.format {
                guard let known = TimestampFormat(rawValue: text) else {
                    throw fail("time.format", "unknown format \"\(text)\" (\(TimestampFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                format = known
            }
            let slot = hasReadings ? rule.elementTrie.slot(for: target, nextSlot: &nextSlot)
                : rule.documentTrie.slot(for: target, nextSlot: &nextSlot)
            rule.timestamp = MappingRule.Timestamp(pointer: target, slot: slot, format: format)
        }
        rule.slotCount = nextSlot
        return rule
    }

    /// A string starting with `/` is a JSON pointer, anything else a template over the topic's captures.
    private func source(
        _ field: String, _ text: String, trie: inout PointerTrie, nextSlot: inout Int,
        template: (String, String) throws(MappingError) -> ValueTemplate,
        pointer: (String, String) throws(MappingError) -> JSONPointer
    ) throws(MappingError) -> MappingRule.Source {
        if text.hasPrefix("/") {
            let target = try pointer(field, text)
            return .pointer(target, slot: trie.slot(for: target, nextSlot: &nextSlot))
        }
        return .template(try template(field, text))
    }

    /// A field name as a pointer token (`a/b` → `a~1b`).
    static func escapeToken(_ name: String) -> String {
        name.replacing("~", with: "~0").replacing("/", with: "~1")
    }
}
