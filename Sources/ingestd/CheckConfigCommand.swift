import ArgumentParser
import IngestCore

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check the settings and print the effective values, secrets redacted (exit 0, or 78 when a value is bad)."
    )

    func run() async throws {
        let settings = try SettingsLoader.loadOrExit()
        let width = settings.entries.map(\.name.count).max() ?? 0
        for entry in settings.entries {
            let padding = String(repeating: " ", count: width - entry.name.count)
            let origin = entry.isFromEnvironment ? "" : "  (default)"
            print("\(entry.name)\(padding)  \(entry.displayValue)\(origin)")
        }
        print("configuration ok")
    }
}
