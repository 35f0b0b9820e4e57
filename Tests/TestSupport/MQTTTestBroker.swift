import Foundation

/// What a broker implementation can do, so one test body runs against each and checks what the
/// broker promises instead of skipping it.
public struct MQTTBrokerCapabilities: Sendable {
    /// Speaks MQTT 5 (else only 3.1.1).
    public var mqtt5: Bool
    /// The highest QoS it grants a subscription and delivers with (RabbitMQ grants 1 for a QoS 2 filter).
    public var maximumQoS: Int
    /// A persistent session (subscriptions and queued QoS 1/2 messages) survives a broker restart.
    public var keepsSessionsAcrossRestart: Bool

    public init(mqtt5: Bool, maximumQoS: Int, keepsSessionsAcrossRestart: Bool) {
        self.mqtt5 = mqtt5
        self.maximumQoS = maximumQoS
        self.keepsSessionsAcrossRestart = keepsSessionsAcrossRestart
    }
}

/// A real MQTT broker started by the test harness on a free loopback port, in a temporary folder of
/// its own: mosquitto, RabbitMQ's MQTT plugin or amqtt.
///
/// Messages are published with the real `mosquitto_pub` client, whichever broker it is.
public protocol MQTTTestBroker: Sendable {
    /// The implementation, for test messages ("mosquitto", "rabbitmq", "amqtt").
    var name: String { get }
    var host: String { get }
    var port: UInt16 { get }
    var capabilities: MQTTBrokerCapabilities { get }
    /// A user name every client must present, or nil (amqtt keeps the messages of an offline session
    /// only for a client that named one).
    var username: String? { get }
    /// The broker's folder; the publisher writes its scratch files there.
    var directory: TemporaryDirectory { get }
    /// Stops and starts again on the same port and data, as in a production restart.
    func restart() async throws
    /// Stops the broker and removes its folder.
    func remove() async
    /// Everything the broker logged, for failure messages.
    func log() -> String
}

extension MQTTTestBroker {
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
        let fullArguments = ["-h", host, "-p", "\(port)"] + (username.map { ["-u", $0] } ?? []) + arguments
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
