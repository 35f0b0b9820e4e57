import IngestCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TestSupport
import XCTest
@testable import IngestService

/// Log lines captured for assertions (and echoed to stderr so a failing test shows what happened).
final class CapturedLogs: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }
    private let lines = Mutex<[Line]>([])

    func append(_ line: Line) { lines.withLock { $0.append(line) } }
    var all: [Line] { lines.withLock { $0 } }
    func count(_ message: String) -> Int { lines.withLock { $0.filter { $0.message == message }.count } }
    func with(_ message: String) -> [Line] { lines.withLock { $0.filter { $0.message == message } } }
    /// Every captured line rendered as text (message plus metadata values).
    var text: String {
        all.map { line in ([line.message] + line.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " ") }
            .joined(separator: "\n")
    }

    func logger(label: String = "mqtt-test") -> Logger {
        var logger = Logger(label: label) { _ in CapturingLogHandler(logs: self) }
        logger.logLevel = .debug
        return logger
    }
}

struct CapturingLogHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged: [String: String] = [:]
        for (k, v) in metadata { merged[k] = "\(v)" }
        for (k, v) in event.metadata ?? [:] { merged[k] = "\(v)" }
        let line = CapturedLogs.Line(level: event.level, message: event.message.description, metadata: merged)
        logs.append(line)
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        FileHandle.standardError.write(Data("[\(event.level)] msg=\"\(line.message)\" \(rendered)\n".utf8))
    }
}

/// Messages the consumer task has taken from the intake.
final class ReceivedMessages: Sendable {
    private let messages = Mutex<[InboundMessage]>([])
    func append(_ chunk: [InboundMessage]) { messages.withLock { $0 += chunk } }
    var all: [InboundMessage] { messages.withLock { $0 } }
    var count: Int { messages.withLock { $0.count } }
    func payloads(topic: String) -> [String] {
        all.filter { $0.topic == topic }.map { String(decoding: $0.payload, as: UTF8.self) }
    }
}

/// An `MQTTSource` running inside a real `ServiceGroup`, with a consumer task draining its intake
/// the way the pipeline does (until `next` returns nil).
final class RunningSource: Sendable {
    let source: MQTTSource
    let intake: IntakeQueue
    let group: ServiceGroup
    let logs: CapturedLogs
    let received = ReceivedMessages()
    private let runTask: Task<Void, any Error>
    private let consumerTask: Task<Void, Never>

    /// - Parameters:
    ///   - consumerDelayNanos: a pause after every chunk, to make the consumer slow.
    ///   - consumerGate: while it holds false the consumer takes nothing (to fill the intake on purpose).
    init(
        _ configuration: MQTTConfiguration,
        capacity: Int = 10_000,
        maxChunk: Int = 100,
        consumerDelayNanos: UInt64 = 0,
        consumerGate: GateBox? = nil,
        logs: CapturedLogs = CapturedLogs(),
        acknowledgements: AcknowledgementRelay? = nil
    ) {
        self.logs = logs
        let intake = IntakeQueue(capacity: capacity)
        self.intake = intake
        let logger = logs.logger()
        source = MQTTSource(configuration: configuration, intake: intake, logger: logger,
                            acknowledgements: acknowledgements, acknowledgementWaitAtStop: .seconds(5))
        let group = ServiceGroup(services: [source], logger: logger)
        self.group = group
        runTask = Task { try await group.run() }
        let received = self.received
        let gate = consumerGate
        consumerTask = Task {
            while true {
                if let gate { while !gate.isOpen { try? await Task.sleep(nanoseconds: 5_000_000) } }
                guard let chunk = await intake.next(maxCount: maxChunk) else { break }
                received.append(chunk)
                if consumerDelayNanos > 0 { try? await Task.sleep(nanoseconds: consumerDelayNanos) }
            }
        }
    }

    /// Waits until the source is connected and has `times` × topics SUBACKs in total, granted as asked
    /// or with a lower QoS.
    func waitUntilSubscribed(times: Int = 1, timeout: Double = 60) async throws {
        let expected = times * source.configuration.topics.count
        try await eventually("connected and subscribed (\(expected) SUBACKs)", timeout: timeout) {
            source.metrics.connected == 1
                && logs.count("mqtt subscribed") + logs.count("mqtt subscription granted with a lower QoS") >= expected
        }
    }

    func waitForMessages(_ count: Int, timeout: Double = 60) async throws {
        try await eventually("\(count) messages received (have \(received.count))", timeout: timeout) { received.count >= count }
    }

    /// Graceful shutdown, as on SIGTERM; waits for the source and the consumer to finish.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await runTask.value
        await consumerTask.value
    }
}

func testConfiguration(
    _ broker: any MQTTTestBroker,
    topics: [String] = ["tenant/+/device/+/+"],
    clientID: String = "ingestd-test-\(UUID().uuidString.prefix(8))",
    protocolVersion: MQTTProtocolVersion = .v5
) -> MQTTConfiguration {
    var configuration = MQTTConfiguration(
        host: broker.host, port: Int(broker.port), topics: topics, qos: 1, clientID: clientID,
        cleanSession: false, protocolVersion: protocolVersion
    )
    configuration.username = broker.username
    return configuration
}

/// A flag the test flips to let a paused consumer go on.
final class GateBox: Sendable {
    private let flag = Atomic<Bool>(false)
    init() {}
    var isOpen: Bool { flag.load(ordering: .relaxed) }
    func open() { flag.store(true, ordering: .relaxed) }
}
