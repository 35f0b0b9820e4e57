import Foundation
import Synchronization

/// amqtt (PyPI), an MQTT 3.1.1 broker in Python, on a free loopback port: a third implementation,
/// written by people who wrote neither mosquitto nor ingestd's client.
///
/// It keeps the messages of an offline persistent session only for a client that gave a user name (an
/// anonymous one "has no expectation that messages should be retained"), so anonymous access is off and
/// any user name is accepted without a password.
///
/// Its sessions live in memory (the SQL persistence plugin needs more Python packages), so a persistent
/// session survives a restart of ingestd but not of the broker; after a broker restart the client must
/// subscribe again on its own.
public final class AmqttServer: MQTTTestBroker {
    public let host = "127.0.0.1"
    public let name = "amqtt"
    public let username: String? = "ingestd-test"
    public let capabilities = MQTTBrokerCapabilities(mqtt5: false, maximumQoS: 2, keepsSessionsAcrossRestart: false)
    public let port: UInt16
    public let directory: TemporaryDirectory
    private let process: Mutex<ChildProcess?> = Mutex(nil)
    private let starts = Atomic<Int>(0)

    public static var isInstalled: Bool { ExecutableLocator.find("amqtt") != nil }

    public static func start() async throws -> AmqttServer {
        let server = try AmqttServer()
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
        directory = try TemporaryDirectory(prefix: "amqtt")
        let config = """
            listeners:
              default:
                type: tcp
                bind: 127.0.0.1:\(port)
            plugins:
              amqtt.plugins.authentication.AnonymousAuthPlugin:
                allow_anonymous: false
            """
        try (config + "\n").write(toFile: directory.file("broker.yaml"), atomically: true, encoding: .utf8)
    }

    private func launch() async throws {
        guard let executable = ExecutableLocator.find("amqtt") else { throw MosquittoServerError("amqtt not found (pip install amqtt)") }
        let n = starts.add(1, ordering: .relaxed).newValue
        let child = try ChildProcess(name: "amqtt:\(port)", executable: executable, arguments: ["-c", directory.file("broker.yaml")],
                                     logPath: directory.file("amqtt-\(n).log"))
        process.withLock { $0 = child }
        try await eventually("amqtt accepts connections on \(port)", timeout: 60) {
            if !child.isRunning {
                throw MosquittoServerError("amqtt exited with \(child.exitCode ?? -1):\n\(child.log())")
            }
            return FreePort.isListening(port)
        }
    }

    public func restart() async throws {
        await process.withLock { $0 }?.stop()
        try await eventually("port \(port) free again", timeout: 30) { !FreePort.isListening(port) }
        try await launch()
    }

    public func remove() async {
        await process.withLock { $0 }?.stop()
        directory.remove()
    }

    public func log() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasPrefix("amqtt-") && $0.hasSuffix(".log") }.sorted()
            .compactMap { try? String(contentsOfFile: directory.file($0), encoding: .utf8) }
            .joined(separator: "\n")
    }
}
