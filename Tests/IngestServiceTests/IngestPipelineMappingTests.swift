import IngestCore
@testable import IngestService
import Logging
import ServiceLifecycle
import XCTest

/// The pipeline with MAPPING_FILE's rules: mapped lines and envelope lines go to their databases,
/// refusals are counted by reason, and a rules swap applies to later chunks.
final class IngestPipelineMappingTests: XCTestCase {
    private let yaml = """
    rules:
      - name: envelope
        topic: tenant/+/device/+/+
        payload: envelope
      - name: z2m
        topic: zigbee2mqtt/{device}
        tenant: home
        measurement: zigbee
        tags: {device: "{device}"}
        fields: {temperature: float}
    """

    private func run(_ messages: [InboundMessage], store: MappingRulesStore) async throws -> (PipelineRecordingSink, PipelineCounters) {
        var logger = Logger(label: "test.pipeline.mapping")
        logger.logLevel = .critical
        let namer = DatabaseNamer()
        var configuration = IngestPipeline.Configuration(
            validator: MessageValidator(maxPayloadBytes: 8192, topicParser: TopicParser(allowedMessageTypes: ["telemetry"]),
                                        decoder: EnvelopeDecoder()),
            encoder: LineProtocolEncoder(), databaseNamer: namer,
            rateLimiter: RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 100), chunkSize: 2)
        configuration.mapping = store
        let intake = IntakeQueue(capacity: messages.count + 1)
        for message in messages { intake.put(message) }
        intake.close()
        let sink = PipelineRecordingSink()
        let pipeline = IngestPipeline(configuration: configuration, intake: intake, auth: nil, sink: sink,
                                      clock: ManualClock(), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [pipeline], logger: logger))
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while pipeline.metrics.snapshot.received < messages.count {
            guard ContinuousClock.now < deadline else {
                XCTFail("pipeline did not finish")
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        await group.triggerGracefulShutdown()
        try await running.value
        return (sink, pipeline.metrics.snapshot)
    }

    private func message(_ topic: String, _ payload: String) -> InboundMessage {
        InboundMessage(topic: topic, payload: Array(payload.utf8), receivedAtNanos: 5)
    }

    func testMappedAndEnvelopeMessagesReachTheirDatabasesAndRefusalsAreCounted() async throws {
        let store = MappingRulesStore(try MappingFileLoader(compiler: MappingCompiler()).load(yaml: yaml))
        let (sink, counters) = try await run([
            message("zigbee2mqtt/a", #"{"temperature":"21.5"}"#),
            message("tenant/acme/device/d1/telemetry", #"{"site_id":"s1","seq":1,"ts":1770628523045,"metrics":{"t":1.5}}"#),
            message("zigbee2mqtt/b", #"{"temperature":22,"battery":1}"#),
            message("other/topic", "{}"),
            message("zigbee2mqtt/c", #"{"humidity":1}"#),
            message("zigbee2mqtt/d", "{"),
        ], store: store)
        XCTAssertEqual(counters.received, 6)
        XCTAssertEqual(counters.enqueued, 3)
        XCTAssertEqual(counters.rejected(.noMapping), 1)
        XCTAssertEqual(counters.rejected(.noFields), 1)
        XCTAssertEqual(counters.rejected(.badJSON), 1)
        XCTAssertEqual(sink.appends.filter { $0.database == "telemetry_home" }.flatMap(\.lines),
                       ["zigbee,device=a temperature=21.5 5", "zigbee,device=b temperature=22.0 6"])
        XCTAssertEqual(sink.appends.filter { $0.database == "telemetry_acme" }.flatMap(\.lines),
                       ["telemetry,device_id=d1,site_id=s1 seq=1i,t=1.5 1770628523045000000"])
    }
}
