import IngestCore
@testable import IngestService
import Logging
import Synchronization
import TestSupport
import XCTest

/// A registry whose lookups of `hung` devices ignore cancellation and wait for the test's gate, and
/// that counts how many lookups run at once; `maxConcurrentLookups` is what it declares.
private final class ObservedRegistry: DeviceRegistry {
    let kind = "test"
    let maxConcurrentLookups: Int?
    private let hung: Set<String>
    private let lookupDelay: Duration
    private let state = Mutex<(running: Int, mostRunning: Int, gateOpen: Bool, gated: [CheckedContinuation<Void, Never>])>((0, 0, false, []))

    init(hung: Set<String> = [], maxConcurrentLookups: Int?, lookupDelay: Duration = .zero) {
        self.hung = hung
        self.maxConcurrentLookups = maxConcurrentLookups
        self.lookupDelay = lookupDelay
    }

    var mostRunning: Int { state.withLock { $0.mostRunning } }

    func open() {
        let gated = state.withLock { state in
            state.gateOpen = true
            defer { state.gated = [] }
            return state.gated
        }
        for continuation in gated { continuation.resume() }
    }

    func lookup(_ key: DeviceKey) async throws(RegistryError) -> DeviceRecord? {
        state.withLock { state in
            state.running += 1
            state.mostRunning = max(state.mostRunning, state.running)
        }
        defer { state.withLock { $0.running -= 1 } }
        if hung.contains(key.deviceID) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let open = state.withLock { state -> Bool in
                    if !state.gateOpen { state.gated.append(continuation) }
                    return state.gateOpen
                }
                if open { continuation.resume() }
            }
        }
        if lookupDelay > .zero { try? await Task.sleep(for: lookupDelay) }
        return DeviceRecord(tenantID: key.tenantID, deviceID: key.deviceID, siteID: "s1", status: "ACTIVE", provisionTokenHash: nil)
    }
}

/// `AuthService.startLookups`: the cache misses of one pipeline round as one batch (README "Slow or
/// hung registry").
final class AuthServiceLookupBatchTests: XCTestCase {
    private typealias Answer = (key: DeviceKey, result: Result<AuthCacheEntry, RejectReason>)

    private func auth(_ registry: some DeviceRegistry, waitSeconds: Double) -> AuthService {
        var logger = Logger(label: "test.auth")
        logger.logLevel = .critical
        return AuthService(registry: registry, configuration: .init(maxSize: 1000, ttlSeconds: 600, negativeTTLSeconds: 10,
                                                                    registryWaitSeconds: waitSeconds),
                           requireToken: false, clock: ManualClock(), logger: logger)
    }

    private func pending(_ auth: AuthService, _ devices: [String]) throws -> [AuthService.PendingLookup] {
        try devices.map { device in
            guard case let .needsLookup(pending) = try auth.authorizeCached(device: DeviceKey(tenantID: "a", deviceID: device)) else {
                throw XCTSkip("\(device) is cached")
            }
            return pending
        }
    }

    /// Devices of one batch whose lookups hang (and ignore cancellation) are answered at the deadline,
    /// each once; the others are answered without waiting for them; a late answer changes nothing.
    func testTheDeadlineAnswersEachHungDeviceOfABatchOnceAndTheOthersAtOnce() async throws {
        let registry = ObservedRegistry(hung: ["h1", "h2"], maxConcurrentLookups: nil)
        let auth = auth(registry, waitSeconds: 2)
        let answers = Mutex<[Answer]>([])
        let started = ContinuousClock.now
        auth.startLookups(try pending(auth, ["h1", "ok", "h2"])) { key, result in answers.withLock { $0.append((key, result)) } }

        try await eventually("the device that answers", timeout: 30, every: 0.005) { answers.withLock { $0.count } >= 1 }
        let first = try XCTUnwrap(answers.withLock { $0.first })
        XCTAssertEqual(first.key.deviceID, "ok")
        XCTAssertNotNil(try? first.result.get().record)
        XCTAssertEqual(answers.withLock { $0.count }, 1, "not held up by the hung devices of its batch")

        try await eventually("the deadline's answers", timeout: 30, every: 0.005) { answers.withLock { $0.count } >= 3 }
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .seconds(2), "not before the deadline")
        for answer in answers.withLock({ $0.dropFirst() }) {
            guard case .failure(.registryUnavailable) = answer.result else { return XCTFail("\(answer.key.deviceID): \(answer.result)") }
        }
        XCTAssertEqual(Set(answers.withLock { $0.map(\.key.deviceID) }), ["ok", "h1", "h2"])
        XCTAssertTrue(auth.registryUnavailable, "a lookup that ran out of time makes the registry count as down")

        registry.open()
        // A moment in which nothing may happen: the hung lookups now end, and their answers come too late.
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertEqual(answers.withLock { $0.count }, 3, "each device is answered once")
        XCTAssertEqual(auth.cacheStatistics.size, 1, "a late answer is not kept")
        XCTAssertTrue(auth.registryUnavailable, "a late answer does not end the outage")
    }

    /// A batch runs no more lookups at once than the registry allows (its pool), and answers every one.
    func testABatchRunsNoMoreLookupsAtOnceThanTheRegistryAllows() async throws {
        let registry = ObservedRegistry(maxConcurrentLookups: 3, lookupDelay: .milliseconds(5))
        let auth = auth(registry, waitSeconds: 60)
        let answers = Mutex<[Answer]>([])
        let devices = (0..<30).map { "d\($0)" }
        auth.startLookups(try pending(auth, devices)) { key, result in answers.withLock { $0.append((key, result)) } }
        try await eventually("every device answered", timeout: 30, every: 0.005) { answers.withLock { $0.count } >= devices.count }
        XCTAssertEqual(Set(answers.withLock { $0.map(\.key.deviceID) }), Set(devices))
        XCTAssertLessThanOrEqual(registry.mostRunning, 3)
        XCTAssertEqual(auth.cacheStatistics.size, devices.count)
    }

    /// A registry that answers from memory runs a batch's lookups one after another, all answered.
    func testARegistryOfOneLookupAtATimeAnswersTheWholeBatch() async throws {
        let registry = ObservedRegistry(maxConcurrentLookups: 1, lookupDelay: .milliseconds(1))
        let auth = auth(registry, waitSeconds: 0)
        let answers = Mutex<[Answer]>([])
        let devices = (0..<100).map { "d\($0)" }
        auth.startLookups(try pending(auth, devices)) { key, result in answers.withLock { $0.append((key, result)) } }
        try await eventually("every device answered", timeout: 30, every: 0.005) { answers.withLock { $0.count } >= devices.count }
        XCTAssertEqual(answers.withLock { $0.map(\.key.deviceID) }, devices, "in the batch's order")
        XCTAssertEqual(registry.mostRunning, 1)
    }
}
