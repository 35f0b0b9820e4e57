import Foundation

/// The built `ingestd` binary run as a child process, the way an operator runs it.
public final class IngestdProcess: Sendable {
    public let process: ChildProcess

    /// The binary next to the test bundle (both live in the build folder), or `INGESTD_BINARY`.
    public static func binaryPath() -> String? {
        if let explicit = ProcessInfo.processInfo.environment["INGESTD_BINARY"] { return explicit }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = runner.deletingLastPathComponent()
        // `swift test` runs `.build/<triple>/debug/ingestdPackageTests.xctest`; the bundle may be a folder.
        for _ in 0..<3 {
            let candidate = folder.appendingPathComponent("ingestd").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }

    /// Starts `ingestd arguments…` with exactly `environment` plus PATH (nothing leaks in from the
    /// test runner's environment, so a developer's own MQTT_HOST cannot change a test).
    public init(arguments: [String] = ["run"], environment: [String: String], logPath: String) throws {
        guard let binary = Self.binaryPath() else {
            throw TimedOut(what: "the ingestd binary (run `swift build` first, or set INGESTD_BINARY)", seconds: 0)
        }
        var env = environment
        env["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        process = try ChildProcess(name: "ingestd", executable: binary, arguments: arguments, environment: env, logPath: logPath)
    }

    /// Runs `ingestd arguments…` to completion and returns its exit code and output.
    public static func runToCompletion(arguments: [String], environment: [String: String], timeout: Double = 60) async throws -> (code: Int32, output: String) {
        let directory = try TemporaryDirectory(prefix: "ingestd-cli")
        defer { directory.remove() }
        let child = try IngestdProcess(arguments: arguments, environment: environment, logPath: directory.file("out.log"))
        let code = try await child.process.waitForExit(timeout: timeout)
        return (code, child.process.log())
    }

    /// The log lines whose `msg` is `message` (logfmt), newest last.
    public func logLines(message: String) -> [String] {
        process.log().split(separator: "\n").map(String.init).filter { $0.contains(" msg=\(message)") || $0.contains(" msg=\"\(message)\"") }
    }

    /// The key=value pairs of the newest `msg=stats` line.
    public func latestStats() -> [String: String] {
        guard let line = logLines(message: "stats").last else { return [:] }
        return Self.logfmtFields(line)
    }

    /// Parses a logfmt line (quoted values with backslash escapes included).
    public static func logfmtFields(_ line: String) -> [String: String] {
        var fields: [String: String] = [:]
        var index = line.startIndex
        while index < line.endIndex {
            while index < line.endIndex, line[index] == " " { index = line.index(after: index) }
            guard let equals = line[index...].firstIndex(of: "=") else { break }
            let key = String(line[index..<equals])
            index = line.index(after: equals)
            var value = ""
            if index < line.endIndex, line[index] == "\"" {
                index = line.index(after: index)
                while index < line.endIndex, line[index] != "\"" {
                    if line[index] == "\\", line.index(after: index) < line.endIndex { index = line.index(after: index) }
                    value.append(line[index])
                    index = line.index(after: index)
                }
                if index < line.endIndex { index = line.index(after: index) }
            } else {
                while index < line.endIndex, line[index] != " " {
                    value.append(line[index])
                    index = line.index(after: index)
                }
            }
            fields[key] = value
        }
        return fields
    }
}
