import Foundation
import IngestCore
import IngestService
import Logging
import TestSupport
import XCTest

/// `PostgresDeviceRegistry` and `AuthService` against a real PostgreSQL started for each test in a
/// temporary data directory, with the `device_registry` table created by the test.
final class PostgresRegistryTests: XCTestCase {
    private var server: PostgresServer!
    private var registries: [(PostgresDeviceRegistry, Task<Void, Never>)] = []
    private let tenant = "acme"

    override func setUp() async throws {
        server = try await PostgresServer.start()
        try await server.sql(PostgresServer.createRegistryTable)
    }

    override func tearDown() async throws {
        for (_, task) in registries { task.cancel(); await task.value }
        registries = []
        guard let server else { return }
        if let run = testRun, run.failureCount > 0 { print("---- postgres log ----\n\(server.log())") }
        await server.remove()
    }

    // MARK: helpers

    private func makeRegistry(notifyChannel: String? = nil, createSchema: Bool = false) -> PostgresDeviceRegistry {
        var logger = Logger(label: "test")
        logger.logLevel = .info
        let registry = PostgresDeviceRegistry(configuration: PostgresRegistryConfiguration(
            host: server.host, port: Int(server.port), database: server.database, user: server.user, password: nil,
            sslMode: .disable, poolSize: 4, createSchema: createSchema, notifyChannel: notifyChannel,
            queryTimeout: .seconds(2), reconnectBase: .milliseconds(100), reconnectMax: .seconds(1)), logger: logger)
        let task = Task { await registry.run() }
        registries.append((registry, task))
        return registry
    }

    private func makeAuth(_ registry: PostgresDeviceRegistry, ttl: Int = 60, stale: Int = 3600, wait: Double = 2,
                          autoProvision: Bool = false, requireToken: Bool = true) -> AuthService {
        AuthService(
            registry: registry,
            configuration: AuthCacheConfiguration(maxSize: 10_000, ttlSeconds: ttl, negativeTTLSeconds: 10, staleSeconds: stale,
                                                  registryWaitSeconds: wait, autoProvision: autoProvision,
                                                  retryBaseMilliseconds: 50, retryMaxMilliseconds: 500),
            requireToken: requireToken, clock: SystemMonotonicClock(), logger: Logger(label: "auth"))
    }

    private func insert(_ device: String, site: String = "s1", status: String = "ACTIVE", token: String? = nil) async throws {
        let hash = token.map { "'\(TokenHasher.sha256Hex($0))'" } ?? "NULL"
        try await server.sql("INSERT INTO device_registry (tenant_id, device_id, site_id, status, provision_token_hash) VALUES ('\(tenant)', '\(device)', '\(site)', '\(status)', \(hash))")
    }

    private func message(_ device: String, site: String = "s1", token: String? = nil) throws -> ValidatedMessage {
        let validator = MessageValidator(maxPayloadBytes: 8192, topicParser: TopicParser(allowedMessageTypes: ["telemetry"]), decoder: EnvelopeDecoder())
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 10)
        let tokenField = token.map { #","provision_token":"\#($0)""# } ?? ""
        let payload = #"{"site_id":"\#(site)","seq":1\#(tokenField),"metrics":{"v":1}}"#
        return try validator.validate(topic: "tenant/\(tenant)/device/\(device)/telemetry", payload: Array(payload.utf8), rateLimiter: &limiter, now: 0)
    }

    /// nil when accepted, else the reason.
    private func outcome(_ auth: AuthService, _ device: String, site: String = "s1", token: String? = nil) async throws -> RejectReason? {
        let message = try message(device, site: site, token: token ?? "token-\(device)")
        do throws(RejectReason) {
            try await auth.authorize(message)
            return nil
        } catch {
            return error
        }
    }

    // MARK: tests

    func testOutcomesComeFromTheTable() async throws {
        try await insert("known", token: "token-known")
        try await insert("revoked", status: "REVOKED", token: "token-revoked")
        try await insert("elsewhere", site: "s9", token: "token-elsewhere")
        try await insert("no-token")
        let registry = makeRegistry()
        let auth = makeAuth(registry)
        let known = try await outcome(auth, "known")
        let unknown = try await outcome(auth, "stranger")
        let revoked = try await outcome(auth, "revoked")
        let elsewhere = try await outcome(auth, "elsewhere")
        let badToken = try await outcome(auth, "known", token: "wrong")
        let noToken = try await outcome(auth, "no-token")
        XCTAssertNil(known)
        XCTAssertEqual(unknown, .unregisteredDevice)
        XCTAssertEqual(revoked, .deviceRevoked)
        XCTAssertEqual(elsewhere, .siteMismatchRegistryVsPayload)
        XCTAssertEqual(badToken, .tokenInvalid)
        XCTAssertEqual(noToken, .tokenNotSetInRegistry)
        // The record itself, as read.
        let record = try await registry.lookup(DeviceKey(tenantID: tenant, deviceID: "known"))
        XCTAssertEqual(record, DeviceRecord(tenantID: tenant, deviceID: "known", siteID: "s1", status: "ACTIVE",
                                            provisionTokenHash: TokenHasher.sha256Hex("token-known")))
        XCTAssertEqual(registry.isUp, true)
    }

    func testTenThousandMessagesFromAThousandDevicesMakeAThousandQueries() async throws {
        try await server.sql("""
            INSERT INTO device_registry (tenant_id, device_id, site_id, provision_token_hash)
            SELECT '\(tenant)', 'd' || n, 's1', encode(sha256(('token-d' || n)::bytea), 'hex') FROM generate_series(1, 1000) AS n
            """)
        let registry = makeRegistry()
        let auth = makeAuth(registry)
        var accepted = 0
        for _ in 0..<10 {
            for n in 1...1000 {
                if try await outcome(auth, "d\(n)") == nil { accepted += 1 }
            }
        }
        XCTAssertEqual(accepted, 10_000)
        XCTAssertEqual(registry.queries, 1000)
        let cacheQueries = await auth.registryQueries
        XCTAssertEqual(cacheQueries, 1000)
    }

    func testFiftyConcurrentMessagesOfANewDeviceMakeOneQuery() async throws {
        try await insert("fresh", token: "token-fresh")
        let registry = makeRegistry()
        let auth = makeAuth(registry)
        let message = try message("fresh", token: "token-fresh")
        let accepted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    do throws(RejectReason) { try await auth.authorize(message); return true } catch { return false }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        XCTAssertEqual(accepted, 50)
        XCTAssertEqual(registry.queries, 1)
    }

    func testOutageServesCachedDevicesRefusesNewOnesAfterWaitingAndRecovers() async throws {
        try await insert("cached", token: "token-cached")
        try await insert("new1", token: "token-new1")
        try await insert("new2", token: "token-new2")
        let registry = makeRegistry()
        // TTL 1 s: by the time the server is down the cached record has expired and is served stale.
        let auth = makeAuth(registry, ttl: 1, stale: 3600, wait: 2)
        let first = try await outcome(auth, "cached")
        XCTAssertNil(first)

        await server.stop()
        try await Task.sleep(for: .milliseconds(1200))
        for _ in 0..<20 {
            let stale = try await outcome(auth, "cached")
            XCTAssertNil(stale, "a cached device keeps flowing during the outage")
        }
        let started = ContinuousClock.now
        let refused = try await outcome(auth, "new1")
        let waited = ContinuousClock.now - started
        XCTAssertEqual(refused, .registryUnavailable)
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(1900), "a new device waits REGISTRY_WAIT_SECONDS first")
        XCTAssertEqual(registry.isUp, false)
        XCTAssertTrue(auth.registryUnavailable)

        try await server.launch()
        try await eventually("a new device is accepted again after PostgreSQL came back", timeout: 60, every: 0.2) {
            try await self.outcome(auth, "new2") == nil
        }
        let again = try await outcome(auth, "new1")
        XCTAssertNil(again)
        XCTAssertFalse(auth.registryUnavailable)
        try await eventually("the registry reports itself up", timeout: 30) { registry.isUp == true }
    }

    func testRevokedDeviceIsRefusedWithinTheTTLAndAtOnceAfterClearingTheCache() async throws {
        try await insert("dev", token: "token-dev")
        try await insert("dev2", token: "token-dev2")
        let registry = makeRegistry()
        let shortTTL = makeAuth(registry, ttl: 1)
        let before = try await outcome(shortTTL, "dev")
        XCTAssertNil(before)
        try await server.sql("UPDATE device_registry SET status = 'REVOKED' WHERE device_id = 'dev'")
        try await eventually("revoked within the TTL", timeout: 10, every: 0.1) {
            try await self.outcome(shortTTL, "dev") == .deviceRevoked
        }

        // Long TTL: only clearing the cache (what SIGHUP does) makes the revocation visible at once.
        let longTTL = makeAuth(registry, ttl: 3600)
        let cached = try await outcome(longTTL, "dev2")
        XCTAssertNil(cached)
        try await server.sql("UPDATE device_registry SET status = 'REVOKED' WHERE device_id = 'dev2'")
        let stillCached = try await outcome(longTTL, "dev2")
        XCTAssertNil(stillCached, "the cached record is trusted for its TTL")
        longTTL.clearCache()
        let afterClear = try await outcome(longTTL, "dev2")
        XCTAssertEqual(afterClear, .deviceRevoked)
    }

    func testNotifyInvalidatesOneDeviceAtOnce() async throws {
        try await server.sql(PostgresServer.notifyTrigger(channel: "device_registry_changed"))
        try await insert("watched", token: "token-watched")
        try await insert("other", token: "token-other")
        let registry = makeRegistry(notifyChannel: "device_registry_changed")
        let auth = makeAuth(registry, ttl: 3600)
        registry.onInvalidation { auth.invalidate($0) }
        try await eventually("LISTEN established", timeout: 30) { registry.isListening }
        let accepted = try await outcome(auth, "watched")
        let otherAccepted = try await outcome(auth, "other")
        XCTAssertNil(accepted)
        XCTAssertNil(otherAccepted)
        let queriesBefore = registry.queries
        try await server.sql("UPDATE device_registry SET status = 'REVOKED' WHERE device_id = 'watched'")
        try await eventually("the NOTIFY revoked the device", timeout: 10, every: 0.05) {
            try await self.outcome(auth, "watched") == .deviceRevoked
        }
        let otherStill = try await outcome(auth, "other")
        XCTAssertNil(otherStill)
        XCTAssertEqual(registry.queries, queriesBefore + 1, "only the notified device was asked for again")
    }

    func testAutoProvisionInsertsTheDeviceAndStillRefusesItsFirstMessage() async throws {
        let registry = makeRegistry()
        let auth = makeAuth(registry, autoProvision: true, requireToken: false)
        let first = try await outcome(auth, "newcomer", site: "s7")
        XCTAssertEqual(first, .unregisteredDevice)
        let row = try await server.sql("SELECT site_id || ',' || status FROM device_registry WHERE tenant_id = '\(tenant)' AND device_id = 'newcomer'")
        XCTAssertEqual(row, "s7,ACTIVE")
        let second = try await outcome(auth, "newcomer", site: "s7")
        XCTAssertNil(second)
    }

    func testTheTableIsCreatedOnlyWhenAsked() async throws {
        try await server.sql("DROP TABLE device_registry")
        let untouched = makeRegistry()
        do {
            _ = try await untouched.lookup(DeviceKey(tenantID: tenant, deviceID: "x"))
            XCTFail("the table must not be created without REGISTRY_CREATE_SCHEMA")
        } catch {
            XCTAssertTrue("\(error)".contains("device_registry"), "\(error)")
        }
        let creating = makeRegistry(createSchema: true)
        try await eventually("the table exists", timeout: 30) {
            (try? await self.server.sql("SELECT to_regclass('device_registry') IS NOT NULL")) == "t"
        }
        let record = try await creating.lookup(DeviceKey(tenantID: tenant, deviceID: "x"))
        XCTAssertNil(record)
    }

    /// A table locked by another session: a lookup ends at REGISTRY_WAIT_SECONDS whatever the server
    /// does, the server cancels the hung statement (statement_timeout), cached devices are served, and
    /// once the lock is gone the device is found.
    func testALockedTableEndsTheLookupAtTheDeadline() async throws {
        try await insert("known", token: "token-known")
        try await insert("newcomer", token: "token-newcomer")
        let registry = makeRegistry()
        let auth = makeAuth(registry, wait: 3)
        let known = try await outcome(auth, "known")
        XCTAssertNil(known)

        let lock = try await server.holdTableLock("device_registry")
        defer { Task { await lock.stop(grace: 2) } }
        let started = ContinuousClock.now
        let refused = try await outcome(auth, "newcomer")
        let took = started.duration(to: .now)
        XCTAssertEqual(refused, .registryUnavailable)
        XCTAssertGreaterThanOrEqual(took, .seconds(2), "the query timeout (2 s) ran out first")
        XCTAssertLessThan(took, .seconds(3 + 2), "REGISTRY_WAIT_SECONDS (3) plus a margin")
        XCTAssertEqual(registry.isUp, false)
        let cached = try await outcome(auth, "known")
        XCTAssertNil(cached, "a cached device is served while the table is locked")
        try await eventually("the server cancelled the hung statement", timeout: 30) {
            self.server.log().contains("canceling statement due to statement timeout")
        }

        try await server.releaseTableLock(lock)
        try await eventually("the device is found once the lock is gone", timeout: 60, every: 0.2) {
            try await self.outcome(auth, "newcomer") == nil
        }
        XCTAssertEqual(registry.isUp, true)
    }
}
