import Foundation
import Synchronization

/// A child process whose standard output and error go to a log file, so a failing test can show what
/// the server said. Stopped with SIGTERM (then SIGKILL after a grace period) by `stop()`.
public final class ChildProcess: Sendable {
    // Foundation's Process is not Sendable; every access goes through this mutex.
    private let process: Mutex<Process>
    public let logPath: String
    public let name: String

    public init(
        name: String,
        executable: String,
        arguments: [String],
        environment: [String: String]? = nil,
        logPath: String
    ) throws {
        self.name = name
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = Mutex(process)
    }

    public var pid: Int32 { process.withLock { $0.processIdentifier } }
    public var isRunning: Bool { process.withLock { $0.isRunning } }
    /// Exit status, or nil while running. A process killed by a signal reports 128 + signal.
    public var exitCode: Int32? {
        process.withLock { p in
            guard !p.isRunning else { return nil }
            return p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        }
    }

    public func signal(_ signal: Int32) { _ = kill(pid, signal) }

    /// Waits for the process to exit on its own, up to `timeout` seconds; returns its exit code.
    @discardableResult
    public func waitForExit(timeout: Double = 60) async throws -> Int32 {
        try await eventually("\(name) exits", timeout: timeout) { !isRunning }
        return exitCode ?? -1
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace` seconds.
    public func stop(grace: Double = 15) async {
        guard isRunning else { return }
        signal(SIGTERM)
        if (try? await waitForExit(timeout: grace)) == nil {
            signal(SIGKILL)
            _ = try? await waitForExit(timeout: 10)
        }
    }

    public func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
