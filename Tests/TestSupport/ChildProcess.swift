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
        try Self.spawnWithEmptySignalMask(process)
        self.process = Mutex(process)
    }

    /// A child inherits the signal mask of the thread that spawns it, and the threads Swift tasks run
    /// on block SIGTERM, SIGINT and SIGHUP. A server started from one would never see SIGTERM (mosquitto
    /// would then be SIGKILLed without saving its persistence, ingestd could not be stopped gracefully),
    /// so every child is spawned from a short-lived thread whose mask is empty.
    private static func spawnWithEmptySignalMask(_ process: Process) throws {
        let box = SpawnBox(process)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            box.run()
            done.signal()
        }
        thread.start()
        done.wait()
        if let error = box.error { throw error }
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

/// Carries a Process to the spawning thread. @unchecked Sendable: the process is used by exactly one
/// thread at a time, handed over and back through the semaphore in `spawnWithEmptySignalMask`.
private final class SpawnBox: @unchecked Sendable {
    let process: Process
    var error: (any Error)?
    init(_ process: Process) { self.process = process }
    func run() {
        do { try process.run() } catch { self.error = error }
    }
}
