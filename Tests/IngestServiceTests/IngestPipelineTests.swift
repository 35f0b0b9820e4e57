import IngestCore
@testable import IngestService
import Logging
import ServiceLifecycle
import Synchronization
import XCTest

/// Records what the pipeline hands over.
final class PipelineRecordingSink: LineSink {
    private let state = Mutex<[(database: String, lines: [String], sequences: ClosedRange<UInt64>?)]>([])
    var appends: [(database: String, lines: [String])] { state.withLock { $0.map { ($0.database, $0.lines) } } }
    var lines: [String] { appends.flatMap(\.lines) }
    /// The highest line number handed over (with a `LineSequencer`).
    var highestSequence: UInt64? { state.withLock { $0.compactMap(\.sequences?.upperBound).max() } }

    func append(database: String, lines: [UInt8], lineCount: Int, journalSequences: ClosedRange<UInt64>?) async {
        let text = String(decoding: lines, as: UTF8.self).split(separator: "\n").map(String.init)
        precondition(text.count == lineCount)
        if let journalSequences { precondition(journalSequences.count == lineCount) }
        state.withLock { $0.append((database, text, journalSequences)) }
    }
}

/// A registry that answers slowly and counts its queries.
final class CountingRegistry: DeviceRegistry {
    let kind = "test"
    private let records: [DeviceKey: DeviceRecord]
    private let count = Atomic<Int>(0)
    var queries: Int { count.load(ordering: .relaxed) }

    init(_ records: [DeviceRecord]) {
        self.records = Dictionary(uniqueKeysWithValues: records.map { (DeviceKey(tenantID: $0.tenantID, deviceID: $0.deviceID), $0) })
    }

    func lookup(_ key: DeviceKey) async throws(RegistryError) -> DeviceRecord? {
        count.add(1, ordering: .relaxed)
        try? await Task.sleep(for: .milliseconds(20))
        return records[key]
    }
}

/// A registry whose lookups of some devices wait until the test opens the gate: a hung registry.
final class GatedRegistry: DeviceRegistry {
    let kind = "test"
    private let records: [DeviceKey: DeviceRecord]
    private let gated: Set<String>
    private let gate = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    /// Every device id in `devices` is registered (ACTIVE, site s1, no token); those in `gated` hang.
    init(devices: [String], gated: Set<String>) {
        records = Dictionary(uniqueKeysWithValues: devices.map {
            (DeviceKey(tenantID: "a", deviceID: $0), DeviceRecord(tenantID: "a", deviceID: $0, siteID: "s1", status: "ACTIVE", provisionTokenHash: nil))
        })
        self.gated = gated
    }

    func open() {
        let waiting = gate.withLock { gate in
            gate.open = true
            defer { gate.waiting = [] }
            return gate.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func lookup(_ key: DeviceKey) async throws(RegistryError) -> DeviceRecord? {
        if gated.contains(key.deviceID) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let open = gate.withLock { gate -> Bool in
                    if !gate.open { gate.waiting.append(continuation) }
                    return gate.open
                }
                if open { continuation.resume() }
            }
        }
        return records[key]
    }
}

final class IngestPipelineTests: XCTestCase {
    private func configuration(template: String = "telemetry_{tenant_id}", maxWaiting: Int = 10000) -> IngestPipeline.Configuration {
        let namer = DatabaseNamer(template: template)
        return IngestPipeline.Configuration(
            validator: MessageValidator(
                maxPayloadBytes: 8192, topicParser: TopicParser(allowedMessageTypes: ["telemetry", "heartbeat"]),
                decoder: EnvelopeDecoder(limits: EnvelopeLimits())),
            encoder: LineProtocolEncoder(tenantAsTag: namer.tenantAsTag),
            databaseNamer: namer,
            rateLimiter: RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 100),
            registryWaitMaxMessages: maxWaiting)
    }

    private func message(_ tenant: String, _ device: String, seq: Int, token: String? = nil) -> InboundMessage {
        let tokenField = token.map { #","provision_token":"\#($0)""# } ?? ""
        let payload = #"{"site_id":"s1","seq":\#(seq),"ts":1770628523045\#(tokenField),"metrics":{"t":1.5}}"#
        return InboundMessage(topic: "tenant/\(tenant)/device/\(device)/telemetry", payload: Array(payload.utf8), receivedAtNanos: 0)
    }

    private var logger: Logger {
        var logger = Logger(label: "test.pipeline")
        logger.logLevel = .critical
        return logger
    }

    /// Runs the pipeline over `messages` until the intake is closed and drained.
    private func run(_ messages: [InboundMessage], auth: AuthService?, template: String = "telemetry_{tenant_id}") async throws -> (PipelineRecordingSink, PipelineCounters) {
        let intake = IntakeQueue(capacity: messages.count + 1)
        for message in messages { intake.put(message) }
        intake.close()
        let sink = PipelineRecordingSink()
        let pipeline = IngestPipeline(configuration: configuration(template: template), intake: intake, auth: auth,
                                      sink: sink, clock: ManualClock(), logger: logger)
        // The pipeline waits for its own graceful shutdown once the intake is drained.
        let group = ServiceGroup(configuration: .init(services: [pipeline], logger: logger))
        let running = Task { try await group.run() }
        try await eventualCounters(pipeline, received: messages.count)
        await group.triggerGracefulShutdown()
        try await running.value
        return (sink, pipeline.metrics.snapshot)
    }

    private func eventualCounters(_ pipeline: IngestPipeline, received: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while pipeline.metrics.snapshot.received < received {
            guard ContinuousClock.now < deadline else { return XCTFail("pipeline did not finish") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func testLinesAreGroupedByTenantDatabase() async throws {
        let messages = [message("a", "d1", seq: 1), message("b", "d1", seq: 2), message("a", "d2", seq: 3)]
        let (sink, counters) = try await run(messages, auth: nil)
        XCTAssertEqual(counters.received, 3)
        XCTAssertEqual(counters.enqueued, 3)
        XCTAssertEqual(Set(sink.appends.map(\.database)), ["telemetry_a", "telemetry_b"])
        XCTAssertEqual(sink.appends.first { $0.database == "telemetry_a" }?.lines,
                       ["telemetry,device_id=d1,site_id=s1 seq=1i,t=1.5 1770628523045000000",
                        "telemetry,device_id=d2,site_id=s1 seq=3i,t=1.5 1770628523045000000"])
    }

    func testASharedDatabaseTagsTheTenant() async throws {
        let (sink, _) = try await run([message("a", "d1", seq: 1)], auth: nil, template: "fleet")
        XCTAssertEqual(sink.appends.map(\.database), ["fleet"])
        XCTAssertEqual(sink.lines, ["telemetry,device_id=d1,site_id=s1,tenant_id=a seq=1i,t=1.5 1770628523045000000"])
    }

    /// Tenants alternating over one shared database keep one buffer, in message order.
    func testAlternatingTenantsOfASharedDatabaseStayInOrder() async throws {
        let messages = [message("a", "d1", seq: 1), message("b", "d1", seq: 2), message("a", "d2", seq: 3)]
        let (sink, counters) = try await run(messages, auth: nil, template: "fleet")
        XCTAssertEqual(counters.enqueued, 3)
        XCTAssertEqual(sink.appends.map(\.database), ["fleet"])
        XCTAssertEqual(sink.lines, [
            "telemetry,device_id=d1,site_id=s1,tenant_id=a seq=1i,t=1.5 1770628523045000000",
            "telemetry,device_id=d1,site_id=s1,tenant_id=b seq=2i,t=1.5 1770628523045000000",
            "telemetry,device_id=d2,site_id=s1,tenant_id=a seq=3i,t=1.5 1770628523045000000",
        ])
    }

    func testRejectsAreCountedAndNothingOfThemIsWritten() async throws {
        let bad = InboundMessage(topic: "tenant/a/device/d1/telemetry", payload: Array("{oops".utf8), receivedAtNanos: 0)
        let (sink, counters) = try await run([bad, message("a", "d1", seq: 1)], auth: nil)
        XCTAssertEqual(counters.rejected(.badJSON), 1)
        XCTAssertEqual(counters.enqueued, 1)
        XCTAssertEqual(sink.lines.count, 1)
    }

    /// 50 messages of one new device make one registry query; the unknown device is refused.
    func testConcurrentMissesForOneDeviceMakeOneQuery() async throws {
        let registry = CountingRegistry([DeviceRecord(tenantID: "a", deviceID: "d1", siteID: "s1", status: "ACTIVE",
                                                      provisionTokenHash: TokenHasher.sha256Hex("tok"))])
        let auth = AuthService(registry: registry, configuration: .init(maxSize: 100, ttlSeconds: 60, negativeTTLSeconds: 10),
                               requireToken: true, clock: ManualClock(), logger: logger)
        var messages = (0..<50).map { message("a", "d1", seq: $0, token: "tok") }
        messages += (0..<5).map { message("a", "stranger", seq: $0, token: "tok") }
        let (sink, counters) = try await run(messages, auth: auth)
        XCTAssertEqual(sink.lines.count, 50)
        XCTAssertEqual(counters.rejected(.unregisteredDevice), 5)
        XCTAssertEqual(registry.queries, 2, "one per device: the cache holds known and unknown devices")
        let queries = await auth.registryQueries
        XCTAssertEqual(queries, 2)
    }

    /// Many lookups racing for one device share one query.
    func testTheCoalescerSharesOneQueryBetweenRacingLookups() async throws {
        let registry = CountingRegistry([DeviceRecord(tenantID: "a", deviceID: "d1", siteID: "s1", status: "ACTIVE", provisionTokenHash: nil)])
        let auth = AuthService(registry: registry, configuration: .init(maxSize: 100, ttlSeconds: 60, negativeTTLSeconds: 10),
                               requireToken: false, clock: ManualClock(), logger: logger)
        let validator = configuration().validator
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 10)
        let validated = try validator.validate(topic: "tenant/a/device/d1/telemetry", payload: message("a", "d1", seq: 1).payload,
                                               rateLimiter: &limiter, now: 0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 { group.addTask { try? await auth.authorize(validated) } }
        }
        XCTAssertEqual(registry.queries, 1)
    }

    /// The cache forgets a revoked device only when told (reload, SIGHUP) or when its TTL passes.
    func testTTLAndClearingTheCacheMakeTheRegistryAskedAgain() async throws {
        let registry = CountingRegistry([DeviceRecord(tenantID: "a", deviceID: "d1", siteID: "s1", status: "ACTIVE", provisionTokenHash: nil)])
        let clock = ManualClock()
        let auth = AuthService(registry: registry, configuration: .init(maxSize: 100, ttlSeconds: 60, negativeTTLSeconds: 10),
                               requireToken: false, clock: clock, logger: logger)
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 10)
        let validated = try configuration().validator.validate(
            topic: "tenant/a/device/d1/telemetry", payload: message("a", "d1", seq: 1).payload, rateLimiter: &limiter, now: 0)
        try await auth.authorize(validated)
        try await auth.authorize(validated)
        XCTAssertEqual(registry.queries, 1)
        clock.advance(by: 61_000_000_000)
        try await auth.authorize(validated)
        XCTAssertEqual(registry.queries, 2)
        auth.clearCache()
        try await auth.authorize(validated)
        XCTAssertEqual(registry.queries, 3)
    }

    // MARK: slow or hung registry (README "Slow or hung registry")

    /// A pipeline on an open intake, for tests that feed it step by step.
    private func start(auth: AuthService, maxWaiting: Int = 10000) -> (IntakeQueue, PipelineRecordingSink, IngestPipeline, ServiceGroup, Task<Void, Error>) {
        let intake = IntakeQueue(capacity: 100)
        let sink = PipelineRecordingSink()
        let pipeline = IngestPipeline(configuration: configuration(maxWaiting: maxWaiting), intake: intake, auth: auth,
                                      sink: sink, clock: ManualClock(), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [pipeline], logger: logger))
        return (intake, sink, pipeline, group, Task { try await group.run() })
    }

    private func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    private func seqs(_ sink: PipelineRecordingSink, _ device: String) -> [String] {
        sink.lines.filter { $0.contains("device_id=\(device),") }.map { String($0.split(separator: " ")[1].split(separator: ",")[0]) }
    }

    /// While one device's lookup hangs, other devices' messages are handed to the writer; the waiting
    /// device's messages follow in their order once its lookup answers.
    func testAMessageWaitingForItsLookupHoldsUpNoOtherDevice() async throws {
        let registry = GatedRegistry(devices: ["cached", "slow"], gated: ["slow"])
        let auth = AuthService(registry: registry, configuration: .init(maxSize: 100, ttlSeconds: 600, negativeTTLSeconds: 10,
                                                                         registryWaitSeconds: 60),
                               requireToken: false, clock: ManualClock(), logger: logger)
        let (intake, sink, pipeline, group, running) = start(auth: auth)
        intake.put(message("a", "cached", seq: 0))
        try await waitFor("the cached device's first line") { sink.lines.count == 1 }

        for (device, seq) in [("slow", 1), ("cached", 2), ("slow", 3), ("cached", 4), ("slow", 5)] {
            intake.put(message("a", device, seq: seq))
        }
        try await waitFor("the cached device's lines while the other device's lookup hangs") { seqs(sink, "cached").count == 3 }
        XCTAssertEqual(seqs(sink, "cached"), ["seq=0i", "seq=2i", "seq=4i"])
        try await waitFor("the waiting messages published") { pipeline.metrics.snapshot.registryMessagesWaiting == 3 }
        XCTAssertEqual(pipeline.metrics.snapshot.registryLookupsWaiting, 1, "one lookup for the device's three messages")
        XCTAssertEqual(seqs(sink, "slow"), [])

        registry.open()
        try await waitFor("the waiting device's lines") { seqs(sink, "slow").count == 3 }
        XCTAssertEqual(seqs(sink, "slow"), ["seq=1i", "seq=3i", "seq=5i"], "a device's messages keep their order")
        intake.put(message("a", "slow", seq: 6))
        try await waitFor("the device, cached now, flows") { seqs(sink, "slow").count == 4 }
        intake.close()
        try await waitFor("every message counted") { pipeline.metrics.snapshot.received == 7 }
        await group.triggerGracefulShutdown()
        try await running.value
        let counters = pipeline.metrics.snapshot
        XCTAssertEqual(counters.enqueued, 7)
        XCTAssertEqual(counters.registryMessagesWaiting, 0)
        XCTAssertEqual(counters.registryLookupsWaiting, 0)
    }

    /// Beyond the bound, the pipeline hands over what it has and stops taking from the intake until a
    /// lookup answers: backpressure, and nothing is dropped.
    func testWhatWaitsIsBoundedAndBeyondItThePipelineStopsTakingFromTheIntake() async throws {
        let registry = GatedRegistry(devices: ["cached", "s1", "s2", "s3"], gated: ["s1", "s2", "s3"])
        let auth = AuthService(registry: registry, configuration: .init(maxSize: 100, ttlSeconds: 600, negativeTTLSeconds: 10,
                                                                         registryWaitSeconds: 60),
                               requireToken: false, clock: ManualClock(), logger: logger)
        let (intake, sink, pipeline, group, running) = start(auth: auth, maxWaiting: 2)
        intake.put(message("a", "cached", seq: 0))
        try await waitFor("the cached device's first line") { sink.lines.count == 1 }

        intake.put(contentsOf: [
            message("a", "cached", seq: 1), message("a", "s1", seq: 2), message("a", "s2", seq: 3),
            message("a", "cached", seq: 4), message("a", "s3", seq: 5), message("a", "cached", seq: 6),
        ])
        try await waitFor("the lines before the message that does not fit") { seqs(sink, "cached").count == 3 }
        try await waitFor("two messages waiting") { pipeline.metrics.snapshot.registryMessagesWaiting == 2 }
        intake.put(message("a", "cached", seq: 7))
        // A moment in which nothing may happen: the pipeline must not take from the intake now.
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertEqual(intake.count, 1, "the pipeline stopped taking from the intake")
        XCTAssertEqual(seqs(sink, "cached"), ["seq=0i", "seq=1i", "seq=4i"])
        XCTAssertEqual(pipeline.metrics.snapshot.registryMessagesWaiting, 2)

        registry.open()
        intake.close()
        try await waitFor("every message counted") { pipeline.metrics.snapshot.received == 8 }
        await group.triggerGracefulShutdown()
        try await running.value
        XCTAssertEqual(pipeline.metrics.snapshot.enqueued, 8, "nothing dropped")
        XCTAssertEqual(seqs(sink, "cached"), ["seq=0i", "seq=1i", "seq=4i", "seq=6i", "seq=7i"])
        XCTAssertEqual(sink.lines.count, 8)
    }
}
