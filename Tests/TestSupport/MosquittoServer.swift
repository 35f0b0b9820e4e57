import Foundation
import Synchronization

/// A real mosquitto broker on a free loopback port, with its config, persistence file and log in a
/// temporary folder. `restart()` brings it back on the same port with the same persistence, so
/// persistent sessions (and their queued QoS 1 messages) survive, as with a production restart.
///
/// Publishing uses the real `mosquitto_pub` client (`MQTTTestBroker`).
public final class MosquittoServer: MQTTTestBroker {
    public let host = "127.0.0.1"
    public let name = "mosquitto"
    public let username: String? = nil
    /// mosquitto 2.0: MQTT 3.1.1 and 5, QoS 2, sessions kept across a restart in its persistence file.
    public let capabilities = MQTTBrokerCapabilities(mqtt5: true, maximumQoS: 2, keepsSessionsAcrossRestart: true)
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
}

public struct MosquittoServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
