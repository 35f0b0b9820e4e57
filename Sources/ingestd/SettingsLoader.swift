import ArgumentParser
import Foundation
import IngestCore
import IngestService
import Logging

/// Reads the settings from the process environment, or prints one clear line and exits 78.
enum SettingsLoader {
    static func loadOrExit() throws -> Settings {
        do {
            return try Settings(environment: ProcessInfo.processInfo.environment, hostname: hostname())
        } catch {
            // Logging is not set up yet (LOG_FORMAT itself may be the bad value): honour it if it parses.
            let format = LogFormat(rawValue: ProcessInfo.processInfo.environment["LOG_FORMAT"]?.lowercased() ?? "") ?? .logfmt
            let line = LogLineFormatter.forStandardError(format: format).render(
                level: .critical, message: "invalid configuration: \(error.description)",
                metadata: ["variable": "\(error.variable)", "exit_code": "78"])
            FileHandle.standardError.write(Data((line + "\n").utf8))
            throw ExitCode(IngestExitCode.badConfiguration.rawValue)
        }
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}
