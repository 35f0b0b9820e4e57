/// A rule file that cannot be used: which rule, which setting of it, and why. `ingestd check-config`
/// and start-up print it and exit 78; a reload (SIGHUP) logs it and keeps the rules in force.
public struct MappingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rule's name (or `rules[N]` when it has none yet); empty for the file as a whole.
    public var rule: String
    /// The setting, as written in the file (`fields.temperature.type`); empty for the rule as a whole.
    public var field: String
    public var message: String

    public init(rule: String, field: String, message: String) {
        self.rule = rule
        self.field = field
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        if !rule.isEmpty { parts.append("rule \"\(rule)\"") }
        if !field.isEmpty { parts.append("field \"\(field)\"") }
        parts.append(message)
        return parts.joined(separator: ", ")
    }
}
