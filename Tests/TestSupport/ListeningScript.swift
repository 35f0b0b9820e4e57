import Foundation

/// A Python script of `scripts/` run as a small test server on a free loopback port: the fake InfluxDB,
/// the delay proxy. `FreePort.next()` only finds a port that was free a moment ago, so another process
/// may take it first: the start is tried up to three times, each on a new port.
enum ListeningScript {
    /// The path of `scripts/<name>` next to the package.
    static func path(_ name: String) -> String {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/\(name)").path
    }

    /// Starts `python3 script arguments(port)` and waits until it listens; logs go to `directory`.
    static func start(name: String, script: String, directory: TemporaryDirectory,
                      arguments: (UInt16) -> [String]) async throws -> (port: UInt16, process: ChildProcess) {
        guard let python = ExecutableLocator.find("python3") else { throw TestServerError("python3 not found") }
        var lastError: Error = TestServerError("\(name) did not start")
        for attempt in 1...3 {
            let port = FreePort.next()
            let process = try ChildProcess(
                name: name, executable: python, arguments: [script] + arguments(port),
                logPath: directory.file("\(name)-\(attempt).log"))
            do {
                try await eventually("\(name) listens on \(port)", timeout: 30) {
                    if !process.isRunning { throw TestServerError("\(name) exited:\n\(process.log())") }
                    return FreePort.isListening(port)
                }
                return (port, process)
            } catch {
                lastError = error
                await process.stop(grace: 2)
            }
        }
        throw lastError
    }
}
