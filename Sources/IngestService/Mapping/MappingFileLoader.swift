import Foundation
import IngestCore
import Yams

/// Reads a MAPPING_FILE (YAML) into compiled rules. YAML because the projects people map from
/// (Zigbee2MQTT, Home Assistant, ESPHome, Tasmota's docs) configure in YAML; see README,
/// "Dependencies". The file is parsed once into `MappingDefinition` and compiled; nothing of
/// the YAML tree survives into the hot path.
public struct MappingFileLoader: Sendable {
    public var compiler: MappingCompiler

    public init(compiler: MappingCompiler) {
        self.compiler = compiler
    }

    public func load(path: String) throws(MappingError) -> MappingRuleSet {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw MappingError(rule: "", field: "", message: "cannot read \(path): \(error.localizedDescription)")
        }
        return try load(yaml: text)
    }

    public func load(yaml text: String) throws(MappingError) -> MappingRuleSet {
        let definition: MappingDefinition
        do {
            definition = try YAMLDecoder().decode(MappingDefinition.self, from: text)
        } catch {
            throw Self.describe(error, yaml: text)
        }
        return try compiler.compile(definition)
    }

    /// A decoding error as rule + field: `rules[2].fields.temperature` becomes the rule's name (when
    /// the file gives it) and `fields.temperature`.
    static func describe(_ error: any Error, yaml: String) -> MappingError {
        let path: [any CodingKey]
        let message: String
        // Yams hands an error thrown inside a nested decode on as the underlying error of dataCorrupted.
        var error = error
        if case DecodingError.dataCorrupted(let context) = error, let unknown = context.underlyingError as? DefinitionKeyError {
            error = unknown
        }
        switch error {
        case let unknown as DefinitionKeyError:
            path = unknown.codingPath
            message = unknown.description
        case DecodingError.typeMismatch(let type, let context):
            path = context.codingPath
            message = "expected \(Self.name(of: type))"
        case DecodingError.valueNotFound(let type, let context):
            path = context.codingPath
            message = "expected \(Self.name(of: type)), found nothing"
        case DecodingError.keyNotFound(let key, let context):
            path = context.codingPath + [key]
            message = "required"
        case DecodingError.dataCorrupted(let context):
            path = context.codingPath
            message = context.underlyingError.map { "\($0)" } ?? context.debugDescription
        case let yamlError as YamlError:
            return MappingError(rule: "", field: "", message: "not YAML: \(yamlError)")
        default:
            return MappingError(rule: "", field: "", message: "\(error)")
        }
        var rule = ""
        var rest = path[...]
        if rest.first?.stringValue == "rules" {
            rest = rest.dropFirst()
            if let index = rest.first?.intValue {
                rest = rest.dropFirst()
                rule = Self.ruleName(at: index, yaml: yaml) ?? "rules[\(index)]"
            }
        }
        let field = rest.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            .reduce("") { $0.isEmpty ? $1 : ($1.hasPrefix("[") ? $0 + $1 : $0 + "." + $1) }
        return MappingError(rule: rule, field: field, message: message)
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [Any].Type: "a list"
        default: "\(type)".contains("Dictionary") ? "a mapping" : "\(type)"
        }
    }

    /// The `name:` of the N-th rule, read leniently, so an error in rule 3 can say which rule that is.
    private static func ruleName(at index: Int, yaml: String) -> String? {
        guard let root = try? Yams.compose(yaml: yaml), let rules = root.mapping?["rules"]?.sequence,
              index < rules.count
        else { return nil }
        return rules[index].mapping?["name"]?.string
    }
}
