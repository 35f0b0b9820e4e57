import ArgumentParser
import Foundation
import IngestCore
import IngestService

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check the settings and print the effective values, secrets redacted (exit 0, or 78 when a value is bad)."
    )

    @Flag(help: "Print every setting with its default as NAME=value lines, ignoring the environment (the packaged /etc/default/ingestd is made from it).")
    var defaults = false

    func run() async throws {
        if defaults {
            // Every file counts as readable: the defaults are wanted, not a check of this machine.
            let settings = try Settings(environment: [:], hostname: "<hostname>", fileProblem: { _ in nil })
            for entry in settings.entries {
                print("\(entry.name)=\(entry.displayValue == "(not set)" ? "" : entry.displayValue)")
            }
            return
        }
        let settings = try SettingsLoader.loadOrExit()
        let width = settings.entries.map(\.name.count).max() ?? 0
        for entry in settings.entries {
            let padding = String(repeating: " ", count: width - entry.name.count)
            let origin = entry.isFromEnvironment ? "" : "  (default)"
            print("\(entry.name)\(padding)  \(entry.displayValue)\(origin)")
        }
        if let path = settings.mappingFile {
            do {
                let rules = try settings.mappingLoader.load(path: path)
                print("\nmapping rules from \(path), tried in order:")
                for rule in rules.rules { print(rule.description) }
                if !(settings.entries.first { $0.name == "MQTT_TOPIC" }?.isFromEnvironment ?? false) {
                    print("subscriptions (MQTT_TOPIC not set): \(settings.subscriptions(for: rules).joined(separator: ", "))")
                }
            } catch {
                FileHandle.standardError.write(Data("invalid configuration: MAPPING_FILE \(path): \(error)\n".utf8))
                throw ExitCode(IngestExitCode.badConfiguration.rawValue)
            }
        }
        print("configuration ok")
    }
}
