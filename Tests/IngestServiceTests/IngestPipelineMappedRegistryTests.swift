import IngestCore
@testable import IngestService
import Logging
import ServiceLifecycle
import XCTest

/// Mapped messages of `registry: true` rules (README, "Mapping other devices"): checked against the
/// registry by (tenant, device), with the envelope's reject reasons, through the same waiting room.
final class IngestPipelineMappedRegistryTests: XCTestCase {
    private let yaml = """
    rules:
      - name: envelope
        topic: tenant/+/device/+/+
        payload: envelope
      - name: z2m
        topic: zigbee2mqtt/{device}
        tenant: a
        device: "{device}"
        registry: true
        measurement: zigbee
        tags: {device: "{device}"}
        fields: {temperature: float}
      - name: open
        topic: open/{device}
        tenant: a
        device: "{device}"
        measurement: open
        tags: {device: "{device}"}
        fields: {temperature: float}
    """

    private var logger: Logger {
        var logger = Logger(label: "test.pipeline.mapped-registry")
        logger.logLevel = .critical
        return logger
    }

    private func start(auth: AuthService, maxWaiting: Int = 10000)
        throws -> (IntakeQueue, PipelineRecordingSink, IngestPipeline, ServiceGroup, Task<Void, Error>) {
        var configuration = IngestPipeline.Configuration(
            validator: MessageValidator(maxPayloadBytes: 8192, topicParser: TopicParser(allowedMessageTypes: ["telemetry"]),
                                        decoder: EnvelopeDecoder()),
            encoder: LineProtocolEncoder(), databaseNamer: DatabaseNamer(),
            rateLimiter: RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 100), chunkSize: 4,
            registryWaitMaxMessages: maxWaiting)
        configuration.mapping = MappingRulesStore(try MappingFileLoader(compiler: MappingCompiler()).load(yaml: yaml))
        let intake = IntakeQueue(capacity: 100)
        let sink = PipelineRecordingSink()
        let pipeline = IngestPipeline(configuration: configuration, intake: intake, auth: auth, sink: sink,
                                      clock: ManualClock(), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [pipeline], logger: logger))
        return (intake, sink, pipeline, group, Task { try await group.run() })
    }

    private func stop(_ intake: IntakeQueue, _ pipeline: IngestPipeline, _ group: ServiceGroup, _ running: Task<Void, Error>,
                      received: Int) async throws -> PipelineCounters {
        intake.close()
        try await waitFor("every message counted") { pipeline.metrics.snapshot.received == received }
        await group.triggerGracefulShutdown()
        try await running.value
        return pipeline.metrics.snapshot
    }

    private func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    private func message(_ topic: String, _ payload: String) -> InboundMessage {
        InboundMessage(topic: topic, payload: Array(payload.utf8), receivedAtNanos: 5)
    }

    private func auth(_ registry: any DeviceRegistry, requireToken: Bool = false) -> AuthService {
        AuthService(registry: registry, configuration: .init(maxSize: 100, ttlSeconds: 600, negativeTTLSeconds: 10, registryWaitSeconds: 60),
                    requireToken: requireToken, clock: ManualClock(), logger: logger)
    }

    /// Line without its timestamp, for lines that got receipt times.
    private func series(_ sink: PipelineRecordingSink) -> [String] {
        sink.lines.map { String($0[..<$0.lastIndex(of: " ")!]) }
    }

    /// A registered, ACTIVE device is written; an unknown one is UNREGISTERED_DEVICE, a revoked one
    /// DEVICE_REVOKED; a message that fails its own checks is refused for that before the registry is
    /// asked; a rule without `registry: true` writes any device. The record's site and token are not
    /// looked at (REQUIRE_TOKEN=1 here, no token hash, another site).
    func testAnUnknownDeviceIsRefusedAndAKnownOneWritten() async throws {
        let registry = CountingRegistry([
            DeviceRecord(tenantID: "a", deviceID: "known", siteID: "elsewhere", status: "ACTIVE", provisionTokenHash: nil),
            DeviceRecord(tenantID: "a", deviceID: "revoked", siteID: "s1", status: "REVOKED", provisionTokenHash: nil),
        ])
        let (intake, sink, pipeline, group, running) = try start(auth: auth(registry, requireToken: true))
        intake.put(contentsOf: [
            message("zigbee2mqtt/known", #"{"temperature":21.5}"#),
            message("zigbee2mqtt/stranger", #"{"temperature":1}"#),
            message("zigbee2mqtt/revoked", #"{"temperature":2}"#),
            message("zigbee2mqtt/nobody", "{"),
            message("open/stranger", #"{"temperature":3}"#),
            message("zigbee2mqtt/known", #"{"temperature":22}"#),
            message("zigbee2mqtt/stranger", #"{"temperature":4}"#),
        ])
        let counters = try await stop(intake, pipeline, group, running, received: 7)
        XCTAssertEqual(counters.rejected(.unregisteredDevice), 2)
        XCTAssertEqual(counters.rejected(.deviceRevoked), 1)
        XCTAssertEqual(counters.rejected(.badJSON), 1, "the message's own checks come before the registry")
        XCTAssertEqual(counters.enqueued, 3)
        XCTAssertEqual(Set(sink.appends.map(\.database)), ["telemetry_a"])
        XCTAssertEqual(series(sink).sorted(), [
            "open,device=stranger temperature=3.0", "zigbee,device=known temperature=21.5", "zigbee,device=known temperature=22.0",
        ])
        XCTAssertEqual(registry.queries, 3, "known, stranger and revoked, each once: the cache holds them, bad JSON asks nothing")
    }

    /// While a mapped device's lookup hangs, other devices flow; its messages, and an envelope of the
    /// same (tenant, device), wait in arrival order and are written once the registry answers.
    func testAWaitingMappedDeviceHoldsUpNoOtherAndKeepsItsOrder() async throws {
        let registry = GatedRegistry(devices: ["cached", "slow"], gated: ["slow"])
        let (intake, sink, pipeline, group, running) = try start(auth: auth(registry))
        intake.put(message("zigbee2mqtt/cached", #"{"temperature":0}"#))
        try await waitFor("the cached device's first line") { sink.lines.count == 1 }

        intake.put(contentsOf: [
            message("zigbee2mqtt/slow", #"{"temperature":1}"#),
            message("zigbee2mqtt/cached", #"{"temperature":2}"#),
            message("tenant/a/device/slow/telemetry", #"{"site_id":"s1","seq":3,"ts":1770628523045,"metrics":{"t":3}}"#),
            message("zigbee2mqtt/slow", #"{"temperature":4}"#),
            message("zigbee2mqtt/cached", #"{"temperature":5}"#),
        ])
        try await waitFor("the cached device's lines while the other's lookup hangs") { sink.lines.count == 3 }
        try await waitFor("the waiting messages published") { pipeline.metrics.snapshot.registryMessagesWaiting == 3 }
        XCTAssertEqual(pipeline.metrics.snapshot.registryLookupsWaiting, 1, "one lookup for the device's messages")
        XCTAssertEqual(series(sink), ["zigbee,device=cached temperature=0.0", "zigbee,device=cached temperature=2.0",
                                      "zigbee,device=cached temperature=5.0"])

        registry.open()
        try await waitFor("the waiting device's lines") { sink.lines.count == 6 }
        XCTAssertEqual(Array(series(sink).suffix(3)), [
            "zigbee,device=slow temperature=1.0", "telemetry,device_id=slow,site_id=s1 seq=3i,t=3.0",
            "zigbee,device=slow temperature=4.0",
        ], "one device's messages keep their order, whichever rule maps them")
        let counters = try await stop(intake, pipeline, group, running, received: 6)
        XCTAssertEqual(counters.enqueued, 6)
        XCTAssertEqual(counters.registryMessagesWaiting, 0)
    }

    /// Beyond the waiting room's bound the pipeline stops taking from the intake; the mapped message
    /// that did not fit keeps its lines and is written, in order, once the lookup answered.
    func testAMappedMessageThatDoesNotFitWaitsForRoomAndKeepsItsLines() async throws {
        let registry = GatedRegistry(devices: ["slow"], gated: ["slow"])
        let (intake, sink, pipeline, group, running) = try start(auth: auth(registry), maxWaiting: 1)
        intake.put(contentsOf: [
            message("zigbee2mqtt/slow", #"{"temperature":1}"#),
            message("zigbee2mqtt/slow", #"{"temperature":2}"#),
            message("open/other", #"{"temperature":3}"#),
        ])
        try await waitFor("one message waiting") { pipeline.metrics.snapshot.registryMessagesWaiting == 1 }
        // A moment in which nothing may happen: nothing behind the message that does not fit goes on.
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertEqual(sink.lines, [])
        XCTAssertEqual(pipeline.metrics.snapshot.received, 2, "the pipeline waits for room at the second message")
        registry.open()
        let counters = try await stop(intake, pipeline, group, running, received: 3)
        XCTAssertEqual(counters.enqueued, 3, "nothing dropped")
        XCTAssertEqual(series(sink), ["zigbee,device=slow temperature=1.0", "zigbee,device=slow temperature=2.0",
                                      "open,device=other temperature=3.0"])
    }
}
