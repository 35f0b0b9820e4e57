import IngestCore
@testable import IngestService
import Logging
import ServiceLifecycle
import XCTest

/// DURABILITY=journal/broker: the pipeline decides every message it takes exactly once, so the
/// acknowledgement gate never stalls, and releases nothing before its lines are safe (README
/// "Durability modes").
final class IngestPipelineAcknowledgementTests: XCTestCase {
    private var logger: Logger {
        var logger = Logger(label: "test.pipeline.acks")
        logger.logLevel = .critical
        return logger
    }

    private func message(_ device: String, seq: Int, payload: String? = nil) -> InboundMessage {
        let body = payload ?? #"{"site_id":"s1","seq":\#(seq),"ts":1770628523045,"metrics":{"t":1.5}}"#
        return InboundMessage(topic: "tenant/a/device/\(device)/telemetry", payload: Array(body.utf8), receivedAtNanos: 0)
    }

    private func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func testEveryMessageIsDecidedAndNoneReleasedBeforeItsLinesAreSafe() async throws {
        let namer = DatabaseNamer(template: "telemetry_{tenant_id}")
        let configuration = IngestPipeline.Configuration(
            validator: MessageValidator(
                maxPayloadBytes: 8192, topicParser: TopicParser(allowedMessageTypes: ["telemetry"]),
                decoder: EnvelopeDecoder(limits: EnvelopeLimits())),
            encoder: LineProtocolEncoder(tenantAsTag: namer.tenantAsTag), databaseNamer: namer,
            rateLimiter: RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 100))
        let registry = GatedRegistry(devices: ["cached", "slow"], gated: ["slow"])
        let auth = AuthService(registry: registry, configuration: .init(maxSize: 100, ttlSeconds: 600, negativeTTLSeconds: 10,
                                                                         registryWaitSeconds: 60),
                               requireToken: false, clock: ManualClock(), logger: logger)
        let intake = IntakeQueue(capacity: 100)
        let sink = PipelineRecordingSink()
        let relay = AcknowledgementRelay()
        let pipeline = IngestPipeline(configuration: configuration, intake: intake, auth: auth, sink: sink,
                                      sequencer: MemoryLineSequencer(), acknowledgements: relay,
                                      clock: ManualClock(), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [pipeline], logger: logger))
        let running = Task { try await group.run() }

        // 0: written; 1: rejected (BAD_JSON); 2: waits for its device's lookup; 3: written; 4: rejected.
        intake.put(contentsOf: [
            message("cached", seq: 0), message("cached", seq: 1, payload: "not json"), message("slow", seq: 2),
            message("cached", seq: 3), message("cached", seq: 4, payload: "[]"),
        ])
        try await waitFor("the cached device's lines") { sink.lines.count == 2 }
        try await waitFor("the round decided") { relay.state.waiting == 5 }
        XCTAssertEqual(relay.released, 0, "message 0's lines are not safe yet")

        let firstRound = try XCTUnwrap(sink.highestSequence)
        relay.acknowledge(upTo: firstRound)
        XCTAssertEqual(relay.released, 2, "0 (safe) and 1 (rejected); 2 waits for its lookup and holds back 3 and 4")

        registry.open()
        try await waitFor("the waiting message's line") { sink.lines.count == 3 }
        let secondRound = try XCTUnwrap(sink.highestSequence)
        XCTAssertGreaterThan(secondRound, firstRound)
        relay.acknowledge(upTo: secondRound - 1)
        XCTAssertEqual(relay.released, 2, "its line came later, with a higher number, not yet safe")
        relay.acknowledge(upTo: secondRound)
        try await waitFor("message 2 decided, and with it 3 and 4 released") { relay.released == 5 }
        XCTAssertEqual(relay.state.waiting, 0)

        intake.close()
        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// The relay wakes the MQTT thread through its pipe when acknowledgements may leave, once per
    /// drain, and not before.
    func testTheRelayWakesTheMQTTThreadWhenSomethingIsReleased() {
        let relay = AcknowledgementRelay()
        XCTAssertFalse(readable(relay.wakeDescriptor))
        relay.decide([0, 1], .safe(upTo: 10))
        relay.acknowledge(upTo: 9)
        XCTAssertFalse(readable(relay.wakeDescriptor), "nothing released, no wake-up")
        relay.acknowledge(upTo: 10)
        XCTAssertEqual(relay.released, 2)
        XCTAssertTrue(readable(relay.wakeDescriptor))
        relay.drainWake()
        XCTAssertFalse(readable(relay.wakeDescriptor))
        relay.decide([2], .nothing)
        XCTAssertEqual(relay.released, 3)
        XCTAssertTrue(readable(relay.wakeDescriptor))
    }

    private func readable(_ descriptor: Int32) -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }
}
