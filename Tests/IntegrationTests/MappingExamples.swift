import Foundation

/// The rule files of `config/mappings/`, as shipped.
enum MappingExamples {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config/mappings")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Several example files as one rule file: their `rules:` lists one after the other.
    static func combined(_ names: [String]) throws -> String {
        var text = "rules:\n"
        for name in names {
            let file = try String(contentsOfFile: path(name), encoding: .utf8)
            guard let start = file.range(of: "\nrules:\n") else { throw HarnessError("\(name) has no rules: list") }
            text += file[start.upperBound...]
            text += "\n"
        }
        return text
    }
}
