import Foundation
import Synchronization

/// A real RabbitMQ node (Debian's `rabbitmq-server`) with its MQTT plugin, on free loopback ports.
///
/// Everything is its own, so parallel tests and a system-wide rabbit do not collide: the node name, the
/// AMQP, distribution and MQTT ports, an `epmd` on a port of its own (started here, so none is left
/// behind as a daemon), the Erlang cookie (`HOME` is the temporary folder) and the data folders.
/// `restart()` keeps the data folder, so durable queues (persistent MQTT sessions) survive it.
///
/// RabbitMQ 3.10 (Debian 12) speaks MQTT 3.1.1 only (MQTT 5 came with 3.13): an MQTT 5 CONNECT is
/// answered by closing the connection. It grants QoS 1 for a QoS 2 subscription and delivers with
/// QoS 1.
public final class RabbitMQServer: MQTTTestBroker {
    public let host = "127.0.0.1"
    public let name = "rabbitmq"
    public let username: String? = nil
    public let capabilities = MQTTBrokerCapabilities(mqtt5: false, maximumQoS: 1, keepsSessionsAcrossRestart: true)
    public let port: UInt16
    public let directory: TemporaryDirectory
    private let amqpPort: UInt16
    private let distributionPort: UInt16
    private let epmdPort: UInt16
    private let epmd: Mutex<ChildProcess?> = Mutex(nil)
    private let node: Mutex<ChildProcess?> = Mutex(nil)
    private let starts = Atomic<Int>(0)

    /// Where Debian installs the server script (`/usr/sbin/rabbitmq-server` is a wrapper that switches
    /// to the `rabbitmq` user and its system-wide settings).
    static let serverScript = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    public static var isInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: serverScript) && ExecutableLocator.find("epmd") != nil
    }

    /// Starts a node and waits (bounded) until its MQTT listener accepts connections.
    public static func start() async throws -> RabbitMQServer {
        let server = try RabbitMQServer()
        do {
            try await server.launch()
        } catch {
            await server.remove()
            throw error
        }
        return server
    }

    private init() throws {
        port = FreePort.next()
        amqpPort = FreePort.next()
        distributionPort = FreePort.next()
        epmdPort = FreePort.next()
        directory = try TemporaryDirectory(prefix: "rabbitmq")
        let config = [
            "listeners.tcp.default = 127.0.0.1:\(amqpPort)",
            "mqtt.listeners.tcp.default = 127.0.0.1:\(port)",
            "mqtt.allow_anonymous = true",
            "loopback_users = none",
            "log.console = true",
            "log.console.level = info",
            "log.file = false",
        ]
        try (config.joined(separator: "\n") + "\n").write(toFile: directory.file("rabbitmq.conf"), atomically: true, encoding: .utf8)
        try "[rabbitmq_mqtt].\n".write(toFile: directory.file("enabled_plugins"), atomically: true, encoding: .utf8)
    }

    private var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        // With NOTIFY_SOCKET the script would take itself for a systemd service.
        environment["NOTIFY_SOCKET"] = nil
        let folder = directory.path
        let own: [String: String] = [
            "HOME": folder,  // the Erlang cookie goes here
            "ERL_EPMD_PORT": "\(epmdPort)",
            "RABBITMQ_NODENAME": "ingestd-test-\(port)@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_DIST_PORT": "\(distributionPort)",
            "RABBITMQ_CONFIG_FILE": "\(folder)/rabbitmq.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": "\(folder)/enabled_plugins",
            "RABBITMQ_MNESIA_BASE": "\(folder)/mnesia",
            "RABBITMQ_LOG_BASE": "\(folder)/log",
            "RABBITMQ_PID_FILE": "\(folder)/rabbitmq.pid",
            "RABBITMQ_PLUGINS_EXPAND_DIR": "\(folder)/plugins-expand",
            "RABBITMQ_FEATURE_FLAGS_FILE": "\(folder)/feature_flags",
            "RABBITMQ_QUORUM_DIR": "\(folder)/quorum",
            "RABBITMQ_STREAM_DIR": "\(folder)/stream",
        ]
        environment.merge(own) { _, ours in ours }
        return environment
    }

    private func launch() async throws {
        if epmd.withLock({ $0?.isRunning != true }) {
            guard let executable = ExecutableLocator.find("epmd") else { throw MosquittoServerError("epmd not found") }
            // In the foreground (no -daemon): stopped with the node in `remove()`.
            let child = try ChildProcess(name: "epmd:\(epmdPort)", executable: executable, arguments: ["-port", "\(epmdPort)"],
                                         environment: environment, logPath: directory.file("epmd.log"))
            epmd.withLock { $0 = child }
            try await eventually("epmd listens on \(epmdPort)", timeout: 30) { FreePort.isListening(epmdPort) }
        }
        let n = starts.add(1, ordering: .relaxed).newValue
        // The script traps SIGTERM and stops the node gracefully (messages and durable queues are on disk).
        let child = try ChildProcess(name: "rabbitmq:\(port)", executable: Self.serverScript, arguments: [],
                                     environment: environment, logPath: directory.file("rabbitmq-\(n).log"))
        node.withLock { $0 = child }
        // Slow to start (an Erlang VM, then every plugin): seconds, over a minute on a loaded machine.
        try await eventually("RabbitMQ's MQTT listener accepts connections on \(port)", timeout: 240, every: 0.2) {
            if !child.isRunning {
                throw MosquittoServerError("rabbitmq-server exited with \(child.exitCode ?? -1):\n\(child.log())")
            }
            return FreePort.isListening(port)
        }
    }

    public func restart() async throws {
        await stopNode()
        try await eventually("port \(port) free again", timeout: 60) { !FreePort.isListening(port) }
        try await launch()
    }

    private func stopNode() async {
        await node.withLock { $0 }?.stop(grace: 60)
    }

    public func remove() async {
        await stopNode()
        await epmd.withLock { $0 }?.stop()
        directory.remove()
    }

    public func log() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasPrefix("rabbitmq-") && $0.hasSuffix(".log") }.sorted()
            .compactMap { try? String(contentsOfFile: directory.file($0), encoding: .utf8) }
            .joined(separator: "\n")
    }
}
