import Foundation
import Synchronization

/// A real mosquitto broker on a free loopback port, with its config, persistence file and log in a
/// temporary folder. `restart()` brings it back on the same port with the same persistence, so
/// persistent sessions (and their queued QoS 1 messages) survive, as with a production restart.
///
/// Publishing uses the real `mosquitto_pub` client.
public final class MosquittoServer: Sendable {
    public let host = "127.0.0.1"
    public let port: UInt16
    public let directory: TemporaryDirectory
    public let configPath: String
    private let process: Mutex<ChildProcess?>
    private let starts = Atomic<Int>(0)

    /// Writes the config and starts the broker, waiting until it accepts connections.
    /// - Parameters:
    ///   - port: a fixed port (e.g. one chosen earlier with `FreePort.next()`), else a free one.
    ///   - extraConfig: more `mosquitto.conf` lines (TLS listeners, password files, …).
    public static func start(port: UInt16? = nil, extraConfig: [String] = []) async throws -> MosquittoServer {
        let server = try MosquittoServer(port: port ?? FreePort.next(), extraConfig: extraConfig)
        try await server.launch()
        return server
    }

    /// Prepares the folder and config without starting the broker (`launch()` starts it): for tests
    /// that need the broker to appear later on a known port.
    public init(port: UInt16, extraConfig: [String] = []) throws {
        self.port = port
        self.directory = try TemporaryDirectory(prefix: "mosquitto")
        self.configPath = directory.file("mosquitto.conf")
        self.process = Mutex(nil)
        var lines = [
            "listener \(port) 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            "persistence_location \(directory.path)/",
            "persistence_file mosquitto.db",
            // 0 = no limit: the default (1000) would silently drop QoS 1 messages queued for an
            // offline persistent session beyond that count.
            "max_queued_messages 0",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        // Started as root, mosquitto drops to user `mosquitto` unless told otherwise, and then cannot
        // write the root-owned temporary folder.
        if geteuid() == 0 { lines.append("user root") }
        lines += extraConfig
        try (lines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts the broker (again) and waits until the port accepts connections.
    public func launch() async throws {
        guard let executable = ExecutableLocator.find("mosquitto") else { throw MosquittoServerError("mosquitto not found") }
        let n = starts.add(1, ordering: .relaxed).newValue
        let (name, arguments, logPath) = ("mosquitto:\(port)", ["-c", configPath], directory.file("mosquitto-\(n).log"))
        // ChildProcess spawns with an empty signal mask, so SIGTERM reaches mosquitto and it saves its
        // persistence file on stop (a persistent session then survives a restart).
        let child = try ChildProcess(name: name, executable: executable, arguments: arguments, logPath: logPath)
        process.withLock { $0 = child }
        do {
            try await eventually("mosquitto accepts connections on \(port)", timeout: 30) {
                if !child.isRunning {
                    throw MosquittoServerError("mosquitto exited with \(child.exitCode ?? -1):\n\(child.log())")
                }
                return FreePort.isListening(port)
            }
        } catch {
            await child.stop()
            throw error
        }
    }

    public var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

    /// SIGTERM (mosquitto saves its persistence file on the way out) and waits for the exit.
    public func stop() async {
        let child = process.withLock { $0 }
        await child?.stop()
    }

    /// Stops and starts again on the same port, config and persistence.
    public func restart() async throws {
        await stop()
        try await eventually("port \(port) free again", timeout: 30) { !FreePort.isListening(port) }
        try await launch()
    }

    /// Stops the broker and removes its folder.
    public func remove() async {
        await stop()
        directory.remove()
    }

    /// Everything the broker logged, across restarts.
    public func log() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasPrefix("mosquitto-") && $0.hasSuffix(".log") }.sorted()
            .compactMap { try? String(contentsOfFile: directory.file($0), encoding: .utf8) }
            .joined(separator: "\n")
    }

    // MARK: - Publishing with mosquitto_pub

    /// Publishes one text message and waits for `mosquitto_pub` to finish (for QoS 1: acknowledged).
    public func publish(topic: String, payload: String, qos: Int = 1, arguments: [String] = []) async throws {
        try await runPublisher(["-t", topic, "-m", payload, "-q", "\(qos)"] + arguments)
    }

    /// Publishes one binary message (written to a file and sent with `-f`).
    public func publish(topic: String, payload: [UInt8], qos: Int = 1, arguments: [String] = []) async throws {
        let file = directory.file("payload-\(UUID().uuidString).bin")
        try Data(payload).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await runPublisher(["-t", topic, "-f", file, "-q", "\(qos)"] + arguments)
    }

    /// Publishes every line as one message over a single connection (`mosquitto_pub -l`), in order.
    public func publish(topic: String, lines: [String], qos: Int = 1, arguments: [String] = []) async throws {
        let file = directory.file("lines-\(UUID().uuidString).txt")
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await publish(topic: topic, linesFromFile: file, qos: qos, arguments: arguments)
    }

    /// Like `publish(topic:lines:)` with the lines read from a file.
    public func publish(topic: String, linesFromFile file: String, qos: Int = 1, arguments: [String] = []) async throws {
        try await runPublisher(["-t", topic, "-l", "-q", "\(qos)"] + arguments, standardInput: file)
    }

    private func runPublisher(_ arguments: [String], standardInput: String? = nil) async throws {
        guard let executable = ExecutableLocator.find("mosquitto_pub") else { throw MosquittoServerError("mosquitto_pub not found") }
        let output = directory.file("pub-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let fullArguments = ["-h", host, "-p", "\(port)"] + arguments
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            do {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = fullArguments
                let log = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
                process.standardOutput = log
                process.standardError = log
                if let standardInput {
                    guard let input = FileHandle(forReadingAtPath: standardInput) else {
                        throw MosquittoServerError("cannot read \(standardInput)")
                    }
                    process.standardInput = input
                } else {
                    process.standardInput = FileHandle.nullDevice
                }
                process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
                try process.run()
            } catch {
                continuation.resume(throwing: error)
            }
        }
        guard status == 0 else {
            let said = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw MosquittoServerError("mosquitto_pub \(fullArguments.joined(separator: " ")) exited with \(status): \(said)")
        }
    }
}

public struct MosquittoServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
