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
    public static var scriptPath: String { ListeningScript.path("delay_proxy.py") }

    /// Starts the proxy in front of `127.0.0.1:targetPort`.
    public static func start(targetPort: UInt16, delay: Double) async throws -> DelayProxy {
        let directory = try TemporaryDirectory(prefix: "delay-proxy")
        do {
            let (port, process) = try await ListeningScript.start(name: "delay_proxy", script: scriptPath, directory: directory) {
                ["--port", "\($0)", "--target-port", "\(targetPort)", "--delay", "\(delay)"]
            }
            return DelayProxy(port: port, directory: directory, process: process)
        } catch {
            directory.remove()
            throw error
        }
    }

    public func stop() async {
        await process.stop(grace: 2)
        directory.remove()
    }
}
