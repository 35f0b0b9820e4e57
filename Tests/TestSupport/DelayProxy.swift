import Foundation

/// A TCP proxy on a free loopback port that delays every chunk of bytes by `delay` seconds in both
/// directions (`scripts/delay_proxy.py`, Python standard library only): a server that answers slowly.
public final class DelayProxy: Sendable {
    public let port: UInt16
    private let directory: TemporaryDirectory
    private let process: ChildProcess

    private init(port: UInt16, directory: TemporaryDirectory, process: ChildProcess) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    /// The script next to the package: `scripts/delay_proxy.py`.
    public static var scriptPath: String {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/delay_proxy.py").path
    }

    /// Starts the proxy in front of `127.0.0.1:targetPort`.
    public static func start(targetPort: UInt16, delay: Double) async throws -> DelayProxy {
        guard let python = ExecutableLocator.find("python3") else { throw TestServerError("python3 not found") }
        let directory = try TemporaryDirectory(prefix: "delay-proxy")
        var lastError: Error = TestServerError("delay proxy did not start")
        for attempt in 1...3 {
            let port = FreePort.next()
            let process = try ChildProcess(
                name: "delay_proxy", executable: python,
                arguments: [scriptPath, "--port", "\(port)", "--target-port", "\(targetPort)", "--delay", "\(delay)"],
                logPath: directory.file("delay_proxy-\(attempt).log"))
            do {
                try await eventually("delay proxy listens on \(port)", timeout: 30) {
                    if !process.isRunning { throw TestServerError("delay proxy exited:\n\(process.log())") }
                    return FreePort.isListening(port)
                }
                return DelayProxy(port: port, directory: directory, process: process)
            } catch {
                lastError = error
                await process.stop(grace: 2)
            }
        }
        directory.remove()
        throw lastError
    }

    public func stop() async {
        await process.stop(grace: 2)
        directory.remove()
    }
}
